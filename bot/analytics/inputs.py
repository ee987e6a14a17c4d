"""Input normalisation of the return functions: exact amounts, tz-aware times, local days, cash flows (pure).

The shapes accepted by :mod:`bot.analytics.returns` (:data:`EquityInput`, :data:`FlowInput`) and
:mod:`bot.analytics.xirr`, turned into numpy/pandas values: amounts into exact
:class:`~decimal.Decimal` (floats by their shortest ``repr``), times into UTC
:class:`pandas.DatetimeIndex`, days into tz-naive midnight timestamps of a zone's calendar day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any, TypeAlias

import pandas as pd

from bot.parsing import parse_decimal

__all__ = ["Amount", "EquityInput", "FlowInput", "exact_amount", "local_days", "signed_flows", "utc_index"]

UTC = timezone.utc

Amount: TypeAlias = Decimal | float | int
#: Equity snapshots: a Series of equity indexed by tz-aware times, or ``(time, equity)`` pairs.
EquityInput: TypeAlias = pd.Series | Iterable[tuple[datetime, Amount]]
#: Cash flows: a Series of signed amounts (deposit > 0, withdrawal < 0) indexed by tz-aware
#: times, ``(time, signed amount)`` pairs, or ``(time, "deposit"|"withdrawal", amount ≥ 0)``.
FlowInput: TypeAlias = pd.Series | Iterable[tuple[datetime, Amount] | tuple[datetime, str, Amount]]


def exact_amount(value: Any, what: str) -> Decimal:
    """Exact Decimal of a number or numeric text (``"$1,234.50"``); floats by their repr.

    Raises:
        ValueError: ``"<what>: ..."`` for None, a bool, text or an object that is not a number, or a
            non-finite value (NaN, infinity).
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: {value!r} is not a number")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = parse_decimal(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    else:
        try:
            result = Decimal(repr(float(value)))
        except (TypeError, ValueError):
            raise ValueError(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def utc_index(times: Sequence[Any] | pd.Index, what: str) -> pd.DatetimeIndex:
    """``times`` as a UTC :class:`pandas.DatetimeIndex` (empty stays empty).

    Raises:
        ValueError: ``"<what>: times must be tz-aware ..."`` for naive or unparsable times.
    """
    try:
        index = pd.DatetimeIndex(times)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: times must be tz-aware datetimes ({exc})") from None
    if len(index) and index.tz is None:
        raise ValueError(f"{what}: times must be tz-aware (got naive times such as {index[0]})")
    return index.tz_convert(UTC) if len(index) else pd.DatetimeIndex([], tz=UTC)


def local_days(index: pd.DatetimeIndex, zone: tzinfo) -> pd.DatetimeIndex:
    """The calendar day in ``zone`` of each time of ``index``: tz-naive midnight timestamps (ns)."""
    # one resolution (ns) for every day index, so their ``asi8`` integers compare
    return index.tz_convert(zone).tz_localize(None).normalize().as_unit("ns")


def signed_flows(flows: FlowInput | None) -> tuple[pd.DatetimeIndex, list[Decimal]]:
    """Cash flows (:data:`FlowInput`, None = none) as (UTC times, signed exact amounts), deposits positive.

    Raises:
        ValueError: a naive time, an amount that is not a number, a negative amount with a kind,
            a kind other than deposit/withdrawal, or an item that is not 2 or 3 values.
    """
    if flows is None:
        return pd.DatetimeIndex([], tz=UTC), []
    if isinstance(flows, pd.Series):
        amounts = [exact_amount(value, "cash flow amount") for value in flows.to_numpy(dtype=object)]
        return utc_index(flows.index, "cash flows"), amounts
    times: list[Any] = []
    amounts = []
    for item in flows:
        if len(item) == 2:
            at, amount = item  # type: ignore[misc]
            amounts.append(exact_amount(amount, "cash flow amount"))
        elif len(item) == 3:
            at, kind, amount = item  # type: ignore[misc]
            value = exact_amount(amount, "cash flow amount")
            if value < 0:
                raise ValueError(f"cash flow amount: {amount!r} must not be negative with a kind")
            kind_text = str(kind).strip().lower()
            if kind_text == "deposit":
                amounts.append(value)
            elif kind_text == "withdrawal":
                amounts.append(-value)
            else:
                raise ValueError(f"cash flow kind: {kind!r} is not deposit or withdrawal")
        else:
            raise ValueError(f"cash flow: {item!r} is not (time, amount) or (time, kind, amount)")
        times.append(at)
    return utc_index(times, "cash flows"), amounts
