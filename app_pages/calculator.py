"""Calculator: position size from equity, risk and stop (bot.analytics.calculator, the engine's sizing formulas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import streamlit as st

from app_pages import _data, _ui
from bot.analytics.calculator import CalculatorError, SizeResult, position_size


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _qty(value: Decimal) -> str:
    text = format(value, "f") if value else "0"
    return text


@dataclass(frozen=True)
class _Inputs:
    """What the form holds: widget values as Streamlit gives them (floats, radio labels)."""

    contract: str
    side: str
    unit: str
    account: float
    risk_mode: str
    risk_value: float
    entry: float
    stop_mode: str
    stop: float
    target: float
    fee: float
    leverage: float
    step: float
    size: float


def render() -> None:
    """The calculator page: the form, then the size :func:`bot.analytics.calculator.position_size` gives, or why not."""
    st.title("Position size calculator")
    portfolio = _data.portfolio()
    contract, side, unit, account = _account_row(portfolio.latest, portfolio.currency)
    risk_mode, risk_value, entry = _risk_row(contract, unit)
    stop_mode, stop, target = _stop_row(side, entry)
    fee, leverage, step, size = _costs_row(contract)
    inputs = _Inputs(
        contract, side, unit, account, risk_mode, risk_value, entry, stop_mode, stop, target, fee, leverage, step, size
    )
    try:
        result = _size(inputs)
    except CalculatorError as exc:
        st.warning(str(exc))
        return
    _show_result(result, inputs)


def _account_row(latest: tuple[datetime, Decimal] | None, currency: str) -> tuple[str, str, str, float]:
    """Contract, side and account equity (default: the latest snapshot); returns them and the money unit."""
    a, b, c = st.columns(3)
    contract = a.radio(
        "Contract",
        ["linear", "inverse"],
        horizontal=True,
        key="calc_contract",
        help="linear: spot, stocks, USD-margined futures (P&L in the quote currency). "
        "inverse: coin-margined futures (P&L and margin in the coin).",
    )
    side = b.radio("Side", ["long", "short"], horizontal=True, key="calc_side")
    unit = currency if contract == "linear" else "coin"
    default_equity = (
        float(latest[1]) if latest and contract == "linear" else (1.0 if contract == "inverse" else 10000.0)
    )
    note = (
        f"latest snapshot {latest[0].astimezone(_data.zone()):%Y-%m-%d %H:%M}"
        if latest and contract == "linear"
        else "type your account equity"
    )
    account = c.number_input(
        f"Account equity ({unit})",
        min_value=0.0,
        value=default_equity,
        format="%.2f" if contract == "linear" else "%.6f",
        key=f"calc_equity_{contract}",
        help=note,
    )
    return contract, side, unit, account


def _risk_row(contract: str, unit: str) -> tuple[str, float, float]:
    """Risk as a percent of equity or an amount, and the entry price."""
    a, b, c = st.columns(3)
    risk_mode = a.radio("Risk as", ["% of equity", "amount"], horizontal=True, key="calc_risk_mode")
    if risk_mode == "% of equity":
        risk_value = b.number_input(
            "Risk (%)", min_value=0.0, max_value=100.0, value=1.0, step=0.25, format="%.2f", key="calc_risk_pct"
        )
    else:
        risk_value = b.number_input(
            f"Risk ({unit})",
            min_value=0.0,
            value=100.0 if contract == "linear" else 0.01,
            format="%.2f" if contract == "linear" else "%.6f",
            key="calc_risk_amount",
        )
    entry = c.number_input("Entry price", min_value=0.0, value=100.0, format="%.6f", key="calc_entry")
    return risk_mode, risk_value, entry


def _stop_row(side: str, entry: float) -> tuple[str, float, float]:
    """The stop (a price or a percent from the entry) and the optional target price (0 = none)."""
    a, b, c = st.columns(3)
    stop_mode = a.radio("Stop as", ["price", "% from entry"], horizontal=True, key="calc_stop_mode")
    if stop_mode == "price":
        default_stop = entry * (0.98 if side == "long" else 1.02)
        stop = b.number_input("Stop price", min_value=0.0, value=default_stop, format="%.6f", key=f"calc_stop_{side}")
    else:
        stop = b.number_input(
            "Stop distance (%)", min_value=0.0, value=2.0, step=0.1, format="%.3f", key="calc_stop_pct"
        )
    target = c.number_input(
        "Target price (optional, 0 = none)", min_value=0.0, value=0.0, format="%.6f", key="calc_target"
    )
    return stop_mode, stop, target


def _costs_row(contract: str) -> tuple[float, float, float, float]:
    """Fee per side (%), leverage, quantity step and the inverse contract size."""
    a, b, c, d = st.columns(4)
    fee = a.number_input(
        "Fee per side (%)", min_value=0.0, max_value=10.0, value=0.1, step=0.01, format="%.4f", key="calc_fee"
    )
    leverage = b.number_input(
        "Leverage", min_value=1.0, max_value=125.0, value=1.0, step=1.0, format="%.1f", key="calc_leverage"
    )
    step = c.number_input(
        "Quantity step",
        min_value=0.0,
        value=0.001 if contract == "linear" else 1.0,
        format="%.8f",
        key=f"calc_step_{contract}",
        help="Quantities are rounded down to it (0 = no rounding).",
    )
    size = d.number_input(
        "Contract size (USD)",
        min_value=0.0,
        value=100.0,
        step=1.0,
        key="calc_contract_size",
        disabled=contract == "linear",
        help="Inverse contracts: quote value of one contract.",
    )
    return fee, leverage, step, size


def _size(inputs: _Inputs) -> SizeResult:
    """:func:`bot.analytics.calculator.position_size` of the form's values.

    Raises:
        CalculatorError: an input it refuses (the message names it).
    """
    risk_mode, stop_mode, contract = inputs.risk_mode, inputs.stop_mode, inputs.contract
    return position_size(
        equity=_dec(inputs.account),
        entry=_dec(inputs.entry),
        side=inputs.side,  # type: ignore[arg-type]
        risk_pct=_dec(inputs.risk_value) if risk_mode == "% of equity" else None,
        risk_amount=_dec(inputs.risk_value) if risk_mode == "amount" else None,
        stop_price=_dec(inputs.stop) if stop_mode == "price" else None,
        stop_pct=_dec(inputs.stop) if stop_mode != "price" else None,
        target_price=_dec(inputs.target) if inputs.target > 0 else None,
        fee_rate=_dec(inputs.fee) / 100,
        leverage=_dec(inputs.leverage),
        step=_dec(inputs.step),
        contract=contract,  # type: ignore[arg-type]
        contract_size=_dec(inputs.size) if contract == "inverse" else Decimal(1),
    )


def _show_result(result: SizeResult, inputs: _Inputs) -> None:
    """The result's figures, its notes and how it is computed."""
    contract, unit, leverage = inputs.contract, inputs.unit, inputs.leverage
    st.subheader("Result")
    places = ".2f" if contract == "linear" else ".8f"
    qty_unit = "units" if contract == "linear" else "contracts"
    cols = st.columns(3)
    _ui.kpi(
        "Quantity (rounded down)",
        f"{_qty(result.qty)} {qty_unit}",
        where=cols[0],
        sub=f"stop at {result.stop_price:.6f}".rstrip("0").rstrip("."),
    )
    _ui.kpi(
        "Notional",
        f"{result.notional:,{places}} {unit}",
        where=cols[1],
        sub=f"{result.notional_quote:,.2f} quote · needs {result.leverage_needed:.2f}× equity",
    )
    _ui.kpi("Margin", f"{result.margin:,{places}} {unit}", sub=f"at {leverage:g}× leverage", where=cols[2])
    cols = st.columns(3)
    _ui.kpi(
        "Loss at stop",
        f"-{result.loss_at_stop:,{places}} {unit}",
        colour=_ui.RED,
        where=cols[0],
        sub=f"risk budget {result.risk_amount:,{places}} {unit}, fees included",
    )
    if result.reward_at_target is not None:
        _ui.kpi(
            "Gain at target",
            f"{result.reward_at_target:+,{places}} {unit}",
            where=cols[1],
            colour=_ui.sign_colour(result.reward_at_target),
            sub="fees included",
        )
        _ui.kpi("Reward : risk", f"{result.rr:.2f} R" if result.rr is not None else "–", where=cols[2])
    else:
        _ui.kpi("Gain at target", "–", sub="set a target price", where=cols[1])
        _ui.kpi("Reward : risk", "–", where=cols[2])
    for message in result.notes:
        st.warning(message)
    st.caption(
        "Linear: qty = risk / (|entry − stop| + fee × (entry + stop)), rounded down to the step: the bot's "
        "own `risk_pct` sizing (bot/sizing.py). Inverse: per contract loss = size × |1/entry − 1/stop| + "
        "fee × size × (1/entry + 1/stop)."
    )


_ui.guarded(render)
