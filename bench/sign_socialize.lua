-- Signing alone: build + sign one publishUserAction request (parameters,
-- canonical JSON, base string, HMAC-SHA1, form body), as bench/ref_client --sign.
-- lua5.4 bench/sign_socialize.lua N  -> prints ops/s
local core = require("socialize.core")
local n = tonumber(arg[1] or "200000")
local ua = { title = "Level 3 done", linkBack = "https://game.example/l3", userMessage = "Beat it!" }
local opts = { method = "socialize.publishUserAction", url = "http://127.0.0.1", apiKey = "3_benchApiKey",
    secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", timestamp = 1700000000, nonce = "", sdk = "c_reference" }
local params = { UID = "user_123", userAction = ua }
local t0 = core.now_ms()
for i = 1, n do
    opts.nonce = "1700000000000_" .. i
    core.build_request(opts, params)
end
print(string.format("%.0f", n / ((core.now_ms() - t0) / 1000)))
