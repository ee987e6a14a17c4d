"""Alpaca adapter (alpaca-py), one job per module: the SDK clients and error translation (``client``), Alpaca's
wire vocabulary (``wire``), per-order memory (``plans``), order placement and read-back (``orders``), protective
exits (``exits``), account history (``history``) and :class:`~bot.brokers.alpaca.broker.AlpacaBroker` (``broker``)."""
