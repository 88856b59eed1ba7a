-- Replays the requests listed in BENCH_REQUESTS (one "METHOD<TAB>PATH<TAB>BODY" per line),
-- round robin, with a bearer token from BENCH_TOKEN, a JSON content type for bodies, and the
-- headers in BENCH_HEADERS ("Name: value" lines).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")

local token = os.getenv("BENCH_TOKEN") or ""
local extra = {}
for name, value in (os.getenv("BENCH_HEADERS") or ""):gmatch("([^:\n]+):%s*([^\n]*)\n") do
  extra[name] = value
end
local specs = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local method, path, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
  if method then
    table.insert(specs, {method = method, path = path, body = body ~= "" and body or nil})
  end
end

local function headers_for(spec)
  local headers = {}
  for name, value in pairs(extra) do headers[name] = value end
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if spec.body then headers["Content-Type"] = "application/json" end
  return headers
end

if #specs == 1 then
  -- One request: let wrk build it once (no Lua call per request).
  local spec = specs[1]
  wrk.method = spec.method
  wrk.path = spec.path
  wrk.body = spec.body
  for name, value in pairs(headers_for(spec)) do wrk.headers[name] = value end
else
  local prepared = {}
  local next_index = 0
  function init(args)
    for i, spec in ipairs(specs) do
      prepared[i] = wrk.format(spec.method, spec.path, headers_for(spec), spec.body)
    end
  end
  function request()
    next_index = next_index % #prepared + 1
    return prepared[next_index]
  end
end
