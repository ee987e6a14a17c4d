"""Dashboard entry point (placeholder until the dashboard issue): shows the bot's tabs read-only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bot.services import open_workbook
from bot.settings import load_settings

st.set_page_config(page_title="Trading bot", layout="wide")
st.title("Trading bot")


@st.cache_resource
def _workbook():  # type: ignore[no-untyped-def]
    return open_workbook(load_settings())


tab = st.selectbox("Tab", ["Config", "Signals", "Orders", "Trades", "Performance"])
table = _workbook().read_tables([tab])[tab]
if table.rows:
    st.dataframe(pd.DataFrame(table.rows, columns=table.headers), use_container_width=True)
else:
    st.info(f"The {tab} tab is empty.")
