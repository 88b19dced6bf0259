-- Transports. A transport is a capability table whose functions are called
-- as methods (docs/api.md "Transports"):
--
--   t:request(req)        -> res | nil, message, kind     one request, blocking
--   t:request_many(reqs)  -> { res | { error = message, kind = kind }, ... }
--                            the same, several at once (in parallel where it can), in order
--   optional, background transfers for client:poll() (game loops):
--   t:start(req)          -> id | nil, message, kind
--   t:perform(wait_ms)    -> { { id = id, <res or error/kind> }, ... } the finished ones
--   t:timeout()           -> ms until perform has work, -1 when nothing runs
--   t:fds()               -> { { fd = n, read = bool, write = bool }, ... }
--   optional:
--   t:sleep(seconds)      a retry's wait (default: a blocking sleep)
--   t:now()               -> seconds, the clock of deadlines and waits (default: the wall clock)
--   t:close()             releases connections; the transport stays usable
--   t:gate()              -> nil, or why no request can be sent now (the call
--                            then fails with 400096, nothing sent)
--
-- req = { method, url, headers, body, timeout, guard [, provider] };
-- res = { status, headers (lower-case names), body };
-- kind = "timeout" | "connect" | "tls" | "too_large" | "closed" | "other".
-- config.transport is "curl", "resty", a function(req) (the `request`
-- capability alone) or such a table; select() completes what is missing.
local core = require("socialize.core")

local type, error, pcall, require, ipairs, tostring = type, error, pcall, require, ipairs, tostring

local _M = {}

local function outcome(res, msg, kind)
    if res then return res end
    return { error = tostring(msg or "transport failed"), kind = kind or "other" }
end
_M.outcome = outcome

local function blocking_sleep(_, seconds) core.sleep(seconds) end

--- libcurl, one multi handle per client (a socialize.curl session, opened on
-- first use and again after close): connections stay alive, several
-- requests run in parallel, and transfers can run in the background for
-- the poll API.
function _M.curl(config)
    local ok, curl = pcall(require, "socialize.curl")
    if not ok then
        error("socialize: the curl transport needs the socialize.curl module (libcurl): " .. tostring(curl), 0)
    end
    local options = { timeout = config.timeout, connectTimeout = config.connectTimeout,
                      cafile = config.cafile, maxReplyBytes = config.maxReplyBytes, http2 = config.http2 }
    local session -- nil until the first transfer, and after close()
    local function open()
        if not session then
            local s, msg, kind = curl.new(options)
            if not s then return nil, msg, kind end
            session = s
        end
        return session
    end
    local t = { sleep = blocking_sleep }
    -- one blocking Gigya call in one C entry point (socialize.engine's ctx.fast,
    -- issue 15): the core builds and signs through core.capi, the session sends
    -- and the core reads the reply, with no Lua request table; absent when the
    -- two modules do not match (the calls then build the request table as always)
    local capi = core.capi
    if capi and curl.capi_ok and curl.capi_ok(capi) then
        function t.gigya(o, params, timeout)
            local s = session
            if not s then
                local msg, kind
                s, msg, kind = open()
                if not s then return nil, msg, kind end
            end
            return s:gigya(capi, o, params, timeout)
        end
    end
    function t.request(_, req)
        if session then return session:request(req) end
        local s, msg, kind = open()
        if not s then return nil, msg, kind end
        return s:request(req)
    end
    function t.request_many(_, reqs)
        local s, msg, kind = open()
        local out = s and s:request_many(reqs)
        if not out then
            out = {}
            for i = 1, #reqs do out[i] = outcome(nil, msg, kind) end
        end
        return out
    end
    function t.start(_, req)
        local s, msg, kind = open()
        if not s then return nil, msg, kind end
        return s:start(req)
    end
    -- nothing started: nothing to perform, no timer, no socket (and no session opened)
    function t.perform(_, wait_ms) return session and session:perform(wait_ms) or {} end
    function t.timeout() return session and session:timeout() or -1 end
    function t.fds() return session and session:fds() or {} end
    function t.close()
        if session then session:close() session = nil end
    end
    return t
end

local function raised(e)
    return "transport raised: " .. tostring(e)
end

-- t:request(req) as nil, message, kind when it raises (a host's transport).
local function protected_request(t, req)
    local ok, res, msg, kind = pcall(t.request, t, req)
    if not ok then return nil, raised(res), "other" end
    return res, msg, kind
end

local function nothing() end

--- The capability table t, completed into a new table whose functions call
-- t's as methods (t stays the `self` of its own functions): request and
-- request_many (each made from the other when missing), sleep (blocking),
-- close (nothing to do), and the optional ones t has. A host's transport
-- (`protect`) that raises gives an outcome of kind "other", never a raise.
-- Raises (no position) when t has neither request nor request_many, or
-- start without perform.
function _M.complete(t, protect)
    if type(t) ~= "table" or (type(t.request) ~= "function" and type(t.request_many) ~= "function") then
        error("socialize: a transport table needs request(self, req) or request_many(self, reqs)", 0)
    end
    if (t.start ~= nil or t.perform ~= nil) and not (type(t.start) == "function" and type(t.perform) == "function") then
        error("socialize: a transport table with background transfers needs both start and perform", 0)
    end
    local c = {}
    if type(t.request) == "function" then
        c.request = protect and function(_, req) return protected_request(t, req) end
            or function(_, req) return t:request(req) end
    end
    if type(t.request_many) == "function" then
        c.request_many = function(_, reqs)
            local ok, out = true, nil
            if protect then ok, out = pcall(t.request_many, t, reqs) else out = t:request_many(reqs) end
            if not ok or type(out) ~= "table" then
                local why = ok and "request_many returned no list" or raised(out)
                out = {}
                for i = 1, #reqs do out[i] = outcome(nil, why, "other") end
            end
            return out
        end
    else
        c.request_many = function(_, reqs) -- one after the other
            local out = {}
            for i, req in ipairs(reqs) do out[i] = outcome(c:request(req)) end
            return out
        end
    end
    if not c.request then
        c.request = function(_, req)
            local o = c:request_many({ req })[1]
            if not o or o.error then return nil, o and o.error or "no reply", o and o.kind or "other" end
            return o
        end
    end
    for _, name in ipairs({ "start", "perform", "timeout", "fds", "sleep", "now", "close", "gate" }) do
        if type(t[name]) == "function" then
            c[name] = function(_, ...) return t[name](t, ...) end
        end
    end
    c.sleep = c.sleep or blocking_sleep
    c.close = c.close or nothing
    return c
end

--- Picks the transport: config.transport ("curl", "resty", a function, a
-- capability table), or by default cosockets inside OpenResty and libcurl
-- elsewhere. Returns a completed capability table; raises (no position) on
-- a transport that cannot be used.
function _M.select(config)
    local t = config.transport
    if t == nil then
        t = (ngx and ngx.socket and ngx.get_phase) and "resty" or "curl"
    end
    if t == "curl" then
        local ct = _M.curl(config)
        local c = _M.complete(ct)
        c.request = ct.request -- it ignores self: one call less per request
        c.gigya = ct.gigya -- only the built-in transport has it (complete() copies no such field)
        return c
    end
    if t == "resty" then
        return _M.complete(require("socialize.resty").new(config))
    end
    if type(t) == "function" then
        return _M.complete({ request = function(_, req) return t(req) end }, true)
    end
    if type(t) == "table" then
        return _M.complete(t, true)
    end
    error("socialize: transport must be \"curl\", \"resty\", a function(request) or a transport table", 0)
end

return _M
