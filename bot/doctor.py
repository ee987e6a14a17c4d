"""``python -m bot doctor``: a checklist of what trading needs, each with a fix."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import BotError


@dataclass(frozen=True)
class Check:
    """One line of the checklist. ``blocking``: trading cannot work while it fails."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True


def run_checks() -> list[Check]:
    """Settings, workbook (tabs, headers, Config rows) and brokers of the Config rows."""
    from bot.config_table import build_snapshot
    from bot.services import broker_factories, open_workbook
    from bot.settings import load_settings
    from bot.state.store import StateStore

    checks: list[Check] = []
    try:
        settings = load_settings()
    except BotError as exc:
        return [Check("settings", False, str(exc), "fix the variable in the environment or .env")]
    checks.append(
        Check(
            "settings", True, f"store {settings.bot_store}, broker {settings.bot_broker}, zone {settings.bot_timezone}"
        )
    )
    try:
        workbook = open_workbook(settings)
        tables = workbook.read_tables(["Config", "Settings"])
        snapshot = build_snapshot(tables["Config"], tables["Settings"])
    except BotError as exc:
        checks.append(
            Check("workbook", False, str(exc), "run `python -m bot init-sheet`, check credentials and sharing")
        )
        return checks
    checks.append(Check("workbook", True, f"{workbook.kind}: {len(snapshot.rows)} active row(s)"))
    errors = [p for p in snapshot.problems.values() if p.active]
    checks.append(
        Check(
            "config rows",
            not errors,
            "; ".join(f"row {p.row_number}: {p.reason}" for p in errors) or "all valid",
            "correct the cells named above",
            blocking=False,
        )
    )
    for problem in snapshot.runtime_problems:
        checks.append(
            Check("settings tab", False, problem, "fix or clear the value in the Settings tab", blocking=False)
        )
    store = StateStore(settings.db_url)
    factories = broker_factories(settings, store, lambda: snapshot.runtime)
    needed = sorted({row.broker or settings.bot_broker for row in snapshot.rows.values()} | {settings.bot_broker})
    for name in needed:
        try:
            broker = factories[name]()
            account = broker.account()
            mode = "LIVE" if broker.live else "paper"
            checks.append(Check(f"broker {name}", True, f"{mode}, equity {account.equity} {account.currency}"))
        except BotError as exc:
            checks.append(Check(f"broker {name}", False, str(exc), "set the broker's API keys (README: Brokers)"))
    store.close()
    workbook.close()
    return checks
