"""WSGI entry point for production servers: ``bot.web.wsgi:app`` (see deploy/gunicorn.conf.py).

Importing this module *starts the bot*: it reads the settings, sets up JSON logging, takes the
data dir's server lock (a second server on the same ``BOT_DATA_DIR`` refuses to start), builds
the app and starts the background jobs (outbox writer, order tracker, scheduler). Import it only
from a WSGI server, in the one process that serves requests: with gunicorn that is the single
worker (``workers = 1``, ``preload_app = False``), so the jobs run exactly once and their threads
live in the process that serves the webhook. Tests use :func:`bot.web.create_app` instead.

Raises (at import):
    ConfigError: invalid settings, unusable workbook, or another server holds the data dir.
"""

from __future__ import annotations

import logging

from bot.backup import acquire_server_lock
from bot.logging_setup import setup_logging
from bot.settings import load_settings
from bot.web import create_app

settings = load_settings()
log_file = setup_logging(settings)
server_lock = acquire_server_lock(settings.bot_data_dir)
app = create_app(settings, start_background=True)
logging.getLogger("bot.web").info(
    "bot started: store %s, broker %s, data dir %s, log file %s",
    settings.bot_store,
    settings.bot_broker,
    settings.bot_data_dir,
    log_file,
)
