#!/usr/bin/env bash
# The load harness (issue 9): one run that measures, side by side on this machine,
#   1. GET /api/agents on Spar and on a bare hyper server with a fixed body;
#   2. durable signed GitHub webhook ingest (8 KB pushes), acknowledged vs stored;
#   3. durable Spike ingest (generic webhook alerts, each opening an incident);
#   4. the audit trail at 1,000,000 entries: cold start, page 1, a `q` search;
# and idle RSS. Prints req/s, p50/p99 and RSS, and writes them to BENCHMARKS.md between the
# `load.sh` markers, with the machine and the command.
#
# Usage: scripts/load.sh [seconds per run, default 10]
#   AUDIT_ENTRIES=1000000  AUDIT_DIR=/tmp/spar-load-audit (seeded once, then reused)
# Needs wrk (installed from Debian's packages when missing) and python3. Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
N=${AUDIT_ENTRIES:-1000000}
AUDIT_DIR=${AUDIT_DIR:-/tmp/spar-load-audit}
PORT=3991
BARE_PORT=3990
SECRET=load-secret

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin spar --example bare_hyper --example seed_audit

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
results="$work/results.md"

start_spar() { # data dir, then extra env as NAME=VALUE
  local dir=$1; shift
  env "$@" ./target/release/spar serve --access-log off --data-dir "$dir" --host 127.0.0.1 --port $PORT \
    --rate-limit-api 0 --rate-limit-webhooks 0 --log-format json 2>"$dir.log" &
  pids+=($!)
  SPAR_PID=$!
  for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return; sleep 0.025; done
  echo "spar did not start" >&2; exit 1
}
stop_spar() { kill -TERM "$SPAR_PID"; wait "$SPAR_PID" 2>/dev/null || true; }
rss() { awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/"$1"/status; }
# "req/s | p50 | p99" of a wrk --latency report.
summary() { awk '/Requests\/sec/{r=$2} / 50%/{p50=$2} / 99%/{p99=$2} END{printf "%s | %s | %s", r, p50, p99}' "$1"; }
row() { echo "| $1 | $2 | $3 |" | tee -a "$results"; }
plain() { row "$1" "$2 | | " "$3"; }

machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $machine"
{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $machine; \`scripts/load.sh $DUR\`"
  echo "(wrk and Spar share the cores; \`-t2 -c64 -d${DUR}s\` unless noted)."
  echo
  echo "| measurement | req/s (or value) | p50 | p99 | notes |"
  echo "|---|---|---|---|---|"
} >"$results"

# --- 1. GET /api/agents, Spar and bare hyper ---------------------------------------------
start_spar "$work/read"
sleep 1
plain "idle RSS, 1 s after start" "$(rss "$SPAR_PID")" "goal: under 30 MB"
./target/release/examples/bare_hyper 127.0.0.1:$BARE_PORT 2>/dev/null &
pids+=($!); BARE_PID=$!
sleep 0.3
for i in $(seq 0 9); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/agents" \
    -H 'content-type: application/json' -d "{\"name\":\"load-agent-$i\",\"type\":\"task\"}"
done
wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$BARE_PORT/api/agents" >"$work/bare.txt"
wrk -t2 -c64 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/api/agents" >"$work/agents.txt"
bare_rps=$(awk '/Requests\/sec/{print $2}' "$work/bare.txt")
spar_rps=$(awk '/Requests\/sec/{print $2}' "$work/agents.txt")
row "bare hyper, fixed body" "$(summary "$work/bare.txt")" "the baseline"
row "GET /api/agents (10 agents)" "$(summary "$work/agents.txt")" "$(awk -v a="$spar_rps" -v b="$bare_rps" 'BEGIN{printf "%.0f%% of bare hyper (goal: at least 70%%)", 100*a/b}'); RSS $(rss "$SPAR_PID")"
kill "$BARE_PID"; stop_spar

# --- 2. signed GitHub webhooks -------------------------------------------------------------
python3 - "$work/push.json" <<'PY'
import json, sys
push = json.load(open("fixtures/github/push.json"))
base = push["commits"][0]
while len(json.dumps(push, indent=2)) < 8192:
    c = dict(base); c["message"] = f"chore: commit {len(push['commits'])}"; push["commits"].append(c)
open(sys.argv[1], "w").write(json.dumps(push, indent=2))
PY
sig=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$work/push.json")
start_spar "$work/hooks" GITHUB_WEBHOOK_SECRET=$SECRET
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/projects" -H 'content-type: application/json' -d '{"repo":"acme/api-gateway"}'
wrk -t2 -c64 -d"${DUR}s" --latency -s scripts/github_push.lua "http://127.0.0.1:$PORT" -- "$work/push.json" "$sig" >"$work/hooks.txt"
acked=$(awk '/acknowledged:/{print $2}' "$work/hooks.txt")
stored=$(curl -sf "http://127.0.0.1:$PORT/api/audit?action=ci_event&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
row "POST /webhooks/github (8 KB signed push, durable)" "$(summary "$work/hooks.txt")" "acknowledged $acked, stored $stored (goal: 10,000/s, p99 under 20 ms, none lost); RSS $(rss "$SPAR_PID")"
[ "$stored" -ge "$acked" ] || { echo "LOST DELIVERIES: $acked acknowledged, $stored stored" >&2; exit 1; }
stop_spar

# --- 3. Spike ingest -----------------------------------------------------------------------
key=$(./target/release/spar api-key create --org default --name load --data-dir "$work/spike" | tail -n 1)
start_spar "$work/spike"
token=$(curl -sf -X POST "http://127.0.0.1:$PORT/integrations/create" -H 'content-type: application/json' \
  -H "x-api-key: $key" -H 'x-team-id: default' -d '{"name":"load","slug":"webhook"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["integration"]["token"])')
wrk -t2 -c64 -d"${DUR}s" --latency -s scripts/spike_ingest.lua "http://127.0.0.1:$PORT" -- "$token" >"$work/spike.txt"
acked=$(awk '/acknowledged:/{print $2}' "$work/spike.txt")
opened=$(curl -sf "http://127.0.0.1:$PORT/api/observability/incidents?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
row "POST /ingest/:token (Spike, one incident per alert)" "$(summary "$work/spike.txt")" "acknowledged $acked, incidents $opened; RSS $(rss "$SPAR_PID")"
stop_spar

# --- 4. audit at N entries -------------------------------------------------------------------
if [ ! -f "$AUDIT_DIR/spar.redb" ]; then
  ./target/release/examples/seed_audit "$AUDIT_DIR" "$N"
fi
started=$(date +%s%N)
./target/release/spar serve --access-log off --data-dir "$AUDIT_DIR" --host 127.0.0.1 --port $PORT --rate-limit-api 0 --log-format json 2>"$work/audit.log" &
pids+=($!); SPAR_PID=$!
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.005; done
cold=$(( ($(date +%s%N) - started) / 1000000 ))
plain "cold start to /health 200 at $N audit entries" "$cold ms" "goal: under 1 s"
wrk -t2 -c4 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/api/audit?limit=20" >"$work/page1.txt"
row "GET /api/audit?limit=20 (page 1, -c4)" "$(summary "$work/page1.txt")" "goal: p99 under 5 ms"
wrk -t2 -c4 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/api/audit?limit=20&q=kafka" >"$work/q.txt"
row "GET /api/audit?limit=20&q=kafka (-c4, 1 % of entries match)" "$(summary "$work/q.txt")" "goal: p99 under 20 ms; RSS $(rss "$SPAR_PID")"
stop_spar

# --- write BENCHMARKS.md -------------------------------------------------------------------
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
echo "== written to BENCHMARKS.md"
