"""``python -m bot doctor``: a checklist of what trading needs, each failure with its fix.

Checks, in order: settings; listen address and secrets; data directory; state DB; workbook
(tabs and headers against ``sheets_schema/``); Config rows and the Settings tab; the kill switch;
each broker the Config uses (keys, account, paper or LIVE mode); the clock against each broker's
clock; notification channels (listed, never sent to).

A :class:`Check` that fails with ``blocking=True`` means trading cannot work as configured:
:func:`exit_code` is then 1. Warnings (``blocking=False``) are printed but do not fail. Nothing
here places an order or sends a message; broker checks read the account (and the venue's clock).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from bot.errors import BotError

#: Clock skew (seconds) above which a warning is printed, and above which trading is blocked
#: (Binance refuses signed requests whose timestamp is off by more than its recvWindow, 5 s).
SKEW_WARN_SECONDS = 1.0
SKEW_BLOCK_SECONDS = 5.0
#: Minimum length of WEBHOOK_SECRET and BOT_API_TOKEN when the server listens beyond loopback.
MIN_SECRET_CHARS = 16
#: Tabs without which the bot cannot trade (others are created by the server at start-up).
ESSENTIAL_TABS = ("Config", "Settings")


@dataclass(frozen=True)
class Check:
    """One line of the checklist.

    Attributes:
        name: what was checked (``"broker alpaca"``).
        ok: passed.
        detail: what was found (never a secret).
        fix: what to do when it failed ("" when ok).
        blocking: when failing, trading cannot work (exit code 1); else a warning.
        loud: print prominently even when ok (LIVE trading).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True
    loud: bool = False


def run_checks(
    settings: Any | None = None,
    *,
    workbook: Any | None = None,
    brokers: Mapping[str, Callable[[], Any]] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Check]:
    """Run every check and return the checklist (never raises for a failing check).

    Args:
        settings: :class:`~bot.settings.Settings` (default: from the environment / .env).
        workbook: an open workbook to check instead of the configured one (tests); not closed here.
        brokers: broker factories by name instead of :func:`bot.services.broker_factories` (tests).
        env: environment for ``BOT_HOST`` (default ``os.environ``).
    """
    from bot.settings import load_settings

    env = os.environ if env is None else env
    checks: list[Check] = []
    if settings is None:
        try:
            settings = load_settings()
        except BotError as exc:
            return [Check("settings", False, str(exc), "fix the variable in the environment, .env or bot.env")]
    checks.append(
        Check(
            "settings",
            True,
            f"store {settings.bot_store}, broker {settings.bot_broker}, zone {settings.bot_timezone}, "
            f"data dir {settings.bot_data_dir}",
        )
    )
    checks.append(_listen_check(settings, env.get("BOT_HOST", "127.0.0.1")))
    checks.append(_data_dir_check(settings))
    store = _open_store(settings, checks)
    own_workbook = workbook is None
    snapshot = None
    try:
        workbook = workbook if workbook is not None else _open_workbook(settings, checks)
        if workbook is not None:
            checks.extend(_tab_checks(workbook))
            snapshot = _config_checks(workbook, checks)
        if store is not None:  # without a readable Config, at least the default broker is checked
            checks.extend(_broker_checks(settings, store, snapshot, brokers))
        checks.extend(_notify_checks(settings))
    finally:
        if store is not None:
            store.close()
        if own_workbook and workbook is not None:
            workbook.close()
    return checks


def exit_code(checks: list[Check]) -> int:
    """1 when any blocking check failed, else 0."""
    return 1 if any(c.blocking and not c.ok for c in checks) else 0


def print_report(checks: list[Check], out: IO[str]) -> int:
    """Print the checklist (``[ok  ]``, ``[warn]``, ``[FAIL]`` lines, fixes indented) and return :func:`exit_code`.

    LIVE brokers get a banner line so nobody trades real money by accident.
    """
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.blocking else "warn")
        if check.loud:
            out.write(f"{'!' * 72}\n")
        out.write(f"[{mark}] {check.name}: {check.detail}\n")
        if check.loud:
            if check.fix:
                out.write(f"       note: {check.fix}\n")
            out.write(f"{'!' * 72}\n")
        if not check.ok and check.fix:
            out.write(f"       fix: {check.fix}\n")
    code = exit_code(checks)
    failed = [c.name for c in checks if c.blocking and not c.ok]
    warned = [c.name for c in checks if not c.blocking and not c.ok]
    if failed:
        out.write(f"\nTrading is blocked: fix {', '.join(failed)}.\n")
    else:
        out.write(f"\nReady to trade{f' ({len(warned)} warning(s))' if warned else ''}.\n")
    return code


