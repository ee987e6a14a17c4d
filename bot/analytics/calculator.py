"""Position-size calculator (pure, Decimal): the dashboard's Calculator page.

Linear contracts (spot, USD-M futures, stocks) reuse :func:`bot.analytics.qty.qty_for_risk`, the formula
the engine sizes ``risk_pct`` rows with, so the page and the bot always agree. Inverse contracts
(coin-margined futures such as BitMEX XBTUSD or Binance COIN-M ``BTCUSD_PERP``) are priced in
quote currency but settled in the base coin; their formulas are below.

Units: prices quote currency per unit (USD per BTC); percentages are plain (``2`` = 2 %);
``fee_rate`` a fraction of notional per side (``0.0004`` = 0.04 %). For **linear** contracts
quantities are base units and money (equity, risk, notional, margin, loss, reward) is quote
currency. For **inverse** contracts quantities are contracts of ``contract_size`` quote units
each and money is **base coin** (equity and margin of a coin-margined account are in the coin).

Formulas (per unit of quantity; ``e`` entry, ``s`` stop, ``t`` target, ``f`` fee rate, ``cs``
contract size):

- linear: loss at stop ``|e − s| + f × (e + s)``; reward at target ``|t − e| − f × (e + t)``;
  notional ``qty × e``.
- inverse: loss at stop ``cs × |1/e − 1/s| + f × cs × (1/e + 1/s)``; reward at target
  ``cs × |1/e − 1/t| − f × cs × (1/e + 1/t)``; notional ``qty × cs / e`` coin (``qty × cs`` quote).
- ``qty = risk / loss per unit`` rounded **down** to ``step``; margin ``notional / leverage``;
  R:R ``reward / loss`` (both for the rounded quantity, fees included).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Literal

from bot.analytics.qty import HUNDRED, SizingError, qty_for_risk
from bot.domain import round_down

__all__ = ["CalculatorError", "SizeResult", "position_size", "stop_from_pct"]

_ZERO = Decimal(0)
_ONE = Decimal(1)

Side = Literal["long", "short"]
Contract = Literal["linear", "inverse"]


class CalculatorError(ValueError):
    """An input the calculator cannot use; the message names the field and the value."""


@dataclass(frozen=True)
class SizeResult:
    """Result of :func:`position_size` (money in quote currency for linear, base coin for inverse).

    Attributes:
        qty: quantity rounded down to the step (base units, or contracts for inverse).
        notional: position value at entry (quote currency for linear, coin for inverse).
        notional_quote: position value at entry in quote currency (``qty × e`` or ``qty × cs``).
        margin: ``notional / leverage``.
        risk_amount: the money the user chose to risk.
        loss_at_stop: loss of ``qty`` at the stop, fees of both sides included (≤ ``risk_amount``).
        stop_price: the stop as a price (from the price or the percentage given).
        target_price / reward_at_target / rr: the target, the gain there net of fees, and
            ``reward / loss``; None without a target.
        leverage_needed: ``notional / equity`` (how much leverage the size needs).
        notes: warnings for the user (margin above equity, size rounded to zero, ...).
    """

    qty: Decimal
    notional: Decimal
    notional_quote: Decimal
    margin: Decimal
    risk_amount: Decimal
    loss_at_stop: Decimal
    stop_price: Decimal
    target_price: Decimal | None
    reward_at_target: Decimal | None
    rr: Decimal | None
    leverage_needed: Decimal
    notes: tuple[str, ...] = ()


def stop_from_pct(entry: Decimal, stop_pct: Decimal, side: Side) -> Decimal:
    """Stop price ``stop_pct`` percent away from ``entry`` on the losing side.

    Same rule as :func:`bot.trading.sizing.entry_size` for ``risk_pct`` rows: long ``e × (1 − p/100)``,
    short ``e × (1 + p/100)``.

    Raises:
        CalculatorError: ``stop_pct`` not in (0, 100) for a long, not > 0 for a short.
    """
    if stop_pct <= 0 or (side == "long" and stop_pct >= HUNDRED):
        raise CalculatorError(f"stop %: {stop_pct} must be above 0" + (" and below 100" if side == "long" else ""))
    distance = entry * stop_pct / HUNDRED
    return entry - distance if side == "long" else entry + distance


def position_size(
    *,
    equity: Decimal,
    entry: Decimal,
    side: Side = "long",
    risk_pct: Decimal | None = None,
    risk_amount: Decimal | None = None,
    stop_price: Decimal | None = None,
    stop_pct: Decimal | None = None,
    target_price: Decimal | None = None,
    fee_rate: Decimal = _ZERO,
    leverage: Decimal = _ONE,
    step: Decimal = _ZERO,
    contract: Contract = "linear",
    contract_size: Decimal = _ONE,
) -> SizeResult:
    """Quantity that loses ``risk`` at the stop, with its notional, margin and R:R.

    Give exactly one of ``risk_pct`` (percent of ``equity``) and ``risk_amount`` (money), and
    exactly one of ``stop_price`` and ``stop_pct``. See the module docstring for units and formulas.

    Args:
        equity: account equity (quote currency; base coin for inverse), > 0.
        entry: entry price, > 0.
        side: ``long`` (stop below entry) or ``short`` (stop above entry).
        risk_pct / risk_amount: what to lose at the stop.
        stop_price / stop_pct: the stop as a price or as percent from entry.
        target_price: optional take-profit price for the R:R (on the winning side).
        fee_rate: fee per side as a fraction of notional (≥ 0, < 1).
        leverage: ≥ 1; only changes the margin.
        step: quantity step (0 = no rounding).
        contract: ``linear`` or ``inverse``.
        contract_size: quote units per contract (inverse only, e.g. 100 USD), > 0.

    Raises:
        CalculatorError: a missing, contradictory or out-of-range input (message names it).
    """
    with localcontext() as ctx:
        ctx.prec = 40
        _check_inputs(equity, entry, side, contract, fee_rate, leverage, step, contract_size)
        risk = _risk(equity, risk_pct, risk_amount)
        stop = _stop(entry, side, stop_price, stop_pct)
        if target_price is not None:
            _check_target(entry, side, target_price)
        if contract == "linear":
            qty, loss_per_unit, notional, notional_quote, reward_per_unit = _linear(
                risk, entry, stop, target_price, fee_rate, step
            )
        else:
            qty, loss_per_unit, notional, notional_quote, reward_per_unit = _inverse(
                risk, entry, stop, target_price, fee_rate, step, contract_size
            )
        loss = qty * loss_per_unit
        reward = qty * reward_per_unit if reward_per_unit is not None else None
        rr = reward / loss if reward is not None and loss > 0 else None
        margin = notional / leverage
        return SizeResult(
            qty=qty,
            notional=notional,
            notional_quote=notional_quote,
            margin=margin,
            risk_amount=risk,
            loss_at_stop=loss,
            stop_price=stop,
            target_price=target_price,
            reward_at_target=reward,
            rr=rr,
            leverage_needed=notional / equity,
            notes=_notes(qty, step, margin, equity, reward),
        )


#: What :func:`_linear` and :func:`_inverse` compute: qty, loss per unit, notional, notional in
#: quote currency, reward per unit (None without a target).
_Sizing = tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None]


def _check_inputs(
    equity: Decimal,
    entry: Decimal,
    side: str,
    contract: str,
    fee_rate: Decimal,
    leverage: Decimal,
    step: Decimal,
    contract_size: Decimal,
) -> None:
    """The range checks of :func:`position_size` before risk and stop, in the order of its arguments.

    Raises:
        CalculatorError: naming the first input out of range.
    """
    _check_positive("equity", equity)
    _check_positive("entry", entry)
    if side not in ("long", "short"):
        raise CalculatorError(f"side: {side!r} is not long or short")
    if contract not in ("linear", "inverse"):
        raise CalculatorError(f"contract: {contract!r} is not linear or inverse")
    if fee_rate < 0 or fee_rate >= 1:
        raise CalculatorError(f"fee rate: {fee_rate} must be at least 0 and below 1")
    if leverage < 1:
        raise CalculatorError(f"leverage: {leverage} must be at least 1")
    if step < 0:
        raise CalculatorError(f"step: {step} must not be negative")
    _check_positive("contract size", contract_size)


def _check_target(entry: Decimal, side: Side, target_price: Decimal) -> None:
    """CalculatorError unless ``target_price`` is positive and on the winning side of ``entry``."""
    _check_positive("target", target_price)
    if (side == "long" and target_price <= entry) or (side == "short" and target_price >= entry):
        above = "above" if side == "long" else "below"
        raise CalculatorError(f"target: {target_price} must be {above} the entry {entry} for a {side}")


def _linear(
    risk: Decimal, entry: Decimal, stop: Decimal, target_price: Decimal | None, fee_rate: Decimal, step: Decimal
) -> _Sizing:
    """Size of a linear contract by :func:`bot.analytics.qty.qty_for_risk` (money in quote currency).

    Raises:
        CalculatorError: the sizing formula's :class:`~bot.analytics.qty.SizingError`.
    """
    try:
        qty = qty_for_risk(risk, entry, stop, step, fee_rate)
    except SizingError as exc:
        raise CalculatorError(str(exc)) from None
    loss_per_unit = abs(entry - stop) + fee_rate * (entry + stop)
    notional = notional_quote = qty * entry
    reward_per_unit = (
        abs(target_price - entry) - fee_rate * (entry + target_price) if target_price is not None else None
    )
    return qty, loss_per_unit, notional, notional_quote, reward_per_unit


def _inverse(
    risk: Decimal,
    entry: Decimal,
    stop: Decimal,
    target_price: Decimal | None,
    fee_rate: Decimal,
    step: Decimal,
    contract_size: Decimal,
) -> _Sizing:
    """Size of an inverse contract in contracts of ``contract_size`` quote units (money in base coin)."""
    loss_per_unit = contract_size * abs(_ONE / entry - _ONE / stop) + fee_rate * contract_size * (
        _ONE / entry + _ONE / stop
    )
    qty = round_down(risk / loss_per_unit, step)
    notional_quote = qty * contract_size
    notional = notional_quote / entry
    reward_per_unit = (
        contract_size * abs(_ONE / entry - _ONE / target_price)
        - fee_rate * contract_size * (_ONE / entry + _ONE / target_price)
        if target_price is not None
        else None
    )
    return qty, loss_per_unit, notional, notional_quote, reward_per_unit


def _notes(qty: Decimal, step: Decimal, margin: Decimal, equity: Decimal, reward: Decimal | None) -> tuple[str, ...]:
    """The warnings of :attr:`SizeResult.notes`: size rounded to zero, margin above equity, fees above reward."""
    notes: list[str] = []
    if qty <= 0:
        notes.append(f"the size rounds down to 0 with step {step}: risk more or use a smaller step")
    if margin > equity:
        notes.append(f"margin {margin:.2f} is above the equity {equity:.2f}: raise the leverage or risk less")
    if reward is not None and reward <= 0:
        notes.append("fees eat the whole reward at this target")
    return tuple(notes)


def _check_positive(name: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise CalculatorError(f"{name}: {value} must be above 0")


def _risk(equity: Decimal, risk_pct: Decimal | None, risk_amount: Decimal | None) -> Decimal:
    if (risk_pct is None) == (risk_amount is None):
        raise CalculatorError("risk: give either a percent of equity or an amount")
    if risk_pct is not None:
        if risk_pct <= 0 or risk_pct > HUNDRED:
            raise CalculatorError(f"risk %: {risk_pct} must be above 0 and at most 100")
        return equity * risk_pct / HUNDRED
    assert risk_amount is not None
    _check_positive("risk amount", risk_amount)
    if risk_amount > equity:
        raise CalculatorError(f"risk amount: {risk_amount} is more than the equity {equity}")
    return risk_amount


def _stop(entry: Decimal, side: Side, stop_price: Decimal | None, stop_pct: Decimal | None) -> Decimal:
    if (stop_price is None) == (stop_pct is None):
        raise CalculatorError("stop: give either a price or a percent")
    if stop_pct is not None:
        return stop_from_pct(entry, stop_pct, side)
    assert stop_price is not None
    _check_positive("stop", stop_price)
    if side == "long" and stop_price >= entry:
        raise CalculatorError(f"stop: {stop_price} must be below the entry {entry} for a long")
    if side == "short" and stop_price <= entry:
        raise CalculatorError(f"stop: {stop_price} must be above the entry {entry} for a short")
    return stop_price
