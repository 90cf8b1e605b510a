#!/bin/sh
# One entry point for set-up, the demo and the tests, for a fresh Debian 12 machine.
#
#   sh dev.sh setup   install what is missing (apt packages as root, .venv, the package + dev extras)
#   sh dev.sh demo    setup, then `domectl run` on the embedded default (master + 24 IGs, headless)
#   sh dev.sh test    setup, then the whole test suite
#   sh dev.sh bench   setup, then the benchmarks
#
# Idempotent: each step checks first and skips what is already there.
set -eu
cd "$(dirname "$0")"

# chromium: the headless browser the console's test drives (through the playwright package, never
# its own browser download).
APT_PACKAGES="libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri xvfb xauth liblo-tools iproute2 fonts-dejavu-core chromium"
PYTHON="${PYTHON:-python3}"
VENV=".venv"
DEMO_OUT="${DEMO_OUT:-out/demo}"
# A scale at which 24 IGs render on a 2-core machine without a GPU in well under 2 minutes.
DEMO_SCALE="${DEMO_SCALE:-0.125}"
DEMO_FRAMES="${DEMO_FRAMES:-8}"

say() { printf '[dev.sh] %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*"; exit 1
    fi
}

apt_setup() {
    missing=""
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "installing system packages:$missing"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $missing
    fi
}

venv_setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV with $($PYTHON --version 2>&1)"
        if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
            # Debian's own python3 ships venv separately.
            rm -rf "$VENV"
            as_root apt-get update -qq
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv
            "$PYTHON" -m venv "$VENV"
        fi
    fi
    stamp="$VENV/.domectl-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        say "installing domectl and its dev extras into $VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e ".[dev]"
        touch "$stamp"
    fi
}

setup() {
    command -v dpkg-query >/dev/null 2>&1 && apt_setup || say "not a Debian system: skipping apt packages"
    venv_setup
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    demo)
        setup
        exec "$VENV/bin/domectl" run --headless --scale "$DEMO_SCALE" --frames "$DEMO_FRAMES" --out "$DEMO_OUT" "$@"
        ;;
    test)
        setup
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    bench)
        setup
        exec "$VENV/bin/python" -m pytest benchmarks --benchmark-only "$@"
        ;;
    *)
        echo "usage: sh dev.sh setup|demo|test|bench [args...]" >&2
        exit 2
        ;;
esac
