"""The Signals & orders page's data: the Signals and Orders tabs typed, newest first, and latency figures."""

from __future__ import annotations

from datetime import tzinfo

import numpy as np
import pandas as pd

from bot.dashboard.formatting import cell_float, parse_times
from bot.records import Table


def signals_frame(table: Table, zone: tzinfo) -> pd.DataFrame:
    """Signals rows newest first: ``received_at`` (tz-aware, zone), ``alert_id``, ``action``,
    ``symbol``, ``timeframe``, ``price`` (float), ``result``, ``reason``, ``latency_ms`` (float),
    ``signal_id``. Rows without a readable time sort last (kept, time NaT)."""
    rows = table.rows
    frame = pd.DataFrame(
        {
            "received_at": parse_times([r.get("received_at", "") for r in rows], zone),
            "alert_id": [r.get("alert_id", "") for r in rows],
            "action": [r.get("action", "") for r in rows],
            "symbol": [r.get("symbol", "") for r in rows],
            "timeframe": [r.get("timeframe", "") for r in rows],
            "price": [cell_float(r.get("price")) for r in rows],
            "result": [(r.get("result") or "").strip() for r in rows],
            "reason": [r.get("reason", "") for r in rows],
            "latency_ms": [cell_float(r.get("latency_ms")) for r in rows],
            "signal_id": [r.get("signal_id", "") for r in rows],
        }
    )
    frame["_pos"] = np.arange(len(frame))
    frame = frame.sort_values(["received_at", "_pos"], ascending=False, na_position="last", kind="stable")
    return frame.drop(columns="_pos").reset_index(drop=True)


def orders_frame(table: Table, zone: tzinfo) -> pd.DataFrame:
    """Orders rows newest first, typed: times tz-aware in ``zone``; ``qty``, ``notional``,
    ``filled_qty``, ``filled_avg_price`` floats; ``fill_seconds`` = ``filled_at − submitted_at``
    in seconds (NaN when either is missing or the fill is dated earlier, as on replays)."""
    rows = table.rows
    submitted = parse_times([r.get("submitted_at", "") for r in rows], zone)
    filled = parse_times([r.get("filled_at", "") for r in rows], zone)
    seconds = (filled - submitted).total_seconds().to_numpy(dtype=float) if len(rows) else np.array([])
    seconds = np.where(seconds >= 0, seconds, np.nan)
    frame = pd.DataFrame(
        {
            "submitted_at": submitted,
            "order_id": [r.get("order_id", "") for r in rows],
            "client_order_id": [r.get("client_order_id", "") for r in rows],
            "broker": [r.get("broker", "") for r in rows],
            "symbol": [r.get("symbol", "") for r in rows],
            "timeframe": [r.get("timeframe", "") for r in rows],
            "side": [r.get("side", "") for r in rows],
            "qty": [cell_float(r.get("qty")) for r in rows],
            "notional": [cell_float(r.get("notional")) for r in rows],
            "status": [(r.get("status") or "").strip() for r in rows],
            "filled_qty": [cell_float(r.get("filled_qty")) for r in rows],
            "filled_avg_price": [cell_float(r.get("filled_avg_price")) for r in rows],
            "filled_at": filled,
            "fill_seconds": seconds,
            "reason": [r.get("reason", "") for r in rows],
        }
    )
    frame["_pos"] = np.arange(len(frame))
    frame = frame.sort_values(["submitted_at", "_pos"], ascending=False, na_position="last", kind="stable")
    return frame.drop(columns="_pos").reset_index(drop=True)


def latency_summary(latency_ms: pd.Series) -> dict[str, float | None]:
    """``{"count", "p50", "p95", "max"}`` of the non-NaN latencies in milliseconds (None when none)."""
    values = latency_ms.dropna().to_numpy(dtype=float)
    if not len(values):
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {
        "count": len(values),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }
