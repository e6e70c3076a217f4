-- wrk script: POST /api/agents with a name unique per thread and request.
local counter = 0
local threads = {}
local thread_id = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = string.format('{"name":"t%d-n%d","type":"task"}', tid, counter)
  return wrk.format("POST", "/api/agents", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    errors = (errors or 0) + 1
  end
end
