#!/usr/bin/env bash
# README command 2: install what is missing, build (plain, ASan+UBSan and
# ThreadSanitizer), run every test, and end with the line
# "N passed, N failed". Exit status 0 only when nothing failed.
#
# Two lanes run side by side (two cores):
# The console's end-to-end tests (tests/browser: Debian's Chromium driven by
# playwright-core against the real binary) run in both lanes, after the API
# tests, on the plain and on the ASan+UBSan builds.
#   lane 1: unit and API tests on the plain build; the unit tests and the
#           concurrency-heavy API tests (ingest under load on both listeners,
#           streams with revocations, SIGTERM and SIGKILL under load) on the
#           ThreadSanitizer build
#   lane 2: unit and API tests on the ASan+UBSan build; the fuzz targets
# The fault-injection test fails every Nth operation and loses power 1,000
# times on the plain build; under the sanitizers (ten times slower) every
# 7th operation and 200 times (SG_FAULT_STRIDE, SG_POWER_LOSS_RUNS).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
scripts/build.sh --asan --tsan || exit 1

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
TSAN_API="sigkill,sigterm,stream,dedicated,follow_the_account,slow_clients,leave_nothing,no_sanitizer"

work=$(mktemp -d /tmp/sg-test-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Each step appends "label|passed|failed" to its lane's tally.
unit() { # dir label tally [sanitizer]
  local out ok fail to runs=1000 stride=1
  [[ -n "${4:-}" ]] && runs=200 stride=7
  out=$(SG_POWER_LOSS_RUNS=$runs SG_FAULT_STRIDE=$stride meson test -C "$1" --suite unit --print-errorlogs 2>&1)
  echo "$out" | grep -E '^ *[0-9]+/[0-9]+ ' | sed "s/^/[$2] /"
  ok=$(echo "$out" | awk '/^Ok:/ {print $2}')
  fail=$(echo "$out" | awk '/^Fail:/ {print $2}')
  to=$(echo "$out" | awk '/^Timeout:/ {print $2}')
  if [[ -z "$ok" ]]; then echo "$out"; fail=$((${fail:-0} + 1)); fi
  [[ "${fail:-0}" != 0 || "${to:-0}" != 0 ]] && echo "$out" | sed -n '/Listing only the last/,$p' | head -100
  echo "$2 unit|${ok:-0}|$((${fail:-0} + ${to:-0}))" >>"$3"
}
# A suite that ends with "N passed, N failed": its lines, then its tally.
suite() { # kind label tally command...
  local kind=$1 label=$2 tally=$3 out line
  shift 3
  out=$("$@" 2>&1)
  echo "$out" | sed "s/^/[$label] /" | grep -v ' passed, [0-9]* failed$'
  line=$(echo "$out" | tail -n 1)
  if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    echo "$label $kind|${BASH_REMATCH[1]}|${BASH_REMATCH[2]}" >>"$tally"
  else
    echo "$label $kind|0|1" >>"$tally"
  fi
}
# Debian's Python: the packages deps.sh installs (python3-aiosmtpd) are its.
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3
api() { # binary label tally [-k patterns]
  SAFEGUARD_BIN="$1" suite api "$2" "$3" "$PY" tests/api/run.py ${4:+-k "$4"}
}
browser() { # binary label tally
  SAFEGUARD_BIN="$1" suite browser "$2" "$3" node tests/browser/run.mjs
}
fuzz() { # tally
  local line p=0 f=0
  while read -r line; do
    echo "$line"
    case "$line" in
      "fuzz "*": ok"*) p=$((p + 1)) ;;
      "fuzz "*) f=$((f + 1)) ;;
    esac
  done < <(scripts/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1)
  echo "fuzz|$p|$f" >>"$1"
}

t0=$SECONDS
(
  unit build plain "$work/tally1"
  api "$PWD/build/safeguard" plain "$work/tally1"
  browser "$PWD/build/safeguard" plain "$work/tally1"
  unit build-tsan tsan "$work/tally1" sanitizer
  api "$PWD/build-tsan/safeguard" tsan "$work/tally1" "$TSAN_API"
) >"$work/lane1.log" 2>&1 &
lane1=$!
(
  unit build-asan asan "$work/tally2" sanitizer
  api "$PWD/build-asan/safeguard" asan "$work/tally2"
  browser "$PWD/build-asan/safeguard" asan "$work/tally2"
  fuzz "$work/tally2"
) >"$work/lane2.log" 2>&1 &
lane2=$!
wait $lane1 $lane2

echo "== lane 1: plain build, ThreadSanitizer build"
cat "$work/lane1.log"
echo "== lane 2: ASan+UBSan build, fuzz targets"
cat "$work/lane2.log"
echo "== summary ($((SECONDS - t0)) s for the tests)"
passed=0 failed=0
while IFS='|' read -r label p f; do
  printf '%-14s %4d passed, %d failed\n' "$label" "$p" "$f"
  passed=$((passed + p)); failed=$((failed + f))
done < <(cat "$work/tally1" "$work/tally2" 2>/dev/null)
# a lane that died before it wrote its tally fails the run
for t in tally1 tally2; do [[ -s "$work/$t" ]] || failed=$((failed + 1)); done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
