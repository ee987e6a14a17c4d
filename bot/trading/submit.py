"""Sending an order to a venue: temporary failures retried with the same ``client_order_id``."""

from __future__ import annotations

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.brokers.base import Broker, OrderRequest, OrderUpdate
from bot.errors import TemporaryError


def send_with_retry(broker: Broker, request: OrderRequest) -> OrderUpdate:
    """``broker.submit_order(request)``, retried up to 3 times on TemporaryError (exponential backoff
    0.2 s … 2 s). Safe because venues dedupe by ``client_order_id``.

    Raises:
        TemporaryError: still failing after the last attempt (unknown whether the venue got it).
        BrokerRejected / ConfigError: the venue refused it (not retried).
    """
    for attempt in Retrying(
        retry=retry_if_exception_type(TemporaryError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    ):
        with attempt:
            return broker.submit_order(request)
    raise AssertionError("unreachable")
