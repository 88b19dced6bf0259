-- Transports: turn a built request { method, url, headers, body, timeout }
-- into { status, headers, body } or nil, message, kind
-- (kind: "timeout" | "connect" | "tls" | "too_large" | "closed" | "other").
local type, error, pcall, require = type, error, pcall, require

local _M = {}

--- libcurl easy handle, reused by one client: connections stay alive.
function _M.curl(config)
    local ok, curl = pcall(require, "socialize.curl")
    if not ok then
        error("socialize: the curl transport needs the socialize.curl module (libcurl): " .. tostring(curl), 3)
    end
    local session
    return function(req)
        if not session then
            session = curl.new {
                timeout = config.timeout,
                connect_timeout = config.connectTimeout,
                cafile = config.cafile,
                max_reply = config.maxReplyBytes,
            }
        end
        return session:request(req)
    end, function()
        if session then session:close() session = nil end
    end
end

--- Picks the transport named or given in config.transport.
function _M.select(config)
    local t = config.transport
    if t == nil or t == "curl" then
        return _M.curl(config)
    end
    if type(t) == "function" then
        return t, function() end
    end
    error("socialize: transport must be \"curl\" or a function(request)", 3)
end

return _M
