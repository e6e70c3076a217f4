#!/usr/bin/env bash
# Follows README.md's "first hour" literally on a fresh clone of this commit: builds the release
# binary (or takes one: SPAR_BIN=path/to/spar skips the 8-minute build), starts the server with
# the README's own command from the clone's root, then runs every command of the walkthrough
# block(s) in order with `bash -e`: the first one that fails stops the check.
#
# Needs port 3000 free (the README's examples use it).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

if (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; then
    echo "readme-check: something already listens on port 3000" >&2
    exit 1
fi

# A fresh clone of the commit; outside a git checkout, a copy of the tree without build output.
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    git clone -q "$repo" "$work/spar"
else
    mkdir "$work/spar"
    tar -C "$repo" --exclude=./target --exclude=./spar-data -cf - . | tar -C "$work/spar" -xf -
fi
cd "$work/spar"
if [ -n "${SPAR_BIN:-}" ]; then
    mkdir -p target/release
    cp "$SPAR_BIN" target/release/spar
else
    cargo build --release --locked
fi

# "Run it": the README's command, in the background here.
if [ -n "${SPAR_BIN:-}" ]; then
    ./target/release/spar serve >server.log 2>&1 &
else
    cargo run --release -- serve >server.log 2>&1 &
fi
server=$!
for _ in $(seq 1 200); do
    [ -f spar-data/spar.addr ] && break
    sleep 0.1
done
[ -f spar-data/spar.addr ] || { cat server.log; echo "readme-check: the server did not start" >&2; exit 1; }

# Every ```sh block that follows a `<!-- walkthrough -->` line.
awk '/^<!-- walkthrough -->$/ { want = 1; next }
     want && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { inside = 0; want = 0; next }
     inside { print }' README.md >walkthrough.sh
lines=$(grep -c . walkthrough.sh)
[ "$lines" -gt 20 ] || { echo "readme-check: no walkthrough found in README.md" >&2; exit 1; }

echo "== running the README's walkthrough ($lines lines)"
bash -e -x walkthrough.sh
[ -s spar.backup ] || { echo "readme-check: the backup was not written" >&2; exit 1; }
echo "readme-check: every command of the walkthrough worked"
