"""Reading the Config and Settings tabs into validated rows, and caching them.

:func:`parse_config` is pure: it turns a Config :class:`~bot.records.Table` into
:class:`~bot.domain.ConfigRow` objects plus a reason for every row that cannot be traded.
:class:`ConfigCache` re-reads the workbook at most every ``config_refresh_seconds`` (sooner when the
local workbook's version changes) and keeps the last good snapshot when the workbook is down.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain import (
    BROKERS,
    ConfigRow,
    Direction,
    SizeType,
    SlotKey,
    normalise_symbol,
    normalise_timeframe,
    parse_trading_hours,
    utc_now,
)
from bot.errors import BotError, ConfigError, TemporaryError
from bot.parsing import parse_bool, parse_decimal
from bot.records import Table
from bot.settings import RuntimeSettings, parse_runtime_settings
from bot.sheets.base import Workbook, row_key
from bot.sheets.schema import tab_spec

log = logging.getLogger(__name__)

REQUIRED_CONFIG_COLUMNS = tuple(tab_spec("Config").required)
#: A local edit (import, dashboard) is noticed within this many seconds.
VERSION_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class RowProblem:
    """A Config row that cannot trade: its sheet ``row_number``, row ``key`` (as typed) and ``reason``."""

    row_number: int
    key: tuple[str, str]
    reason: str
    active: bool


@dataclass(frozen=True)
class ConfigSnapshot:
    """Everything read from Config and Settings at ``loaded_at``.

    ``rows``: tradable rows by slot; ``problems``: rows with a reason (CONFIG ERROR or inactive
    drafts); ``inactive``: keys of valid rows with ``active`` off; ``statuses``: the sheet's current
    ``Order Status`` per row key (to avoid rewriting unchanged cells).
    """

    rows: dict[SlotKey, ConfigRow]
    problems: dict[tuple[str, str], RowProblem]
    inactive: dict[SlotKey, ConfigRow]
    statuses: dict[tuple[str, str], tuple[str, str]]
    runtime: RuntimeSettings
    runtime_problems: tuple[str, ...]
    loaded_at: datetime
    settings_records: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def problem_for(self, key: SlotKey) -> RowProblem | None:
        """The problem recorded for the row with this slot key, if any."""
        return self.problems.get((key.symbol, key.timeframe))


def parse_config(table: Table) -> tuple[list[ConfigRow], list[RowProblem]]:
    """Validate every Config row.

    Returns ``(rows, problems)``. Blank rows are ignored. A row with an unparsable cell is a problem
    whose reason names the column and the value (``position_size '5k' is not a number``). Two rows
    for the same symbol and timeframe are both problems. Inactive rows with bad cells are reported
    too (``active`` = False on the problem).

    Raises:
        ConfigError: when a required column (symbol, position_size, active, Time Frame) is missing.
    """
    missing = [c for c in REQUIRED_CONFIG_COLUMNS if c not in table.headers]
    if missing:
        raise ConfigError(
            f"Config tab is missing required column(s): {', '.join(missing)} "
            f"(headers found: {', '.join(table.headers) or 'none'})",
            field=missing[0],
        )
    rows: list[ConfigRow] = []
    problems: list[RowProblem] = []
    for index, record in enumerate(table.rows):
        row_number = index + 2
        if not any((v or "").strip() for k, v in record.items() if k in tab_spec("Config").user_columns):
            continue
        try:
            active = parse_bool(record.get("active", ""))
        except ValueError as exc:
            active = False
            problems.append(RowProblem(row_number, _typed_key(record), f"active: {exc}", True))
            continue
        unreadable = [table.problems[(index, column)] for column in table.headers if (index, column) in table.problems]
        if unreadable:
            problems.append(RowProblem(row_number, _typed_key(record), "; ".join(unreadable), True))
            continue
        try:
            rows.append(parse_row(record, row_number))
        except ConfigError as exc:
            problems.append(RowProblem(row_number, _typed_key(record), str(exc), active))
    by_key: dict[SlotKey, list[ConfigRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    unique: list[ConfigRow] = []
    for key, group in by_key.items():
        if len(group) == 1:
            unique.append(group[0])
            continue
        numbers = " and ".join(str(r.row_number) for r in group)
        for row in group:
            problems.append(
                RowProblem(
                    row.row_number, (key.symbol, key.timeframe), f"duplicate row for {key} (rows {numbers})", True
                )
            )
    return unique, problems


class _Cells:
    """Typed reads of one Config record's cells; each raises ConfigError naming the column and value."""

    def __init__(self, record: dict[str, str]) -> None:
        self._record = record

    def text(self, name: str) -> str:
        return (self._record.get(name) or "").strip()

    def required(self, name: str, parse: Callable[[str], Any]) -> Any:
        value = self.text(name)
        if not value:
            raise ConfigError(f"{name} is blank", field=name)
        try:
            return parse(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}", field=name, value=value) from None

    def optional(self, name: str, parse: Callable[[str], Any]) -> Any:
        value = self.text(name)
        try:
            return parse(value) if value else None
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}", field=name) from None

    def flag(self, name: str) -> bool:
        try:
            return parse_bool(self.text(name))
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}", field=name) from None

    def pct(self, name: str, low: Decimal, high: Decimal) -> Decimal | None:
        value = self.text(name)
        if not value:
            return None
        try:
            number = parse_decimal(value.rstrip("%"))
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}", field=name, value=value) from None
        if not low < number <= high:
            raise ConfigError(f"{name}: {value!r} must be above {low} and at most {high}", field=name, value=value)
        return number

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name).lower() or default
        if value not in allowed:
            raise ConfigError(
                f"{name}: {self.text(name)!r} is not one of {', '.join(a for a in allowed if a)}", field=name
            )
        return value


