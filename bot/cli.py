"""Command line: ``python -m bot <command>`` (console script ``bot``).

Commands: ``run`` (what ``make run`` calls: server + dashboard + banner), ``serve``, ``export``,
``import``, ``performance``, ``snapshot``, ``report``, ``replay``, ``init-sheet``, ``notify-test``,
``backup``, ``restore``, ``doctor``. Exit codes: 0 ok, 1 failure the
user must fix (message printed), 2 usage error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bot.errors import BotError, ConfigError
from bot.settings import Settings, ensure_local_secret, load_settings

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot", description="TradingView alerts → orders, configured in a spreadsheet."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the webhook server (gunicorn) with background jobs")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--threads", type=int, default=8)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("run", help="what `make run` does: print how to send an alert, start server and dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument("--no-dashboard", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("export", help="print a tab as CSV or JSON")
    p.add_argument("tab")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="append (or --replace) a tab's rows from a CSV file, validated")
    p.add_argument("tab")
    p.add_argument("file", type=Path)
    p.add_argument("--replace", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("performance", help="recompute the Trades and Performance tabs now")
    p.set_defaults(func=cmd_performance)

    p = sub.add_parser("snapshot", help="record account equity, balances and imported cash flows now")
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser("report", help="print returns, risk and per-symbol stats; write CSV exports and PNG charts")
    p.add_argument("--out", type=Path, default=None, help="folder for the files (default: BOT_DATA_DIR/reports/DATE)")
    p.add_argument("--benchmark", type=Path, default=None, help="CSV with date,close columns (default: SPY via Alpaca)")
    p.add_argument("--as-of", type=_iso_date, default=None, help="last day of the report (YYYY-MM-DD)")
    p.add_argument("--broker", action="append", default=None, help="only this broker's accounts (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while fetching history")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("replay", help="post a JSON-lines file of alerts to a running server (paper broker only)")
    p.add_argument("file", type=Path)
    p.add_argument("--url", default="http://127.0.0.1:8080/webhook")
    p.add_argument("--secret", default="", help="replaces {{SECRET}} in the alerts (default: the bot's secret)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("init-sheet", help="create missing tabs and columns (and formatting on Google)")
    p.set_defaults(func=cmd_init_sheet)

    p = sub.add_parser("notify-test", help="send a test message on every configured channel")
    p.set_defaults(func=cmd_notify_test)

    p = sub.add_parser("backup", help="back up the state DB and local workbook into DIR (safe while running)")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="write a backup back into BOT_DATA_DIR (stop the server first)")
    p.add_argument("src", type=Path, help="a backup folder, or a folder of backups (the newest is used)")
    p.add_argument("--force", action="store_true", help="restore even while a server runs on this data dir")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("doctor", help="check settings, workbook, brokers; non-zero exit when trading is blocked")
    p.set_defaults(func=cmd_doctor)
    return parser


# -- serve / run -------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the app on gunicorn: one worker (jobs run once), ``--threads`` threads, keep-alive."""
    settings = load_settings()
    check_listen_address(args.host, settings)
    from gunicorn.app.base import BaseApplication

    from bot.logging_setup import setup_logging

    setup_logging(settings)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{args.host}:{args.port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": args.threads,
                "keepalive": 75,
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from bot.backup import acquire_server_lock
            from bot.web import create_app

            self.server_lock = acquire_server_lock(settings.bot_data_dir)  # one server per data dir
            return create_app(settings, start_background=True)

    _Server().run()
    return 0


def check_listen_address(host: str, settings: Settings) -> None:
    """Refuse a non-loopback address unless WEBHOOK_SECRET and BOT_API_TOKEN are set (≥ 16 chars).

    Raises:
        ConfigError: naming what is missing.
    """
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return
    weak = [
        name
        for name, value in (("WEBHOOK_SECRET", settings.webhook_secret), ("BOT_API_TOKEN", settings.bot_api_token))
        if len(value.get_secret_value()) < 16
    ]
    if weak:
        raise ConfigError(f"refusing to listen on {host}: set {' and '.join(weak)} (at least 16 characters) first")


def cmd_run(args: argparse.Namespace) -> int:
    """Print the URL, secret and a curl alert; start the dashboard; run the server in the foreground."""
    settings = load_settings()
    secret = settings.webhook_secret.get_secret_value() or ensure_local_secret(settings.bot_data_dir / "webhook_secret")
    token = settings.bot_api_token.get_secret_value() or ensure_local_secret(settings.bot_data_dir / "api_token")
    url = f"http://{args.host}:{args.port}"
    alert = json.dumps({"secret": secret, "action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "D", "price": 190.5})
    dashboard = None
    if not args.no_dashboard and Path("streamlit_app.py").exists():
        dashboard = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.port",
                str(args.dashboard_port),
                "--server.address",
                args.host,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            env={**os.environ, "DASHBOARD_BOT_URL": url},
        )
    print(
        f"""
  Bot:        {url}   (store: {settings.bot_store}, broker: {settings.bot_broker})
  Webhook:    {url}/webhook
  Secret:     {secret}
  API token:  {token}
  Dashboard:  {f"http://{args.host}:{args.dashboard_port}" if dashboard else "not started"}

  Send a test alert:
    curl -s -X POST {url}/webhook -d '{alert}'
  Then look at the Config tab:
    .venv/bin/python -m bot export Config
""",
        flush=True,
    )
    try:
        return cmd_serve(argparse.Namespace(host=args.host, port=args.port, threads=8))
    finally:
        if dashboard is not None:
            dashboard.terminate()


# -- tabs --------------------------------------------------------------------------------------


def _open(settings: Settings) -> Any:
    from bot.services import open_workbook, seed_workbook

    workbook = open_workbook(settings)
    seed_workbook(workbook, examples=settings.bot_store == "local")
    return workbook


def cmd_export(args: argparse.Namespace) -> int:
    """Print a tab: CSV with its header row, or JSON (a list of objects keyed by header)."""
    from bot.sheets.schema import TABS

    tab = _tab_name(args.tab, TABS)
    workbook = _open(load_settings())
    table = workbook.read_tables([tab])[tab]
    if args.format == "json":
        print(json.dumps(table.rows, indent=2, ensure_ascii=False))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=table.headers, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table.rows)
        sys.stdout.write(out.getvalue())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Append or replace a tab's rows from CSV after validating every row; nothing is written on error."""
    from bot.records import WriteBatch
    from bot.sheets.base import clean_record
    from bot.sheets.schema import TABS
    from bot.validate import validate_records

    tab = _tab_name(args.tab, TABS)
    text = args.file.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    records = [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    errors = validate_records(tab, headers, records)
    if errors:
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"nothing imported: {len(errors)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    workbook = _open(load_settings())
    if args.replace:
        workbook.replace_rows(tab, [clean_record(r) for r in records])
    else:
        workbook.apply(WriteBatch(appends=[(tab, clean_record(r)) for r in records]))
    print(f"{'replaced' if args.replace else 'appended'} {len(records)} row(s) in {tab}")
    return 0


def _tab_name(name: str, tabs: tuple[str, ...]) -> str:
    for tab in tabs:
        if tab.lower() == name.lower():
            return tab
    raise ConfigError(f"unknown tab {name!r}; tabs: {', '.join(tabs)}")


@contextmanager
def _services() -> Iterator[Any]:
    """The bot's services for a one-off command: workbook writes are flushed at the end, all closed."""
    from bot.services import build_services

    services = build_services(load_settings())
    try:
        yield services
        services.writer.flush()
    finally:
        services.close()


def cmd_performance(args: argparse.Namespace) -> int:
    """Recompute Trades and Performance from the state DB's fills."""
    from bot.jobs import recompute_performance

    with _services() as services:
        summary = recompute_performance(services)
    print(f"{summary['trades']} round trip(s), {summary['manual_trades']} manual trade(s)")
    for problem in summary["problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2024-05-01") from None


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Snapshot every broker in use, refresh Balances, import cash flows, and write them now."""
    from bot.snapshots import snapshot_job

    with _services() as services:
        result = snapshot_job(services)
    print(
        f"{result['snapshots']} snapshot row(s), {result['balances']} balance row(s), "
        f"{result['cash_flows']} cash flow(s) imported"
    )
    for problem in result["problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if result["problems"] and not result["snapshots"] else 0


def cmd_report(args: argparse.Namespace) -> int:
    """Recompute Trades/Performance, then print the report and write its CSV and PNG files."""
    from bot.domain import utc_now
    from bot.jobs import recompute_performance
    from bot.report.build import build_report

    with _services() as services:
        recompute_performance(services)
        services.writer.flush()
        settings = services.settings
        out = args.out or settings.bot_data_dir / "reports" / utc_now().astimezone(settings.zone).strftime("%Y-%m-%d")
        summary = build_report(
            services,
            out,
            benchmark_csv=args.benchmark,
            as_of=args.as_of,
            brokers=args.broker,
            progress=not args.no_progress,
        )
    sys.stdout.write(summary.text())
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Post each line of a JSON-lines file in order; print a summary of replies."""
    import requests

    settings = load_settings()
    secret = (
        args.secret
        or settings.webhook_secret.get_secret_value()
        or ensure_local_secret(settings.bot_data_dir / "webhook_secret")
    )
    counts: Counter[str] = Counter()
    failures: list[str] = []
    with requests.Session() as session:
        for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            body = line.replace("{{SECRET}}", secret)
            try:
                reply = session.post(
                    args.url,
                    data=body.encode(),
                    timeout=args.timeout,
                    headers={"Content-Type": "application/json", "X-Bot-Replay": "1"},
                )
            except requests.RequestException as exc:
                print(f"error: line {number}: {exc.__class__.__name__}; stopped", file=sys.stderr)
                return 1
            try:
                data = reply.json()
            except ValueError:
                data = {}
            outcome = data.get("status") or f"http {reply.status_code}"
            counts[outcome] += 1
            if reply.status_code >= 400:
                failures.append(f"line {number}: {reply.status_code} {data.get('error', '')}")
                if reply.status_code == 409:
                    print(f"error: {data.get('error')}", file=sys.stderr)
                    return 1
    print("replayed: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for failure in failures[:20]:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def cmd_init_sheet(args: argparse.Namespace) -> int:
    """Create missing tabs/columns; on Google also validation drop-downs and status colours."""
    from bot.services import open_workbook, seed_workbook

    settings = load_settings()
    workbook = open_workbook(settings)
    changes = seed_workbook(workbook, examples=False)
    formatter = getattr(workbook, "format_tabs", None)
    if formatter is not None:
        changes.extend(formatter())
    print("\n".join(changes) if changes else "workbook already up to date")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print a checklist with a fix per failure; exit 1 when something blocks trading."""
    from bot.doctor import print_report, run_checks

    return print_report(run_checks(), sys.stdout)


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the state DB and the local workbook (consistent while the server runs)."""
    from bot.backup import backup

    paths = backup(load_settings(), args.dir)
    print(f"backup written to {paths[0].parent}")
    for path in paths:
        print(f"  {path.name}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into BOT_DATA_DIR; refuses while a server runs unless --force."""
    from bot.backup import restore

    restored = restore(load_settings(), args.src, force=args.force)
    print("restored: " + ", ".join(str(p) for p in restored))
    return 0


def cmd_notify_test(args: argparse.Namespace) -> int:
    """Send a test message on each configured channel; print ok or the error per channel."""
    from bot.notify.channels.build import channel_problems
    from bot.notify.notifier import build_notifier, send_test

    settings = load_settings()
    notifier = build_notifier(settings)
    try:
        results = send_test(notifier)
    finally:
        notifier.close(timeout=5)
    if not results:
        print("no notification channel configured (set TWILIO_*, SLACK_* or SMTP_* settings)")
        for problem in channel_problems(settings):
            print(f"warning: {problem}", file=sys.stderr)
        return 1
    for channel, outcome in results.items():
        print(f"{channel}: {outcome}")
    return 0 if all(v == "ok" for v in results.values()) else 1
