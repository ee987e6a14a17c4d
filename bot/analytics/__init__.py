"""The account's numbers, pure (no workbook, broker, file or network access): fills → FIFO round
trips (``round_trips``) and trade statistics (``trade_stats``), Trades and Performance tab records
(``trade_records``), time- and money-weighted returns (``returns``, ``xirr``, ``inputs``), risk
metrics and benchmark comparison (``risk_metrics``), calendar aggregates of trades (``calendar``),
the read side of the Snapshots and CashFlows tabs (``equity``) and the position-size calculator
(``calculator``).
"""