def parse_row(record: dict[str, str], row_number: int) -> ConfigRow:
    """One Config record (header → text) to a :class:`ConfigRow`.

    Raises:
        ConfigError: naming the column and value of the first bad cell.
    """
    cells = _Cells(record)
    symbol = cells.required("symbol", normalise_symbol)
    timeframe = cells.required("Time Frame", normalise_timeframe)
    size = cells.required("position_size", lambda v: parse_decimal(v, positive=True, allow_zero=False))
    active = parse_bool(cells.text("active"))
    size_type = SizeType(cells.choice("size_type", tuple(s.value for s in SizeType), "usd"))
    stop = cells.pct("stop_loss_pct", Decimal(0), Decimal(100))
    if size_type in (SizeType.PCT_EQUITY, SizeType.RISK_PCT) and size > 100:
        raise ConfigError(f"position_size: {cells.text('position_size')!r} must be at most 100 for {size_type.value}")
    if size_type is SizeType.RISK_PCT and stop is None:
        raise ConfigError(
            "size_type risk_pct needs stop_loss_pct (the stop distance in percent)", field="stop_loss_pct"
        )
    max_usd = cells.optional("max_position_usd", lambda v: parse_decimal(v, positive=True, allow_zero=False))
    extended = cells.flag("extended_hours")
    hours = cells.optional("trading_hours", parse_trading_hours)
    return ConfigRow(
        trading_hours=hours,
        symbol=symbol,
        timeframe=timeframe,
        position_size=size,
        active=active,
        row_number=row_number,
        broker=cells.choice("broker", (*BROKERS, ""), ""),
        direction=Direction(cells.choice("direction", tuple(d.value for d in Direction), "both")),
        size_type=size_type,
        leverage=cells.pct("leverage", Decimal(0), Decimal(125)),
        stop_loss_pct=stop,
        take_profit_pct=cells.pct("take_profit_pct", Decimal(0), Decimal(1000)),
        trailing_pct=cells.pct("trailing_pct", Decimal(0), Decimal(100)),
        strategy=cells.text("strategy"),
        max_position_usd=max_usd,
        extended_hours=extended,
    )


def _typed_key(record: dict[str, str]) -> tuple[str, str]:
    """The row key as :func:`bot.sheets.base.row_key` computes it (normalised where parsable)."""
    symbol, timeframe = row_key("Config", record)
    return symbol, timeframe


def build_snapshot(
    config: Table, settings: Table, *, extra_setting_keys: frozenset[str] = frozenset()
) -> ConfigSnapshot:
    """A :class:`ConfigSnapshot` from the Config and Settings tables (pure).

    Raises:
        ConfigError: when the Config tab misses a required column.
    """
    rows, problems = parse_config(config)
    records = [r for r in settings.rows if (r.get("key") or "").strip() not in extra_setting_keys]
    runtime, runtime_problems = parse_runtime_settings(records)
    statuses = {}
    for record in config.rows:
        key = row_key("Config", record)
        statuses[(key[0], key[1])] = (record.get("Order Status", ""), record.get("Note", ""))
    return ConfigSnapshot(
        rows={row.key: row for row in rows if row.active},
        problems={p.key: p for p in problems},
        inactive={row.key: row for row in rows if not row.active},
        statuses=statuses,
        runtime=runtime,
        runtime_problems=tuple(runtime_problems),
        loaded_at=utc_now(),
        settings_records=tuple(settings.rows),
    )


