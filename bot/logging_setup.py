"""Structured logging: JSON lines to stdout and a rotating file, with secrets redacted.

Every record becomes one JSON object per line with at least ``time`` (ISO 8601, UTC), ``level``,
``logger`` and ``message``, plus any ``extra={...}`` fields. :func:`log_alert` writes exactly one
such line per webhook alert (``"event": "alert"``), so ``grep '"event": "alert"'`` or ``jq`` on the
log file gives the alert history with outcomes and latencies.

Redaction (:class:`RedactFilter`) runs on the handlers, so it covers records from every logger
that reaches them (the bot's, Flask's, APScheduler's, SDKs'): every value of
:meth:`Settings.secret_values` is replaced by ``[REDACTED]`` in the message, its arguments,
extra fields, exception text and stack text; so are ``Authorization`` header values, ``Bearer``
tokens and the values of fields named like ``secret``, ``token``, ``password``, ``api_key``.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

try:  # python-json-logger >= 3.1
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # pragma: no cover - python-json-logger 2.x
    from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef]

from bot.settings import Settings

#: Replacement text for anything redacted.
REDACTED = "[REDACTED]"
#: Rotating file: size of one file in bytes, and how many old files are kept (bot.log.1 … .5).
LOG_FILE_MAX_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5
#: Logger used by :func:`log_alert`.
ALERT_LOGGER = "bot.trading.alerts"
#: Fields of an alert line, in order (see :func:`log_alert`).
ALERT_FIELDS = (
    "alert_id",
    "symbol",
    "timeframe",
    "action",
    "http_status",
    "result",
    "reason",
    "latency_ms",
    "order_id",
    "order_status",
)

_SENSITIVE_KEY = re.compile(r"(?i)(secret|token|password|passphrase|api[_-]?key|authorization|credential)")
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;}]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_KEY_VALUE = re.compile(
    r"(?i)((?:[\"'][a-z_-]*(?:secret|token|password|passphrase|api[_-]?key)[\"']\s*[:=]"
    r"|\b[a-z_-]*(?:secret|token|password|passphrase|api[_-]?key)\s*=)\s*)"
    r"(?:\"[^\"]*\"|'[^']*'|[^\s,;&}\"']+)"
)
#: LogRecord attributes that are not ``extra`` fields (never redacted as fields, never dropped).
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_MARK = "_bot_logging"
_REDACTED_BY = "_bot_redacted_by"
_FORMATTED = "_bot_formatted"


class _OnceJsonFormatter(JsonFormatter):  # type: ignore[misc]
    """The JSON formatter, formatting a record once for all handlers that share it (stdout and file)."""

    def format(self, record: logging.LogRecord) -> str:
        cached = record.__dict__.get(_FORMATTED)
        if cached is not None and cached[0] is self:
            return str(cached[1])
        line = super().format(record)
        record.__dict__[_FORMATTED] = (self, line)
        return line


class RedactFilter(logging.Filter):
    """Removes secrets from log records in place (a handler filter; always returns True).

    Args:
        secrets: literal values to replace wherever they appear (e.g. ``settings.secret_values()``).
            Longer values are replaced first, so a secret containing another is fully hidden.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with secret values, Authorization/Bearer values and ``secret=…`` style values replaced."""
        for value in self.secrets:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return _KEY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)

    def redact_value(self, value: Any, key: str = "") -> Any:
        """A JSON-able value with secrets removed: sensitive keys blanked, strings redacted, containers walked."""
        if key and _SENSITIVE_KEY.search(key) and value not in (None, "", [], {}):
            return REDACTED
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.redact_value(v) for v in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` so that no secret survives formatting; never drops a record.

        A record passes every handler: it is rewritten by the first and marked, the others skip it.
        """
        if record.__dict__.get(_REDACTED_BY) is self:
            return True
        record.__dict__[_REDACTED_BY] = self
        if isinstance(record.msg, Mapping):
            record.msg = self.redact_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # bad %-args: keep both parts as text
                message = f"{record.msg} {record.args!r}"
            record.msg = self.redact(str(message))
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _RECORD_ATTRS and not name.startswith("_"):
                record.__dict__[name] = self.redact_value(value, name)
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def json_formatter() -> logging.Formatter:
    """The JSON-lines formatter: ``time`` (UTC ISO 8601), ``level``, ``logger``, ``message`` + extras."""
    return _OnceJsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def setup_logging(
    settings: Settings,
    *,
    log_file: Path | None = None,
    to_file: bool = True,
    stream: IO[str] | None = None,
) -> Path | None:
    """Configure the root logger: JSON lines to ``stream`` (stdout) and a rotating file.

    Safe to call more than once: handlers installed by an earlier call, and the plain-text console
    handler of ``logging.basicConfig``, are replaced; other handlers are kept. Handlers of
    gunicorn's error logger, when present, get the same redaction filter.

    Args:
        settings: level from ``LOG_LEVEL``; redacted values from ``settings.secret_values()``;
            the default file lives under ``BOT_DATA_DIR/logs``.
        log_file: the log file (default ``BOT_DATA_DIR/logs/bot.log``); rotated at
            :data:`LOG_FILE_MAX_BYTES`, keeping :data:`LOG_FILE_BACKUPS` old files.
        to_file: False logs to ``stream`` only.
        stream: where console lines go (default ``sys.stdout``).

    Returns:
        The log file path, or None when not logging to a file.

    Raises:
        OSError: when the log directory cannot be created or the file opened.
    """
    secrets = list(settings.secret_values())
    for name in ("webhook_secret", "api_token"):  # generated secrets of the embedded default
        path = settings.bot_data_dir / name
        try:
            value = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        except OSError:
            value = ""
        if value:
            secrets.append(value)
    redactor = RedactFilter(secrets)
    formatter = json_formatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    path: Path | None = None
    if to_file:
        path = Path(log_file) if log_file is not None else settings.bot_data_dir / "logs" / "bot.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8", delay=False
            )
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False) or _is_plain_console(h)]:
        root.removeHandler(old)
        if getattr(old, _MARK, False):
            old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    level = logging.getLevelName(settings.log_level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    for handler in logging.getLogger("gunicorn.error").handlers:
        for old_filter in [f for f in handler.filters if isinstance(f, RedactFilter)]:
            handler.removeFilter(old_filter)
        handler.addFilter(redactor)
    if root.level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    logging.captureWarnings(True)
    return path


def _is_plain_console(handler: logging.Handler) -> bool:
    """The text console handler of ``logging.basicConfig`` (replaced by the JSON one)."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (sys.stderr, sys.stdout)


def log_alert(outcome: Mapping[str, Any]) -> None:
    """Write one JSON line for one webhook alert on the ``bot.trading.alerts`` logger.

    Args:
        outcome: ``alert_id`` (the alert's ``id`` or ""), ``symbol``, ``timeframe``, ``action``,
            ``http_status`` (int), ``result`` (success|skipped|duplicate|rejected|…), ``reason``
            (text, may be ""), ``latency_ms`` (float, receipt to reply), optionally ``order_id`` and
            ``order_status``. Missing keys are written as null; other keys are ignored.

    The line is INFO for 2xx replies and WARNING otherwise; its message reads
    ``"alert <result> <symbol> <timeframe>"``. Secrets are redacted by the handlers' filter.
    """
    fields = {name: outcome.get(name) for name in ALERT_FIELDS}
    status = fields["http_status"]
    level = logging.INFO if isinstance(status, int) and status < 400 else logging.WARNING
    text = " ".join(str(fields[k]) for k in ("result", "symbol", "timeframe") if fields[k])
    logging.getLogger(ALERT_LOGGER).log(level, "alert %s", text or "received", extra={"event": "alert", **fields})
