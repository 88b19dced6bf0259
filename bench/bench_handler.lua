-- OpenResty handler for the benchmark: one signed publishUserAction through
-- socialize (cosockets) per request.
local socialize = require("socialize")
local _M = {}
local client
function _M.publish()
    if not client then
        client = socialize.new { apiKey = "3_benchApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
            url = "http://127.0.0.1:" .. os.getenv("UPSTREAM_PORT"), retry = false }
    end
    local res, err = client:publishUserAction { UID = "user_123",
        userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } }
    if not res then
        ngx.status = 502
        ngx.say(tostring(err))
        return
    end
    ngx.say(res.callId)
end
return _M
