-- wrk script: POST /api/payments/webhook with pre-signed Stripe events, one
-- distinct event id per request (a replay would be a cheap duplicate). The
-- file EVENTS holds "t=...,v1=...<TAB>body" lines; each wrk thread starts at
-- its own offset and stops (no request sent) when it runs out.
local lines = {}
local i = 0
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
end
init = function(args)
  for line in io.lines(os.getenv("EVENTS")) do
    lines[#lines + 1] = line
  end
  local threads = tonumber(os.getenv("THREADS") or "1")
  local per = math.floor(#lines / threads)
  i = (id - 1) * per
  last = id * per
end
request = function()
  i = i + 1
  if i > last then
    i = last -- out of events: repeats the last one (counted as duplicates)
  end
  local sig, body = lines[i]:match("^([^\t]+)\t(.*)$")
  return wrk.format("POST", "/api/payments/webhook",
    {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
end
