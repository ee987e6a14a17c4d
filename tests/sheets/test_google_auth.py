"""Google Sheets backend, opening (bot.sheets.google.auth): credentials, the token exchange, sheet ids, errors at start.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.sheets_fake import SheetsFake, google_settings
from support.google_sheets import config_sheet, open_on

from bot.errors import ConfigError, TemporaryError
from bot.sheets.google.auth import open_google_workbook, parse_sheet_id


def test_token_exchange_really_happens_and_is_renewed(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet(config_sheet(2))
    workbook = open_on(fake, sheet_id, tmp_path)
    assert fake.token_requests == 1  # a signed JWT was exchanged for an access token
    assert fake.api_calls()[0].kind == "spreadsheets.get"
    assert workbook.read_tables(["Config"])["Config"].rows[0]["symbol"] == "SYM00"
    fake.revoke_tokens()  # Google forgets the token: the next call gets 401 and google-auth re-exchanges
    assert len(workbook.read_tables(["Config"])["Config"].rows) == 2
    assert fake.token_requests == 2
    workbook.close()


def test_key_with_a_wrong_signature_is_a_config_error(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet()
    info = fake.service_account_info()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = google_settings(fake, sheet_id, tmp_path, info=info)
    with pytest.raises(ConfigError, match="refused the service-account credentials"):
        open_google_workbook(settings, http_client=fake.http_client)
    assert fake.api_calls() == []


def test_credentials_problems_are_clear_errors(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet()

    def attempt(**overrides: Any) -> ConfigError:
        settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info, **overrides)
        with pytest.raises(ConfigError) as info:
            open_google_workbook(settings, http_client=shared_fake.http_client)
        return info.value

    missing = tmp_path / "nope.json"
    error = attempt(google_credentials_json="", google_credentials_file=missing)
    assert str(missing) in str(error) and "GOOGLE_CREDENTIALS_FILE" in str(error)
    assert error.field == "GOOGLE_CREDENTIALS_FILE"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert "not valid JSON" in str(attempt(google_credentials_json="", google_credentials_file=bad))
    assert "not valid JSON" in str(attempt(google_credentials_json='{"type": "service_account",'))
    oauth = json.dumps({"installed": {"client_id": "x", "client_secret": "y"}})
    assert "OAuth client file, not a service-account key" in str(attempt(google_credentials_json=oauth))
    lacking = json.dumps({"type": "service_account", "client_email": "a@b"})
    assert "private_key" in str(attempt(google_credentials_json=lacking))
    assert attempt(google_sheet_id="").field == "GOOGLE_SHEET_ID"
    assert attempt(google_sheet_id="https://example.com/x/y").field == "GOOGLE_SHEET_ID"
    armour = key_info["private_key"].strip().splitlines()  # the generated key's BEGIN/END lines
    broken = dict(key_info, private_key=f"{armour[0]}\nAAAASECRETBITS\n{armour[-1]}\n")  # a body that is no key
    message = str(attempt(google_credentials_json=json.dumps(broken)))
    assert "cannot be used" in message and "SECRETBITS" not in message  # never echoes the key


def test_key_file_base64_json_and_sheet_url_all_work(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet()
    key_file = tmp_path / "credentials.json"
    key_file.write_text(json.dumps(key_info), encoding="utf-8")
    url = f"https://docs.google.com/spreadsheets/d/{sheet_id}/edit#gid=0"
    assert parse_sheet_id(url) == sheet_id
    for overrides in (
        {"google_credentials_json": "", "google_credentials_file": key_file, "google_sheet_id": url},
        {"google_credentials_json": base64.b64encode(json.dumps(key_info).encode()).decode()},
    ):
        settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info, **overrides)
        workbook = open_google_workbook(settings, http_client=shared_fake.http_client)
        assert workbook.spreadsheet_id == sheet_id and workbook.kind == "google"
        workbook.close()


def test_sheet_not_shared_names_the_service_account(fake: SheetsFake, tmp_path: Path) -> None:
    info = fake.service_account_info("trader-bot@my-project.iam.gserviceaccount.com")
    sheet_id = fake.create_spreadsheet(shared_with=["owner@example.com"])
    settings = google_settings(fake, sheet_id, tmp_path, info=info)
    with pytest.raises(
        ConfigError, match=re.escape("share the sheet with trader-bot@my-project.iam.gserviceaccount.com")
    ):
        open_google_workbook(settings, http_client=fake.http_client)
    with pytest.raises(ConfigError, match="not found: check GOOGLE_SHEET_ID"):
        open_google_workbook(google_settings(fake, "1" + "x" * 43, tmp_path, info=info), http_client=fake.http_client)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_quota_and_outage_at_start_are_temporary_and_not_retried(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict, status: int
) -> None:
    sheet_id = shared_fake.create_spreadsheet()
    before = len(shared_fake.api_calls())
    shared_fake.fail_next(1, status)
    settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info)
    with pytest.raises(TemporaryError, match=str(status)):
        open_google_workbook(settings, http_client=shared_fake.http_client)
    assert len(shared_fake.api_calls()) - before == 1  # one attempt: no retry at this boundary


def test_unreachable_google_is_a_temporary_error(tmp_path: Path) -> None:
    fake = SheetsFake().start()
    sheet_id = fake.create_spreadsheet()
    settings = google_settings(fake, sheet_id, tmp_path)
    routed = fake.http_client
    fake.stop()
    started = time.monotonic()
    with pytest.raises(TemporaryError, match="unreachable"):
        open_google_workbook(settings, http_client=routed, timeout=(1.0, 1.0))
    assert time.monotonic() - started < 10
