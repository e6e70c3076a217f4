#!/usr/bin/env bash
# Durable signed GitHub webhook ingest: 9 KB push deliveries from 64 connections, each verified
# (HMAC over the raw body), deduplicated and recorded (event, audit entry, memory entry, receipt)
# in one fsync'd transaction before its 200. Afterwards, checks every acknowledged delivery is
# stored. Usage: scripts/bench-webhooks.sh [seconds per run, default 10] [rounds, default 3]
# Needs wrk (installed from Debian's packages when missing). Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
ROUNDS=${2:-3}
PORT=3996
SECRET=bench-secret

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
nice -n 19 cargo build --release --quiet --bin spar

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# 9 KB pushes, each body distinct (a per-request nonce, signed per request by the Lua script):
# Spar dedupes identical bodies by their SHA-256, so a fixed body would measure the duplicate path.
python3 scripts/push_body.py "$work/push.prefix"
size=$(( $(wc -c <"$work/push.prefix") + 20 ))

echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== body: $size bytes"
for r in $(seq "$ROUNDS"); do
  dir="$work/round-$r"
  GITHUB_WEBHOOK_SECRET=$SECRET "${CARGO_TARGET_DIR:-target}/release/spar" serve --access-log off --data-dir "$dir" --host 127.0.0.1 \
    --port $PORT --rate-limit-api 0 --rate-limit-webhooks 0 --log-format json 2>"$dir.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.05; done
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/projects" \
    -H 'content-type: application/json' -d '{"repo":"acme/api-gateway"}'
  wrk -t2 -c64 -d"${DUR}s" --latency -s scripts/github_push.lua "http://127.0.0.1:$PORT" \
    -- "$work/push.prefix" "$SECRET" >"$work/wrk.txt"
  acked=$(awk '/acknowledged:/{print $2}' "$work/wrk.txt")
  stored=$(curl -sf "http://127.0.0.1:$PORT/api/audit?action=ci_event&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  echo "round $r: $(awk '/Requests\/sec/{print $2}' "$work/wrk.txt") deliveries/s," \
    "$(awk '/ 50%/{p50=$2} / 99%/{p99=$2} END{print "p50 " p50 ", p99 " p99}' "$work/wrk.txt")," \
    "$(awk '/Non-2xx/{print $5}' "$work/wrk.txt" | grep . || echo 0) non-2xx; acknowledged $acked, stored $stored," \
    "RSS $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
  if [ "$stored" -lt "$acked" ]; then echo "LOST DELIVERIES: $acked acknowledged, $stored stored" >&2; exit 1; fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
  grep -o '"message":"group commit"[^}]*' "$dir.log" || true
done
