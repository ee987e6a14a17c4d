"""Fixtures of the Google Sheets tests: a Sheets v4 fake per test or per module, and a key it trusts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.sheets_fake import SheetsFake


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


@pytest.fixture(scope="module")
def key_info(shared_fake: SheetsFake) -> dict[str, Any]:
    return shared_fake.service_account_info()
