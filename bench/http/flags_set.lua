-- wrk script: POST /api/flags/set with the key; the value alternates so that
-- every request is a real change (a durable commit each).
local n = 0
request = function()
  n = n + 1
  local body = '{"key":"bench.toggle","value":' .. (n % 2 == 0 and "true" or "false") .. '}'
  return wrk.format("POST", "/api/flags/set",
    {["Content-Type"] = "application/json", ["X-Dash-Key"] = os.getenv("KEY")}, body)
end
