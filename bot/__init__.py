"""TradingView alerts → broker orders, configured and observed through a spreadsheet."""

__version__ = "0.1.0"
