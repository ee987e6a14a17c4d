"""The position size calculator (bot.analytics.calculator) against the engine's sizing (bot.trading.sizing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.analytics import calculator
from bot.analytics.qty import qty_for_risk
from bot.domain import ConfigRow, SizeType
from bot.records import Instrument
from bot.trading.sizing import entry_size


def test_linear_size_is_the_engines_risk_pct_size() -> None:
    result = calculator.position_size(
        equity=Decimal(25000),
        risk_pct=Decimal(1),
        entry=Decimal("190.5"),
        stop_pct=Decimal(2),
        fee_rate=Decimal("0.001"),
        step=Decimal("0.01"),
        target_price=Decimal("205"),
        leverage=Decimal(2),
    )
    stop = Decimal("190.5") * Decimal("0.98")
    assert result.stop_price == stop
    assert result.qty == qty_for_risk(Decimal(250), Decimal("190.5"), stop, Decimal("0.01"), Decimal("0.001"))
    assert result.qty == Decimal("59.70")
    row = ConfigRow("AAPL", "1d", Decimal(1), True, 2, size_type=SizeType.RISK_PCT, stop_loss_pct=Decimal(2))
    engine = entry_size(
        row, price=Decimal("190.5"), instrument=Instrument("AAPL", Decimal("0.01")), equity=Decimal(25000)
    )
    assert engine.qty == qty_for_risk(Decimal(250), Decimal("190.5"), stop, Decimal("0.01"))  # the engine (no fee)
    assert result.notional == result.qty * Decimal("190.5") and result.margin == result.notional / 2
    per_unit = Decimal("190.5") - stop + Decimal("0.001") * (Decimal("190.5") + stop)
    assert result.loss_at_stop == result.qty * per_unit <= Decimal(250)
    reward = result.qty * (Decimal(205) - Decimal("190.5") - Decimal("0.001") * (Decimal("190.5") + 205))
    assert result.reward_at_target == reward and float(result.rr) == pytest.approx(float(reward / result.loss_at_stop))


def test_inverse_contract_size_in_coin() -> None:
    result = calculator.position_size(
        equity=Decimal("0.5"),
        risk_amount=Decimal("0.005"),
        entry=Decimal(60000),
        stop_price=Decimal(61200),
        side="short",
        contract="inverse",
        contract_size=Decimal(100),
        fee_rate=Decimal("0.0005"),
        step=Decimal(1),
        leverage=Decimal(10),
    )
    per = 100 * (Decimal(1) / 60000 - Decimal(1) / 61200).copy_abs() + Decimal("0.0005") * 100 * (
        Decimal(1) / 60000 + Decimal(1) / 61200
    )
    assert result.qty == (Decimal("0.005") / per).to_integral_value(rounding="ROUND_DOWN") == 145
    assert result.notional_quote == 14500 and float(result.notional) == pytest.approx(14500 / 60000)
    assert float(result.margin) == pytest.approx(14500 / 60000 / 10)
    assert float(result.loss_at_stop) == pytest.approx(float(145 * per)) and result.loss_at_stop <= Decimal("0.005")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop_price": Decimal(101)}, "below the entry"),
        ({"stop_price": Decimal(99), "side": "short"}, "above the entry"),
        ({"stop_price": Decimal(99), "risk_amount": Decimal(5)}, "either a percent"),
        ({"stop_pct": Decimal(0)}, "stop %"),
        ({"stop_price": Decimal(99), "target_price": Decimal(90)}, "target"),
        ({"stop_price": Decimal(99), "leverage": Decimal("0.5")}, "leverage"),
        ({"stop_price": Decimal(99), "equity": Decimal(0)}, "equity"),
    ],
)
def test_calculator_names_the_bad_input(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"equity": Decimal(1000), "entry": Decimal(100), "risk_pct": Decimal(1), **kwargs}
    with pytest.raises(calculator.CalculatorError, match=message):
        calculator.position_size(**values)  # type: ignore[arg-type]


def test_calculator_warns_when_margin_exceeds_equity() -> None:
    result = calculator.position_size(
        equity=Decimal(1000), risk_pct=Decimal(5), entry=Decimal(100), stop_price=Decimal("99.9")
    )
    assert result.qty == 500 and any("margin" in note for note in result.notes)
    assert result.leverage_needed == 50
    tiny = calculator.position_size(
        equity=Decimal(10), risk_pct=Decimal(1), entry=Decimal(50000), stop_pct=Decimal(1), step=Decimal(1)
    )
    assert tiny.qty == 0 and any("rounds down to 0" in note for note in tiny.notes)
