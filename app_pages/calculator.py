"""Calculator: position size from equity, risk and stop (bot.calculator, the engine's sizing formulas)."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from app_pages import _data, _ui
from bot.analytics.calculator import CalculatorError, position_size


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _qty(value: Decimal) -> str:
    text = format(value, "f") if value else "0"
    return text


def render() -> None:
    st.title("Position size calculator")
    portfolio = _data.portfolio()
    latest = portfolio.latest
    currency = portfolio.currency

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

    try:
        result = position_size(
            equity=_dec(account),
            entry=_dec(entry),
            side=side,  # type: ignore[arg-type]
            risk_pct=_dec(risk_value) if risk_mode == "% of equity" else None,
            risk_amount=_dec(risk_value) if risk_mode == "amount" else None,
            stop_price=_dec(stop) if stop_mode == "price" else None,
            stop_pct=_dec(stop) if stop_mode != "price" else None,
            target_price=_dec(target) if target > 0 else None,
            fee_rate=_dec(fee) / 100,
            leverage=_dec(leverage),
            step=_dec(step),
            contract=contract,  # type: ignore[arg-type]
            contract_size=_dec(size) if contract == "inverse" else Decimal(1),
        )
    except CalculatorError as exc:
        st.warning(str(exc))
        return

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
