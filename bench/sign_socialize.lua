-- Signing alone, the request of bench/request.lua, as bench/ref_client --sign:
--   build: core.build_request (parameters, query, base string, HMAC-SHA1, form body)
--   sign:  socialize.signature.sign over the ten parameters (base string + HMAC-SHA1)
-- lua5.4 bench/sign_socialize.lua N [build|sign]  -> prints ops/s
local core = require("socialize.core")
local socialize = require("socialize")
local request = require("bench.request")
local n, mode = tonumber(arg[1] or "200000"), arg[2] or "build"
local opts = { method = "socialize.publishUserAction", url = "http://127.0.0.1", apiKey = request.apiKey,
    secret = request.secret, timestamp = 1700000000, nonce = "", sdk = "c_reference" }
local params = request.params("string")
local sp = { UID = params.UID, userAction = params.userAction, cid = params.cid, shortURLs = params.shortURLs,
    apiKey = request.apiKey, format = "json", httpStatusCodes = "false", nonce = "", sdk = "c_reference",
    timestamp = "1700000000" }
local sign, url = socialize.signature.sign, "http://127.0.0.1/socialize.publishUserAction"
local t0 = core.now_ms()
if mode == "sign" then
    for i = 1, n do
        sp.nonce = "1700000000000_" .. i
        sign(request.secret, "POST", url, sp)
    end
else
    for i = 1, n do
        opts.nonce = "1700000000000_" .. i
        core.build_request(opts, params)
    end
end
print(string.format("%.0f", n / math.max((core.now_ms() - t0) / 1000, 1e-9)))