class ConfigCache:
    """Thread-safe cache of the Config/Settings snapshot.

    Args:
        workbook: where to read from.
        on_reload: called with each new snapshot (the engine writes row statuses from it).
        extra_setting_keys: Settings keys owned by other modules (notifications), not flagged unknown.
        background: refresh on a background thread once a snapshot exists (remote workbooks: an alert
            never waits for Google; it trades on the current snapshot while the refresh runs).
        last_good: ``(save, load)`` callables keeping the last good Config/Settings tables durable, so a
            restart while the workbook is unreachable still trades on them.

    The first :meth:`get` reads synchronously; with no saved tables it raises on failure (start-up must
    fail loudly). Later failures keep the last good snapshot and set :attr:`degraded_since`.
    """

    def __init__(
        self,
        workbook: Workbook,
        *,
        on_reload: Callable[[ConfigSnapshot], None] | None = None,
        extra_setting_keys: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
        last_good: tuple[Callable[[dict[str, Table]], None], Callable[[], dict[str, Table] | None]] | None = None,
    ) -> None:
        self._workbook = workbook
        self._background = background
        self._refreshing = threading.Event()
        self._last_good = last_good
        self._saved_digest = ""
        self._on_reload = on_reload
        self._extra = extra_setting_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: ConfigSnapshot | None = None
        self._loaded_mono = 0.0
        self._version: str | None = None
        self._version_checked = 0.0
        self.degraded_since: datetime | None = None
        self.last_error: str = ""

    def get(self) -> ConfigSnapshot:
        """The current snapshot, re-reading the workbook when it is older than ``config_refresh_seconds``.

        Raises:
            ConfigError | TemporaryError: only when no snapshot was ever loaded.
        """
        snapshot = self._snapshot
        if snapshot is not None and not self._stale(snapshot):
            return snapshot
        if snapshot is not None and self._background:
            if not self._refreshing.is_set():
                self._refreshing.set()
                threading.Thread(target=self._refresh_in_background, name="config-refresh", daemon=True).start()
            return snapshot
        # with a snapshot, never wait for another thread's re-read: trade on the current one. A caller may
        # hold the state DB's write lock while the re-read needs it to save the last good config.
        if not self._lock.acquire(blocking=snapshot is None):
            return snapshot  # type: ignore[return-value]  # not None: a blocking acquire always succeeds
        try:
            snapshot = self._snapshot
            if snapshot is not None and not self._stale(snapshot):
                return snapshot
            return self._reload()
        finally:
            self._lock.release()

    def invalidate(self) -> None:
        """Force a re-read on the next :meth:`get`."""
        self._loaded_mono = -1e18

    def _stale(self, snapshot: ConfigSnapshot) -> bool:
        now = self._clock()
        if now - self._loaded_mono >= snapshot.runtime.config_refresh_seconds:
            return True
        if self._version is None or now - self._version_checked < VERSION_CHECK_SECONDS:
            return False
        if self._workbook.version() != self._version:
            return True
        self._version_checked = now
        return False

    def _refresh_in_background(self) -> None:
        try:
            with self._lock:
                self._reload()
        except Exception:  # the thread must end quietly; the next get() tries again
            log.exception("background config refresh failed")
        finally:
            self._refreshing.clear()

    def _reload(self) -> ConfigSnapshot:
        try:
            version = self._workbook.version()
            tables = self._workbook.read_tables(["Config", "Settings"])
            snapshot = build_snapshot(tables["Config"], tables["Settings"], extra_setting_keys=self._extra)
            self._save_last_good(tables)
        except BotError as exc:
            if self._snapshot is None:
                saved = self._last_good[1]() if self._last_good and isinstance(exc, TemporaryError) else None
                if saved is None:
                    raise
                log.warning("workbook unreadable at start-up (%s); trading on the last good config saved", exc)
                self._snapshot = build_snapshot(saved["Config"], saved["Settings"], extra_setting_keys=self._extra)
                self.degraded_since = utc_now()
            if self.degraded_since is None:
                self.degraded_since = utc_now()
                log.warning("workbook unreadable, trading on the last good config: %s", exc)
            self.last_error = str(exc)
            self._loaded_mono = self._clock()  # retry after the refresh interval, not on every alert
            return self._snapshot
        self.degraded_since = None
        self.last_error = ""
        self._snapshot = snapshot
        self._version = version
        self._loaded_mono = self._clock()
        if self._on_reload is not None:
            try:
                self._on_reload(snapshot)
            except Exception:  # a status write must never stop trading
                log.exception("writing Config statuses after reload failed")
        return snapshot

    def _save_last_good(self, tables: dict[str, Table]) -> None:
        """Persist the tables when they changed since the last save (see ``last_good``)."""
        if self._last_good is None:
            return
        digest = hashlib.sha256(repr([(t.headers, t.rows) for t in tables.values()]).encode()).hexdigest()
        if digest != self._saved_digest:
            try:
                self._last_good[0](tables)
                self._saved_digest = digest
            except BotError as exc:
                log.warning("could not save the last good config: %s", exc)
