"""Broker adapters: the only modules that import venue SDKs. See :mod:`bot.brokers.base`."""
