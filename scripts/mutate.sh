#!/usr/bin/env bash
# The mutation check of the test suite (not part of CI): see scripts/mutate.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec python3 scripts/mutate.py "$@"
