"""Exception taxonomy, grouped by what the caller should do.

- :class:`ConfigError`: a configuration cell or setting is wrong. Tell the user (row ``Note``,
  ``CONFIG ERROR`` status, start-up message), do not trade that row.
- :class:`AlertRejected`: the incoming alert is malformed or not allowed. Answer 4xx naming the
  field and the value; nothing is traded.
- :class:`TemporaryError`: a dependency is briefly unavailable (timeout, 5xx, rate limit).
  Retry with backoff, with the same ``client_order_id`` for orders.
- :class:`BrokerRejected`: the venue refused the order (insufficient funds, unknown symbol,
  size below minimum). Fail the order with the reason and notify.

Vendor SDK exceptions are translated into these at the adapter boundary (``bot/brokers``,
``bot/sheets``, ``bot/notify``); nothing above the adapters catches vendor types.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class of every error the bot raises on purpose."""


class ConfigError(BotError):
    """A setting or Config cell cannot be used.

    Attributes:
        field: the setting name or column header at fault (``""`` when not a single field).
        value: the offending raw value as text (never a secret).
    """

    def __init__(self, message: str, *, field: str = "", value: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class WorkbookReadOnly(ConfigError):
    """The workbook can be read but not written (a Google Sheet shared with the bot as Viewer).

    Trading goes on (the state DB is the system of record); workbook writes wait in the outbox, the
    workbook is reported degraded, and the message says how to share it for writing.
    """


class AlertRejected(BotError):
    """An alert cannot be accepted; maps to an HTTP 4xx reply.

    Attributes:
        http_status: 400 (malformed), 401 (secret), 403 (address), 409 (not allowed now), 413, 429.
        field: the alert field at fault, when there is one.
    """

    def __init__(self, message: str, *, http_status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.field = field


class TemporaryError(BotError):
    """A dependency is temporarily unavailable; the operation may be retried unchanged."""


class BrokerRejected(BotError):
    """The venue refused an order; the order is ``FAILED`` with this message as reason.

    Attributes:
        code: the venue's error code when it gave one (e.g. Binance ``-2010``), else ``""``.
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code
