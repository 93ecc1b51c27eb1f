#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the demo on the
# embedded store: http://127.0.0.1:8080 with the demo logins printed.
# Extra arguments go to `safeguard demo` (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec build/safeguard demo "$@"
