#!/usr/bin/env bash
# Installs the Debian 12 packages Safeguard needs to build, test and run.
# Installs only what is missing; needs root (or sudo) only when something is.
# Usage: scripts/deps.sh [--bench]   (--bench adds PostgreSQL and wrk)
set -euo pipefail

pkgs=(build-essential pkg-config meson ninja-build
      libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libgeos-dev libproj-dev libxml2-dev libcurl4-openssl-dev
      libcmocka-dev libpwquality-dev cracklib-runtime python3 sqlite3 curl ca-certificates clang libclang-rt-14-dev
      libxml2-utils python3-aiosmtpd)
# Node.js builds the console (and drives its browser tests); the machine's
# own Node.js is used when it has one, Debian's otherwise. Chromium runs the
# console's end-to-end tests.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
pkgs+=(chromium fonts-dejavu-core)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(postgresql postgresql-contrib wrk redis-server libhiredis-dev postgresql-15-postgis-3 sqlite3 python3-psycopg2)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
