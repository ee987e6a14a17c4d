"""Google Sheets backend of the :class:`~bot.sheets.base.Workbook` interface (gspread 6.x, google-auth):
opening with a service-account key (``auth``), the client-side request budget (``budget``), the one
HTTP gate that counts requests and translates Google's failures (``gate``), cell texts and A1 ranges
(``cells``), the cached tab layout and its reads (``layout``), write plans (``plans``), structure
requests (``structure``), init-sheet formatting (``formatting``) and the workbook itself (``workbook``).
This package is the only place in ``bot/`` that imports gspread or ``google.*``.
"""
