"""The alert path's first step: may this signal trade at all? (duplicate, row, strategy, age, kill switch,
venue). Each refusal is a :class:`Skip` naming the reason and the row status to show."""

from __future__ import annotations

from dataclasses import dataclass

from bot.brokers.base import Broker
from bot.domain import ConfigRow, RowStatus
from bot.errors import ConfigError
from bot.settings import RuntimeSettings
from bot.trading.config_table import ConfigSnapshot
from bot.trading.context import TradingContext
from bot.trading.duplicates import DuplicateIndex
from bot.trading.recording import Incoming


@dataclass(frozen=True)
class Skip:
    """An alert that places no order.

    Attributes:
        result: the Signals ``result``: ``duplicate``, ``skipped``, ``rejected``, ``blocked`` or ``failed``.
        reason: why, naming the field and value where there is one.
        status: the Config row's new ``Order Status`` (None: leave it).
        row: False when the Config row is not written at all (no row, or a duplicate).
        note_only: write ``Note`` and ``Last Signal`` without a status.
        http_status: 200, or the error status answered without recording (409 replay on a live venue).
    """

    result: str
    reason: str
    status: RowStatus | None = None
    row: bool = True
    note_only: bool = False
    http_status: int = 200


def admit(
    ctx: TradingContext,
    duplicates: DuplicateIndex,
    incoming: Incoming,
    snapshot: ConfigSnapshot,
    *,
    paused: bool,
) -> tuple[ConfigRow, Broker] | Skip:
    """The row and venue ``incoming`` trades at, or the :class:`Skip` that stops it here.

    Checked in order: duplicate (within the Settings window), Config row present/valid/active, the
    row's ``strategy``, the alert's age (``max_alert_age_seconds``), the kill switch and pause, the
    row's venue (and that a replay goes only to a paper venue). Refusals worth a notification emit one.
    """
    signal, runtime = incoming.signal, snapshot.runtime
    window = runtime.alert_id_window_seconds if signal.alert_id else runtime.duplicate_window_seconds
    first = duplicates.first_of(signal.alert_key, incoming.received_at, window)
    if first is not None:
        ctx.emit(
            "alert_rejected",
            f"duplicate alert ignored: {signal.action.value} {signal.key} (first was #{first})",
            signal.key,
        )
        return Skip("duplicate", f"duplicate of signal #{first}", row=False)
    row = snapshot.rows.get(signal.key)
    if row is None:
        return _missing_row(snapshot, incoming)
    if row.strategy and signal.strategy != row.strategy:
        return Skip(
            "skipped", f"strategy {signal.strategy!r} does not match the row's {row.strategy!r}", note_only=True
        )
    stale = _stale(incoming, runtime)
    if stale:
        ctx.emit("alert_rejected", f"{signal.key}: {stale}; not traded", signal.key)
        return Skip("rejected", stale, note_only=True)
    if not runtime.trading_enabled or paused:
        why = "kill switch: trading_enabled is FALSE" if not runtime.trading_enabled else "trading paused (POST /pause)"
        ctx.emit("blocked", f"{signal.key}: {signal.action.value} blocked; {why}", signal.key)
        return Skip("blocked", why, status=RowStatus.BLOCKED)
    try:
        broker = ctx.brokers.get(row.broker)
    except ConfigError as exc:
        ctx.emit("config_error", f"{signal.key}: {exc}", signal.key)
        return Skip("skipped", str(exc), status=RowStatus.CONFIG_ERROR)
    if incoming.replay and broker.live:
        return Skip("rejected", "replay is accepted only by the paper broker", http_status=409)
    return row, broker


def _missing_row(snapshot: ConfigSnapshot, incoming: Incoming) -> Skip:
    """Why there is no usable Config row for the signal: a broken row, an inactive one, or none."""
    key = incoming.signal.key
    problem = snapshot.problem_for(key)
    if problem is not None and problem.active:
        return Skip("skipped", f"row {problem.row_number}: {problem.reason}", status=RowStatus.CONFIG_ERROR)
    if key in snapshot.inactive or problem is not None:
        return Skip("skipped", "row is inactive (active is not TRUE)", status=RowStatus.INACTIVE)
    return Skip("skipped", f"no Config row for {key}", row=False)


def _stale(incoming: Incoming, runtime: RuntimeSettings) -> str:
    """The reason the alert is too old to trade (``max_alert_age_seconds``), or ``""``. Replays are never stale."""
    fired_at = incoming.signal.fired_at
    if not runtime.max_alert_age_seconds or fired_at is None or incoming.replay:
        return ""
    age = (incoming.received_at - fired_at).total_seconds()
    if age <= runtime.max_alert_age_seconds:
        return ""
    return f"stale alert: fired {age:.0f} s ago (max_alert_age_seconds {runtime.max_alert_age_seconds:g})"
