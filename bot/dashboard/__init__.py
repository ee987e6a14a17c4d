"""Data preparation for the Streamlit dashboard, one module per page's data: workbook tables in, typed frames
and figures out. No streamlit here (the pages in ``app_pages/`` are UI only); statistics are delegated to
:mod:`bot.analytics` (round trips, trade statistics, returns, risk), so a number on a page is the number
those functions give.
Apart from reading a bars CSV file (:mod:`bot.dashboard.bars`) nothing here does I/O; writes are returned as
:class:`~bot.records.WriteBatch` objects (or rows to append) for the caller to apply.
"""
