-- A content handler that publishes through socialize's Gigya backend over
-- cosockets (docs/openresty.md), config.ffi left at its default (on under
-- OpenResty's LuaJIT). GIGYA_URL, GIGYA_API_KEY and GIGYA_SECRET come from the
-- environment, which nginx passes to its workers only when nginx.conf names
-- them with `env`.
local socialize = require("socialize")
local core = require("socialize.core")

local _M = {}
local client -- one client per worker, made on first use

local function get_client()
    if not client then
        client = socialize.new {
            apiKey = os.getenv("GIGYA_API_KEY"),
            secret = os.getenv("GIGYA_SECRET"),
            url = os.getenv("GIGYA_URL"),   -- the fake Gigya server; leave it out in production
        }
    end
    return client
end

-- GET /publish?uid=&title=
function _M.publish()
    local args = ngx.req.get_uri_args()
    local res, err = get_client():publishUserAction {
        UID = args.uid,
        enabledProviders = "facebook,twitter",
        userAction = { title = args.title, linkBack = "https://game.example/l3" },
    }
    local out = res or { errorCode = err.errorCode, errorMessage = err.errorMessage, errorDetails = err.errorDetails }
    out.ffi = package.loaded["socialize.ffi"] ~= nil and jit ~= nil
    out.curlLoaded = package.loaded["socialize.curl"] ~= nil
    ngx.status = res and 200 or 400
    ngx.header["Content-Type"] = "application/json"
    ngx.say(core.json_encode(out))
end

return _M
