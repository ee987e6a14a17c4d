"""Background work: outbox writer, order tracker and scheduled jobs (APScheduler 3.x).

Jobs run inside the single server process (``serve`` uses one gunicorn worker) so each runs once.
"""

from __future__ import annotations

import html
import logging
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.analytics.round_trips import round_trips
from bot.analytics.trade_records import performance_records, trade_from_record, trade_records
from bot.domain import utc_now
from bot.errors import BotError
from bot.services import Services
from bot.sheets.base import merge_bot_rows
from bot.sheets.schema import tab_spec
from bot.trading.tracker import OrderTracker

log = logging.getLogger(__name__)
_perf_lock = threading.Lock()


def is_manual_trade(record: dict[str, str]) -> bool:
    """A Trades row typed by the user: it has no ``order_ids`` (the bot's rows always do)."""
    return not (record.get("order_ids") or "").strip()


def recompute_performance(services: Services) -> dict[str, Any]:
    """Rebuild the Trades (journal) and Performance tabs from all fills, keeping user cells.

    Manual Trades rows are kept and counted; user-owned columns (setup, tags, notes,
    screenshot_url, rating) of bot rows survive. Returns ``{"trades", "manual_trades", "problems"}``.
    """
    with _perf_lock:
        zone = services.settings.zone
        trips = round_trips(services.store.fills())
        table = services.workbook.read_tables(["Trades"])["Trades"]
        manual, problems = [], []
        for index, record in enumerate(table.rows):
            if not is_manual_trade(record) or not (record.get("symbol") or "").strip():
                continue
            try:
                manual.append(trade_from_record(record, zone=zone))
            except ValueError as exc:
                problems.append(f"Trades row {index + 2}: {exc}")
        rows = merge_bot_rows(table, trade_records(trips, zone), spec=tab_spec("Trades"), keep=is_manual_trade)
        services.workbook.replace_rows("Trades", rows)
        services.workbook.replace_rows("Performance", performance_records(trips + manual, utc_now(), zone))
        return {"trades": len(trips), "manual_trades": len(manual), "problems": problems}


def book_venue_exits(services: Services) -> int:
    """Book the protective exits that fired at the venue into the slots (see ``Engine.sync_venue_exits``).

    Returns how many exits were booked.
    """
    booked = services.engine.sync_venue_exits()
    if booked:
        log.info("booked %d protective exit(s) executed at the venue", booked)
    return booked


def reconcile_positions(services: Services) -> list[str]:
    """Compare slot totals with each venue's positions; report differences, never "fix" them.

    Each drift is kept for ``/health`` (``services.drift``), written to the ``Note`` of the Config rows
    of that symbol and sent as a ``position_drift`` notification. Returns the drift descriptions.
    """
    from bot.notify.events import position_drift
    from bot.trading.reconcile import reconcile

    book_venue_exits(services)  # an exit that fired at the venue is booked, not reported as drift
    drifts = reconcile(services)
    services.drift = [d.describe() for d in drifts]
    if not drifts:
        return []
    snapshot = services.config.get()
    with services.store.session() as s:
        for drift in drifts:
            for key in snapshot.rows:
                if key.symbol == drift.symbol:
                    services.engine.note_row(s, key, f"position drift: {drift.describe()}")
    for drift in drifts:
        if services.notifier is not None:
            services.notifier.publish(
                position_drift(symbol=drift.symbol, broker_qty=drift.broker_qty, slots_qty=drift.slots_qty)
            )
    return services.drift


