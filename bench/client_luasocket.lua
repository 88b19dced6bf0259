-- What a Lua user builds today from Debian packages: LuaSocket (socket.http),
-- luaossl (HMAC-SHA1), lua-cjson; the signing of the official SDKs.
-- lua5.4 bench/client_luasocket.lua URL N   -> prints "calls/s ok"
local http = require("socket.http")
local ltn12 = require("ltn12")
local socket = require("socket")
local hmac = require("openssl.hmac")
local mime = require("mime")
local cjson = require("cjson")

local url, n = arg[1], tonumber(arg[2] or "1000")
local secret = (mime.unb64("c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="))

local function enc(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- the request of bench/request.lua: the 509-byte userAction JSON string, sent as is
local UA = require("bench.request").json

local function call()
    local ts = os.time()
    local p = {
        UID = "user_123", apiKey = "3_benchApiKey", format = "json", httpStatusCodes = "false",
        nonce = ts * 1000 .. "_" .. math.random(1, 2 ^ 31), sdk = "luasocket", timestamp = tostring(ts),
        userAction = UA, cid = "bench-campaign", shortURLs = "never",
    }
    local keys = {}
    for k in pairs(p) do keys[#keys + 1] = k end
    table.sort(keys)
    local qs = {}
    for i, k in ipairs(keys) do qs[i] = k .. "=" .. enc(p[k]) end
    local query = table.concat(qs, "&")
    local full = url .. "/socialize.publishUserAction"
    local base = "POST&" .. enc(full) .. "&" .. enc(query)
    local h = hmac.new(secret, "sha1")
    local sig = (mime.b64(h:final(base)))
    local body = query .. "&sig=" .. enc(sig)
    local out = {}
    local _, code = http.request {
        url = full, method = "POST", source = ltn12.source.string(body), sink = ltn12.sink.table(out),
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Content-Length"] = #body },
    }
    if code ~= 200 then return false end
    local r = cjson.decode(table.concat(out))
    return r.errorCode == 0
end

local ok = 0
local t0 = socket.gettime()
for _ = 1, n do if call() then ok = ok + 1 end end
print(string.format("%.0f %d", n / (socket.gettime() - t0), ok))
