-- OpenResty handlers for the benchmark (bench/resty.sh): one signed
-- publishUserAction through socialize per request, over cosockets (the
-- default) or through nginx's upstream (config.restyUpstream), and the bare
-- cosocket round trip with a prebuilt body as the reference point.
local socialize = require("socialize")
local _M = {}
local SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="
local clients = {}
local function client(mode)
    local c = clients[mode]
    if not c then
        c = socialize.new { apiKey = "3_benchApiKey", secret = SECRET, retry = false,
            url = "http://127.0.0.1:" .. os.getenv("UPSTREAM_PORT"),
            restyUpstream = mode == "upstream" and "/_socialize/" or nil }
        clients[mode] = c
    end
    return c
end
local ACTION = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local function publish(mode)
    local res, err = client(mode):publishUserAction { UID = "user_123", userAction = ACTION }
    if not res then
        ngx.status = 502
        ngx.say(tostring(err))
        return
    end
    ngx.say(res.callId)
end
function _M.publish() publish("cosocket") end
function _M.publish_upstream() publish("upstream") end

-- the reference: one keep-alive cosocket round trip with a prebuilt request,
-- the reply read by its Content-Length, no signing, no parsing
local REQ
function _M.bare()
    local port = tonumber(os.getenv("UPSTREAM_PORT"))
    if not REQ then
        local body = "UID=user_123&apiKey=3_benchApiKey&format=json&httpStatusCodes=false&nonce=1&sig=x"
        REQ = "POST /socialize.publishUserAction HTTP/1.1\r\nHost: 127.0.0.1:" .. port
            .. "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
    end
    local sock = ngx.socket.tcp()
    local ok, err = sock:connect("127.0.0.1", port)
    if not ok then ngx.status = 502; ngx.say(err); return end
    sock:send(REQ)
    local reader = sock:receiveuntil("\r\n\r\n")
    local head = reader()
    local len = tonumber(head:match("[Cc]ontent%-[Ll]ength:%s*(%d+)"))
    local body = sock:receive(len)
    sock:setkeepalive(60000, 64)
    ngx.say(#body)
end

-- the reference of config.restyUpstream: one subrequest to the same internal
-- location with a prebuilt body, the reply not parsed
local BODY = "UID=user_123&apiKey=3_benchApiKey&format=json&httpStatusCodes=false&nonce=1&sig=x"
function _M.bare_upstream()
    local res = ngx.location.capture("/_socialize/socialize.publishUserAction", { method = ngx.HTTP_POST, body = BODY })
    ngx.say(#res.body)
end
return _M
