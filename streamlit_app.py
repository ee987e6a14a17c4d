"""Dashboard entry point: login, sidebar (refresh, data source), and the pages in ``app_pages/``.

Run: ``streamlit run streamlit_app.py`` (``make run`` starts it beside the webhook server).
The dashboard reads the workbook the bot writes (local file or Google Sheet, per BOT_STORE) and
writes only user-owned cells (journal notes, manual trades, cash flows, Config settings).
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from app_pages import _auth, _data
from bot.errors import ConfigError

st.set_page_config(page_title="Trading bot", page_icon=":material/show_chart:", layout="wide")

try:
    settings = _data.settings()
except ConfigError as exc:
    st.error(f"Settings problem: {exc}. Fix the environment or .env and reload.")
    st.stop()

if not _auth.require_login(settings):
    st.stop()

_data.begin_run()

PAGES = {
    "Results": [
        st.Page(
            "app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True
        ),
        st.Page("app_pages/journal.py", title="Journal", icon=":material/menu_book:", url_path="journal"),
        st.Page("app_pages/performance.py", title="Performance", icon=":material/bar_chart:", url_path="performance"),
        st.Page("app_pages/twr.py", title="TWR", icon=":material/show_chart:", url_path="twr"),
        st.Page("app_pages/calendar_page.py", title="Calendar", icon=":material/calendar_month:", url_path="calendar"),
    ],
    "Trading": [
        st.Page("app_pages/calculator.py", title="Calculator", icon=":material/calculate:", url_path="calculator"),
        st.Page("app_pages/config_editor.py", title="Config", icon=":material/settings:", url_path="config"),
        st.Page("app_pages/signals_orders.py", title="Signals & Orders", icon=":material/sensors:", url_path="signals"),
    ],
}
page = st.navigation(PAGES)

with st.sidebar:
    if st.button(
        "Refresh data",
        icon=":material/refresh:",
        help=f"Read the workbook again now (otherwise every {_data.TTL.get(settings.bot_store, 60)} s)",
        width="stretch",
    ):
        _data.refresh()
        st.rerun()
    store = "local workbook" if settings.bot_store == "local" else "Google Sheet"
    st.caption(f"{store} · times in {settings.bot_timezone} · {datetime.now(_data.zone()):%H:%M:%S}")
    if not _data.workbook_exists():
        st.caption(f"No workbook at {_data.source().location} yet: start the bot (`make run`) to create it.")
    _auth.logout_button(settings)

page.run()
