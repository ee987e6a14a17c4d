"""Altair chart builders of the dashboard (presentation only: data comes prepared by bot.dashboard)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from app_pages._ui import GREEN, GREY, RED

_DIVERGING = alt.Scale(scheme="redyellowgreen", domainMid=0)
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _naive(series: pd.Series) -> pd.Series:
    """Times as naive wall-clock values (already in BOT_TIMEZONE), so the browser does not shift them."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_localize(None)
    return series


def equity_drawdown(curve: pd.DataFrame, currency: str) -> alt.VConcatChart:
    """Daily equity line over a red time-weighted drawdown band (shared day axis)."""
    data = curve.assign(day=pd.to_datetime(curve["day"]))
    base = alt.Chart(data).encode(x=alt.X("day:T", title=None))
    equity = (
        base.mark_line(color="#1f77b4", strokeWidth=1.8)
        .encode(
            y=alt.Y("equity:Q", title=f"Equity ({currency})", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("day:T", title="Day"),
                alt.Tooltip("equity:Q", title="Equity", format=",.2f"),
                alt.Tooltip("drawdown:Q", title="Drawdown", format=".2%"),
            ],
        )
        .properties(height=260)
    )
    drawdown = (
        base.mark_area(color=RED, opacity=0.45, line={"color": RED, "strokeWidth": 1})
        .encode(
            y=alt.Y("drawdown:Q", title="Drawdown", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("day:T", title="Day"), alt.Tooltip("drawdown:Q", title="Drawdown", format=".2%")],
        )
        .properties(height=110)
    )
    return alt.vconcat(equity, drawdown, spacing=4).resolve_scale(x="shared")


def cumulative_pnl(frame: pd.DataFrame, currency: str) -> alt.Chart:
    """Cumulative realised P&L of the journal by exit time (when there are no equity snapshots)."""
    data = pd.DataFrame({"exit_at": _naive(frame["exit_at"]), "pnl": frame["pnl"]}).sort_values("exit_at")
    data["cumulative"] = data["pnl"].cumsum()
    return (
        alt.Chart(data)
        .mark_area(line={"color": "#1f77b4"}, color="#1f77b4", opacity=0.25)
        .encode(
            x=alt.X("exit_at:T", title=None),
            y=alt.Y("cumulative:Q", title=f"Realised P&L ({currency})"),
            tooltip=[alt.Tooltip("exit_at:T", title="Exit"), alt.Tooltip("cumulative:Q", format=",.2f")],
        )
        .properties(height=260)
    )


def price_chart(bars: pd.DataFrame | None, trade: pd.Series, zone: Any) -> alt.LayerChart:
    """Candles (when bars are given) with the trade's entry and exit marked, times in ``zone``."""
    long = trade["side"] == "long"
    marks = pd.DataFrame(
        {
            "time": [
                trade["entry_at"].tz_convert(zone).tz_localize(None),
                trade["exit_at"].tz_convert(zone).tz_localize(None),
            ],
            "price": [trade["entry_price"], trade["exit_price"]],
            "what": ["entry (buy)" if long else "entry (sell)", "exit (sell)" if long else "exit (buy)"],
            "shape": ["triangle-up" if long else "triangle-down", "triangle-down" if long else "triangle-up"],
        }
    )
    colour = alt.Color(
        "what:N",
        scale=alt.Scale(domain=list(marks["what"]), range=[GREEN, RED] if long else [RED, GREEN]),
        legend=alt.Legend(title=None, orient="top"),
    )
    path = alt.Chart(marks).mark_line(strokeDash=[4, 3], color=GREY).encode(x="time:T", y="price:Q")
    points = (
        alt.Chart(marks)
        .mark_point(size=220, filled=True, opacity=1)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y("price:Q", title="Price", scale=alt.Scale(zero=False)),
            shape=alt.Shape("shape:N", scale=None),
            color=colour,
            tooltip=["what:N", alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("price:Q", format=",.4f")],
        )
    )
    layers: list[Any] = []
    if bars is not None and len(bars):
        candles = bars.assign(
            time=pd.DatetimeIndex(bars["time"]).tz_convert(zone).tz_localize(None),
            up=bars["close"] >= bars["open"],
        )
        updown = alt.condition("datum.up", alt.value(GREEN), alt.value(RED))
        base = alt.Chart(candles).encode(x=alt.X("time:T", title=None))
        layers.append(
            base.mark_rule(opacity=0.8).encode(
                y=alt.Y("low:Q", title="Price", scale=alt.Scale(zero=False)), y2="high:Q", color=updown
            )
        )
        layers.append(
            base.mark_bar(opacity=0.8).encode(
                y="open:Q",
                y2="close:Q",
                color=updown,
                tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "open:Q", "high:Q", "low:Q", "close:Q"],
            )
        )
    layers.extend([path, points])
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=320)


def heatmap(cells: pd.DataFrame, currency: str) -> alt.Chart:
    """Weekday × hour-of-entry heatmap of P&L (grey where no trade)."""
    colour = alt.condition(
        "datum.trades > 0", alt.Color("pnl:Q", scale=_DIVERGING, title=f"P&L ({currency})"), alt.value("#e8e8e8")
    )
    return (
        alt.Chart(cells)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X("hour:O", title="Hour of entry"),
            y=alt.Y("weekday:O", sort=_WEEKDAYS, title=None),
            color=colour,
            tooltip=[
                "weekday:N",
                "hour:O",
                "trades:Q",
                alt.Tooltip("win_rate:Q", format=".1f", title="Win rate %"),
                alt.Tooltip("pnl:Q", format=",.2f", title="P&L"),
            ],
        )
        .properties(height=230)
    )


def signed_bars(data: pd.DataFrame, x: str, *, title: str, currency: str, sort: list[Any] | None = None) -> alt.Chart:
    """Bars of ``pnl`` per ``x`` coloured green/red by sign."""
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:O", title=title, sort=sort),
            y=alt.Y("pnl:Q", title=f"P&L ({currency})"),
            color=alt.condition("datum.pnl >= 0", alt.value(GREEN), alt.value(RED)),
            tooltip=[f"{x}:O", "trades:Q", alt.Tooltip("pnl:Q", format=",.2f")],
        )
        .properties(height=220)
    )


def twr_lines(lines: pd.DataFrame) -> alt.Chart:
    """Cumulative return lines (``day``, ``series``, ``return`` as fractions): portfolio vs benchmark."""
    data = lines.assign(day=pd.to_datetime(lines["day"]))
    names = list(dict.fromkeys(data["series"]))
    return (
        alt.Chart(data)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("return:Q", title="Cumulative return", axis=alt.Axis(format="%")),
            color=alt.Color(
                "series:N",
                title=None,
                legend=alt.Legend(orient="top"),
                scale=alt.Scale(domain=names, range=["#1f77b4", "#ff7f0e"][: len(names)]),
            ),
            tooltip=["series:N", alt.Tooltip("day:T"), alt.Tooltip("return:Q", format=".2%")],
        )
        .properties(height=320)
    )


