-- socialize from Lua: N sequential signed publishUserAction calls, keep-alive,
-- after one warm-up call (connection, lazy initialisation) that is not counted.
-- lua5.4 bench/client_socialize.lua URL N [string|table]  -> prints "calls/s ok"
-- The request: bench/request.lua (string: the userAction as a 509-byte JSON
-- string; table: the same content as a Lua table).
local socialize = require("socialize")
local request = require("bench.request")
local url, n, mode = arg[1], tonumber(arg[2] or "1000"), arg[3] or "string"
local client = socialize.new { apiKey = request.apiKey, secret = request.secret,
    url = url, sdk = "socialize_bench", retry = false }
local params = request.params(mode)
local now = require("socialize.core").now_ms
assert(client:publishUserAction(params), "the warm-up call failed")
local ok = 0
local t0 = now()
for _ = 1, n do
    local res = client:publishUserAction(params)
    if res then ok = ok + 1 end
end
print(string.format("%.0f %d", n / math.max((now() - t0) / 1000, 1e-9), ok))
