"""The venues the engine trades at, by Config ``broker`` name, created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.brokers.base import Broker
from bot.errors import ConfigError


class BrokerRegistry:
    """Brokers by Config ``broker`` name, created on first use.

    Args:
        factories: name → zero-argument factory; a factory raises ConfigError when credentials are missing.
        default: the broker for rows whose ``broker`` cell is blank (BOT_BROKER).
    """

    def __init__(self, factories: dict[str, Callable[[], Broker]], default: str) -> None:
        self._factories = factories
        self._brokers: dict[str, Broker] = {}
        self._lock = threading.Lock()
        self.default = default

    def get(self, name: str = "") -> Broker:
        """The broker called ``name`` (blank = default).

        Raises:
            ConfigError: unknown name, or its credentials are missing.
        """
        name = name or self.default
        broker = self._brokers.get(name)
        if broker is not None:
            return broker
        with self._lock:
            if name not in self._brokers:
                factory = self._factories.get(name)
                if factory is None:
                    raise ConfigError(f"broker {name!r} is not available", field="broker", value=name)
                self._brokers[name] = factory()
            return self._brokers[name]

    def loaded(self) -> dict[str, Broker]:
        """Brokers created so far."""
        return dict(self._brokers)

    def close(self) -> None:
        """Close every created broker."""
        for broker in self._brokers.values():
            broker.close()
