#!/usr/bin/env bash
# Where durable ingest spends the CPU: the OsmAnd listener under the same load
# as bench/positions.sh section 3 (wrk, 64 keep-alive connections, 1,000
# devices each reporting in time order), then per server thread the CPU time
# per stored report (from /proc/PID/task/*/stat), and the group commits.
# No peer: this is a profile, not a comparison; bench/positions.sh has those.
# Usage: bench/ingest_cpu.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/ingest_server.sh
DUR=${1:-10}
scripts/deps.sh --bench
scripts/build.sh
WORK=$(mktemp -d /tmp/sg-ingest-cpu-XXXXXX)
PORT=$((20000 + RANDOM % 20000)); OPORT=$((PORT + 3))
cleanup() {
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ingest_server "$WORK/sg" "$PORT" "$OPORT" "$WORK/sg.log"
enrol_devices 1000 "$WORK/keys"

cpu() { # thread id, name, CPU ticks
  for t in /proc/"$SG_PID"/task/*; do echo "${t##*/} $(cat "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done | sort
}
metric() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu > "$WORK/cpu0"
c0=$(metric safeguard_store_commits_total); w0=$(metric safeguard_store_writes_total)
SG_KEYS_FILE="$WORK/keys" SG_INGEST_PATH=/ SG_TIME_BASE=1700000000 wrk -t2 -c64 -d"${DUR}s" -s bench/ingest.lua \
  "http://127.0.0.1:$OPORT" | grep '^RESULT'
cpu > "$WORK/cpu1"
c1=$(metric safeguard_store_commits_total); w1=$(metric safeguard_store_writes_total)
writes=$((w1 - w0)); commits=$((c1 - c0))
echo "stored $writes reports in $commits commits ($(awk -v w=$writes -v c=$commits 'BEGIN {printf "%.1f", w / c}') per commit)"
TICK=$(getconf CLK_TCK)
join "$WORK/cpu0" "$WORK/cpu1" | awk -v w="$writes" -v hz="$TICK" '
  { d = ($5 - $3) / hz; if (d > 0) { printf "thread %-8s %-12s %6.2f s CPU  %6.1f us/report\n", $1, $2, d, d * 1e6 / w; s += d } }
  END { printf "server in all            %6.2f s CPU  %6.1f us/report\n", s, s * 1e6 / w }'
