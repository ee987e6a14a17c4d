"""A Google Sheet shared with the bot as Viewer: trading goes on, nothing is lost, and the user is told."""

from __future__ import annotations

from pathlib import Path

from fakes.sheets_fake import SheetsFake
from support.google_sheets import CLASSIC, SECRET, build_bot

from bot.errors import WorkbookReadOnly
from bot.web import create_app

ALERT = b'{"secret": "%s", "action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 100}' % SECRET.encode()


def test_viewer_share_keeps_trading_and_keeps_every_write(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet({"Config": [CLASSIC, ["AAPL", "1000", "TRUE", "15", "", ""]]})
    first = build_bot(fake, sheet_id, tmp_path)  # shared as Editor: the bot lays out its tabs
    first.writer.flush()
    first.close()
    book = fake.book(sheet_id)
    book.shared_with, book.viewers = set(), {"*"}  # the owner changes the share to Viewer
    bot = build_bot(fake, sheet_id, tmp_path)  # start-up reads fine
    states: list[str] = []
    bot.writer._on_state = lambda state, error: states.append(state)  # observe the writer's transitions
    reply = bot.engine.handle(ALERT)
    assert reply.body["status"] == "success" and reply.body["order_status"] == "FILLED"  # trading goes on
    depth = bot.store.outbox_depth()
    assert depth > 0
    for _ in range(5):  # however often it retries, nothing is set aside or dropped
        try:
            bot.writer.flush()
        except WorkbookReadOnly as exc:
            assert "as Editor" in str(exc) and "sheetbot@" in str(exc)
    assert bot.store.outbox_depth() == depth and bot.writer.set_aside == []
    assert states == ["degraded"]  # one workbook_degraded notification, not one per retry
    health = create_app(services=bot).test_client().get("/health").get_json()
    assert health["status"] == "degraded" and health["workbook_read_only"] is True
    book.shared_with = {"*"}  # shared as Editor again: every waiting write lands
    bot.writer.flush()
    assert bot.store.outbox_depth() == 0 and states == ["degraded", "recovered"]
    assert fake.records(sheet_id, "Config")[0]["Order Status"] == "FILLED"
    bot.close()
