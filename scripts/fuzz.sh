#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# while, seeded with the protocol test cases in tests/fuzz/corpus/.
# Usage: scripts/fuzz.sh [seconds-per-target]   (default 20)
# Prints one "fuzz TARGET: ok|CRASH" line per target; exit 1 on any crash.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
out=build-fuzz
mkdir -p "$out"
flags=(-g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc
       $(pkg-config --cflags jansson libsodium))
libs=($(pkg-config --libs jansson libsodium) -lm)
# Every decoder and every target: a new protocol's decoder and its
# tests/fuzz/fuzz_NAME.c (with tests/fuzz/corpus/NAME/) join by being there.
common=(src/ingest/*.c src/core/util.c src/core/err.c src/core/clock.c src/core/verr.c)
status=0
for f in tests/fuzz/fuzz_*.c; do
  t=$(basename "$f" .c); t=${t#fuzz_}
  if ! clang "${flags[@]}" -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" "${common[@]}" "${libs[@]}" 2>"$out/$t.build.log"; then
    echo "fuzz $t: BUILD FAILED"; cat "$out/$t.build.log"; status=1; continue
  fi
  work="$out/corpus_$t"
  rm -rf "$work"; mkdir -p "$work"; cp tests/fuzz/corpus/$t/* "$work/"
  if "$out/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/$t-" "$work" >"$out/$t.log" 2>&1; then
    echo "fuzz $t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$t.log" || tail -n 1 "$out/$t.log" | cut -c1-80))"
  else
    echo "fuzz $t: CRASH"; tail -n 40 "$out/$t.log"; status=1
  fi
done
exit $status