def monitor(services: Services, monitor_state: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Threshold and silence checks (every minute): publishes ``threshold`` / ``webhook_silent`` events.

    Equity is the sum of the loaded brokers' account equity (USD/USDT as USD); today's P&L is realised
    (fills since local midnight) plus unrealised; drawdown is measured from the highest equity seen by
    this process. Silence counts only while an active row's ``trading_hours`` is open (rows without
    hours trade around the clock). Returns the texts of the events published.
    """
    from bot.notify.routing import ThresholdMonitor

    notifier = services.notifier
    if notifier is None:
        return []
    now = now or utc_now()
    checker = monitor_state.setdefault("monitor", ThresholdMonitor())
    checker.settings = notifier.settings  # type: ignore[attr-defined]
    equity = Decimal(0)
    for broker in services.brokers.loaded().values():
        try:
            equity += broker.account().equity
        except BotError as exc:
            log.warning("monitor: %s account unavailable: %s", broker.name, exc)
    peak = max(monitor_state.get("peak", equity), equity)
    monitor_state["peak"] = peak
    found = checker.check(equity_usd=equity, daily_pnl_usd=services.engine.daily_pnl(), peak_equity_usd=peak, now=now)
    rows = list(services.config.get().rows.values())
    if any(row.trading_hours is None or row.trading_hours.contains(now) for row in rows):
        found += checker.check_silence(last_signal_at=services.engine.last_signal_at, now=now)
    for event in found:
        notifier.publish(event)  # type: ignore[attr-defined]
    return [event.text for event in found]


def daily_summary(services: Services) -> str:
    """Build the report (text + PNG charts) and publish it as the ``daily_summary`` event."""
    from bot.notify.events import daily_summary as summary_event
    from bot.report.build import build_report

    recompute_performance(services)
    today = utc_now().astimezone(services.settings.zone).strftime("%Y-%m-%d")
    summary = build_report(services, services.settings.bot_data_dir / "reports" / today, progress=False)
    text = summary.text()
    charts = "".join(f"<li>{html.escape(Path(p).name)}</li>" for p in summary.attachments)
    body = (
        f"<h2>Daily summary {html.escape(today)}</h2><pre style='font-family: monospace'>{html.escape(text)}</pre>"
        + (f"<p>Charts attached:</p><ul>{charts}</ul>" if charts else "")
    )
    if services.notifier is not None:
        services.notifier.publish(summary_event(text=text, html=body, attachments=summary.attachments))
    return text


def start_background_jobs(services: Services) -> None:
    """Start the outbox writer, the order tracker and the scheduled jobs; register their shutdown."""
    services.writer.start()
    tracker = OrderTracker(services.engine)
    try:
        counts = services.engine.recover()
        if any(counts.values()):
            log.warning("start-up recovery: %s", counts)
    except BotError as exc:
        log.error("start-up recovery failed: %s", exc)
    tracker.start()
    runtime = services.runtime
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(
        _safe(recompute_performance, services),
        "interval",
        seconds=runtime.performance_interval_seconds,
        id="performance",
        next_run_time=utc_now(),
    )
    scheduler.add_job(
        _safe(reconcile_positions, services), "interval", seconds=runtime.reconcile_interval_seconds, id="reconcile"
    )
    scheduler.add_job(
        _safe(book_venue_exits, services), "interval", seconds=runtime.venue_exit_check_seconds, id="venue_exits"
    )
    from bot.snapshots import snapshot_job

    scheduler.add_job(
        _safe(snapshot_job, services),
        "interval",
        seconds=runtime.snapshot_interval_seconds,
        id="snapshot",
        next_run_time=utc_now(),
    )
    monitor_state: dict[str, Any] = {}
    scheduler.add_job(_safe(lambda svc: monitor(svc, monitor_state), services), "interval", seconds=60, id="monitor")
    hour, minute = (int(part) for part in runtime.daily_summary_time.split(":"))
    scheduler.add_job(
        _safe(daily_summary, services),
        "cron",
        hour=hour,
        minute=minute,
        timezone=services.settings.bot_timezone,
        id="daily_summary",
    )
    scheduler.start()
    services.scheduler = scheduler
    services.closers.extend([tracker.stop, lambda: scheduler.shutdown(wait=False)])


def _safe(func: Any, services: Services) -> Any:
    def run() -> None:
        try:
            func(services)
        except BotError as exc:
            log.warning("%s failed: %s", func.__name__, exc)
        except Exception:
            log.exception("%s crashed", func.__name__)

    run.__name__ = func.__name__
    return run
