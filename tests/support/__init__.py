"""Test-only helpers: independent reference calculations the bot's results are checked against.

Nothing in this package imports :mod:`bot`.
"""
