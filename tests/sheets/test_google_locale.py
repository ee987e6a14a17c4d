"""A Google Sheet in any locale: numbers typed with a decimal comma trade at the size the trader meant.

The fake types cells as a person in that locale would (Sheets API v4 USER_ENTERED) and formats them
by the spreadsheet's locale (FORMATTED_VALUE); the bot must read what the cells hold, not their text.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakes.sheets_fake import SheetsFake
from support.google_sheets import build_bot, open_on

from bot.sheets.google.typed import cell_json, cell_text
from bot.trading.config_table import parse_config

HEADERS = ["symbol", "position_size", "active", "Time Frame", "size_type", "leverage", "stop_loss_pct"]


@pytest.mark.parametrize("locale", ["de_DE", "fr_FR"])
def test_comma_decimal_sheet_reads_the_numbers_meant(fake: SheetsFake, tmp_path: Path, locale: str) -> None:
    # a trader in Germany or France types the numbers the way their sheet shows them
    rows = [
        HEADERS,
        ["BTCUSDT", "0,01", "TRUE", "1h", "qty", "2,5", "1,5"],
        ["ETHUSDT", "1000,5", "TRUE", "4h", "", "", ""],
    ]
    sheet_id = fake.create_spreadsheet({"Config": rows}, locale=locale)
    assert fake.values(sheet_id, "Config")[1][1] == "0,01"  # the sheet shows a decimal comma
    workbook = open_on(fake, sheet_id, tmp_path)
    table = workbook.read_tables(["Config"])["Config"]
    parsed, problems = parse_config(table)
    assert problems == []
    by_symbol = {row.symbol: row for row in parsed}
    assert by_symbol["BTCUSDT"].position_size == Decimal("0.01")  # not 1 BTC
    assert by_symbol["BTCUSDT"].leverage == Decimal("2.5")  # not 25×
    assert by_symbol["BTCUSDT"].stop_loss_pct == Decimal("1.5")  # not 15 %
    assert by_symbol["ETHUSDT"].position_size == Decimal("1000.5")  # not $10,005
    assert by_symbol["BTCUSDT"].active is True
    workbook.close()


def test_text_number_ambiguous_in_the_locale_is_a_config_error(fake: SheetsFake, tmp_path: Path) -> None:
    # '1.000 typed as text: a thousand to a German reader, one to an English one: never guess
    rows = [HEADERS, ["BTCUSDT", "'1.000", "TRUE", "1h", "", "", ""], ["ETHUSDT", "'2,5", "TRUE", "1h", "", "", ""]]
    sheet_id = fake.create_spreadsheet({"Config": rows}, locale="de_DE")
    workbook = open_on(fake, sheet_id, tmp_path)
    parsed, problems = parse_config(workbook.read_tables(["Config"])["Config"])
    assert parsed == []
    reasons = sorted(p.reason for p in problems)
    assert len(reasons) == 2
    assert all("position_size" in r and "de_DE" in r for r in reasons)
    assert any("'1.000'" in r for r in reasons) and any("'2,5'" in r for r in reasons)
    workbook.close()


def test_bot_writes_read_back_exactly_in_a_comma_locale(fake: SheetsFake, tmp_path: Path) -> None:
    rows = [[*HEADERS, "Order Status", "Position"], ["BTCUSDT", "0,01", "TRUE", "1h", "qty", "", "", "", ""]]
    sheet_id = fake.create_spreadsheet({"Config": rows}, locale="de_DE")
    bot = build_bot(fake, sheet_id, tmp_path)
    body = b'{"secret": "test-secret", "action": "buy", "symbol": "BTCUSDT", "timeframe": "60", "price": 65000.5}'
    reply = bot.engine.handle(body)
    assert reply.body["status"] == "success", reply.body
    bot.writer.flush()
    cell = fake.cell(sheet_id, "Config", "I2")
    assert cell is not None and cell.kind == "number" and cell.value == 0.01  # a number, not text or 1
    order = fake.records(sheet_id, "Orders")[0]
    assert order["qty"] == "0,01"  # shown the German way, held as the number 0.01
    table = bot.workbook.read_tables(["Config"])["Config"]
    assert table.rows[0]["Position"] == "0.01"
    bot.close()


def test_typed_cells_by_column_type() -> None:
    zone = ZoneInfo("Europe/Berlin")
    read = partial(cell_text, column="c", locale="de_DE", zone=zone)
    assert read(0.01, kind="decimal") == ("0.01", None)
    assert read(1000.5, kind="decimal") == ("1000.5", None)
    assert read(1e-7, kind="decimal") == ("0.0000001", None)
    assert read(15, kind="timeframe") == ("15", None)
    assert read(True, kind="bool") == ("TRUE", None)
    assert read(45413, kind="datetime") == ("2024-05-01", None)  # a date cell: day serial from 1899-12-30
    assert read(45413.6041666667, kind="datetime") == ("2024-05-01T14:30:00+02:00", None)  # in the sheet's zone
    assert read("=1+1", kind="text") == ("'=1+1", None)  # text stays formula-safe
    assert read("12", kind="decimal") == ("12", None)  # digits only: the same in every locale
    assert read("2,5", kind="decimal")[1] is not None
    assert cell_text("2,5", column="c", kind="decimal", locale="en_US", zone=zone)[1] is None
    assert cell_json("0.01", "decimal") == 0.01 and cell_json("12", "int") == 12
    assert cell_json("TRUE", "bool") is True and cell_json("abc", "decimal") == "abc"