# -- individual checks ----------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "") or host.startswith("127.")


def _listen_check(settings: Any, host: str) -> Check:
    """Secrets long enough for the address the server listens on (BOT_HOST)."""
    lengths = {
        "WEBHOOK_SECRET": len(settings.webhook_secret.get_secret_value()),
        "BOT_API_TOKEN": len(settings.bot_api_token.get_secret_value()),
    }
    weak = [name for name, n in lengths.items() if n < MIN_SECRET_CHARS]
    if _is_loopback(host):
        generated = [name for name, n in lengths.items() if n == 0]
        note = f"; {' and '.join(generated)} generated in the data dir" if generated else ""
        return Check("listen address", True, f"BOT_HOST {host or '127.0.0.1'} (loopback only){note}")
    if weak:
        return Check(
            "listen address",
            False,
            f"BOT_HOST {host} is reachable from the network but {' and '.join(weak)} "
            f"{'is' if len(weak) == 1 else 'are'} shorter than {MIN_SECRET_CHARS} characters; "
            "the server refuses to start",
            'set them: python3 -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    return Check("listen address", True, f"BOT_HOST {host}; secrets are at least {MIN_SECRET_CHARS} characters")


def _data_dir_check(settings: Any) -> Check:
    path = settings.bot_data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".doctor-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        return Check(
            "data dir",
            False,
            f"{path} is not writable ({exc.strerror or exc})",
            "create it and give the bot's user write access (chown sheetbot: /var/lib/sheetbot)",
        )
    return Check("data dir", True, f"{path.resolve()} is writable")


def _open_store(settings: Any, checks: list[Check]) -> Any | None:
    from bot.state.store import StateStore

    try:
        store = StateStore(settings.db_url)
        depth = store.outbox_depth()
    except Exception as exc:  # any driver error: report, do not crash the checklist
        checks.append(
            Check("state DB", False, f"cannot open: {type(exc).__name__}: {exc}", "check BOT_DB_URL and the data dir")
        )
        return None
    detail = f"{'SQLite' if settings.db_url.startswith('sqlite') else 'SQL'} ok, {depth} pending workbook write(s)"
    checks.append(Check("state DB", True, detail))
    return store


def _open_workbook(settings: Any, checks: list[Check]) -> Any | None:
    from bot.services import open_workbook

    try:
        return open_workbook(settings)
    except BotError as exc:
        fix = (
            "check GOOGLE_SHEET_ID, the credentials file, and share the sheet with the service account's e-mail"
            if settings.bot_store == "google"
            else "check BOT_DATA_DIR; run `python -m bot init-sheet`"
        )
        checks.append(Check("workbook", False, str(exc), fix))
        return None


def _tab_checks(workbook: Any) -> list[Check]:
    """Each schema tab exists with its required headers (missing optional columns are listed)."""
    from bot.sheets.schema import all_specs

    checks: list[Check] = []
    specs = all_specs()
    try:
        tables = workbook.read_tables([spec.name for spec in specs])
    except BotError as exc:
        return [Check("workbook", False, f"{workbook.kind}: cannot read tabs: {exc}", "check access to the workbook")]
    headers_of = getattr(workbook, "headers", None)
    for spec in specs:
        essential = spec.name in ESSENTIAL_TABS
        table = tables[spec.name]
        # a missing tab reads as empty with the schema's headers; only then ask (one request on Google)
        ambiguous = not table.rows and table.headers == spec.headers
        headers = headers_of(spec.name) if ambiguous and callable(headers_of) else table.headers
        if not headers:
            checks.append(
                Check(
                    f"tab {spec.name}",
                    False,
                    "missing",
                    "run `python -m bot init-sheet` (the server also creates missing tabs at start-up)",
                    blocking=essential,
                )
            )
            continue
        missing_required = [h for h in spec.required if h not in headers]
        missing_optional = [h for h in spec.headers if h not in headers and h not in spec.required]
        if missing_required:
            checks.append(
                Check(
                    f"tab {spec.name}",
                    False,
                    f"missing required column(s): {', '.join(missing_required)}",
                    "add the header(s) to row 1 (names must match exactly) or run `python -m bot init-sheet`",
                    blocking=essential,
                )
            )
        elif missing_optional:
            checks.append(
                Check(
                    f"tab {spec.name}",
                    False,
                    f"missing optional column(s): {', '.join(missing_optional)}",
                    "run `python -m bot init-sheet` to add them",
                    blocking=False,
                )
            )
    if not checks:
        checks.append(Check("workbook tabs", True, f"{workbook.kind}: all {len(specs)} tabs with their columns"))
    return checks


