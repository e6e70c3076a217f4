#!/usr/bin/env bash
# API fuzzing: schemathesis (from PyPI, in a virtualenv under target/) against a live server's
# own /openapi.json, every operation but the never-ending event stream, checking for server
# errors and response-schema conformance. Fails on any failure, and on any panic or ERROR line
# in the server's log.
#
#   scripts/api-fuzz.sh [path/to/spar]     (default: target/debug/spar, built if missing)
#   SCHEMATHESIS_MAX_TIME=120              seconds of generated traffic
set -euo pipefail
cd "$(dirname "$0")/.."

SPAR="${1:-target/debug/spar}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-120}"
VENV="$PWD/target/schemathesis-venv"
REQUIREMENTS="$PWD/scripts/api-fuzz-requirements.txt"
VERSION=$(sed -n 's/^schemathesis==//p' "$REQUIREMENTS")

[ -x "$SPAR" ] || cargo build --locked
SPAR=$(realpath "$SPAR")
# The whole dependency set is pinned (a new hypothesis once changed what a run does).
if ! "$VENV/bin/pip" freeze 2>/dev/null | diff -q - <(grep -v '^#' "$REQUIREMENTS") >/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --no-deps -r "$REQUIREMENTS"
fi

DATA=$(mktemp -d)
LOG="$DATA/server.log"
cleanup() {
    [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

# A key for the Spike and Potpie dialects, so their operations get past authentication.
KEY=$("$SPAR" api-key create --org default --name api-fuzz --data-dir "$DATA/store" | tail -n 1)

"$SPAR" serve --data-dir "$DATA/store" --host 127.0.0.1 --port 0 \
    --rate-limit-api 0 --rate-limit-webhooks 0 --log-format json 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do
    [ -s "$DATA/store/spar.addr" ] && break
    sleep 0.1
done
ADDR=$(cat "$DATA/store/spar.addr")
echo "spar on $ADDR; schemathesis $VERSION for ${MAX_TIME}s"

# From the temp dir: schemathesis and hypothesis keep their caches (`.schemathesis/`,
# `.hypothesis/`) in the working directory, and a run must not depend on an earlier one.
# One worker: CPython 3.11 can raise a spurious "AST constructor recursion depth mismatch" when
# threads build ASTs at once (a CPython 3.11 bug, fixed in 3.12), which hypothesis does for every strategy.
(cd "$DATA" && "$VENV/bin/schemathesis" run "http://$ADDR/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --header "x-api-key: $KEY" \
    --exclude-operation-id event_stream \
    --max-time "$MAX_TIME" --request-timeout 10 --workers 1 \
    --seed 20261123 --no-color --report-dir "$DATA/report")

if grep -E '"level":"ERROR"|panicked' "$LOG"; then
    echo "the server logged errors or panics during fuzzing" >&2
    exit 1
fi
echo "api-fuzz: no failures"
