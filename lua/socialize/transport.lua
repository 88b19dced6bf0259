-- Transports: turn a built request { method, url, headers, body, timeout }
-- into { status, headers, body } or nil, message, kind
-- (kind: "timeout" | "connect" | "tls" | "too_large" | "closed" | "other").
-- Each transport also has a `many` form that sends a list of requests (in
-- parallel where it can) and returns outcomes in the same order:
-- a response table, or { error = message, kind = kind }.
local type, error, pcall, require, ipairs, tostring = type, error, pcall, require, ipairs, tostring

local _M = {}

--- libcurl, one multi handle per client: connections stay alive, several
-- requests run in parallel, and transfers can run in the background for
-- the poll API.
function _M.curl(config)
    local ok, curl = pcall(require, "socialize.curl")
    if not ok then
        error("socialize: the curl transport needs the socialize.curl module (libcurl): " .. tostring(curl), 3)
    end
    local t = {}
    local session
    function t.session()
        if not session then
            session = curl.new {
                timeout = config.timeout,
                connect_timeout = config.connectTimeout,
                cafile = config.cafile,
                max_reply = config.maxReplyBytes,
            }
        end
        return session
    end
    function t.one(req) return t.session():request(req) end
    t.sleep = function(seconds) require("socialize.core").sleep(seconds) end
    function t.many(reqs) return t.session():request_many(reqs) end
    function t.close()
        if session then session:close() session = nil end
    end
    return t
end

--- Sequential `many` for a transport that only knows one request at a time.
function _M.sequential(send)
    return function(reqs)
        local out = {}
        for i, req in ipairs(reqs) do
            local ok, res, msg, kind = pcall(send, req)
            if not ok then
                out[i] = { error = "transport raised: " .. tostring(res), kind = "other" }
            elseif res then
                out[i] = res
            else
                out[i] = { error = msg or "transport failed", kind = kind or "other" }
            end
        end
        return out
    end
end

--- Picks the transport: config.transport ("curl", "resty", a function), or
-- by default cosockets inside OpenResty and libcurl elsewhere.
function _M.select(config)
    local t = config.transport
    if t == nil then
        t = (ngx and ngx.socket and ngx.get_phase) and "resty" or "curl"
    end
    if t == "curl" then
        return _M.curl(config)
    end
    if t == "resty" then
        return require("socialize.resty").new(config)
    end
    if type(t) == "function" then
        local many = _M.sequential(t)
        return { one = function(req)
                     local o = many({ req })[1]
                     if o.error then return nil, o.error, o.kind end
                     return o
                 end,
                 many = many, close = function() end,
                 sleep = function(seconds) require("socialize.core").sleep(seconds) end }
    end
    error("socialize: transport must be \"curl\", \"resty\" or a function(request)", 3)
end

return _M
