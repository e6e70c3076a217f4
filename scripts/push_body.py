#!/usr/bin/env python3
"""Writes the prefix of the load's GitHub push bodies (scripts/github_push.lua appends a nonce).

The push fixture with commits added until the body is about SIZE bytes (default 9000), pretty
printed as GitHub sends it, ending in `"loadNonce": ` and padded with spaces to a multiple of 64
bytes, so the Lua script can sign each request's body by hashing only its tail.
Usage: scripts/push_body.py OUT [SIZE]
"""
import json
import sys

out, size = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 9000
push = json.load(open("fixtures/github/push.json"))
base = push["commits"][0]
while len(json.dumps(push, indent=2)) < size - 96:
    c = dict(base)
    c["message"] = f"chore: commit {len(push['commits'])}"
    push["commits"].append(c)
text = json.dumps(push, indent=2)
assert text.endswith("\n}") or text.endswith("}")
head = text.rstrip()[:-1].rstrip() + ","
key = '\n  "loadNonce": '
pad = (-(len(head) + len(key))) % 64
prefix = head + " " * pad + key
assert len(prefix) % 64 == 0
open(out, "w").write(prefix)
