"""TWR: time- and money-weighted returns per period, TWR against a benchmark, risk, cash flows."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import streamlit as st

from app_pages import _charts, _data, _ui
from bot.analytics.returns import daily_returns
from bot.analytics.risk_metrics import benchmark_comparison, risk_metrics
from bot.dashboard.bars import benchmark_returns, return_lines
from bot.dashboard.formatting import format_pct
from bot.dashboard.portfolio import PortfolioView, cashflow_record, twr_growth, twr_table
from bot.errors import BotError
from bot.parsing import parse_decimal
from bot.records import WriteBatch
from bot.settings import parse_runtime_settings


def render() -> None:
    st.title("Time-weighted return")
    _ui.show_flash()
    portfolio = _data.portfolio()
    currency = portfolio.currency
    zone = _data.zone()
    if portfolio.empty:
        _ui.empty_state(
            "No equity snapshots yet, so returns cannot be computed.",
            hint="The bot records the account equity in the Snapshots tab every hour (`python -m bot snapshot` "
            "takes one now). Deposits and withdrawals you record below are counted from then on.",
        )
    else:
        st.caption(
            "TWR chains daily returns with deposits counted at the start of their day and withdrawals at the "
            "end (Portfolio Performance's method); MWR is the internal rate of return (XIRR, annual). "
            "Periods shorter than a year are not annualised."
        )
        table = twr_table(_data.periods())
        st.dataframe(
            _ui.coloured(table, ["twr", "mwr", "pnl"]).format(
                {"twr": _pct, "twr_annualised": _pct, "mwr": _pct}, na_rep="–"
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "period": st.column_config.TextColumn("Period"),
                "days": st.column_config.NumberColumn("Days"),
                "twr": st.column_config.Column("TWR"),
                "twr_annualised": st.column_config.Column("TWR p.a.", help="Only for periods of a year or more."),
                "mwr": st.column_config.Column("MWR (XIRR p.a.)"),
                "pnl": _ui.money_column("P&L", currency),
                "deposits": _ui.money_column("Deposits", currency, signed=False),
                "withdrawals": _ui.money_column("Withdrawals", currency, signed=False),
                "start_value": _ui.money_column("Start value", currency, signed=False),
                "end_value": _ui.money_column("End value", currency, signed=False),
                "complete": st.column_config.CheckboxColumn("Full period"),
            },
        )
        _chart(portfolio, zone)
    _cashflows(portfolio, currency, zone)
    _ui.problems(portfolio.problems, "rows")


def _pct(value: float) -> str:
    return format_pct(value)


def _chart(portfolio: PortfolioView, zone: ZoneInfo) -> None:
    st.subheader("TWR over time")
    twr = twr_growth(portfolio, zone)
    returns = daily_returns(portfolio.equity, portfolio.flows, zone=zone)
    choices = _data.bar_symbols()
    default = "SPY" if "SPY" in choices else (choices[0] if choices else None)
    options = ["(none)", *choices]
    name = st.selectbox(
        "Benchmark",
        options,
        index=options.index(default) if default else 0,
        key="twr_benchmark",
        help=f"Daily bars from {_data.source().bars_dir} (SYMBOL.csv with date and close columns).",
    )
    bench = None
    if name != "(none)":
        bars, message = _data.bars(name, "1d")
        if bars is None:
            st.caption(message)
        else:
            bench = benchmark_returns(bars, zone)
    elif not choices:
        st.caption(
            f"To compare with a benchmark, put daily bars in {_data.source().bars_dir} (e.g. SPY.csv with "
            "date and close columns)."
        )
    st.altair_chart(_charts.twr_lines(return_lines(twr, bench, name=name)), width="stretch")

    settings_table = _data.table("Settings")
    runtime, _ = parse_runtime_settings(settings_table.rows)
    risk = risk_metrics(returns, periods_per_year=365, risk_free_annual=runtime.risk_free_rate)
    cols = st.columns(6 if bench is not None else 5)
    _ui.kpi("CAGR", format_pct(risk.cagr), colour=_ui.sign_colour(risk.cagr), where=cols[0])
    _ui.kpi("Volatility (annual)", format_pct(risk.annual_volatility, signed=False), where=cols[1])
    _ui.kpi(
        "Sharpe",
        f"{risk.sharpe:.2f}" if risk.sharpe is not None else "–",
        sub=f"risk-free {runtime.risk_free_rate:.2%}",
        where=cols[2],
    )
    _ui.kpi("Sortino", f"{risk.sortino:.2f}" if risk.sortino is not None else "–", where=cols[3])
    _ui.kpi("Max drawdown", format_pct(risk.max_drawdown.max_drawdown), colour=_ui.RED, where=cols[4])
    if bench is not None:
        comparison = benchmark_comparison(returns, bench)
        beta = f"β {comparison.beta:.2f}" if comparison.beta is not None else "β –"
        corr = f"ρ {comparison.correlation:.2f}" if comparison.correlation is not None else "ρ –"
        _ui.kpi(
            f"Excess vs {name}",
            format_pct(comparison.excess_return),
            colour=_ui.sign_colour(comparison.excess_return),
            sub=f"{beta} · {corr} · {comparison.days} days",
            where=cols[5],
        )
    st.caption("Daily returns of calendar days (365 a year); Sharpe and Sortino as in empyrical.")


def _cashflows(portfolio: PortfolioView, currency: str, zone: ZoneInfo) -> None:
    st.subheader("Deposits and withdrawals")
    frame = portfolio.cash_flows
    if frame.empty:
        st.caption(
            "No cash flow recorded (CashFlows tab). Record deposits and withdrawals so they are not counted as "
            "gains or losses."
        )
    else:
        shown = frame.sort_values("flow_at", ascending=False)[
            ["flow_at", "kind", "signed", "currency", "broker", "account", "source", "reference", "note"]
        ]
        st.dataframe(
            _ui.coloured(shown, ["signed"]),
            hide_index=True,
            width="stretch",
            column_config={"flow_at": _ui.time_column("When"), "signed": _ui.money_column("Amount", currency)},
        )
        deposits = frame.loc[frame["kind"] == "deposit", "amount"].sum()
        withdrawals = frame.loc[frame["kind"] == "withdrawal", "amount"].sum()
        st.caption(f"{len(frame)} flows · deposits {deposits:,.2f} · withdrawals {withdrawals:,.2f} {currency}")
    with st.form("cashflow", clear_on_submit=True):
        st.markdown("**Record a deposit or withdrawal**")
        a, b, c = st.columns(3)
        kind = a.radio("Kind", ["deposit", "withdrawal"], horizontal=True, key="cf_kind")
        amount = b.text_input(f"Amount ({currency})", key="cf_amount")
        note = c.text_input("Note", key="cf_note")
        a, b, c, d = st.columns(4)
        day = a.date_input("Date", key="cf_day", min_value=date(1970, 1, 1))
        moment = b.time_input("Time", value=time(12, 0), key="cf_time", step=60)
        broker = c.text_input("Broker", key="cf_broker")
        account = d.text_input("Account", key="cf_account")
        submitted = st.form_submit_button("Record", type="primary")
    if submitted:
        try:
            value = parse_decimal(amount)
            record = cashflow_record(
                flow_at=datetime.combine(day, moment),
                kind=kind,
                amount=value,
                zone=zone,
                currency=currency,
                broker=broker,
                account=account,
                note=note,
            )
        except ValueError as exc:
            st.error(f"Not recorded: amount: {exc}" if "amount" not in str(exc) else f"Not recorded: {exc}")
            return
        try:
            _data.apply(WriteBatch(appends=[("CashFlows", record)]))
        except BotError as exc:
            st.error(f"Not recorded: {exc}")
            return
        _ui.flash(f"Recorded a {kind} of {record['amount']} {currency} on {record['flow_at']}.")
        st.rerun()


_ui.guarded(render)
