"""The Journal's writes: edits of the user-owned Trades cells and trades typed by hand, as workbook writes.

Nothing here writes: edits come back as a :class:`~bot.records.WriteBatch` (or a row to append)
for the page to apply, and bot-owned cells are never part of them.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import pandas as pd

from bot.analytics.trade_records import TRADES_USER_COLUMNS, trade_from_record, trade_records
from bot.dashboard.formatting import SHEET_TIME_FORMAT, UTC
from bot.dashboard.trades import split_tags, zero_fees_blank
from bot.domain import format_decimal
from bot.parsing import safe_cell
from bot.records import RowWrite, WriteBatch
from bot.sheets.base import clean_record, row_key


def journal_edit_batch(frame: pd.DataFrame, edits: Mapping[int, Mapping[str, Any]]) -> tuple[WriteBatch, list[str]]:
    """Writes for edits of the user-owned Trades columns (setup, tags, notes, screenshot_url, rating).

    Each write is a :class:`~bot.records.RowWrite` keyed by the row's ``trade_id`` that sets
    only the changed user cells, so bot-owned cells are never written. Rows without a unique
    ``trade_id`` (manual rows typed without one) cannot be addressed and are refused.

    Args:
        frame: the frame the user edited (a :class:`~bot.dashboard.trades.TradesView` frame or a subset of it; its
            index is ignored).
        edits: positional row (0-based in ``frame``) → column → new value, as
            ``st.data_editor``'s ``edited_rows`` gives them.

    Returns:
        ``(batch, problems)``; rows with a problem are left out of the batch. Checks: only user
        columns; ``rating`` an integer 1–5 or blank; ``screenshot_url`` an ``http(s)://`` link
        or blank. Values go through :func:`~bot.parsing.safe_cell` (no formula injection).
    """
    batch = WriteBatch()
    problems: list[str] = []
    user_columns = set(TRADES_USER_COLUMNS)
    for position, changes in sorted((int(p), c) for p, c in edits.items()):
        if not 0 <= position < len(frame):
            problems.append(f"edit of row {position}: no such row")
            continue
        row = frame.iloc[position]
        label = f"Trades row {int(row['row'])}"
        values: dict[str, str] = {}
        bad = False
        for column, raw in changes.items():
            if column not in user_columns:
                problems.append(f"{label}: {column} is written by the bot and cannot be edited here")
                bad = True
                continue
            try:
                text = _user_cell(column, raw)
            except ValueError as exc:
                problems.append(f"{label}: {exc}")
                bad = True
                continue
            if text != _user_cell_text(row[column]):
                values[column] = text
        if bad or not values:
            continue
        if not bool(row["editable"]):
            problems.append(
                f"{label}: has no unique trade_id, so it cannot be written back safely; edit it in the sheet"
            )
            continue
        batch.writes.append(RowWrite("Trades", row_key("Trades", {"trade_id": str(row["trade_id"])}), values))
    return batch, problems


def _user_cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _user_cell(column: str, raw: Any) -> str:
    text = _user_cell_text(raw).strip()
    if column == "rating" and text:
        try:
            number = Decimal(text)
        except ArithmeticError:
            raise ValueError(f"rating: {text!r} is not a whole number from 1 to 5") from None
        if number != number.to_integral_value() or not 1 <= number <= 5:
            raise ValueError(f"rating: {text!r} is not a whole number from 1 to 5")
        text = str(int(number))
    if column == "screenshot_url" and text and not re.match(r"^https?://\S+$", text):
        raise ValueError(f"screenshot_url: {text!r} is not an http(s):// link")
    if column == "tags":
        text = ", ".join(split_tags(text))
    return safe_cell(text)


def manual_trade_record(
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    entry_at: datetime,
    entry_price: Decimal,
    exit_at: datetime,
    exit_price: Decimal,
    zone: tzinfo,
    timeframe: str = "",
    fees: Decimal = Decimal(0),
    exit_reason: str = "manual",
    setup: str = "",
    tags: str = "",
    notes: str = "",
    screenshot_url: str = "",
    rating: int | None = None,
    trade_id: str | None = None,
) -> dict[str, str]:
    """A complete Trades row for a trade typed in the dashboard (append it to the Trades tab).

    The row is validated and computed like the bot's own rows
    (:func:`~bot.analytics.trade_records.trade_from_record` then
    :func:`~bot.analytics.trade_records.trade_records`: P&L net of fees, P&L %, holding time); it has
    a unique ``trade_id`` ``manual-YYYYMMDDHHMMSS-xxxxxx`` (so its notes can be edited later) and no ``order_ids``
    (so the performance recompute keeps and counts it as a manual trade).

    Args:
        entry_at / exit_at: tz-aware, or naive local times in ``zone``.
        qty, prices: > 0 (quote currency per unit); ``fees`` ≥ 0, quote currency.

    Raises:
        ValueError: naming the field (``"qty: ..."``, ``"exit_at: ... is before entry_at"``).
    """
    for name, value in (("entry_at", entry_at), ("exit_at", exit_at)):
        if not isinstance(value, datetime):
            raise ValueError(f"{name}: {value!r} is not a time")
    entry = entry_at if entry_at.tzinfo else entry_at.replace(tzinfo=zone)
    exit_ = exit_at if exit_at.tzinfo else exit_at.replace(tzinfo=zone)
    identifier = trade_id or f"manual-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    record = {
        "trade_id": identifier,
        "symbol": symbol,
        "timeframe": timeframe,
        "side": side,
        "qty": format_decimal(qty) if isinstance(qty, Decimal) else str(qty),
        "entry_at": entry.astimezone(zone).strftime(SHEET_TIME_FORMAT),
        "entry_price": format_decimal(entry_price) if isinstance(entry_price, Decimal) else str(entry_price),
        "exit_at": exit_.astimezone(zone).strftime(SHEET_TIME_FORMAT),
        "exit_price": format_decimal(exit_price) if isinstance(exit_price, Decimal) else str(exit_price),
        "fees": format_decimal(fees) if isinstance(fees, Decimal) else str(fees),
        "exit_reason": exit_reason,
    }
    trip = trade_from_record(zero_fees_blank(record), zone=zone)
    row = trade_records([trip], zone)[0]
    row["order_ids"] = ""
    user = {"setup": setup, "tags": tags, "notes": notes, "screenshot_url": screenshot_url, "rating": rating}
    for column, value in user.items():
        row[column] = _user_cell(column, "" if value is None else value)
    return clean_record(row)
