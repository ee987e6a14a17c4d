"""The Sheets v4 fake in ``tests/fakes/sheets_fake.py`` speaks the API as gspread's own client expects it."""

from __future__ import annotations

import pytest
from fakes.sheets_fake import SheetsFake


def test_fake_answers_gspreads_own_api(shared_fake: SheetsFake, key_info: dict) -> None:
    import gspread
    from google.oauth2 import service_account

    sheet_id = shared_fake.create_spreadsheet({"Data": [["name", "qty"], ["a", "1"]]})
    credentials = service_account.Credentials.from_service_account_info(
        key_info, scopes=["https://www.googleapis.com/auth/spreadsheets"]
    )
    client = gspread.Client(auth=credentials, http_client=shared_fake.http_client)
    worksheet = client.open_by_key(sheet_id).worksheet("Data")
    assert worksheet.get_all_values() == [["name", "qty"], ["a", "1"]]
    worksheet.append_row(["b", "2.50"], value_input_option="USER_ENTERED")
    worksheet.update([["'007", "=1+1"]], "A4", value_input_option="USER_ENTERED")
    assert worksheet.get("A1:B4") == [["name", "qty"], ["a", "1"], ["b", "2.5"], ["007", "#ERROR!"]]
    assert worksheet.get("B2:B3", value_render_option=gspread.utils.ValueRenderOption.unformatted) == [[1], [2.5]]
    worksheet.batch_clear(["A4:B4"])
    worksheet.update([["x"]], "A1", value_input_option="RAW")
    assert worksheet.get_all_values()[0][0] == "x" and len(worksheet.get_all_values()) == 3
    with pytest.raises(gspread.exceptions.APIError) as info:
        worksheet.update([["z"]], "A2000")
    assert info.value.code == 400 and "exceeds grid limits" in str(info.value)
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("1" + "y" * 43)
