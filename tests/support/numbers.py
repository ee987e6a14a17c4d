"""Shared helpers of the analytics tests: UTC times by day and a tight float tolerance."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

UTC = timezone.utc
#: relative and absolute tolerance of float comparisons against the reference formulas
TOL = 1e-9


def at(day: int, hour: int = 20, month: int = 1, year: int = 2024) -> datetime:
    """``year-month-day hour:00`` UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC)


def approx(value: float) -> object:
    """``pytest.approx`` with :data:`TOL` relative and absolute."""
    return pytest.approx(value, rel=TOL, abs=TOL)
