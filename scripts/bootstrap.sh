#!/usr/bin/env bash
# Idempotent set-up of everything spikeport needs on a fresh Debian machine:
# Debian tools (Icarus Verilog, the USB libraries openFPGALoader links against, Chromium
# for the test that opens the HTML reports in a real browser),
# the main virtual environment in .venv/, and - where a python3.10 interpreter exists -
# the lava-nc reference environment in .venv-lava/ (lava-nc 0.10 declares Python < 3.11).
# Quiet when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
LAVA_VENV=.venv-lava

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -----------------------------------------------------------------
# (grep without -q: with pipefail, -q's early exit would make ldconfig's SIGPIPE a failure)
need_apt=()
command -v iverilog >/dev/null 2>&1 || need_apt+=(iverilog)
ldconfig -p 2>/dev/null | grep 'libusb-1.0.so.0' >/dev/null || need_apt+=(libusb-1.0-0)
ldconfig -p 2>/dev/null | grep 'libftdi1.so.2' >/dev/null || need_apt+=(libftdi1-2)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  say "installing Debian packages: ${need_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- main environment ----------------------------------------------------------------
stamp_of() { cat pyproject.toml scripts/bootstrap.sh "$@" 2>/dev/null | sha1sum | cut -c1-16; }
want=$(stamp_of)
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$VENV/.spikeport-stamp" 2>/dev/null)" != "$want" ]; then
  say "installing spikeport and its dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e ".[brian2,hdl,dse,dev,pynn-examples,nir-frameworks]"
  echo "$want" > "$VENV/.spikeport-stamp"
fi

# --- lava-nc reference environment (Python 3.10) --------------------------------------
# A pyenv shim named python3.10 may exist without being runnable (pyenv's global version
# is another one), so look for an interpreter that actually starts.
find_python310() {
  local cand
  for cand in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -rV); do
      cand="$(pyenv root)/versions/$v/bin/python3.10"
      if [ -x "$cand" ]; then echo "$cand"; return 0; fi
    done
  fi
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if [ -x "$cand" ]; then echo "$cand"; return 0; fi
  done
  return 1
}

if PY310=$(find_python310); then
  lava_want=$(stamp_of requirements-lava.txt)
  if [ ! -x "$LAVA_VENV/bin/python" ]; then
    say "creating $LAVA_VENV with $("$PY310" --version) for the lava-nc reference"
    "$PY310" -m venv "$LAVA_VENV"
  fi
  if [ "$(cat "$LAVA_VENV/.spikeport-stamp" 2>/dev/null)" != "$lava_want" ]; then
    say "installing lava-nc into $LAVA_VENV"
    "$LAVA_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$LAVA_VENV/bin/python" -m pip install -q -r requirements-lava.txt
    echo "$lava_want" > "$LAVA_VENV/.spikeport-stamp"
  fi
fi

# --- PyNN's own example scripts and system tests (tests/external runs them) -----------
# They ship in PyNN's source package only, not in the wheel; fetch it once and keep its
# examples/ and its backend-independent scenario tests (test/system/scenarios) beside the
# environment.  Each has its own stamp, so an environment that has one gets the other.
PYNN_VERSION=0.13.0
PYNN_EXAMPLES="$VENV/share/pynn-examples"
PYNN_SCENARIOS="$VENV/share/pynn-scenarios"
if [ ! -f "$PYNN_EXAMPLES/.pynn-$PYNN_VERSION" ] || [ ! -f "$PYNN_SCENARIOS/.pynn-$PYNN_VERSION" ]
then
  say "fetching PyNN $PYNN_VERSION example scripts and scenario tests into $VENV/share"
  tmp=$(mktemp -d)
  if "$VENV/bin/python" -m pip download -q --no-binary :all: --no-deps \
      "pynn==$PYNN_VERSION" -d "$tmp" >/dev/null 2>&1; then
    tar -xzf "$tmp"/pynn-"$PYNN_VERSION".tar.gz -C "$tmp"
    rm -rf "$PYNN_EXAMPLES" && mkdir -p "$PYNN_EXAMPLES"
    cp -r "$tmp/pynn-$PYNN_VERSION/examples/." "$PYNN_EXAMPLES/"
    touch "$PYNN_EXAMPLES/.pynn-$PYNN_VERSION"
    # a package named 'scenarios' (its modules import each other relatively)
    rm -rf "$PYNN_SCENARIOS" && mkdir -p "$PYNN_SCENARIOS"
    cp -r "$tmp/pynn-$PYNN_VERSION/test/system/scenarios" "$PYNN_SCENARIOS/"
    touch "$PYNN_SCENARIOS/.pynn-$PYNN_VERSION"
  else
    say "could not download the PyNN $PYNN_VERSION sdist; tests/external will be skipped"
  fi
  rm -rf "$tmp"
fi
