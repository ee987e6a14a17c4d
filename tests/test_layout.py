"""The code map holds (README "Code map", DESIGN.md §3): packages import only downwards, nothing imports in a
circle, every module imports, and modules and functions stay small."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import defaultdict
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parents[1]

#: Each unit (a package under bot/, or a top-level module) may import units of a lower rank only.
RANK = {
    "bot.errors": 0,
    "bot.parsing": 0,
    "bot.records": 0,
    "bot.domain": 1,
    "bot.settings": 1,
    "bot.logging_setup": 2,
    "bot.state": 3,
    "bot.sheets": 3,
    "bot.notify": 3,
    "bot.analytics": 3,
    "bot.brokers": 4,
    "bot.trading": 5,
    "bot.outbox_writer": 5,
    "bot.validate": 6,
    "bot.snapshots": 6,
    "bot.dashboard": 7,
    "bot.report": 7,
    "bot.backup": 7,
    "bot.services": 8,
    "bot.jobs": 9,
    "bot.doctor": 9,
    "bot.web": 10,
    "bot.cli": 11,
    "bot.__main__": 12,
}
#: Names imported as ``from bot import X`` that are attributes of the package, not modules.
PACKAGE_ATTRIBUTES = {"__version__"}

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``bot`` import in ``path`` outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "bot":
            if node.module == "bot":
                found += [(node.lineno, f"bot.{a.name}") for a in node.names if a.name not in PACKAGE_ATTRIBUTES]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "bot"]
    return found


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted((ROOT / "bot").rglob("*.py")):
        source = _unit(_module_name(path))
        for _, target in _imports(path):
            if _unit(target) != source:
                edges[source].add(_unit(target))
    return edges


def _product_files() -> list[Path]:
    return [
        *sorted((ROOT / "bot").rglob("*.py")),
        *sorted((ROOT / "app_pages").glob("*.py")),
        ROOT / "streamlit_app.py",
    ]


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(bot.__path__, prefix="bot.")]
    assert len(names) > 50
    for name in names:
        importlib.import_module(name)  # raises on a broken or circular import


def test_every_unit_has_a_rank() -> None:
    units = {_unit(_module_name(p)) for p in (ROOT / "bot").rglob("*.py")} - {"bot"}
    assert units <= set(RANK), f"place these in RANK (and README's code map): {sorted(units - set(RANK))}"


def test_packages_import_only_downwards() -> None:
    wrong = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        for line, target in _imports(path)
        if _unit(target) != _unit(_module_name(path))
        and RANK.get(_unit(target), 99) >= RANK.get(_unit(_module_name(path)), -1)
    ]
    assert not wrong, "upward or sideways imports:\n" + "\n".join(wrong)


def test_no_import_cycle_between_packages() -> None:
    edges = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target in trail:
                cycles.append([*trail[trail.index(target) :], target])
            elif len(trail) < 20:
                visit(target, [*trail, target])

    for start in sorted(edges):
        visit(start, [start])
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_alert_path_stays_in_web_trading_brokers_state() -> None:
    """POST /webhook → engine → broker order and row update: the web hands alerts to the engine and never
    reaches a venue or the workbook itself; the trading package reaches only the adapters it trades with
    (and the pure quantity formulas)."""
    edges = _graph()
    foundation = {"bot.domain", "bot.errors", "bot.parsing", "bot.records", "bot.settings"}
    assert edges["bot.trading"] <= {"bot.brokers", "bot.state", "bot.sheets", "bot.analytics"} | foundation
    assert not edges["bot.web"] & {"bot.brokers", "bot.sheets", "bot.notify"}


@pytest.mark.parametrize("path", _product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it (one job per module)"
    long = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]  # the docstring does not count
            if body and body[-1].end_lineno - body[0].lineno + 1 > MAX_FUNCTION_LINES:
                long.append(f"{node.name} ({body[-1].end_lineno - body[0].lineno + 1} lines)")
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_tests_mirror_the_packages() -> None:
    packages = sorted(p.parent.name for p in (ROOT / "bot").glob("*/__init__.py"))
    missing = [name for name in packages if not list((ROOT / "tests" / name).glob("test_*.py"))]
    assert not missing, f"no tests/<package>/ for {missing}"
