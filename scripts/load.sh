#!/usr/bin/env bash
# The load harness (issues 9 and 17): one run that measures, side by side on this machine and
# interleaved with bare hyper baselines (examples/bare_hyper: GET with a fixed body;
# examples/bare_hyper_post: POST reading the body), and prints every ratio:
#   1. idle RSS; GET /api/agents (10 agents) between two bare GET runs;
#   2. durable signed GitHub ingest (9 KB pushes, each body distinct and signed per request by
#      scripts/github_push.lua), a burst of INGEST_DUR seconds between two bare POST runs with
#      the same bodies: acknowledged vs stored, peak RSS, and how long the search indexes take
#      to hold every delivery after the burst;
#   3. durable Spike ingest (each alert opens an incident) between two bare POST runs with the
#      same bodies;
#   4. the audit trail at AUDIT_ENTRIES entries (seeded once by examples/seed_audit, reused):
#      cold start after a clean stop and after kill -9, page 1, a 1 % `q`, filtered listings,
#      disk bytes per entry and seeding time.
# The ratio's baseline is the mean of the two bare runs around each Spar run. Every server runs
# with `--access-log off` (the log costs about 30 % of GET throughput; BENCHMARKS.md).
#
# Usage: scripts/load.sh [seconds per run, default 10]
#   INGEST_DUR=60  AUDIT_ENTRIES=10000000  AUDIT_DIR=/work/bench-data/audit-<N>  SKIP_AUDIT=1
#   NO_WRITE=1 (print only, leave BENCHMARKS.md alone)  SKIP_BUILD=1 (use the binaries built)
#   LOAD_RESULTS=file (a copy of the run's table)
# Needs wrk (installed from Debian's packages when missing) and python3. Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
INGEST_DUR=${INGEST_DUR:-60}
N=${AUDIT_ENTRIES:-10000000}
AUDIT_DIR=${AUDIT_DIR:-/work/bench-data/audit-$N}
TARGET=${CARGO_TARGET_DIR:-target}/release
PORT=3991
BARE_PORT=3990
BARE_POST_PORT=3989
SECRET=load-secret

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
[ -n "${SKIP_BUILD:-}" ] || nice -n 19 cargo build --release --quiet --bin spar --example bare_hyper --example bare_hyper_post --example seed_audit

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
results="$work/results.md"

