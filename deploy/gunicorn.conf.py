# Gunicorn configuration for the webhook server:  gunicorn -c deploy/gunicorn.conf.py
#
# The app is bot.web:create_app(), built by the tiny module bot/web/wsgi.py (app = create_app(
# settings, start_background=True), plus JSON logging and the data dir's server lock).
#
# ONE worker, many threads. Why not several workers:
#   * The background jobs (outbox writer → workbook, order tracker, performance/snapshot
#     scheduler) start inside the process that builds the app. With N workers each would run its
#     own copy: every job N times, N writers racing on the Google Sheet's 60 requests/minute quota,
#     N trackers polling the broker.
#   * The engine serialises alerts for one symbol with in-process locks; two workers could
#     handle a buy and a sell for the same slot at the same moment.
#   * The SQLite state DB has a single writer at a time; more processes only add lock waits.
# Threads (gthread) give the concurrency instead: a slow broker call holds one thread while the
# others keep answering TradingView within its 3 s limit. An alert takes milliseconds of CPU, so
# one process handles far more alerts than TradingView sends.
#
# preload_app stays False: the app (and its job threads) must be created in the worker, after
# the fork. Threads started in the master before forking do not exist in the child.
# max_requests stays 0: recycling the worker would restart the jobs for no gain.
#
# Settings come from the environment (the systemd EnvironmentFile or docker compose env_file):
#   BOT_HOST (default 127.0.0.1), BOT_PORT (8080), BOT_THREADS (8), plus everything in
#   deploy/bot.env.example. A non-loopback BOT_HOST needs WEBHOOK_SECRET and BOT_API_TOKEN of at
#   least 16 characters, or the server refuses to start.

import os
from typing import Any

wsgi_app = "bot.web.wsgi:app"

bind = [f"{os.environ.get('BOT_HOST', '127.0.0.1')}:{os.environ.get('BOT_PORT', '8080')}"]
workers = 1  # see above: background jobs must run exactly once
worker_class = "gthread"
threads = int(os.environ.get("BOT_THREADS", "8"))
keepalive = 75  # seconds; longer than a reverse proxy's idle timeout, so it never hits a closed socket
timeout = 60  # a worker silent this long is restarted (threads keep it alive while requests wait)
graceful_timeout = 20  # on SIGTERM: finish replies, let the outbox writer flush
preload_app = False
max_requests = 0
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proxy_allow_ips = forwarded_allow_ips

accesslog = None  # one JSON line per alert comes from the bot's own log (bot.logging_setup.log_alert)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = False
control_socket_disable = True  # gunicorn >= 24: no control socket in $HOME (the service user has none)
proc_name = "sheetbot"


def on_starting(server: Any) -> None:
    """Refuse configurations that would run the background jobs twice or expose weak secrets."""
    if server.cfg.workers != 1:
        raise SystemExit(
            f"sheetbot: workers must be 1 (got {server.cfg.workers}); background jobs would run once per worker. "
            "Raise BOT_THREADS for more concurrency."
        )
    if server.cfg.preload_app:
        raise SystemExit("sheetbot: preload_app must be False (job threads must start in the worker)")
    from bot.cli import check_listen_address
    from bot.errors import BotError
    from bot.settings import load_settings

    try:
        settings = load_settings()
        for address in server.cfg.bind:
            host = address.rsplit(":", 1)[0].strip("[]") if not address.startswith("unix:") else "127.0.0.1"
            check_listen_address(host, settings)
    except BotError as exc:
        raise SystemExit(f"sheetbot: {exc}") from None
