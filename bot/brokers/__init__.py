"""Broker adapters: the interface every venue implements (:mod:`bot.brokers.base`), the paper broker
(:mod:`bot.brokers.paper`) and one package per real venue (:mod:`bot.brokers.alpaca`, :mod:`bot.brokers.binance`),
the only places their SDKs are imported."""