def _config_checks(workbook: Any, checks: list[Check]) -> Any | None:
    from bot.trading.config_table import build_snapshot

    try:
        from bot.notify.routing import NOTIFY_SETTING_KEYS

        extra = frozenset(NOTIFY_SETTING_KEYS)
    except ImportError:
        extra = frozenset()
    try:
        tables = workbook.read_tables(["Config", "Settings"])
        snapshot = build_snapshot(tables["Config"], tables["Settings"], extra_setting_keys=extra)
    except BotError as exc:
        checks.append(
            Check("config rows", False, str(exc), "fix the Config tab's header row or run `python -m bot init-sheet`")
        )
        return None
    errors = [p for p in snapshot.problems.values() if p.active]
    if errors:
        checks.append(
            Check(
                "config rows",
                False,
                "; ".join(f"row {p.row_number}: {p.reason}" for p in errors),
                "correct the cells named above (those rows answer CONFIG ERROR until then)",
                blocking=False,
            )
        )
    rows = sorted(snapshot.rows.values(), key=lambda r: r.row_number)
    if rows:
        listing = ", ".join(f"{r.symbol} {r.timeframe}" for r in rows[:12]) + (" …" if len(rows) > 12 else "")
        checks.append(Check("config rows", True, f"{len(rows)} active row(s): {listing}"))
    else:
        checks.append(
            Check(
                "config rows",
                False,
                "no active row: every alert will be skipped",
                "add a row (symbol, position_size, active TRUE, Time Frame) to the Config tab",
                blocking=True,
            )
        )
    for problem in snapshot.runtime_problems:
        checks.append(
            Check("settings tab", False, problem, "fix or clear the value in the Settings tab", blocking=False)
        )
    if not snapshot.runtime.trading_enabled:
        checks.append(
            Check(
                "kill switch",
                False,
                "trading_enabled is FALSE: every signal is answered BLOCKED",
                "set trading_enabled to TRUE in the Settings tab when you want to trade",
            )
        )
    return snapshot


def _broker_checks(
    settings: Any, store: Any, snapshot: Any | None, brokers: Mapping[str, Callable[[], Any]] | None
) -> list[Check]:
    """Keys, account and mode of every broker the active Config rows use, plus BOT_BROKER; then the clock."""
    from bot.services import broker_factories
    from bot.settings import RuntimeSettings

    runtime = snapshot.runtime if snapshot is not None else RuntimeSettings()
    factories = brokers if brokers is not None else broker_factories(settings, store, lambda: runtime)
    rows = snapshot.rows.values() if snapshot is not None else ()
    needed = sorted({row.broker or settings.bot_broker for row in rows} | {settings.bot_broker})
    checks: list[Check] = []
    for name in needed:
        factory = factories.get(name)
        if factory is None:
            checks.append(
                Check(f"broker {name}", False, "unknown broker", "use paper, alpaca, binance or binance-futures")
            )
            continue
        broker = None
        try:
            broker = factory()
            account = broker.account()
        except BotError as exc:
            checks.append(Check(f"broker {name}", False, str(exc), _broker_fix(name)))
            if broker is not None:
                _close(broker)
            continue
        except Exception as exc:  # an adapter bug must not hide the rest of the checklist
            checks.append(Check(f"broker {name}", False, f"{type(exc).__name__}: {exc}", _broker_fix(name)))
            if broker is not None:
                _close(broker)
            continue
        live = broker.live
        money = f"equity {account.equity} {account.currency}, buying power {account.buying_power}"
        if live:
            checks.append(
                Check(f"broker {name}", True, f"*** LIVE TRADING, REAL MONEY *** {money}", _live_note(name), loud=True)
            )
        else:
            checks.append(Check(f"broker {name}", True, f"paper/testnet mode, {money}"))
        checks.append(clock_check(name, broker))
        _close(broker)
    return checks


