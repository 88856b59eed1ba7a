-- Refresh-token rotation: each request spends one refresh token from a pool and the answer's
-- new token goes back in. With one token per connection no token is ever presented twice.
-- At the end the tokens left in the pool are written to BENCH_REFRESH_OUT for the next run.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

pool = {}
for line in io.lines(os.getenv("BENCH_REFRESH_TOKENS")) do
  if line ~= "" then table.insert(pool, line) end
end
local headers = {["Content-Type"] = "application/json"}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- A server error loses that connection's token (the answer is not matched to its request):
-- the connection then has none to send, which is counted as "starved", apart from real answers.
starved = 0
statuses = {}

function request()
  local token = table.remove(pool)
  if token == nil then
    starved = starved + 1
    token = "pool-exhausted"
  end
  return wrk.format("POST", wrk.path, headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, response_headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then table.insert(pool, token) end
  end
end

function done(summary, latency, requests)
  bench_report(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_REFRESH_OUT"), "w")
  local stats = io.open(os.getenv("BENCH_REFRESH_OUT") .. ".stats", "w")
  for _, thread in ipairs(threads) do
    for _, token in ipairs(thread:get("pool") or {}) do out:write(token, "\n") end
    stats:write("starved ", thread:get("starved") or 0, "\n")
    for status, count in pairs(thread:get("statuses") or {}) do
      stats:write("status ", status, " ", count, "\n")
    end
  end
  out:close()
  stats:close()
end
