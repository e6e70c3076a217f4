-- wrk script: signed GitHub push deliveries. The body and its signature are fixed (written by
-- bench-webhooks.sh); each request gets its own X-GitHub-Delivery, so none is a duplicate.
-- Counts 200s per thread, so the script can compare acknowledged with stored afterwards.
local threads = {}
local counter = 0
ok = 0
local body, signature

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  signature = args[2]
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/webhooks/github", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = string.format("bench-%d-%d", tid, counter),
    ["X-Hub-Signature-256"] = "sha256=" .. signature,
  }, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("acknowledged: %d\n", total))
end
