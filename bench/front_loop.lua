-- profiling aid: the client's front with a canned transport, N calls inside nginx
local socialize = require("socialize")
local _M = {}
local REPLY = '{"callId":"bench0000000000000000000000000000","errorCode":0,"apiVersion":2,"statusCode":200,"statusReason":"OK","time":"2026-11-23T00:00:00.000Z","providerPostIDs":{"facebook":"1647395831_1001"}}'
function _M.run()
    local res = { status = 200, headers = { date = ngx.http_time(ngx.time()) }, body = REPLY }
    local c = socialize.new { apiKey = "3_k", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", retry = false,
        transport = { request = function() return res end, request_many = function(_, reqs) return { res } end } }
    local A = { title = "Level 3 done", linkBack = "https://game.example/l3" }
    local N = tonumber(ngx.var.arg_n) or 10000
    ngx.update_time()
    local t, c0 = ngx.now(), os.clock()
    for _ = 1, N do assert(c:publishUserAction { UID = "user_123", userAction = A }) end
    ngx.update_time()
    ngx.say(string.format("%.2f us/call wall, %.2f cpu", (ngx.now() - t) / N * 1e6, (os.clock() - c0) / N * 1e6))
    ngx.say(collectgarbage("count"), " kB heap")
end
local once_client
function _M.once()
    if not once_client then
        local res = { status = 200, headers = { date = ngx.http_time(ngx.time()) }, body = REPLY }
        once_client = socialize.new { apiKey = "3_k", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", retry = false,
            transport = { request = function() return res end, request_many = function(_, reqs) return { res } end } }
    end
    local r = once_client:publishUserAction { UID = "user_123", userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } }
    ngx.say(r.callId)
end
local transport, TREQ
function _M.transport_only() -- the resty transport alone, a prebuilt signed request
    if not transport then
        transport = require("socialize.resty").new({ timeout = 10 })
        TREQ = { method = "POST", url = "http://127.0.0.1:" .. os.getenv("UPSTREAM_PORT") .. "/socialize.publishUserAction",
            headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }, timeout = 10, wantHeaders = "date",
            body = "UID=user_123&apiKey=3_benchApiKey&format=json&httpStatusCodes=false&nonce=1&sig=x" }
    end
    local res = transport:request_many({ TREQ })[1]
    ngx.say(#res.body)
end
function _M.hello() ngx.say("bench0000000000000000000000000000") end
return _M
