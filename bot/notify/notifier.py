"""The notifier: fan-out of events to channels, off the trading path.

:meth:`Notifier.publish` only routes the event and appends it to a bounded in-memory queue per
channel; one daemon thread per channel sends, so a slow or failing channel delays neither the
caller nor the other channels. Per channel:

- **Grouping**: at most one message per (event kind, symbol, topic) per ``notify_group_minutes``.
  Repeats inside the window are counted; when the window ends the latest one is sent with
  ``"(+N similar suppressed)"`` (N = the others), and a new event after the window carries the
  same note for any repeats not yet reported.
- **Overflow**: when a queue is full the oldest non-critical message is dropped (counted in
  :meth:`Notifier.stats` and logged), so order failures survive a storm of fills.
- **Failures**: each API call is retried by the channel (:class:`~bot.notify.channels.base.RetryPolicy`);
  a message still failing is logged (redacted) and counted, and the worker moves on.

Every subject and text is passed through a :class:`~bot.notify.channels.base.Redactor` holding the
deployment's secret values before it leaves the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import ConfigError, TemporaryError
from bot.notify.channels.base import Channel, Message, Redactor, RetryPolicy
from bot.notify.channels.build import build_channels
from bot.notify.events import Event, EventKind, test_event
from bot.notify.routing import NotifySettings, parse_notify_settings
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 200


@dataclass
class ChannelStats:
    """Counters of one channel since start (a snapshot; numbers are messages, not API calls).

    Attributes:
        queued: messages waiting now.
        sent: messages delivered.
        failed: messages given up after retries (or refused).
        dropped: messages dropped because the queue was full.
        suppressed: events folded into a "(+N similar suppressed)" note by grouping.
        last_error: redacted text of the last failure (``""`` if none).
    """

    queued: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    suppressed: int = 0
    last_error: str = ""


@dataclass
class _Pending:
    count: int
    latest: Event


@dataclass(frozen=True)
class _Item:
    event: Event
    suppressed: int  # similar events not sent on their own, reported in this message


def render(event: Event, *, suppressed: int = 0, redact: Callable[[str], str] = str) -> Message:
    """The :class:`Message` channels send for ``event``: subject, text (+ suppressed note), HTML.

    ``redact`` is applied to every text part (use a :class:`~bot.notify.channels.base.Redactor`).
    """
    note = f" (+{suppressed} similar suppressed)" if suppressed > 0 else ""
    html = event.html
    if html and note:
        html += f"<p>{note.strip()}</p>"
    return Message(
        kind=event.kind,
        subject=redact(event.subject),
        text=redact(event.text + note),
        html=redact(html),
        attachments=event.attachments,
    )


class _ChannelWorker:
    """Queue, grouping state and sender thread of one channel."""

    def __init__(
        self,
        channel: Channel,
        *,
        queue_size: int,
        window: Callable[[], float],
        redact: Redactor,
        clock: Callable[[], float],
        tick_seconds: float,
    ) -> None:
        self.channel = channel
        self._queue: deque[_Item] = deque()
        self._queue_size = queue_size
        self._window = window
        self._redact = redact
        self._clock = clock
        self._tick = tick_seconds
        self._cond = threading.Condition()
        self._last_sent: dict[tuple[EventKind, str, str], float] = {}
        self._pending: dict[tuple[EventKind, str, str], _Pending] = {}
        self._busy = False
        self._closing = False
        self._abandon = False
        self.stats = ChannelStats()
        self._thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)
        self._thread.start()

    # ---- producer side (caller's thread; never blocks on I/O) --------------------------------

    def offer(self, event: Event) -> None:
        key = event.group_key
        window = self._window()
        now = self._clock()
        with self._cond:
            if self._closing:
                self.stats.dropped += 1
                return
            if window > 0:
                last = self._last_sent.get(key)
                if last is not None and now - last < window:
                    pending = self._pending.get(key)
                    if pending is None:
                        self._pending[key] = _Pending(1, event)
                    else:
                        pending.count += 1
                        pending.latest = event
                    self.stats.suppressed += 1
                    return
                self._last_sent[key] = now
            pending = self._pending.pop(key, None)
            self._enqueue(_Item(event, pending.count if pending else 0))

    def _enqueue(self, item: _Item) -> None:
        """Append under the lock; on overflow drop the oldest non-critical item."""
        if len(self._queue) >= self._queue_size:
            victim = next((old for old in self._queue if not old.event.kind.is_critical), None)
            if victim is not None:
                self._queue.remove(victim)
            elif not item.event.kind.is_critical:
                victim = item
            else:
                victim = self._queue.popleft()
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 100 == 0:
                log.warning(
                    "%s: notification queue full (%d); dropped %d message(s) so far (latest: %s)",
                    self.channel.name, self._queue_size, self.stats.dropped, victim.event.kind.value,
                )  # fmt: skip
            if victim is item:
                return
        self._queue.append(item)
        self._cond.notify()

    def _flush_due(self, *, force: bool = False) -> None:
        """Queue the summary of every grouping window that ended (all of them when ``force``)."""
        if not self._pending and len(self._last_sent) < 1000:
            return
        window = self._window()
        now = self._clock()
        for key, pending in list(self._pending.items()):
            if force or now - self._last_sent.get(key, now) >= window:
                del self._pending[key]
                self._last_sent[key] = now
                self._enqueue(_Item(pending.latest, pending.count - 1))
        if len(self._last_sent) >= 1000:  # forget windows long over (bounded memory)
            for key, at in list(self._last_sent.items()):
                if now - at >= window and key not in self._pending:
                    del self._last_sent[key]

    # ---- consumer side (worker thread) --------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._abandon:
                        self._queue.clear()
                        return
                    self._flush_due(force=self._closing)
                    if self._queue:
                        break
                    if self._closing:
                        return
                    self._cond.wait(self._tick)
                item = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(item)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, item: _Item) -> None:
        message = render(item.event, suppressed=item.suppressed, redact=self._redact)
        try:
            self.channel.send(message)
        except (TemporaryError, ConfigError) as exc:
            hint = f" (check {exc.field})" if isinstance(exc, ConfigError) and exc.field else ""
            self._failed(item, f"{exc}{hint}")
        except Exception as exc:  # a bug in a channel must not kill the worker
            self._failed(item, f"unexpected {type(exc).__name__}: {exc}")
        else:
            with self._cond:
                self.stats.sent += 1

    def _failed(self, item: _Item, text: str) -> None:
        text = self._redact(text)
        with self._cond:
            self.stats.failed += 1
            self.stats.last_error = text
        log.error("%s: %s notification not delivered: %s", self.channel.name, item.event.kind.value, text)

    # ---- lifecycle ------------------------------------------------------------------------

    def begin_close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def join(self, deadline: float) -> bool:
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            with self._cond:
                self._abandon = True
                lost = len(self._queue)
                self._cond.notify_all()
            if lost:
                log.warning("%s: closing with %d notification(s) unsent", self.channel.name, lost)
            return False
        return True

    def snapshot(self) -> ChannelStats:
        with self._cond:
            return ChannelStats(**{**self.stats.__dict__, "queued": len(self._queue) + int(self._busy)})

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy


class Notifier:
    """Non-blocking fan-out of :class:`~bot.notify.events.Event` values to channels.

    Args:
        channels: the enabled channels (see :func:`~bot.notify.channels.build.build_channels`); none
            makes a cheap no-op notifier (no threads).
        settings: routing, grouping window and thresholds (default :class:`NotifySettings`).
        secrets: values that must never leave the process (``Settings.secret_values()``).
        queue_size: per-channel queue bound (messages).
        clock: monotonic seconds, for grouping windows (injectable in tests).
        tick_seconds: how often idle workers check for ended grouping windows.

    Thread-safe: publish from any thread (Flask request threads, jobs, the engine).
    """

    def __init__(
        self,
        channels: Sequence[Channel] = (),
        *,
        settings: NotifySettings | None = None,
        secrets: Iterable[str] = (),
        queue_size: int = DEFAULT_QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = 1.0,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._settings = settings or NotifySettings()
        self.redact = Redactor(secrets)
        self.channels: tuple[Channel, ...] = tuple(channels)
        self._closed = False
        self._workers = [
            _ChannelWorker(
                channel,
                queue_size=queue_size,
                window=lambda: self._settings.group_seconds,
                redact=self.redact,
                clock=clock,
                tick_seconds=tick_seconds,
            )
            for channel in self.channels
        ]

    @property
    def enabled(self) -> bool:
        """True when at least one channel is configured."""
        return bool(self._workers)

    @property
    def settings(self) -> NotifySettings:
        """The routing/grouping settings in use."""
        return self._settings

    def update_settings(self, settings: NotifySettings) -> None:
        """Switch to new routes/window (after the Settings tab was re-read); takes effect at once."""
        self._settings = settings

    def publish(self, event: Event) -> None:
        """Queue ``event`` for its routed channels and return at once (never blocks on I/O, never raises).

        Routed channels that are not configured are skipped silently. After :meth:`close` events
        are counted as dropped.
        """
        if not self._workers:
            return
        try:
            names = self._settings.channels_for(event.kind)
            for worker in self._workers:
                if worker.channel.name in names:
                    worker.offer(event)
        except Exception:  # publishing must never break trading
            log.exception("notify: could not queue a %s event", getattr(event, "kind", "?"))

    def stats(self) -> dict[str, ChannelStats]:
        """Counters per channel name (see :class:`ChannelStats`)."""
        return {worker.channel.name: worker.snapshot() for worker in self._workers}

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queue is empty and no send is in progress (for tests and the CLI).

        Pending grouping summaries are not waited for (they are sent when their window ends or on
        :meth:`close`). Returns False on timeout.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(worker.idle() for worker in self._workers):
                return True
            time.sleep(0.005)
        return all(worker.idle() for worker in self._workers)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop accepting events, send what is queued (and grouping summaries), stop the workers.

        Waits at most ``timeout`` seconds in total; messages still queued then are abandoned (the
        worker threads are daemons and end after their current send). Returns True when everything
        was delivered or given up on within the time. Safe to call twice.
        """
        if self._closed:
            return True
        self._closed = True
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.begin_close()
        results = [worker.join(deadline) for worker in self._workers]
        return all(results)

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def build_notifier(
    settings: Settings,
    *,
    route_records: list[dict[str, str]] | None = None,
    retry: RetryPolicy | None = None,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    clock: Callable[[], float] = time.monotonic,
    tick_seconds: float = 1.0,
) -> Notifier:
    """A :class:`Notifier` with the channels enabled in ``settings`` and routes from the Settings tab.

    Args:
        settings: deployment settings (TWILIO_*, ALERT_SMS_TO, SLACK_*, SMTP_*).
        route_records: Settings-tab records (``{"key", "value"}``); problems are logged as
            warnings (call :func:`~bot.notify.routing.parse_notify_settings` to show them to the user).
        retry: per-call retry policy (default 3 attempts, 5 s timeout).

    Never touches the network. With no channel configured the notifier is a cheap no-op.
    """
    notify_settings, problems = parse_notify_settings(route_records or [])
    for problem in problems:
        log.warning("notifications: Settings tab %s (default used)", problem)
    return Notifier(
        build_channels(settings, retry=retry),
        settings=notify_settings,
        secrets=settings.secret_values(),
        queue_size=queue_size,
        clock=clock,
        tick_seconds=tick_seconds,
    )


