"""Wiring: builds the store, workbook, brokers, engine, writer and jobs from :class:`Settings`.

This is the only place that decides which adapters run (local or Google workbook, paper or real
brokers). Tests build the same object with injected adapters (fake-server-backed brokers, a
workbook on a temporary file) instead of patching anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot import __version__
from bot.brokers.base import Broker
from bot.brokers.paper import PaperBroker
from bot.domain import utc_now
from bot.errors import ConfigError, TemporaryError
from bot.notify.events import Event, workbook_degraded, workbook_recovered
from bot.notify.notifier import Notifier, build_notifier
from bot.notify.routing import NOTIFY_SETTING_KEYS, parse_notify_settings
from bot.outbox_writer import OutboxWriter
from bot.settings import RuntimeSettings, Settings, ensure_local_secret
from bot.sheets.base import Workbook
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.state.store import StateStore
from bot.trading.config_table import ConfigCache, ConfigSnapshot
from bot.trading.engine import Engine
from bot.trading.venues import BrokerRegistry

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

#: Rows written to a new local workbook's Config tab (stocks and crypto, two timeframes for AAPL).
EXAMPLE_CONFIG = [
    {
        "symbol": "AAPL",
        "position_size": "10",
        "active": "TRUE",
        "Time Frame": "1D",
        "size_type": "qty",
        "direction": "both",
        "stop_loss_pct": "5",
    },
    {
        "symbol": "AAPL",
        "position_size": "10",
        "active": "TRUE",
        "Time Frame": "1W",
        "size_type": "qty",
        "direction": "both",
    },
    {
        "symbol": "MSFT",
        "position_size": "10",
        "active": "TRUE",
        "Time Frame": "D",
        "size_type": "qty",
        "direction": "both",
    },
    {
        "symbol": "BTCUSDT",
        "position_size": "500",
        "active": "TRUE",
        "Time Frame": "15",
        "size_type": "usd",
        "direction": "long",
    },
    {
        "symbol": "ETHUSDT",
        "position_size": "250",
        "active": "FALSE",
        "Time Frame": "1h",
        "size_type": "usd",
        "direction": "long",
    },
]


@dataclass
class Services:
    """Everything a running bot holds; built by :func:`build_services`, closed by :meth:`close`."""

    settings: Settings
    store: StateStore
    workbook: Workbook
    config: ConfigCache
    brokers: BrokerRegistry
    engine: Engine
    writer: OutboxWriter
    secret: str
    api_token: str
    started_at: datetime = field(default_factory=utc_now)
    version: str = __version__
    scheduler: BackgroundScheduler | None = None
    notifier: Notifier | None = None
    drift: list[str] = field(default_factory=list)  # latest reconciliation differences, shown by /health
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def runtime(self) -> RuntimeSettings:
        """The current Settings-tab knobs."""
        return self.config.get().runtime

    def close(self) -> None:
        """Stop jobs, flush the outbox (bounded), close adapters. Safe to call twice."""
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # closing must go on
                log.exception("error while closing")
        self.closers.clear()


def open_workbook(settings: Settings, *, check: bool = True) -> Workbook:
    """The workbook chosen by BOT_STORE: the local file, or the Google Sheet.

    Raises:
        ConfigError: Google selected without usable credentials or sheet id.
    """
    if settings.bot_store == "google":
        from bot.sheets.google.auth import open_google_workbook

        return open_google_workbook(settings, check=check)
    return LocalWorkbook(settings.workbook_path)


def seed_workbook(workbook: Workbook, *, examples: bool) -> list[str]:
    """Create missing tabs/columns; on a new workbook fill Config with :data:`EXAMPLE_CONFIG`.

    Settings keys missing from the Settings tab are added with a blank value and a description, so
    users see every knob. Returns a list of what changed.
    """
    changes = workbook.ensure_tabs(all_specs())
    tables = workbook.read_tables(["Config", "Settings"])
    from bot.records import WriteBatch
    from bot.sheets.base import clean_record

    batch = WriteBatch()
    if examples and not tables["Config"].rows:
        for row in EXAMPLE_CONFIG:
            batch.appends.append(("Config", clean_record(row)))
        changes.append(f"seeded Config with {len(EXAMPLE_CONFIG)} example rows")
    present = {(r.get("key") or "").strip() for r in tables["Settings"].rows}
    for name, info in RuntimeSettings.model_fields.items():
        if name not in present:
            batch.appends.append(
                ("Settings", {"key": name, "value": "", "description": f"{info.description} Default: {info.default}."})
            )
    if batch:
        workbook.apply(batch)
    return changes


def broker_factories(
    settings: Settings, store: StateStore, runtime: Callable[[], RuntimeSettings]
) -> dict[str, Callable[[], Broker]]:
    """Factories per broker name; a real venue without keys raises :class:`ConfigError` when first used."""

    def paper() -> Broker:
        return PaperBroker(store, settings.paper_starting_cash, runtime)

    def alpaca() -> Broker:
        if not (settings.alpaca_api_key.get_secret_value() and settings.alpaca_api_secret.get_secret_value()):
            raise ConfigError(
                "broker alpaca needs ALPACA_API_KEY and ALPACA_API_SECRET", field="broker", value="alpaca"
            )
        from bot.brokers.alpaca.broker import AlpacaBroker

        return AlpacaBroker(settings)

    def binance(futures: bool) -> Callable[[], Broker]:
        def make() -> Broker:
            name = "binance-futures" if futures else "binance"
            if not (settings.binance_api_key.get_secret_value() and settings.binance_api_secret.get_secret_value()):
                raise ConfigError(
                    f"broker {name} needs BINANCE_API_KEY and BINANCE_API_SECRET", field="broker", value=name
                )
            from bot.brokers.binance.broker import BinanceBroker

            return BinanceBroker(settings, futures=futures)

        return make

    return {"paper": paper, "alpaca": alpaca, "binance": binance(False), "binance-futures": binance(True)}


def build_services(
    settings: Settings,
    *,
    workbook: Workbook | None = None,
    brokers: dict[str, Callable[[], Broker]] | None = None,
    seed_examples: bool | None = None,
    writer_interval: float | None = None,
) -> Services:
    """Build and connect every part from ``settings`` (injected ``workbook``/``brokers`` win).

    Reads the Config once, so an unreadable workbook fails here, at start-up, not at the first alert.

    Raises:
        ConfigError: bad settings, missing credentials, unreadable workbook, missing Config columns.
    """
    settings.bot_data_dir.mkdir(parents=True, exist_ok=True)
    secret = settings.webhook_secret.get_secret_value() or ensure_local_secret(settings.bot_data_dir / "webhook_secret")
    token = settings.bot_api_token.get_secret_value() or ensure_local_secret(settings.bot_data_dir / "api_token")
    store = StateStore(settings.db_url)
    if seed_examples is None:
        seed_examples = settings.bot_store == "local"
    workbook = _start_workbook(settings, store, workbook, seed_examples=seed_examples)
    notifier = build_notifier(settings)
    engine_holder: list[Engine] = []
    config = _config_cache(workbook, store, notifier, engine_holder)
    registry = BrokerRegistry(
        brokers or broker_factories(settings, store, lambda: config.get().runtime), settings.bot_broker
    )

    def publish(kind: str, text: str, symbol: str, timeframe: str) -> None:
        notifier.publish(Event(kind=kind, text=text, symbol=symbol, timeframe=timeframe))  # type: ignore[arg-type]

    engine = Engine(store=store, brokers=registry, secret=secret, zone=settings.zone, events=publish)
    config.get()  # raises on an unusable Config at start-up
    engine_holder.append(engine)
    engine.config = config
    config.invalidate()
    config.get()  # again, now writing row statuses through the engine
    writer = _outbox_writer(store, workbook, config, notifier, writer_interval)
    services = Services(
        settings=settings,
        store=store,
        workbook=workbook,
        config=config,
        brokers=registry,
        engine=engine,
        writer=writer,
        secret=secret,
        api_token=token,
        notifier=notifier,
    )
    services.closers.extend(
        [store.close, workbook.close, registry.close, lambda: notifier.close(timeout=10), engine.close, writer.stop]
    )
    return services


def _start_workbook(
    settings: Settings, store: StateStore, workbook: Workbook | None, *, seed_examples: bool
) -> Workbook:
    """The workbook, seeded; when Google is unreachable at start-up, the bot trades on the last good config
    if one was saved. Raises TemporaryError (unreachable, nothing saved) or ConfigError (unusable)."""
    try:
        workbook = workbook or open_workbook(settings)
        seed_workbook(workbook, examples=seed_examples)
    except TemporaryError as exc:
        if store.load_tables("last_good_config") is None:
            store.close()
            raise
        log.warning("workbook unreachable at start-up (%s); starting on the last good config", exc)
        workbook = workbook or open_workbook(settings, check=False)
    return workbook


def _config_cache(workbook: Workbook, store: StateStore, notifier: Notifier, engine: list[Engine]) -> ConfigCache:
    """The Config/Settings cache: each reload updates the notification settings and, once ``engine`` holds
    the engine, the rows' statuses; the last good config is kept in the state DB."""

    def on_reload(snapshot: ConfigSnapshot) -> None:
        notify_settings, problems = parse_notify_settings(list(snapshot.settings_records))
        notifier.update_settings(notify_settings)
        for problem in problems:
            log.warning("Settings tab: %s", problem)
        if engine:
            engine[0].on_config_reload(snapshot)

    return ConfigCache(
        workbook,
        on_reload=on_reload,
        extra_setting_keys=frozenset(NOTIFY_SETTING_KEYS),
        background=workbook.kind != "local",
        last_good=(
            lambda tables: store.save_tables("last_good_config", tables),
            lambda: store.load_tables("last_good_config"),
        ),
    )


def _outbox_writer(
    store: StateStore, workbook: Workbook, config: ConfigCache, notifier: Notifier, interval: float | None
) -> OutboxWriter:
    """The background writer of the outbox to ``workbook`` (every ``interval`` s; 1 s on Google, 0.2 s
    locally), telling the notifier when the workbook degrades and recovers."""

    def on_writer_state(state: str, error: str) -> None:
        if state == "degraded":
            notifier.publish(workbook_degraded(reason=error, pending_writes=store.outbox_depth()))
        else:
            notifier.publish(workbook_recovered())

    default_interval = 1.0 if workbook.kind == "google" else 0.2
    return OutboxWriter(
        store,
        workbook,
        min_interval=interval if interval is not None else default_interval,
        after_flush=lambda: _trim(workbook, config),
        on_state=on_writer_state,
    )


def _trim(workbook: Workbook, config: ConfigCache) -> None:
    keep = config.get().runtime.sheet_keep_rows
    for tab in ("Signals", "Orders"):
        workbook.trim(tab, keep)
