#!/usr/bin/env bash
# README command 2: install what is missing, build (normal and
# ASan+UBSan), run every test against both builds. Ends with the line
# "N passed, N failed". Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
scripts/build.sh --asan || exit 1

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

passed=0 failed=0
count_meson() { # dir label
  local out
  out=$(meson test -C "$1" --suite unit --print-errorlogs 2>&1)
  echo "$out" | grep -E '^ *[0-9]+/[0-9]+ ' | sed "s/^/[$2] /"
  local ok fail
  ok=$(echo "$out" | awk '/^Ok:/ {print $2}')
  fail=$(echo "$out" | awk '/^Fail:/ {print $2}')
  local to; to=$(echo "$out" | awk '/^Timeout:/ {print $2}')
  if [[ -z "$ok" ]]; then echo "$out"; fail=$((${fail:-0} + 1)); fi
  passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0} + ${to:-0}))
  [[ "${fail:-0}" != 0 ]] && echo "$out" | sed -n '/Listing only the last/,$p' | head -100
  return 0
}
count_api() { # binary label
  local out
  out=$(SAFEGUARD_BIN="$1" python3 tests/api/run.py 2>&1)
  echo "$out" | sed "s/^/[$2] /" | grep -v ' passed, [0-9]* failed$'
  local line; line=$(echo "$out" | tail -n 1)
  if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
  else
    failed=$((failed + 1))
  fi
}

echo "== unit tests (build)"
count_meson build plain
echo "== unit tests (ASan+UBSan)"
count_meson build-asan asan
echo "== API tests (build)"
count_api "$PWD/build/safeguard" plain
echo "== API tests (ASan+UBSan)"
count_api "$PWD/build-asan/safeguard" asan

echo "== fuzz targets (libFuzzer, ASan+UBSan, ${FUZZ_SECONDS:-20}s each)"
while read -r line; do
  echo "$line"
  case "$line" in
    "fuzz "*": ok"*) passed=$((passed + 1)) ;;
    "fuzz "*) failed=$((failed + 1)) ;;
  esac
done < <(scripts/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1)

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
