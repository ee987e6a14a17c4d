"""The report's PNG charts: equity with drawdown band, TWR vs benchmark, calendar heatmap of daily P&L.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), so
building a report in a server or a test never opens a window. Each function writes one PNG
(110 dpi) and returns its path.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["benchmark_chart", "calendar_chart", "equity_chart"]


def _save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` as a 110 dpi PNG."""
    figure.savefig(path, dpi=110, format="png")
    return path


def equity_chart(daily: pd.DataFrame, path: Path) -> Path:
    """Equity line (flows marked) over a drawdown band of the TWR growth, written to ``path``.

    Args:
        daily: the report's daily table (``equity``, ``inflow``, ``outflow``, ``drawdown`` columns,
            indexed by day).
        path: the PNG to write.
    """
    figure = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    days = daily.index.to_numpy()
    top.plot(days, daily["equity"].to_numpy(), color="#1f77b4", linewidth=1.4, label="equity")
    flows = daily.index[(daily["inflow"] > 0) | (daily["outflow"] > 0)]
    if len(flows):
        top.scatter(flows.to_numpy(), daily.loc[flows, "equity"].to_numpy(), color="#ff7f0e", zorder=3, s=18,
                    label="deposit / withdrawal")  # fmt: skip
    top.set_ylabel("equity")
    top.set_title("Equity and drawdown (drawdown of the time-weighted return)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    drawdown = daily["drawdown"].to_numpy() * 100.0
    bottom.fill_between(days, drawdown, 0.0, color="#d62728", alpha=0.35, step="post")
    bottom.plot(days, drawdown, color="#d62728", linewidth=0.8, drawstyle="steps-post")
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    return _save(figure, path)


def benchmark_chart(daily: pd.DataFrame, closes: pd.Series | None, name: str, path: Path) -> Path:
    """Cumulative TWR of the account against the benchmark's closes (from their first common day), in percent.

    Args:
        daily: the report's daily table (``growth`` column, indexed by day).
        closes: benchmark closes by day, or None / empty for the account alone.
        name: the benchmark's name in the legend.
        path: the PNG to write.
    """
    figure = Figure(figsize=(10, 5), layout="constrained")
    axes = figure.subplots()
    days = daily.index
    growth = daily["growth"]
    title = "Time-weighted return"
    if closes is not None and not closes.empty:
        aligned = closes.sort_index().reindex(closes.index.union(days)).ffill().reindex(days)
        valid = aligned.dropna()
        if not valid.empty:
            first = valid.index[0]
            bench_growth = valid / valid.iloc[0]
            own = growth.loc[first:] / growth.loc[first]
            axes.plot(own.index.to_numpy(), (own.to_numpy() - 1.0) * 100.0, label="account TWR", linewidth=1.4)
            axes.plot(bench_growth.index.to_numpy(), (bench_growth.to_numpy() - 1.0) * 100.0, label=name,
                      linewidth=1.2, color="#7f7f7f")  # fmt: skip
            title = f"Time-weighted return vs {name}"
    if not axes.lines:
        axes.plot(days.to_numpy(), (growth.to_numpy() - 1.0) * 100.0, label="account TWR", linewidth=1.4)
        title += " (no benchmark)"
    axes.axhline(0.0, color="black", linewidth=0.6)
    axes.set_ylabel("cumulative return %")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    return _save(figure, path)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_YEARS = 6


def calendar_chart(pnl: pd.Series, title: str, path: Path) -> Path:
    """GitHub-style heatmap: one panel per year (latest :data:`_MAX_YEARS`), weekday rows, week columns.

    ``pnl`` is indexed by day (NaNs dropped); colours are limited to the 95th percentile of the absolute P&L.
    """
    values = pnl.dropna().astype(float)
    years = sorted({stamp.year for stamp in values.index})[-_MAX_YEARS:] or [date.today().year]
    figure = Figure(figsize=(12, 1.9 * len(years) + 0.8), layout="constrained")
    axes_list = figure.subplots(len(years), 1, squeeze=False)[:, 0]
    # colour limit: the 95th percentile of |P&L|, so one outlier day does not wash out the rest
    limit = float(np.percentile(np.abs(values.to_numpy()), 95)) if len(values) else 1.0
    limit = limit or float(np.abs(values.to_numpy()).max(initial=0.0)) or 1.0
    image = None
    for axes, year in zip(axes_list, years, strict=True):
        grid = np.full((7, 54), np.nan)
        start = date(year, 1, 1)
        offset = start.weekday()
        for stamp, value in values[values.index.year == year].items():
            day = stamp.date()
            position = (day - start).days + offset
            grid[day.weekday(), position // 7] = value
        image = axes.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        axes.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], fontsize=7)
        ticks = [((date(year, month, 1) - start).days + offset) // 7 for month in range(1, 13)]
        axes.set_xticks(ticks, _MONTHS, fontsize=8)
        axes.set_ylabel(str(year))
        axes.tick_params(length=0)
    axes_list[0].set_title(title)
    if image is not None:
        figure.colorbar(image, ax=list(axes_list), shrink=0.8, label="P&L")
    return _save(figure, path)