def calendar_grid(grid: pd.DataFrame, weeks: pd.DataFrame, currency: str) -> alt.LayerChart:
    """Month grid: a cell per day coloured by P&L with its trades and win rate, a total per week.

    Clicking a day selects it (selection parameter ``day``, field ``date``).
    """
    inside = grid["in_month"] & (grid["trades"] > 0)
    peak = float(grid.loc[inside, "pnl"].abs().max()) if inside.any() else 0.0
    data = pd.concat([_day_cells(grid, peak), _week_cells(weeks)], ignore_index=True)
    data["fill_day"] = (data["kind"] == "day") & (data["trades"] > 0)
    pick = alt.selection_point(name="day", fields=["date"], on="click", clear="dblclick", empty=False)
    columns = [*_WEEKDAYS, "Week"]
    x = alt.X("column:O", sort=columns, title=None, axis=alt.Axis(orient="top", labelAngle=0, labelFontSize=13))
    y = alt.Y("week:O", title=None, axis=None)
    data["bg"] = ["#e9eef5" if kind == "week" else "#f4f4f4" for kind in data["kind"]]
    base = alt.Chart(data).encode(x=x, y=y)
    plain = (
        base.mark_rect(stroke="white", strokeWidth=2, cornerRadius=4)
        .encode(
            color=alt.Color("bg:N", scale=None),
            opacity=alt.condition("datum.kind == 'other'", alt.value(0.45), alt.value(1.0)),
            tooltip=[alt.Tooltip("date:N", title="Day"), alt.Tooltip("trades:Q", title="Trades")],
        )
        .transform_filter("!datum.fill_day")
    )
    rects = (
        base.mark_rect(strokeWidth=2, cornerRadius=4)
        .encode(
            color=alt.Color(
                "pnl:Q",
                scale=alt.Scale(scheme="redyellowgreen", domain=[-(peak or 1.0), peak or 1.0]),
                title=f"P&L ({currency})",
            ),
            stroke=alt.condition(pick, alt.value("#222222"), alt.value("white")),
            tooltip=[
                alt.Tooltip("date:N", title="Day"),
                alt.Tooltip("trades:Q", title="Trades"),
                alt.Tooltip("pnl:Q", title="P&L", format="+,.2f"),
            ],
        )
        .add_params(pick)
        .transform_filter("datum.fill_day")
    )
    ink_scale = alt.Color("ink:N", scale=None)
    label = base.mark_text(align="left", baseline="top", dx=-46, dy=-30, fontSize=11).encode(
        text="day_label:N", color=ink_scale
    )
    pnl = base.mark_text(fontSize=13, fontWeight="bold", dy=-2).encode(text="pnl_text:N", color=ink_scale)
    detail = base.mark_text(fontSize=10, dy=16).encode(text="detail:N", color=ink_scale)
    return (
        alt.layer(plain, rects, label, pnl, detail)
        .resolve_scale(color="independent")
        .properties(height=int(78 * (grid["week"].max() + 1)))
    )


def _day_cells(grid: pd.DataFrame, peak: float) -> pd.DataFrame:
    """One chart cell per day of :func:`~bot.dashboard.month_calendar.month_grid`: texts and their ink colour.

    ``peak`` is the largest absolute daily P&L of the month: strong colours get white text.
    """

    def ink(pnl: float, trades: int, in_month: bool) -> str:
        if not in_month:
            return "#aaaaaa"
        return "#ffffff" if trades and peak and abs(pnl) >= 0.55 * peak else "#1f2328"

    return pd.DataFrame(
        {
            "date": grid["day"].astype(str),
            "column": grid["weekday"],
            "week": grid["week"],
            "day_label": grid["day_label"],
            "pnl": grid["pnl"],
            "trades": grid["trades"],
            "pnl_text": [
                f"{p:+,.2f}" if t and m else ""
                for p, t, m in zip(grid["pnl"], grid["trades"], grid["in_month"], strict=True)
            ],
            "detail": [
                f"{t} trade{'s' if t != 1 else ''} · {w:.0f} %" if t and m else ""
                for t, w, m in zip(grid["trades"], grid["win_rate"], grid["in_month"], strict=True)
            ],
            "kind": ["day" if m else "other" for m in grid["in_month"]],
            "ink": [ink(p, t, m) for p, t, m in zip(grid["pnl"], grid["trades"], grid["in_month"], strict=True)],
        }
    )


def _week_cells(weeks: pd.DataFrame) -> pd.DataFrame:
    """One chart cell per week row (:func:`~bot.dashboard.month_calendar.week_totals`), in the ``Week`` column."""
    return pd.DataFrame(
        {
            "date": "",
            "column": "Week",
            "week": weeks["week"],
            "day_label": "",
            "pnl": weeks["pnl"],
            "trades": weeks["trades"],
            "pnl_text": [f"{p:+,.2f}" if t else "–" for p, t in zip(weeks["pnl"], weeks["trades"], strict=True)],
            "detail": [
                f"{t} trades · {w:.0f} %" if t else "" for t, w in zip(weeks["trades"], weeks["win_rate"], strict=True)
            ],
            "kind": "week",
            "ink": [GREEN if p > 0 else RED if p < 0 else GREY for p in weeks["pnl"]],
        }
    )