start_spar() { # data dir, then extra env as NAME=VALUE
  local dir=$1; shift
  env "$@" "$TARGET/spar" serve --access-log off --data-dir "$dir" --host 127.0.0.1 --port $PORT \
    --rate-limit-api 0 --rate-limit-webhooks 0 --log-format json >/dev/null 2>>"$dir.log" &
  pids+=($!)
  SPAR_PID=$!
  for _ in $(seq 2000); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.005; done
  echo "spar did not start" >&2; exit 1
}
stop_spar() { kill -TERM "$SPAR_PID"; wait "$SPAR_PID" 2>/dev/null || true; }
rss_kb() { awk '/VmRSS/{print $2}' /proc/"$1"/status; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f MB", k/1024}'; }
# Samples a process's RSS every 0.2 s into a file until stopped; peak_rss reads the maximum.
watch_rss() { (while kill -0 "$1" 2>/dev/null; do rss_kb "$1" >>"$2" 2>/dev/null || true; sleep 0.2; done) & WATCH_PID=$!; }
peak_rss() { kill "$WATCH_PID" 2>/dev/null || true; wait "$WATCH_PID" 2>/dev/null || true; sort -n "$1" | tail -1; }
rps() { awk '/Requests\/sec/{print $2}' "$1"; }
# "req/s | p50 | p99" of a wrk --latency report.
summary() { awk '/Requests\/sec/{r=$2} / 50%/{p50=$2} / 99%/{p99=$2} END{printf "%s | %s | %s", r, p50, p99}' "$1"; }
errors() { awk '/Non-2xx/{n=$5} /Socket errors/{s=$0} END{printf "%s", (n==""?"0 non-2xx":n" non-2xx") (s==""?"":"; " s)}' "$1"; }
row() { echo "| $1 | $2 | $3 |" | tee -a "$results"; }
plain() { row "$1" "$2 | | " "$3"; }
pct() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN{printf "%.1f%%", 200*a/(b+c)}'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $machine; load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $machine; \`scripts/load.sh $DUR\` (INGEST_DUR=$INGEST_DUR)."
  echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg). wrk and the servers share the cores; \`wrk -t2 -c64\` unless noted; ratios against the mean of the bare runs on either side."
  echo
  echo "| measurement | req/s (or value) | p50 | p99 | notes |"
  echo "|---|---|---|---|---|"
} >"$results"

# --- 1. GET /api/agents between two bare GET runs -------------------------------------------
start_spar "$work/read"
sleep 1
plain "idle RSS, 1 s after start" "$(mb "$(rss_kb "$SPAR_PID")")" "goal: under 20 MB"
"$TARGET/examples/bare_hyper" 127.0.0.1:$BARE_PORT 2>/dev/null &
pids+=($!); BARE_PID=$!
sleep 0.3
for i in $(seq 0 9); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/agents" \
    -H 'content-type: application/json' -d "{\"name\":\"load-agent-$i\",\"type\":\"task\"}"
done
wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$BARE_PORT/api/agents" >"$work/bare1.txt"
wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/api/agents" >"$work/agents.txt"
wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$BARE_PORT/api/agents" >"$work/bare2.txt"
row "bare hyper GET, fixed body (before / after)" "$(rps "$work/bare1.txt") / $(rps "$work/bare2.txt") | $(awk '/ 50%/{print $2}' "$work/bare1.txt") | $(awk '/ 99%/{print $2}' "$work/bare1.txt")" "the baseline"
row "GET /api/agents (10 agents)" "$(summary "$work/agents.txt")" "**$(pct "$(rps "$work/agents.txt")" "$(rps "$work/bare1.txt")" "$(rps "$work/bare2.txt")") of bare GET** (goal: at least 80%); RSS $(mb "$(rss_kb "$SPAR_PID")")"
kill "$BARE_PID"; stop_spar

# --- 2. signed GitHub ingest between two bare POST runs --------------------------------------
python3 scripts/push_body.py "$work/push.prefix"
body_bytes=$(( $(wc -c <"$work/push.prefix") + 20 ))
"$TARGET/examples/bare_hyper_post" 127.0.0.1:$BARE_POST_PORT 2>/dev/null &
pids+=($!); BARE_POST_PID=$!
sleep 0.3
push() { wrk -t2 -c64 -d"$1s" --latency -s scripts/github_push.lua "http://127.0.0.1:$2" -- "$work/push.prefix" "$SECRET"; }
push "$DUR" $BARE_POST_PORT >"$work/bpost1.txt"
start_spar "$work/hooks" GITHUB_WEBHOOK_SECRET=$SECRET
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/projects" -H 'content-type: application/json' -d '{"repo":"acme/api-gateway"}'
watch_rss "$SPAR_PID" "$work/hooks.rss"
push "$INGEST_DUR" $PORT >"$work/hooks.txt"
burst_end=$(date +%s%N)
peak=$(peak_rss "$work/hooks.rss")
acked=$(awk '/acknowledged:/{print $2}' "$work/hooks.txt")
stored=$(curl -sf "http://127.0.0.1:$PORT/api/audit?action=ci_event&limit=1" | json 'd["total"]')
memories=$(curl -sf "http://127.0.0.1:$PORT/api/memory" | json 'd["vectorStore"]["totalEmbeddings"]')
# Caught up: a `q` search (answered by the index alone) finds every stored delivery, in both
# indexes. Each search waits for its index (at most 3 s), so the loop ends when both hold all.
caught=
for _ in $(seq 200); do
  a=$(curl -sf "http://127.0.0.1:$PORT/api/audit?action=ci_event&q=acme&limit=1" | json 'd["total"]')
  m=$(curl -sf "http://127.0.0.1:$PORT/api/memory/search?q=acme&limit=1" | json 'd["total"]')
  if [ "$a" -ge "$stored" ] && [ "$m" -ge "$memories" ]; then caught=$(( ($(date +%s%N) - burst_end) / 1000000 )); break; fi
  sleep 0.1
done
stop_spar
grep -o '"message":"group commit"[^}]*' "$work/hooks.log" | tail -1 >"$work/hooks.writer" || true
push "$DUR" $BARE_POST_PORT >"$work/bpost2.txt"
row "bare hyper POST, ${body_bytes}-byte signed pushes (before / after)" "$(rps "$work/bpost1.txt") / $(rps "$work/bpost2.txt") | $(awk '/ 50%/{print $2}' "$work/bpost1.txt") | $(awk '/ 99%/{print $2}' "$work/bpost1.txt")" "the baseline"
row "POST /webhooks/github (signed, durable, ${INGEST_DUR} s)" "$(summary "$work/hooks.txt")" "**$(pct "$(rps "$work/hooks.txt")" "$(rps "$work/bpost1.txt")" "$(rps "$work/bpost2.txt")") of bare POST** (goal: 25%, p99 under 20 ms); acknowledged $acked, stored $stored, $(errors "$work/hooks.txt"); indexes caught up ${caught:-NOT within 20 s} ms after the burst (goal: 10 s); peak RSS $(mb "$peak") (goal: 150 MB)"
[ "$stored" -ge "$acked" ] || { echo "LOST DELIVERIES: $acked acknowledged, $stored stored" >&2; exit 1; }
if [ -s "$work/hooks.writer" ]; then
  plain "group commit during the burst" "$(python3 -c 'import json,sys; d=json.loads("{"+sys.argv[1]+"}"); print("%.1f jobs/batch, run %d us, commit %d us" % (d["avg_batch"], d["avg_run_micros"], d["avg_commit_micros"]))' "$(cat "$work/hooks.writer")")" "$(tr -d '"' <"$work/hooks.writer")"
fi

# --- 3. Spike ingest between two bare POST runs ------------------------------------------------
spike() { wrk -t2 -c64 -d"${DUR}s" --latency -s scripts/spike_ingest.lua "http://127.0.0.1:$1" -- "$2"; }
spike $BARE_POST_PORT tok >"$work/bspike1.txt"
key=$("$TARGET/spar" api-key create --org default --name load --data-dir "$work/spike" | tail -n 1)
start_spar "$work/spike"
token=$(curl -sf -X POST "http://127.0.0.1:$PORT/integrations/create" -H 'content-type: application/json' \
  -H "x-api-key: $key" -H 'x-team-id: default' -d '{"name":"load","slug":"webhook"}' | json 'd["integration"]["token"]')
watch_rss "$SPAR_PID" "$work/spike.rss"
spike $PORT "$token" >"$work/spike.txt"
peak=$(peak_rss "$work/spike.rss")
acked=$(awk '/acknowledged:/{print $2}' "$work/spike.txt")
opened=$(curl -sf "http://127.0.0.1:$PORT/api/observability/incidents?limit=1" | json 'd["total"]')
stop_spar
spike $BARE_POST_PORT tok >"$work/bspike2.txt"
kill "$BARE_POST_PID"
row "bare hyper POST, Spike alert bodies (before / after)" "$(rps "$work/bspike1.txt") / $(rps "$work/bspike2.txt") | $(awk '/ 50%/{print $2}' "$work/bspike1.txt") | $(awk '/ 99%/{print $2}' "$work/bspike1.txt")" "the baseline"
row "POST /ingest/:token (Spike, one incident per alert)" "$(summary "$work/spike.txt")" "**$(pct "$(rps "$work/spike.txt")" "$(rps "$work/bspike1.txt")" "$(rps "$work/bspike2.txt")") of bare POST** (goal: 25%); acknowledged $acked, incidents $opened, $(errors "$work/spike.txt"); peak RSS $(mb "$peak")"
[ "$opened" -ge "$acked" ] || { echo "LOST ALERTS: $acked acknowledged, $opened incidents" >&2; exit 1; }

# --- 4. audit at N entries -------------------------------------------------------------------
if [ -z "${SKIP_AUDIT:-}" ]; then
  if [ ! -f "$AUDIT_DIR/seeded.txt" ]; then
    rm -rf "$AUDIT_DIR"; mkdir -p "$(dirname "$AUDIT_DIR")"
    s=$(date +%s)
    "$TARGET/examples/seed_audit" "$AUDIT_DIR" "$N" 2>&1 | tail -1 | tee "$AUDIT_DIR.seedlog"
    echo "$(( $(date +%s) - s )) s in all; $(cat "$AUDIT_DIR.seedlog")" >"$AUDIT_DIR/seeded.txt"
  fi
  store_bytes=$(stat -c %s "$AUDIT_DIR/spar.redb")
  index_bytes=$(du -sb "$AUDIT_DIR/index/audit" | cut -f1)
  plain "audit at $N entries: disk" "$(awk -v s="$store_bytes" -v i="$index_bytes" -v n="$N" 'BEGIN{printf "%.0f B/entry", (s+i)/n}')" "store $(awk -v s="$store_bytes" 'BEGIN{printf "%.2f GB", s/1e9}') + audit index $(awk -v s="$index_bytes" 'BEGIN{printf "%.0f MB", s/1e6}'); seeding: $(cat "$AUDIT_DIR/seeded.txt")"
  cold() { # starts spar on the audit dir; COLD_MS: the ms to /health 200
    local t0; t0=$(date +%s%N)
    start_spar "$AUDIT_DIR"
    COLD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  }
  # A start and a clean stop first, so the measured start follows a clean stop.
  start_spar "$AUDIT_DIR"; stop_spar
  cold; plain "cold start to /health 200 after a clean stop" "$COLD_MS ms" "goal: under 1 s (page cache warm)"
  aw() { wrk -t2 -c4 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/api/audit?$1" >"$work/a.txt"; row "GET /api/audit?$1 (-c4)" "$(summary "$work/a.txt")" "$2"; }
  total=$(curl -sf "http://127.0.0.1:$PORT/api/audit?q=kafka&limit=1" | json 'd["total"]')
  aw "limit=20" "page 1; goal: p99 under 5 ms"
  aw "limit=20&q=kafka" "$total matches (1 %); goal: p99 under 20 ms"
  total=$(curl -sf "http://127.0.0.1:$PORT/api/audit?actorId=agent-task-000042&limit=1" | json 'd["total"]')
  aw "limit=20&actorId=agent-task-000042" "filtered, $total matches; goal: p99 under 20 ms"
  total=$(curl -sf "http://127.0.0.1:$PORT/api/audit?risk=high&limit=1" | json 'd["total"]')
  aw "limit=20&risk=high" "filtered, $total matches (10 %); goal: p99 under 20 ms; RSS $(mb "$(rss_kb "$SPAR_PID")")"
  # Writes in flight, then kill -9: the next start repairs the store and catches the index up.
  curls=()
  for i in $(seq 50); do
    curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/api/agents" -H 'content-type: application/json' \
      -d "{\"name\":\"kill-$(date +%s%N)-$i\",\"type\":\"task\"}" &
    curls+=($!)
  done
  for c in "${curls[@]}"; do wait "$c" 2>/dev/null || true; done
  # The writer saves redb's allocator state 50 ms after its last commit (src/store/writer.rs).
  sleep 0.5
  kill -9 "$SPAR_PID"; wait "$SPAR_PID" 2>/dev/null || true
  cold; plain "cold start to /health 200 after kill -9, 0.5 s after 50 writes" "$COLD_MS ms" "goal: under 3 s"
  # kill -9 in the middle of a burst of creates (32 connections), when the commit in flight has
  # jobs queued behind it and so did not save redb's allocator state (src/store/writer.rs).
  wrk -t2 -c32 -d4s -s scripts/create_agents.lua "http://127.0.0.1:$PORT" >/dev/null 2>&1 &
  burst=$!
  sleep 2
  kill -9 "$SPAR_PID"; wait "$SPAR_PID" 2>/dev/null || true
  wait "$burst" 2>/dev/null || true
  cold; plain "cold start to /health 200 after kill -9 mid-burst" "$COLD_MS ms" "goal: under 3 s"
  stop_spar
fi

# --- write BENCHMARKS.md -------------------------------------------------------------------
[ -n "${NO_WRITE:-}" ] && exit 0
python3 - "$results" <<'PY'
import sys, re
table = open(sys.argv[1]).read().rstrip() + "\n"
path = "BENCHMARKS.md"
text = open(path).read()
begin, end = "<!-- load.sh:begin -->", "<!-- load.sh:end -->"
block = f"{begin}\n{table}{end}"
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text += f"\n## The load harness: `scripts/load.sh`\n\n{block}\n"
open(path, "w").write(text)
PY
cp "$results" "${LOAD_RESULTS:-/dev/null}" 2>/dev/null || true
echo "== written to BENCHMARKS.md"
