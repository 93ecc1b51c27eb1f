#!/usr/bin/env bash
# Builds Safeguard into build/ (and, with --asan, an AddressSanitizer +
# UndefinedBehaviorSanitizer build into build-asan/). Warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

setup() { # dir [meson options...]
  local dir=$1; shift
  if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}

setup build
if [[ "${1:-}" == "--asan" ]]; then
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi
