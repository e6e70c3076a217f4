#!/usr/bin/env bash
# HTTP benchmarks for the foundation's performance goals, on this machine:
#   1. GET /api/agents (10 agents) against a bare hyper server with a fixed body, side by side;
#   2. durable agent creations from 32 connections.
# Usage: scripts/bench-http.sh [seconds per run, default 10] [rounds, default 3]
# Needs wrk (installed from Debian's packages when missing). Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
ROUNDS=${2:-3}
SPAR_PORT=3998
BARE_PORT=3997

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin spar --example bare_hyper

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_spar() { # data dir
  ./target/release/spar serve --access-log off --data-dir "$1" --host 127.0.0.1 --port $SPAR_PORT \
    --rate-limit-api 0 --rate-limit-webhooks 0 --log-format json 2>"$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPAR_PORT/health" >/dev/null && return; sleep 0.05; done
  echo "spar did not start" >&2; exit 1
}
rps() { awk '/Requests\/sec/{print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"

# --- reads -------------------------------------------------------------------------------
start_spar "$work/read"
spar_pid=${pids[-1]}
./target/release/examples/bare_hyper 127.0.0.1:$BARE_PORT 2>/dev/null &
pids+=($!)
bare_pid=$!
sleep 0.3
for i in $(seq 0 9); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$SPAR_PORT/api/agents" \
    -H 'content-type: application/json' -d "{\"name\":\"bench-agent-$i\",\"type\":\"task\"}"
done
bare=(); spar=()
for r in $(seq "$ROUNDS"); do
  bare+=("$(wrk -t2 -c64 -d"${DUR}s" "http://127.0.0.1:$BARE_PORT/api/agents" | rps)")
  spar+=("$(wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$SPAR_PORT/api/agents" | tee "$work/spar-read.txt" | rps)")
  echo "round $r: bare ${bare[-1]} req/s, spar ${spar[-1]} req/s"
done
bare_med=$(printf '%s\n' "${bare[@]}" | median)
spar_med=$(printf '%s\n' "${spar[@]}" | median)
echo "GET /api/agents median: spar $spar_med req/s, bare hyper $bare_med req/s, ratio $(awk -v a="$spar_med" -v b="$bare_med" 'BEGIN{printf "%.0f%%", 100*a/b}')"
echo "spar latency (last round): $(awk '/ 50%/{p50=$2} / 99%/{p99=$2} END{print "p50 " p50 ", p99 " p99}' "$work/spar-read.txt")"
echo "spar RSS after reads: $(awk '/VmRSS/{print $2, $3}' /proc/"$spar_pid"/status)"

kill "$spar_pid" "$bare_pid"; wait "$spar_pid" 2>/dev/null || true

# --- durable writes ----------------------------------------------------------------------
start_spar "$work/write"
write_pid=${pids[-1]}
wrk -t2 -c32 -d"${DUR}s" --latency -s scripts/create_agents.lua "http://127.0.0.1:$SPAR_PORT" >"$work/write.txt"
created=$(awk '/requests in/{print $1}' "$work/write.txt")
failed=$(awk '/Non-2xx/{print $5}' "$work/write.txt")
stored=$(curl -sf "http://127.0.0.1:$SPAR_PORT/health" | sed 's/.*"agents":\([0-9]*\).*/\1/')
echo "POST /api/agents, 32 connections: $(rps <"$work/write.txt") creates/s, $(awk '/ 50%/{p50=$2} / 99%/{p99=$2} END{print "p50 " p50 ", p99 " p99}' "$work/write.txt"), ${failed:-0} non-2xx; $created answered, $stored stored"
echo "spar RSS after writes: $(awk '/VmRSS/{print $2, $3}' /proc/"$write_pid"/status)"
kill -TERM "$write_pid"; wait "$write_pid" 2>/dev/null || true
grep -o '"message":"group commit"[^}]*' "$work/write.log" || true