def send_test(target: Notifier | Sequence[Channel], *, text: str = "", secrets: Iterable[str] = ()) -> dict[str, str]:
    """Send a test message now, synchronously, on every configured channel.

    Args:
        target: a :class:`Notifier` (its channels and redaction are used) or channels.
        text: message text (default: a standard test sentence).
        secrets: extra values to redact (added to the notifier's).

    Returns:
        channel name → ``"ok"`` or the (redacted) error text, in channel order; ``{}`` when no
        channel is configured. Never raises for a channel failure. Takes up to the channels'
        retry budget (a few seconds per failing channel).
    """
    if isinstance(target, Notifier):
        channels: Sequence[Channel] = target.channels
        redact = target.redact.extended(secrets)
    else:
        channels = target
        redact = Redactor(secrets)
    message = render(test_event(text), redact=redact)
    results: dict[str, str] = {}
    for channel in channels:
        name = channel.name
        suffix = 2
        while name in results:
            name, suffix = f"{channel.name}#{suffix}", suffix + 1
        try:
            channel.send(message)
        except ConfigError as exc:
            results[name] = redact(f"{exc}" + (f" (check {exc.field})" if exc.field else ""))
        except Exception as exc:
            results[name] = redact(str(exc) or type(exc).__name__)
        else:
            results[name] = "ok"
    return results


def stats_summary(stats: Mapping[str, ChannelStats]) -> str:
    """One line for logs/health: ``"sms sent 3 failed 0 dropped 0; slack ..."``."""
    return "; ".join(
        f"{name} sent {s.sent} failed {s.failed} dropped {s.dropped} suppressed {s.suppressed}"
        for name, s in stats.items()
    )
