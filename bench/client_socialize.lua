-- socialize from Lua: N sequential signed publishUserAction calls, keep-alive.
-- lua5.4 bench/client_socialize.lua URL N   -> prints "calls/s ok"
local socialize = require("socialize")
local url, n = arg[1], tonumber(arg[2] or "1000")
local client = socialize.new { apiKey = "3_benchApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
    url = url, sdk = "socialize_bench", retry = false }
local ua = { title = "Level 3 done", linkBack = "https://game.example/l3", userMessage = "Beat it!" }
local now = require("socialize.core").now_ms
local ok = 0
local t0 = now()
for _ = 1, n do
    local res = client:publishUserAction { UID = "user_123", userAction = ua }
    if res then ok = ok + 1 end
end
print(string.format("%.0f %d", n / ((now() - t0) / 1000), ok))
