"""The account report (``python -m bot report``): building it from the workbook's tabs (``build``),
the accounts' kind and calendar (``accounts``), the benchmark from a CSV or a broker's daily closes
(``benchmark``), the matplotlib charts (``charts``) and the printable summary (``summary``).
"""
