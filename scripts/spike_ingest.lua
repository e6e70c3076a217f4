-- wrk script: Spike ingest of generic webhook alerts to /ingest/<token>, each with its own
-- title (so each opens an incident rather than growing one). Counts 2xx per thread.
local threads = {}
local counter = 0
ok = 0
local path

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = "/ingest/" .. args[1]
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"title":"load alert %d-%d on db-1","body":{"host":"db-1","value":93.4},"severity":"sev2"}',
    tid, counter)
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("ok") end
  io.write(string.format("acknowledged: %d\n", total))
end
