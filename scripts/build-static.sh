#!/usr/bin/env bash
# A static, self-contained `spar` for any x86_64 Linux: musl libc, fat LTO, stripped.
#   scripts/build-static.sh            # builds target/x86_64-unknown-linux-musl/dist/spar
# Installs what it needs: the Rust musl target (rustup) and Debian's musl-tools (musl-gcc, for
# the C in mimalloc and ring). Then checks the result: statically linked, `spar version`, and
# `/health` answered by a server started on a temp dir. Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl

rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
if ! command -v musl-gcc >/dev/null; then
  apt-get install -y -qq musl-tools >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq musl-tools >/dev/null; }
fi

cargo build --locked --profile dist --target "$TARGET" --bin spar
bin="${CARGO_TARGET_DIR:-target}/$TARGET/dist/spar"

echo "== $(file -b "$bin")"
if ldd "$bin" 2>&1 | grep -q '=>'; then echo "not static: $(ldd "$bin")" >&2; exit 1; fi
"$bin" version

dir=$(mktemp -d)
"$bin" serve --data-dir "$dir" --host 127.0.0.1 --port 0 --log-format json 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/spar.addr" ] && break; sleep 0.05; done
health=$(curl -sf "http://$(cat "$dir/spar.addr")/health")
echo "== /health: $health"
echo "$health" | grep -q '"status":"ok"'
echo "== size: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1)); idle RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
