"""Write plans: the cells a :class:`~bot.records.WriteBatch` (or a replacement of all rows) sets, per tab.

A :class:`TabPlan` starts from the cached :class:`~bot.sheets.google.layout.TabState` of its tab:
updates go to the cached rows of their key, new rows are placed at computed positions below the data,
missing columns are added at the right (header cell included). Because positions are computed,
re-sending a batch whose reply was lost rewrites the same cells: a retry never duplicates a row.
Nothing here sends requests; the workbook sends the plans and commits them to the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import TemporaryError
from bot.records import RowWrite, WriteBatch
from bot.sheets.base import row_key
from bot.sheets.google.cells import cell_out, header_out
from bot.sheets.google.layout import Layout, Sheet
from bot.sheets.schema import TABS, tab_spec


@dataclass
class TabPlan:
    """Pending changes of one tab inside a write (committed to the cache on success).

    ``cells`` maps sheet row (1-based) → column (0-based) → text to send (USER_ENTERED);
    ``headers``, ``data_rows`` and ``keys`` are the tab's layout once the plan is written.
    """

    tab: str
    title: str
    headers: list[str]
    data_rows: int
    keys: dict[tuple[str, ...], list[int]]
    new_tab: bool = False
    cells: dict[int, dict[int, str]] = field(default_factory=dict)  # sheet row (1-based) → column (0-based) → text

    def named_columns(self) -> list[int]:
        """Columns with a header (the first one when a header is repeated)."""
        seen: set[str] = set()
        out = []
        for index, header in enumerate(self.headers):
            if header and header not in seen:
                seen.add(header)
                out.append(index)
        return out

    def column(self, name: str) -> int:
        """Column index of header ``name``, adding it at the right (header cell written) when missing."""
        try:
            return self.headers.index(name)
        except ValueError:
            self.headers.append(name)
            column = len(self.headers) - 1
            self.cells.setdefault(1, {})[column] = header_out(name)
            return column


def key_parts(tab: str, key: tuple[str, ...], values: dict[str, str]) -> tuple[str, ...]:
    """The key of a row whose key was ``key`` after setting ``values`` on it."""
    spec = tab_spec(tab)
    record = dict(zip(spec.key, key, strict=False))
    record.update({k: v for k, v in values.items() if k in spec.key})
    return row_key(tab, record)


def new_plan(tab: str, sheets: dict[str, Sheet], layout: Layout) -> TabPlan:
    """An empty plan of ``tab`` on its cached state, or of a new tab (schema headers written) when missing.

    Raises:
        TemporaryError: the tab exists but was never read (callers refresh first).
    """
    state = layout.state(tab)
    if tab in sheets and state is not None:
        return TabPlan(
            tab,
            sheets[tab].title,
            list(state.headers),
            state.data_rows,
            {k: list(v) for k, v in state.keys.items()},
        )
    headers = tab_spec(tab).headers if tab in TABS else []
    if tab in sheets:  # present but never read (should not happen: callers refresh first)
        raise TemporaryError(f"Google Sheet tab {tab} not read yet")
    plan = TabPlan(tab, tab, list(headers), 0, {}, new_tab=True)
    plan.cells[1] = {c: header_out(h) for c, h in enumerate(headers)}
    return plan


def plan_batch(batch: WriteBatch, sheets: dict[str, Sheet], layout: Layout) -> tuple[list[TabPlan], list[str]]:
    """Plans of every tab ``batch`` touches, in order, and the tabs of plain writes whose key was not found.

    Row writes go to every row with their key (an upsert whose key is missing appends), then plain
    appends follow, each as a new row below the data.

    Raises:
        TemporaryError: as :func:`new_plan`.
    """
    plans: dict[str, TabPlan] = {}
    missing: list[str] = []

    def plan_of(tab: str) -> TabPlan:
        if tab not in plans:
            plans[tab] = new_plan(tab, sheets, layout)
        return plans[tab]

    for write in batch.writes:
        plan = plan_of(write.tab)
        rows = plan.keys.get(write.key)
        if not rows:
            if write.upsert:
                plan_append(plan, write.values)
            else:
                missing.append(write.tab)
            continue
        plan_update(plan, write, rows)
    for tab, record in batch.appends:
        plan_append(plan_of(tab), record)
    return list(plans.values()), list(dict.fromkeys(missing))


def plan_update(plan: TabPlan, write: RowWrite, rows: list[int]) -> None:
    """Set ``write``'s values on sheet ``rows`` (1-based); a changed key moves the rows to the new key."""
    columns = {name: plan.column(name) for name in write.values}
    for row in rows:
        cells = plan.cells.setdefault(row, {})
        for name, value in write.values.items():
            cells[columns[name]] = cell_out(plan.tab, name, value)
    if plan.tab in TABS and any(name in tab_spec(plan.tab).key for name in write.values):
        new_key = key_parts(plan.tab, write.key, write.values)
        if new_key != write.key:
            plan.keys.pop(write.key, None)
            plan.keys.setdefault(new_key, []).extend(rows)


def plan_append(plan: TabPlan, record: dict[str, str]) -> None:
    """Add ``record`` (header → text) as a new row below the data (missing columns added at the right)."""
    for name in record:
        plan.column(name)
    row = plan.data_rows + 2
    plan.data_rows += 1
    plan.cells[row] = {
        c: cell_out(plan.tab, plan.headers[c], record.get(plan.headers[c], "")) for c in plan.named_columns()
    }
    if plan.tab in TABS and any(record.values()):
        plan.keys.setdefault(row_key(plan.tab, record), []).append(row)


def plan_replacement(plan: TabPlan, rows: list[dict[str, str]]) -> None:
    """Make ``plan`` replace every data row of its tab with ``rows`` (header → text each).

    Keys of ``rows`` missing from the headers are added at the right; cells of columns a row does
    not mention become blank; rows beyond the new data are blanked.
    """
    tab = plan.tab
    old_rows = plan.data_rows
    for record in rows:
        for name in record:
            plan.column(name)
    named = plan.named_columns()
    plan.keys = {}
    for offset, record in enumerate(rows):
        row = offset + 2
        plan.cells[row] = {c: cell_out(tab, plan.headers[c], record.get(plan.headers[c], "")) for c in named}
        if tab in TABS and any(record.values()):
            plan.keys.setdefault(row_key(tab, record), []).append(row)
    for row in range(len(rows) + 2, old_rows + 2):
        plan.cells[row] = dict.fromkeys(named, "")
    plan.data_rows = len(rows)
