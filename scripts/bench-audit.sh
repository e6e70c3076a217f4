#!/usr/bin/env bash
# Audit at scale: seeds N entries in one org (once; reuses the dir), then measures cold start,
# GET /api/audit page 1, before= at depth 90 % of N, a single-term q, index size and RSS.
# Usage: scripts/bench-audit.sh [entries, default 1000000] [data dir, default /tmp/spar-bench-audit]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIR=${2:-/tmp/spar-bench-audit}
PORT=3994
CONC=${CONC:-4}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin spar --example seed_audit
if [ ! -f "$DIR/spar.redb" ]; then
  ./target/release/examples/seed_audit "$DIR" "$N"
fi

start_ns=$(date +%s%N)
./target/release/spar serve --access-log off --data-dir "$DIR" --host 127.0.0.1 --port $PORT --rate-limit-api 0 --log-format json 2>"$DIR.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.005; done
echo "cold start to /health 200: $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"

depth=$(( N * 9 / 10 ))
before=$(( N - depth + 1 ))
check() { curl -sf "http://127.0.0.1:$PORT$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("total", d["total"], "first seq", d["entries"][0]["seq"] if d["entries"] else None)'; }
echo "page 1: $(check '/api/audit?limit=20')"
echo "before=$before (depth $depth): $(check "/api/audit?limit=20&before=$before")"
echo "q=kafka: $(check '/api/audit?limit=20&q=kafka')  (expected total $(( N / 100 )))"
for url in "/api/audit?limit=20" "/api/audit?limit=20&before=$before" "/api/audit?limit=20&q=kafka" "/api/audit?limit=20&risk=high"; do
  out=$(wrk -t2 -c"$CONC" -d10s --latency "http://127.0.0.1:$PORT$url")
  echo "$url: $(echo "$out" | awk '/Requests\/sec/{r=$2} / 50%/{p50=$2} / 99%/{p99=$2} END{print r " req/s, p50 " p50 ", p99 " p99}')"
done
echo "store: $(du -sh "$DIR/spar.redb" | cut -f1), audit index: $(du -sh "$DIR/index/audit" | cut -f1)"
echo "server RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
