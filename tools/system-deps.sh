#!/bin/sh
# Install the Debian/Ubuntu packages sipcore needs, when some are missing.
#   build:  compilers and the -dev packages pjproject is configured against
#   peers:  the real SIP components the interop tests start on loopback; ip, nft and ss for
#           the fault tests' network namespaces (tests/faults)
# Needs root (or passwordless sudo) only when something is missing.
set -eu

BUILD="build-essential pkg-config python3-venv python3-dev libspeex-dev libspeexdsp-dev libgsm1-dev
       libsrtp2-dev libopus-dev libssl-dev libasound2-dev"
PEERS="kamailio kamailio-presence-modules kamailio-sqlite-modules kamailio-tls-modules sqlite3
       baresip-core coturn sip-tester sipsak openssl procps dnsmasq-base tshark sngrep
       iproute2 nftables"

missing=""
for p in $BUILD $PEERS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && { echo "system-deps: all Debian packages present"; exit 0; }

echo "system-deps: installing:$missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: error: no apt-get; install the equivalents of:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "system-deps: error: missing packages and not root: apt-get install$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
