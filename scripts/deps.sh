#!/bin/sh
# Installs the Debian packages that building and running (`deps.sh run`) or
# also testing and benchmarking (`deps.sh test`) need.
# Silent and fast when everything is there: `make test` calls it every time.
set -eu

# One package per word; add new ones here.
PACKAGES="build-essential pkg-config libevent-dev libjansson-dev libpq-dev libzmq3-dev
libssl-dev libcurl4-openssl-dev libjemalloc-dev postgresql-15 openssl ca-certificates curl"
TEST_PACKAGES="libcmocka-dev python3-pytest python3-requests python3-cryptography wrk prometheus"
[ "${1:-test}" = run ] || PACKAGES="$PACKAGES $TEST_PACKAGES"

missing=
for p in $PACKAGES; do
    # dpkg-query fails for unknown packages and prints e.g. "deinstall ok config-files"
    # for removed ones; only "install ok installed" counts.
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

install="DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing missing Debian packages:$missing" >&2
    sh -c "$install"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "deps: installing missing Debian packages with sudo:$missing" >&2
    sudo -n sh -c "$install"
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: install them as root with:" >&2
    echo "  sudo sh -c '$install'" >&2
    exit 1
fi

# Debian starts a Prometheus service on port 9090 when it installs the package;
# we only need its binaries (promtool, and a private server in tests), and 9090
# is the API's port.
case "$missing" in
*prometheus*)
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        service prometheus stop >/dev/null 2>&1 || true
    fi
    ;;
esac