def _close(broker: Any) -> None:
    try:
        broker.close()
    except Exception:  # closing is best effort here
        return


def _broker_fix(name: str) -> str:
    if name == "alpaca":
        return "set ALPACA_API_KEY and ALPACA_API_SECRET (paper keys with ALPACA_PAPER=true), README: Brokers"
    if name.startswith("binance"):
        return "set BINANCE_API_KEY and BINANCE_API_SECRET (testnet keys with BINANCE_TESTNET=true), README: Brokers"
    return "see README: Brokers"


def _live_note(name: str) -> str:
    flag = "ALPACA_PAPER=true" if name == "alpaca" else "BINANCE_TESTNET=true"
    return f"orders go to your real account; set {flag} to practise first"


def clock_check(name: str, broker: Any, *, now: Callable[[], float] = time.time) -> Check:
    """Compare the local clock with ``broker.server_time()`` when the adapter offers it.

    ``server_time()`` must return a timezone-aware :class:`~datetime.datetime` (the venue's clock).
    The local time is taken halfway through the call, so network latency does not count as skew.
    Skew above :data:`SKEW_BLOCK_SECONDS` blocks (signed requests fail), above
    :data:`SKEW_WARN_SECONDS` warns. The paper broker uses the local clock: nothing to compare.
    """
    label = f"clock vs {name}"
    if not broker.capabilities.server_time:
        if broker.name == "paper":
            return Check(label, True, "not applicable (the paper broker uses this machine's clock)")
        return Check(label, True, "not available (the adapter does not expose the venue's clock)", blocking=False)
    try:
        before = now()
        remote = broker.server_time()
        after = now()
    except BotError as exc:
        return Check(label, False, f"could not read the venue's clock: {exc}", "check the network", blocking=False)
    if not isinstance(remote, datetime) or remote.tzinfo is None:
        return Check(label, False, f"venue clock gave {remote!r}, not an aware datetime", blocking=False)
    local = datetime.fromtimestamp((before + after) / 2, tz=timezone.utc)
    skew = (local - remote).total_seconds()
    detail = f"this machine is {abs(skew):.2f} s {'ahead of' if skew >= 0 else 'behind'} {name}"
    fix = "sync the clock: sudo timedatectl set-ntp true (or install chrony)"
    if abs(skew) > SKEW_BLOCK_SECONDS:
        return Check(label, False, detail, fix, blocking=True)
    if abs(skew) > SKEW_WARN_SECONDS:
        return Check(label, False, detail, fix, blocking=False)
    return Check(label, True, detail)


def _notify_checks(settings: Any) -> list[Check]:
    """Configured notification channels, listed without secrets; nothing is sent."""
    try:
        from bot.notify.channels.build import build_channels, channel_problems
    except ImportError:
        return [Check("notifications", True, "not available in this build", blocking=False)]
    checks = [
        Check("notifications", False, problem, "complete or clear those settings (bot.env)", blocking=False)
        for problem in channel_problems(settings)
    ]
    channel_log = logging.getLogger("bot.notify.channels")
    level = channel_log.level
    channel_log.setLevel(logging.ERROR)  # its warnings repeat the problems listed above
    try:
        channels = build_channels(settings)
    except BotError as exc:
        return [*checks, Check("notifications", False, str(exc), "check the channel settings", blocking=False)]
    finally:
        channel_log.setLevel(level)
    if channels:
        described = "; ".join(channel.describe() for channel in channels)
        checks.append(
            Check(
                "notifications",
                True,
                f"{len(channels)} channel(s): {described} (send a test: python -m bot notify-test)",
            )
        )
    else:
        checks.append(
            Check(
                "notifications",
                False,
                "no channel configured: you will not hear about failed orders",
                "set SLACK_WEBHOOK_URL, or SMTP_* or TWILIO_* (README: Notifications)",
                blocking=False,
            )
        )
    return checks
