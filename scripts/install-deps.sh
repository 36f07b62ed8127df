#!/usr/bin/env bash
# Installs the Debian 12 packages carepath needs to build and test. Idempotent: quiet and quick
# when everything is already there. Needs root (or sudo) only when something is missing.
#   install-deps.sh          what `make build` and `make test` need
#   install-deps.sh fuzz     that, and clang with its libFuzzer and sanitizer runtimes (make fuzz)
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libsqlite3-dev sqlite3 libsodium-dev
  libgtest-dev libgmock-dev libbenchmark-dev valgrind
  curl tzdata
  librsvg2-bin fonts-dejavu-core
)
if [ "${1:-}" = "fuzz" ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
