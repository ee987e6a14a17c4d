#!/usr/bin/env bash
# Firewall for a sheetbot server (ufw): HTTP/HTTPS only from TradingView and from you, SSH only from you.
#
#   sudo OWNER_IP=203.0.113.7 deploy/ufw.sh            # apply
#   OWNER_IP=203.0.113.7 deploy/ufw.sh --dry-run       # print the ufw commands, change nothing
#   sudo OWNER_IP=203.0.113.7 deploy/ufw.sh --reset    # delete ALL existing ufw rules first
#
# Rules added earlier (e.g. "ufw allow 443" or "allow OpenSSH" from anywhere) still apply next to
# these; the script warns about such rules at the end. --reset removes every rule first.
#
# Variables:
#   OWNER_IP     required: your public address (or CIDR, e.g. 203.0.113.0/24); several separated by commas.
#                Find it with:  curl -s https://ifconfig.me   (from your own computer, not the server)
#   SSH_PORT     default 22.
#   ACME_HTTP    "open" also opens port 80 to everyone, for Let's Encrypt's HTTP challenge (see below).
#                Default "closed": port 80 only from TradingView and you, exactly like 443.
#   UFW          the ufw command (default: ufw). Tests point it at a recorder.
#
# Why port 80 matters: Caddy gets and renews its certificate from Let's Encrypt, whose servers
# must reach this machine on port 80 (HTTP-01) or 443 (TLS-ALPN-01) from addresses nobody can
# list in advance. With both ports closed to everyone but TradingView and you, the first
# certificate and every renewal (about every 60 days) fail. Choose one:
#   * ACME_HTTP=open: port 80 open to all; Caddy answers there only the ACME challenge and a
#     redirect to https. /webhook stays reachable on 443 only from TradingView and you.
#   * keep port 80 closed and, before the first start and then every 60 days, run
#     `sudo ufw allow 80/tcp` for a few minutes, then `sudo ufw delete allow 80/tcp`.
#   * a DNS challenge (a Caddy build with your DNS provider's plugin): no open port needed.
#
# Docker note: ports published by Docker bypass ufw. docker-compose.yml therefore publishes the
# bot and the dashboard on 127.0.0.1 only, and Caddy runs on the host (not in Docker).

set -euo pipefail

# TradingView's webhook source addresses, as listed on TradingView's "About webhooks" help page.
TRADINGVIEW_IPS=(52.89.214.238 34.212.75.30 54.218.53.128 52.32.178.7)

DRY_RUN=0
RESET=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --reset) RESET=1 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (use --dry-run, --reset or --help)" >&2; exit 2 ;;
  esac
done

UFW="${UFW:-ufw}"
SSH_PORT="${SSH_PORT:-22}"
ACME_HTTP="${ACME_HTTP:-closed}"
OWNER_IP="${OWNER_IP:-}"

if [[ -z "$OWNER_IP" ]]; then
  echo "error: set OWNER_IP to your own public address, or you lock yourself out of SSH" >&2
  echo "       e.g.  sudo OWNER_IP=203.0.113.7 $0" >&2
  exit 2
fi
IFS=',' read -r -a OWNERS <<< "${OWNER_IP// /}"
for ip in "${OWNERS[@]}"; do
  if [[ ! "$ip" =~ ^[0-9a-fA-F:.]+(/[0-9]{1,3})?$ ]]; then
    echo "error: OWNER_IP entry '$ip' is not an IP address or CIDR" >&2
    exit 2
  fi
done
if [[ "$ACME_HTTP" != "open" && "$ACME_HTTP" != "closed" ]]; then
  echo "error: ACME_HTTP must be 'open' or 'closed', got '$ACME_HTTP'" >&2
  exit 2
fi
if [[ ! "$SSH_PORT" =~ ^[0-9]+$ ]]; then
  echo "error: SSH_PORT must be a number, got '$SSH_PORT'" >&2
  exit 2
fi

run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '%s' "$UFW"
    printf ' %q' "$@"
    printf '\n'
  else
    "$UFW" "$@"
  fi
}

if [[ "$DRY_RUN" == 0 && "$UFW" == "ufw" && "$(id -u)" != 0 ]]; then
  echo "error: run as root (sudo), or with --dry-run to see the commands" >&2
  exit 1
fi

if [[ "$RESET" == 1 ]]; then
  run --force reset
fi
# Owner first: SSH stays reachable from your address before the default policy turns to deny.
for ip in "${OWNERS[@]}"; do
  run allow proto tcp from "$ip" to any port "$SSH_PORT" comment "sheetbot: ssh from owner"
done
run default deny incoming
run default allow outgoing
for ip in "${TRADINGVIEW_IPS[@]}" "${OWNERS[@]}"; do
  run allow proto tcp from "$ip" to any port 443 comment "sheetbot: https"
  if [[ "$ACME_HTTP" == "closed" ]]; then
    run allow proto tcp from "$ip" to any port 80 comment "sheetbot: http"
  fi
done
if [[ "$ACME_HTTP" == "open" ]]; then
  run allow proto tcp to any port 80 comment "sheetbot: http (ACME challenge + redirect)"
fi
run --force enable
run status verbose

# Warn about older rules that open these ports to everyone (they would defeat the allow-list).
if [[ "$DRY_RUN" == 0 ]]; then
  open_ports="443|22|$SSH_PORT"
  [[ "$ACME_HTTP" == "closed" ]] && open_ports="80|$open_ports"
  if "$UFW" status | grep -E "^(${open_ports})(/tcp)?(\s|\(v6\)).*ALLOW.*Anywhere" >&2; then
    echo "warning: the rules above open a sheetbot port to everyone; remove them with" >&2
    echo "         'sudo ufw status numbered' and 'sudo ufw delete N', or re-run with --reset" >&2
  fi
fi
