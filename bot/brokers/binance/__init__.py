"""Binance adapter (python-binance), spot and USD-M futures, one job per module: the SDK client and error
translation (``client``), Binance's wire vocabulary (``wire``), exchange filters and prices (``instruments``),
per-order notes (``notes``), orders (``orders``) and their fills (``fills``), holdings (``account``), deposits and
withdrawals (``history``) and :class:`~bot.brokers.binance.broker.BinanceBroker` (``broker``)."""
