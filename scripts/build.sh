#!/usr/bin/env bash
# Builds Safeguard into build/ (and, with --asan, an AddressSanitizer +
# UndefinedBehaviorSanitizer build into build-asan/; with --tsan, a
# ThreadSanitizer build into build-tsan/). Warnings are errors. The console's
# npm packages are installed first (scripts/web.sh) and bundled into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/web.sh

setup() { # dir [meson options...]
  local dir=$1; shift
  if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

setup build
for arg in "$@"; do
  case "$arg" in
    --asan) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug ;;
    --tsan) setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug ;;
    *) echo "usage: scripts/build.sh [--asan] [--tsan]" >&2; exit 2 ;;
  esac
done
