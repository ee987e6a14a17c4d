"""Settings: deployment settings from the environment / ``.env`` and runtime knobs from the Settings tab.

:class:`Settings` is read once at start-up (pydantic-settings) and validated; a bad value is a
:class:`~bot.errors.ConfigError` naming the variable. :class:`RuntimeSettings` are the knobs a
trader changes while trading; they live in the workbook's Settings tab (key | value) and are
re-read with the Config tab.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

#: TradingView's published webhook source addresses (preset ``tradingview`` in WEBHOOK_IP_ALLOWLIST).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


class Settings(BaseSettings):
    """Deployment settings (environment variables or ``.env``; names are case-insensitive).

    Every field is documented in README ("Settings"). Secrets are :class:`~pydantic.SecretStr`
    so they never print in reprs or logs.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_data_dir: Path = Path("data")
    bot_store: Literal["local", "google"] = "local"
    bot_db_url: str = ""  # default: sqlite file under bot_data_dir
    bot_broker: Literal["paper", "alpaca", "binance", "binance-futures"] = "paper"
    bot_timezone: str = "UTC"
    webhook_secret: SecretStr = SecretStr("")
    bot_api_token: SecretStr = SecretStr("")
    webhook_ip_allowlist: str = ""  # comma-separated IPs/CIDRs; "tradingview" = TradingView's addresses
    webhook_rate_limit: str = "120/second;3000/minute"  # per source address (Flask-Limiter syntax)
    trusted_proxies: str = ""  # comma-separated proxy IPs whose X-Forwarded-For is believed

    google_sheet_id: str = ""
    google_credentials_file: Path = Path("credentials.json")
    google_credentials_json: SecretStr = SecretStr("")

    alpaca_api_key: SecretStr = SecretStr("")
    alpaca_api_secret: SecretStr = SecretStr("")
    alpaca_paper: bool = True
    alpaca_base_url: str = ""  # override (tests, proxies)
    alpaca_data_url: str = ""

    binance_api_key: SecretStr = SecretStr("")
    binance_api_secret: SecretStr = SecretStr("")
    binance_testnet: bool = True
    binance_api_url: str = ""  # override (tests)
    binance_futures_url: str = ""

    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = ""
    alert_sms_to: str = ""  # comma-separated E.164 numbers
    twilio_base_url: str = ""  # override (tests)
    slack_bot_token: SecretStr = SecretStr("")
    slack_channel: str = ""
    slack_webhook_url: SecretStr = SecretStr("")
    slack_base_url: str = ""  # override (tests)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""
    smtp_to: str = ""  # comma-separated
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"

    paper_starting_cash: Decimal = Field(default=Decimal("100000"), gt=0)
    dashboard_password: SecretStr = SecretStr("")
    dashboard_bot_url: str = ""  # the bot's API for the dashboard's health line; blank = http://127.0.0.1:8080
    log_level: str = "INFO"

    @field_validator("bot_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The display time zone (BOT_TIMEZONE)."""
        return ZoneInfo(self.bot_timezone)

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the state DB (BOT_DB_URL, else ``sqlite:///<data_dir>/state.db``)."""
        return self.bot_db_url or f"sqlite:///{(self.bot_data_dir / 'state.db').resolve()}"

    @property
    def workbook_path(self) -> Path:
        """File of the local workbook (embedded default)."""
        return self.bot_data_dir / "workbook.db"

    def secret_values(self) -> list[str]:
        """Every non-empty secret value (for log redaction and leak scans)."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


def load_settings(**overrides: object) -> Settings:
    """Read :class:`Settings` from the environment/.env, with keyword overrides (tests, CLI).

    Raises:
        ConfigError: naming the first invalid variable and its problem.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        raise ConfigError(f"setting {name}: {first['msg']}", field=name) from None


def ensure_local_secret(path: Path) -> str:
    """Read a generated secret from ``path``, creating it (0600, 32 url-safe chars) on first use.

    Used for WEBHOOK_SECRET and BOT_API_TOKEN on the embedded default, so ``make run`` works with no
    configuration and the values survive restarts.
    """
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return value


class RuntimeSettings(BaseModel):
    """Knobs in the workbook's Settings tab (key | value). Blank or missing keys use the default.

    Units are in the names (``_seconds``, ``_pct``, ``_usd``). Unknown keys are reported by
    :func:`parse_runtime_settings`, not silently ignored.
    """

    model_config = ConfigDict(extra="forbid")

    trading_enabled: bool = Field(True, description="Kill switch: FALSE answers every signal BLOCKED.")
    config_refresh_seconds: float = Field(15.0, ge=0, description="Re-read Config/Settings at most this often.")
    duplicate_window_seconds: float = Field(60.0, ge=0, description="Same alert body within this time is a duplicate.")
    alert_id_window_seconds: float = Field(86400.0, ge=0, description="Same alert id within this time is a duplicate.")
    max_alert_age_seconds: float = Field(
        0.0, ge=0, description="Reject alerts whose time is older than this (0 = off)."
    )
    paper_fee_rate: Decimal = Field(Decimal("0"), ge=0, lt=1, description="Paper broker fee, fraction of notional.")
    paper_qty_step: Decimal = Field(Decimal("0.000001"), ge=0, description="Paper broker quantity step.")
    paper_min_notional: Decimal = Field(Decimal("1"), ge=0, description="Paper broker minimum order notional.")
    sheet_keep_rows: int = Field(5000, ge=10, description="Signals/Orders rows kept in the sheet.")
    performance_interval_seconds: int = Field(300, ge=10, description="Performance recompute interval.")
    snapshot_interval_seconds: int = Field(3600, ge=60, description="Equity snapshot interval.")
    broker_reply_deadline_seconds: float = Field(
        2.0, gt=0, description="Reply 202 when the broker takes longer than this."
    )
    max_symbol_notional_usd: Decimal = Field(
        Decimal(0), ge=0, description="Block entries that would make a symbol's net notional exceed this (0 = off)."
    )
    max_open_positions: int = Field(
        0, ge=0, description="Block entries that would open more slots than this (0 = off)."
    )
    max_orders_per_minute: int = Field(0, ge=0, description="Block entries beyond this many orders a minute (0 = off).")
    max_daily_loss_usd: Decimal = Field(
        Decimal(0), ge=0, description="Block entries for the rest of the day once today's loss exceeds this (0 = off)."
    )
    daily_summary_time: str = Field(
        "22:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="When the daily summary is sent (HH:MM, BOT_TIMEZONE).",
    )
    reconcile_interval_seconds: int = Field(
        900, ge=60, description="How often slot positions are compared with the broker's positions."
    )
    venue_exit_check_seconds: int = Field(
        60, ge=10, description="How often protective exits that fired at the venue (Alpaca) are booked into the slots."
    )
    risk_free_rate: float = Field(0.0, ge=0, lt=1, description="Annual risk-free rate for Sharpe/Sortino (0.04 = 4 %).")
    cooldown_seconds: float = Field(0.0, ge=0, description="Block a slot's entries this long after it exits (0 = off).")


def parse_runtime_settings(records: list[dict[str, str]]) -> tuple[RuntimeSettings, list[str]]:
    """Build :class:`RuntimeSettings` from Settings-tab records (``{"key": ..., "value": ...}``).

    Returns:
        ``(settings, problems)``: invalid or unknown keys fall back to defaults and are listed in
        ``problems`` as ``"key 'x': message"`` strings, so a typo never stops trading silently.
    """
    values: dict[str, str] = {}
    problems: list[str] = []
    known = RuntimeSettings.model_fields
    for record in records:
        key = (record.get("key") or "").strip()
        value = (record.get("value") or "").strip()
        if not key:
            continue
        if key not in known:
            problems.append(f"key {key!r}: unknown setting")
            continue
        if value:
            values[key] = value
    for key, value in list(values.items()):
        try:
            RuntimeSettings(**{key: value})  # type: ignore[arg-type]
        except ValidationError as exc:
            problems.append(f"key {key!r}: value {value!r}: {exc.errors()[0]['msg']}")
            del values[key]
    return RuntimeSettings(**values), problems  # type: ignore[arg-type]
