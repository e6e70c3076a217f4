-- wrk script: signed GitHub push deliveries, every one with a body of its own.
--
-- Spar recognises a replayed body by its SHA-256 (docs/API.md §3), so a load of identical
-- bodies would measure the duplicate path. Each request's body is the prefix written by
-- scripts/push_body.py (a 9 KB pretty-printed push, padded to a multiple of 64 bytes) followed
-- by a per-request nonce and the closing brace, and it carries its own X-GitHub-Delivery and a
-- valid X-Hub-Signature-256 = HMAC-SHA256(secret, body).
--
-- HMAC per request without hashing 9 KB in Lua: SHA-256 works on 64-byte blocks, and the key
-- block plus the prefix are whole blocks, so the inner hash's state after them is computed once
-- per thread (init) and each request only hashes its ~20-byte tail and the outer block.
-- Usage: wrk ... -s scripts/github_push.lua URL -- <prefix file> <secret>
-- Counts 200s per thread, so the caller can compare acknowledged with stored afterwards.
local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit = bit.rshift, bit.lshift, bit.ror, bit.tobit

local threads = {}
local counter = 0
ok = 0
local prefix, prefix_len, inner_state, outer_state

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local H0 = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
local W = {}

-- One 64-byte block of `s` at byte offset `at` (1-based) into state `h` (8 words, in place).
local function block(h, s, at)
  for i = 0, 15 do
    local a, b, c, d = s:byte(at + 4 * i, at + 4 * i + 3)
    W[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
  end
  for i = 16, 63 do
    local w15, w2 = W[i - 15], W[i - 2]
    local s0 = bxor(ror(w15, 7), ror(w15, 18), rshift(w15, 3))
    local s1 = bxor(ror(w2, 17), ror(w2, 19), rshift(w2, 10))
    W[i] = tobit(W[i - 16] + s0 + W[i - 7] + s1)
  end
  local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
  for i = 0, 63 do
    local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = tobit(hh + S1 + ch + K[i + 1] + W[i])
    local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    local t2 = tobit(S0 + maj)
    hh, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
  end
  h[1], h[2], h[3], h[4] = tobit(h[1] + a), tobit(h[2] + b), tobit(h[3] + c), tobit(h[4] + d)
  h[5], h[6], h[7], h[8] = tobit(h[5] + e), tobit(h[6] + f), tobit(h[7] + g), tobit(h[8] + hh)
end

local function copy(h) return { h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8] } end

-- Finishes a hash whose state `h` covers `done` bytes (a multiple of 64) with `tail`.
local function finish(h, done, tail)
  local bits = (done + #tail) * 8
  local pad = 64 - ((#tail + 9) % 64)
  if pad == 64 then pad = 0 end
  local hi = math.floor(bits / 4294967296)
  local lo = bits % 4294967296
  local msg = tail .. "\128" .. string.rep("\0", pad)
    .. string.char(band(rshift(hi, 24), 255), band(rshift(hi, 16), 255), band(rshift(hi, 8), 255), band(hi, 255))
    .. string.char(band(rshift(lo, 24), 255), band(rshift(lo, 16), 255), band(rshift(lo, 8), 255), band(lo, 255))
  for at = 1, #msg, 64 do block(h, msg, at) end
  local out = {}
  for i = 1, 8 do
    out[#out + 1] = string.char(band(rshift(h[i], 24), 255), band(rshift(h[i], 16), 255),
      band(rshift(h[i], 8), 255), band(h[i], 255))
  end
  return table.concat(out)
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  prefix = f:read("*a")
  f:close()
  prefix_len = #prefix
  assert(prefix_len % 64 == 0, "the prefix must be whole 64-byte blocks")
  local key = args[2]
  assert(#key <= 64, "keys longer than a block are not supported")
  key = key .. string.rep("\0", 64 - #key)
  local ipad = key:gsub(".", function(c) return string.char(bxor(c:byte(), 0x36)) end)
  local opad = key:gsub(".", function(c) return string.char(bxor(c:byte(), 0x5c)) end)
  inner_state = copy(H0)
  block(inner_state, ipad, 1)
  for at = 1, prefix_len, 64 do block(inner_state, prefix, at) end
  outer_state = copy(H0)
  block(outer_state, opad, 1)
end

function request()
  counter = counter + 1
  local nonce = string.format("%d-%d-%d", tid, counter, os.time())
  local tail = '"' .. nonce .. '"\n}\n'
  local inner = finish(copy(inner_state), 64 + prefix_len, tail)
  local mac = finish(copy(outer_state), 64, inner)
  return wrk.format("POST", "/webhooks/github", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = "bench-" .. nonce,
    ["X-Hub-Signature-256"] = "sha256=" .. hex(mac),
  }, prefix .. tail)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("acknowledged: %d\n", total))
end
