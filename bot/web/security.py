"""Who may post alerts: client address behind proxies, the IP allowlist, and the rate limit key.

The client address is the connecting address unless that address is a configured trusted proxy;
then ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first untrusted
address is the client (so a client cannot spoof its address by sending its own header).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from bot.errors import ConfigError
from bot.settings import TRADINGVIEW_IPS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str, *, setting: str) -> list[Network]:
    """Comma-separated IPs/CIDRs (and the preset ``tradingview``) to networks.

    Raises:
        ConfigError: naming the setting and the entry that is not an address or network.
    """
    networks: list[Network] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        if entry.lower() == "tradingview":
            networks.extend(ipaddress.ip_network(ip) for ip in TRADINGVIEW_IPS)
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"{setting}: {entry!r} is not an IP address or network", field=setting) from None
    return networks


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]) -> str:
    """The client's address: ``remote_addr``, or the right-most untrusted ``X-Forwarded-For`` entry when the
    connection comes from a trusted proxy."""
    address = (remote_addr or "").strip()
    if not forwarded_for or not _in(address, trusted_proxies):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _in(hop, trusted_proxies):
            return hop
    return address


def is_allowed(address: str, allowlist: Sequence[Network]) -> bool:
    """True when no allowlist is configured or ``address`` is inside it."""
    return not allowlist or _in(address, allowlist)
