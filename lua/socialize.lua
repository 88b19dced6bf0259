-- socialize: Gigya's socialize share API for Lua.
--
--   local socialize = require("socialize")
--   local client = socialize.new{ apiKey = "...", secret = "...", dataCenter = "eu1" }
--   local res, err = client:publishUserAction{ UID = "u1", userAction = { title = "Hi" } }
--   if not res then print(tostring(err)) end   -- "403003 Invalid request signature: ..."
--
-- Calls return the Gigya response table when errorCode is 0, otherwise nil and
-- the response table as an error (with a __tostring). Wrong argument types raise.
local core = require("socialize.core")
local errors = require("socialize.errors")
local validate = require("socialize.validate")
local transport = require("socialize.transport")
local util = require("socialize.util")
local direct = require("socialize.direct")
local policy = require("socialize.policy")

local type, pairs, ipairs, next, tostring, error, pcall = type, pairs, ipairs, next, tostring, error, pcall
local select = select
local setmetatable, getmetatable = setmetatable, getmetatable
local io = io
local floor = math.floor
local find, format = string.find, string.format
local os_time, os_getenv = os.time, os.getenv

local _M = {
    _NAME = "socialize",
    _VERSION = core._VERSION,
    null = core.null, -- JSON null, in parameters and in replies
    Error = errors.Error,
}

local ARRAY_MT = { __jsontype = "array" }

--- Marks a table as a JSON array, so that an empty one encodes as [].
function _M.array(t)
    return setmetatable(t or {}, ARRAY_MT)
end

local function argcheck(cond, n, fname, msg)
    if not cond then
        error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
    end
end

local function argtype(v, n, fname, want)
    if type(v) ~= want then
        error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
    end
end

---------------------------------------------------------------------------
-- Signatures
---------------------------------------------------------------------------
local signature = {}
_M.signature = signature

--- RFC 3986 percent-encoding with upper-case hex over the UTF-8 bytes.
function signature.encode(s)
    if type(s) == "number" then s = tostring(s) end
    argtype(s, 1, "encode", "string")
    return core.url_encode(s)
end

--- Gigya's base string: METHOD & enc(normalized url) & enc(sorted query).
-- Returns the string, or nil and an error (bad url, bad parameter value).
function signature.baseString(method, url, params)
    argtype(method, 1, "baseString", "string")
    argtype(url, 2, "baseString", "string")
    argtype(params, 3, "baseString", "table")
    local b, code, msg = core.base_string(method, url, params)
    if not b then return nil, errors.new(code, msg) end
    return b
end

--- Signs method + url + params with the Base64 secret. Returns the signature
-- and the base string, or nil and an error.
function signature.sign(secret, method, url, params)
    argtype(secret, 1, "sign", "string")
    argtype(method, 2, "sign", "string")
    argtype(url, 3, "sign", "string")
    argtype(params, 4, "sign", "table")
    local base, code, msg = core.base_string(method, url, params)
    if not base then return nil, errors.new(code, msg) end
    local sig
    sig, code, msg = core.hmac_sha1(secret, base)
    if not sig then return nil, errors.new(code, msg) end
    return sig, base
end

---------------------------------------------------------------------------
-- Validators (constant-time comparison)
---------------------------------------------------------------------------
-- A number timestamp must be whole Unix seconds: NaN, +-inf, a fraction,
-- a negative number or one beyond 2^53 gives nil (the signature is invalid),
-- never an error and never a rounded value.
local function ts_string(ts, n, fname)
    if type(ts) == "number" then
        if ts ~= ts or ts < 0 or ts >= 9007199254740992 or ts % 1 ~= 0 then
            return nil
        end
        return format("%.0f", ts)
    end
    argtype(ts, n, fname, "string")
    return ts
end

local function window_arg(w, n, fname)
    if w == nil then return nil end
    argcheck(type(w) == "number" and w >= 0, n, fname, "window must be a number of seconds >= 0")
    return w
end

-- True when one of the values holds a NUL byte: no UID, timestamp, secret
-- or signature can, so the validators answer false instead of comparing a
-- silently cut value.
local function has_nul(...)
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        if type(v) == "string" and find(v, "\0", 1, true) then return true end
    end
    return false
end

--- True when signature = Base64(HMAC-SHA1(secret, timestamp .. "_" .. UID)) and,
-- with windowSeconds, |now - timestamp| <= windowSeconds.
function _M.validateUserSignature(UID, timestamp, secret, sig, windowSeconds)
    argtype(UID, 1, "validateUserSignature", "string")
    timestamp = ts_string(timestamp, 2, "validateUserSignature")
    argtype(secret, 3, "validateUserSignature", "string")
    if sig == nil or timestamp == nil then return false end
    argtype(sig, 4, "validateUserSignature", "string")
    if has_nul(UID, timestamp, secret, sig) then return false end
    return core.validate_user(UID, timestamp, secret, sig,
        window_arg(windowSeconds, 5, "validateUserSignature"), os_time())
end

--- True when signature = Base64(HMAC-SHA1(secret, timestamp .. "_" .. friendUID .. "_" .. UID)).
function _M.validateFriendSignature(UID, timestamp, friendUID, secret, sig, windowSeconds)
    argtype(UID, 1, "validateFriendSignature", "string")
    timestamp = ts_string(timestamp, 2, "validateFriendSignature")
    argtype(friendUID, 3, "validateFriendSignature", "string")
    argtype(secret, 4, "validateFriendSignature", "string")
    if sig == nil or timestamp == nil then return false end
    argtype(sig, 5, "validateFriendSignature", "string")
    if has_nul(UID, timestamp, friendUID, secret, sig) then return false end
    return core.validate_friend(UID, timestamp, friendUID, secret, sig,
        window_arg(windowSeconds, 6, "validateFriendSignature"), os_time())
end

--- True when headerValue (X-Gigya-Sig-Hmac-Sha1) = Base64(HMAC-SHA1(secret, rawBody)).
function _M.validateWebhookSignature(rawBody, secret, headerValue)
    argtype(rawBody, 1, "validateWebhookSignature", "string")
    argtype(secret, 2, "validateWebhookSignature", "string")
    if headerValue == nil then return false end
    argtype(headerValue, 3, "validateWebhookSignature", "string")
    if has_nul(secret, headerValue) then return false end -- the body may hold any byte
    return core.validate_webhook(rawBody, secret, headerValue)
end

---------------------------------------------------------------------------
-- Client
---------------------------------------------------------------------------
local Client = {}
Client.__index = Client
Client.__name = "socialize.Client"

local CONFIG_STRINGS = { "apiKey", "secret", "userKey", "privateKey", "accessToken", "dataCenter",
                         "apiDomain", "url", "cafile", "auth", "sdk", "backend" }
local AUTH_MODES = { signed = true, secret = true, oauth2 = true, jwt = true, none = true }

local function api_domain(config)
    if config.apiDomain and config.apiDomain ~= "" then
        return config.apiDomain
    end
    local dc = config.dataCenter
    if dc == nil or dc == "" then dc = "us1" end
    if find(dc, ".", 1, true) then return dc end
    if dc == "cn1" then return "cn1.gigya-api.cn" end
    return dc .. ".gigya.com"
end

-- Every config setting (docs/api.md); anything else is a typo.
local CONFIG_KEYS = { "apiKey", "secret", "userKey", "privateKey", "accessToken", "auth", "dataCenter", "apiDomain",
                      "url", "cafile", "timeout", "connectTimeout", "deadline", "maxReplyBytes", "retryExpired",
                      "transport", "onError", "retry", "log", "allowPrivateNetworks", "resolver", "clock", "now",
                      "sleep", "nonce", "sdk", "backend", "providers", "connections", "shortener" }
local CONFIG_KEY_SET = {}
for _, k in ipairs(CONFIG_KEYS) do CONFIG_KEY_SET[k] = true end

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
    a, b = a:lower(), b:lower()
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
        local cur = { [0] = i }
        for j = 1, #b do
            local cost = a:byte(i) == b:byte(j) and 0 or 1
            cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        end
        prev = cur
    end
    return prev[#b]
end

local function suggest(name, valid)
    local best, bd
    for _, v in ipairs(valid) do
        local d = distance(name, v)
        if not bd or d < bd then best, bd = v, d end
    end
    if best and bd <= math.max(2, floor(#name / 3)) then return " (did you mean " .. best .. "?)" end
    return ""
end

local function printable(k)
    if type(k) ~= "string" then return "[" .. tostring(type(k)) .. " key]" end
    return (k:gsub("[^%w_%-%.]", "?"))
end

-- Unknown config keys and unknown networks under `providers` raise, naming
-- the valid ones (the networks come from the C core's adapter list).
local function check_known_keys(config)
    local bad
    for k in pairs(config) do
        if type(k) ~= "string" or not CONFIG_KEY_SET[k] then
            if not bad or printable(k) < printable(bad) then bad = k end
        end
    end
    if bad ~= nil then
        local name = printable(bad)
        error(format("bad argument #1 to 'new' (config.%s is not a setting%s; valid: %s)", name,
            type(bad) == "string" and suggest(bad, CONFIG_KEYS) or "", table.concat(CONFIG_KEYS, ", ")), 3)
    end
    if type(config.providers) == "table" then
        local names, set = core.provider_names(), {}
        for _, n in ipairs(names) do set[n] = true end
        bad = nil
        for k in pairs(config.providers) do
            if type(k) ~= "string" or not set[k] then
                if not bad or printable(k) < printable(bad) then bad = k end
            end
        end
        if bad ~= nil then
            local name = printable(bad)
            error(format("bad argument #1 to 'new' (config.providers.%s is not a network%s; valid: %s)", name,
                type(bad) == "string" and suggest(bad, names) or "", table.concat(names, ", ")), 3)
        end
    end
end

-- The first config string (in CONFIG_KEYS order) holding a NUL byte: the
-- client is built, but every call answers 400006 naming it.
local function nul_config_field(config)
    for _, k in ipairs(CONFIG_KEYS) do
        local v = config[k]
        if type(v) == "string" and find(v, "\0", 1, true) then return "config." .. k end
    end
    return nil
end

-- Numeric options: NaN and infinities are refused everywhere (top level,
-- retry.*, providers.*.*); the known ones must also lie in their range.
local NUMBER_RANGES = {
    timeout = { 0.001, 86400 },        -- seconds
    connectTimeout = { 0.001, 86400 }, -- seconds
    deadline = { 0.001, 86400 },       -- seconds, a whole call with its retries
    maxReplyBytes = { 1, 1073741824 }, -- 1 GiB
}

local function finite_numbers(t, prefix)
    for k, v in pairs(t) do
        if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
            error(format("bad argument #1 to 'new' (%s%s must be a finite number, not %s)",
                prefix, tostring(k), v ~= v and "NaN" or tostring(v)), 4)
        end
    end
end

local CLOCK_MAX = 2 ^ 33 -- Unix seconds (year 2242)

local function check_numbers(config)
    finite_numbers(config, "config.")
    if type(config.retry) == "table" then finite_numbers(config.retry, "config.retry.") end
    if type(config.providers) == "table" then
        for name, app in pairs(config.providers) do
            if type(app) == "table" then finite_numbers(app, "config.providers." .. tostring(name) .. ".") end
        end
    end
    for k, r in pairs(NUMBER_RANGES) do
        local v = config[k]
        if v ~= nil and (type(v) ~= "number" or v < r[1] or v > r[2]) then
            error(format("bad argument #1 to 'new' (config.%s must be a number from %s to %s)",
                k, tostring(r[1]), tostring(r[2])), 3)
        end
    end
    for _, k in ipairs({ "now", "sleep" }) do
        if config[k] ~= nil and type(config[k]) ~= "function" then
            error(format("bad argument #1 to 'new' (config.%s must be a function)", k), 3)
        end
    end
end

--- Creates a client. See docs/api.md for every config field.
function _M.new(config)
    if config == nil then config = {} end
    argtype(config, 1, "new", "table")
    check_known_keys(config)
    check_numbers(config)
    for _, k in pairs(CONFIG_STRINGS) do
        local v = config[k]
        argcheck(v == nil or type(v) == "string", 1, "new", "config." .. k .. " must be a string")
    end
    for _, k in pairs({ "timeout", "connectTimeout", "maxReplyBytes" }) do
        local v = config[k]
        argcheck(v == nil or (type(v) == "number" and v > 0), 1, "new",
            "config." .. k .. " must be a positive number")
    end
    for _, k in pairs({ "clock", "nonce" }) do
        argcheck(config[k] == nil or type(config[k]) == "function", 1, "new",
            "config." .. k .. " must be a function")
    end
    argcheck(config.transport == nil or config.transport == "curl" or config.transport == "resty"
        or type(config.transport) == "function", 1, "new", "config.transport must be \"curl\", \"resty\" or a function")
    local backend = config.backend or "gigya"
    argcheck(backend == "gigya" or backend == "direct", 1, "new", "config.backend must be \"gigya\" or \"direct\"")
    argcheck(config.providers == nil or type(config.providers) == "table", 1, "new",
        "config.providers must be a table keyed by network")
    for name, v in pairs(config.providers or {}) do
        argcheck(type(name) == "string" and type(v) == "table", 1, "new",
            "config.providers." .. tostring(name) .. " must be a table")
    end
    argcheck(config.connections == nil or type(config.connections) == "table"
        or type(config.connections) == "function", 1, "new",
        "config.connections must be a table keyed by UID, a function(UID) or a store with :get(UID)")
    argcheck(config.shortener == nil or type(config.shortener) == "function", 1, "new",
        "config.shortener must be a function(url)")
    local auth = config.auth
    if auth == nil then
        if config.privateKey then auth = "jwt"
        elseif config.accessToken then auth = "oauth2"
        else auth = "signed" end
    end
    argcheck(AUTH_MODES[auth], 1, "new", "config.auth must be signed, secret, oauth2, jwt or none")

    argcheck(config.onError == nil or type(config.onError) == "function", 1, "new",
        "config.onError must be a function(message)")
    argcheck(config.log == nil or type(config.log) == "function", 1, "new", "config.log must be a function(event)")
    argcheck(config.allowPrivateNetworks == nil or type(config.allowPrivateNetworks) == "boolean", 1, "new",
        "config.allowPrivateNetworks must be a boolean")
    argcheck(config.resolver == nil or type(config.resolver) == "function", 1, "new",
        "config.resolver must be a function(name) returning a list of addresses")
    local ok_retry, retry = pcall(policy.config, config.retry)
    argcheck(ok_retry, 1, "new", tostring(retry):gsub("^.-: ", ""))
    local io = transport.select(config)
    local self = setmetatable({
        backend = backend,
        auth = auth,
        apiDomain = api_domain(config),
        clock_offset = 0,
        retryExpired = config.retryExpired ~= false,
        _config = config,
        _io = io,               -- { one, many, sleep, close [, session] [, gate] }
        _retry = retry,         -- policy.config(config.retry)
        _blocked = {},          -- (provider, app|account) -> blocked until (Unix seconds)
        _sleeping = {},         -- asynchronous calls waiting to retry: op -> wake time (ms)
        _ops = 0,               -- asynchronous calls not yet delivered
        _inflight = {},         -- transfer id -> { op, index }
        _ready = {},            -- finished asynchronous calls, callbacks not yet run
        _setup = {},            -- provider \0 key -> the state its setup step returned
                                -- (core.provider_info(name).setup: limits, a session)
        _clock = config.clock or os_time,
        _nonce = config.nonce or core.nonce,
    }, Client)
    self._nul_field = nul_config_field(config)
    if config.clock then
        -- a clock that answers garbage fails the call (Client:_check_clock) before
        -- anything is sent; a later garbage reading falls back to os.time
        local user_clock = config.clock
        self._user_clock = user_clock
        self._clock = function()
            local t = user_clock()
            if type(t) == "number" and t >= 0 and t < CLOCK_MAX then return t end
            return os_time()
        end
    end
    local now_s = config.now
    self._now_ms = now_s and function() return now_s() * 1000 end or core.now_ms
    self._deadline = config.deadline or config.timeout or 10
    self._live = {} -- asynchronous calls not yet answered: op -> true
    self._secrets = policy.secrets({}, config)
    for _, app in pairs(config.providers or {}) do policy.secrets(self._secrets, app) end
    return self
end

function Client:__tostring()
    if self.backend == "direct" then
        return "socialize.Client (direct)"
    end
    return format("socialize.Client (%s, %s)", self.auth, self._config.url or self.apiDomain)
end

local function transport_error(msg, kind)
    if kind == "timeout" or kind == "deadline" then
        return errors.new(504002, "Request Timeout: " .. tostring(msg), { transportKind = kind })
    end
    return errors.new(500026, tostring(kind or "other") .. ": " .. tostring(msg), { transportKind = kind })
end

-- nil, or the error of a config.clock that does not answer Unix seconds.
function Client:_check_clock()
    if not self._user_clock then return nil end
    local ok, t = pcall(self._user_clock)
    if ok and type(t) == "number" and t >= 0 and t < CLOCK_MAX then return nil end
    return errors.invalid("config.clock", format("(returned %s; Unix seconds from 0 to 2^33 expected): "
        .. "nothing was sent", ok and (t ~= t and "NaN" or type(t) == "number" and format("%.17g", t) or type(t)) or "an error"))
end

function Client:_build(method, params)
    local c = self._config
    local o = self._opts
    if not o then
        -- the parts of the request options that do not change between calls
        o = { apiDomain = self.apiDomain, url = c.url, auth = self.auth, apiKey = c.apiKey, userKey = c.userKey,
              secret = c.secret, accessToken = c.accessToken, privateKey = c.privateKey, sdk = c.sdk }
        self._opts = o
    end
    o.method = method
    o.timestamp = floor(self._clock() + self.clock_offset)
    o.nonce = self._nonce()
    local req, code, msg = core.build_request(o, params)
    if not req then
        return nil, errors.new(code, msg)
    end
    req.timeout = c.timeout
    return req
end

-- Sends through io, telling config.log about each request and outcome
-- (URLs redacted, never headers or bodies).
function Client:_send(io, reqs, secrets)
    local log = self._config.log
    -- the Authorization values of these requests (a Gigya JWT, an OAuth 1.0a
    -- signature, a Bearer token) are credentials too: a transport error that
    -- quotes the request never shows them
    secrets = policy.auth_secrets(reqs, secrets or self._secrets)
    if not log then
        local out
        if #reqs == 1 and io.one then
            -- one blocking request: the transport's direct path
            local res, msg, kind = io.one(reqs[1])
            out = { res or { error = msg or "transport failed", kind = kind or "other" } }
        else
            out = io.many(reqs)
        end
        for _, o in ipairs(out) do
            if type(o) == "table" and o.error then o.error = policy.scrub(o.error, secrets) end
        end
        return out
    end
    local t0 = core.now_ms()
    for _, req in ipairs(reqs) do
        pcall(log, { event = "request", provider = req.provider or "gigya", method = req.method,
                     url = policy.scrub(policy.redact_url(req.url), secrets) })
    end
    local out = io.many(reqs)
    local ms = core.now_ms() - t0
    for _, o in ipairs(out) do
        if type(o) == "table" and o.error then o.error = policy.scrub(o.error, secrets) end
    end
    for i, o in ipairs(out) do
        pcall(log, { event = "response", provider = reqs[i].provider or "gigya", status = o.status,
                     error = o.error and policy.scrub(o.error, secrets), kind = o.kind, ms = ms })
    end
    return out
end

function Client:_send_once(method, params, io)
    local req, err = self:_build(method, params)
    if not req then return nil, err end
    local res = self:_send(io, { req })[1]
    if not res or res.error then
        return nil, transport_error(res and res.error or "no reply", res and res.kind)
    end
    local date = res.headers and res.headers.date
    if date and date ~= self._last_date then
        local server = util.parse_http_date(date)
        if server then
            self.clock_offset = server - self._clock()
            self._last_date = date -- the same Date second says nothing new
        end
    end
    local reply, code, pmsg = core.parse_response(res.body or "", res.status or 0)
    if not reply then
        return nil, errors.new(code, pmsg)
    end
    return reply
end

-- The whole of one call, whatever drives its requests: `io.many(reqs)`
-- sends them (blocking, through cosockets, or by yielding to the poll loop).
function Client:_call(method, params, io)
    if self._nul_field then
        return nil, errors.invalid(self._nul_field, "contains a NUL byte")
    end
    -- a parameter table whose metatable raises (__pairs, __index, __len) is
    -- bad input, not a crash of the call: 400006, nothing sent
    local vok, p, err = pcall(validate.check, method, params, self)
    if not vok then
        return nil, errors.invalid("params", "could not be read (a table's metatable raised an error)")
    end
    if not p then return nil, err end
    local full = validate.full_name(method)
    if full == "socialize.postBookmark" then
        return direct.bookmark(self, p) -- share-intent URLs: no network call
    end
    local gate = self._io.gate and self._io.gate()
    if gate then return nil, gate end -- e.g. OpenResty phase without cosockets
    local clock_err = self:_check_clock()
    if clock_err then return nil, clock_err end
    if self.backend == "direct" then
        return direct.call(self, full, p, io)
    end
    local reply, n, expired_retried = nil, 0, false
    while true do
        reply, err = self:_send_once(method, p, io)
        if reply and reply.errorCode == 403002 and self.retryExpired and not expired_retried then
            -- Request has expired: the Date offset was just learned; once more.
            expired_retried = true
        else
            -- safe to repeat: the connection failed before anything was sent, or
            -- Gigya refused the call for its rate limit (403048)
            local safe = (not reply and err.transportKind == "connect") or (reply and reply.errorCode == 403048)
            n = n + 1
            if not safe or n > self._retry.retries then break end
            local d = policy.backoff(self._retry, n)
            -- a wait that does not fit in the call's deadline: the last error answers
            if io.remaining and d >= io.remaining() then break end
            if self._config.log then pcall(self._config.log, { event = "retry", provider = "gigya", delay = d,
                reason = reply and ("errorCode " .. reply.errorCode) or "connect" }) end
            io.sleep(d)
        end
    end
    if not reply then return nil, policy.scrub_result(err, self._secrets) end
    if reply.errorCode ~= 0 then
        return nil, errors.wrap(policy.scrub_result(reply, self._secrets))
    end
    return reply
end

-- The io of one call: every request's timeout and every sleep fit in what
-- is left of the call's deadline (config.deadline seconds from its start);
-- once it has passed, nothing more is sent.
local function call_io(self, base)
    local deadline = self._now_ms() + self._deadline * 1000
    local w = { deadline = deadline }
    local function remaining()
        return (deadline - self._now_ms()) / 1000
    end
    w.remaining = remaining
    local function fit(reqs)
        local rem = remaining()
        if not (rem > 0) then return false end
        for _, req in ipairs(reqs) do
            if not (type(req.timeout) == "number" and req.timeout <= rem) then req.timeout = rem end
        end
        return true
    end
    local late = "the call's deadline (" .. tostring(self._deadline) .. " s) passed before this request was sent"
    if base.one then
        w.one = function(req)
            if not fit({ req }) then return nil, late, "deadline" end
            return base.one(req)
        end
    end
    w.many = function(reqs)
        if #reqs > 0 and not fit(reqs) then
            local out = {}
            for i = 1, #reqs do out[i] = { error = late, kind = "deadline" } end
            return out
        end
        return base.many(reqs)
    end
    local sleep = base.async and base.sleep or self._config.sleep or base.sleep
    w.sleep = function(seconds)
        local rem = remaining()
        if not (seconds <= rem) then seconds = rem end -- never past the deadline (nor NaN)
        if seconds > 0 then sleep(seconds) end
    end
    return w
end

---------------------------------------------------------------------------
-- Asynchronous calls: callbacks, driven by client:poll()
---------------------------------------------------------------------------
local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status,
    coroutine.yield
local ASYNC = {} -- tags the yields of the engine; any other yield is the host's
local ASYNC_IO = {
    async = true,
    many = function(reqs) return co_yield(ASYNC, reqs) end,
    sleep = function(seconds) co_yield(ASYNC, { sleep = seconds }) end,
}

local function closed_error()
    return transport_error("the client was closed (client:close()) before this call completed", "closed")
end

local function report(self, msg)
    msg = policy.scrub(tostring(msg), self._secrets)
    local h = self._config.onError
    if h then
        local ok = pcall(h, msg)
        if ok then return end
    end
    io.stderr:write("socialize: ", tostring(msg), "\n")
end

local function done(self, op, res, err)
    if op.finished then return end -- exactly once
    op.finished = true
    self._live[op] = nil
    self._ready[#self._ready + 1] = { op = op, res = res, err = err }
end

-- Runs op until it waits for requests or finishes.
local function step(self, op, outcomes)
    while true do
        if op.finished then return end -- answered meanwhile (client:close())
        local ok, tag, a, b = co_resume(op.co, outcomes)
        if op.finished then return end
        if not ok then
            return done(self, op, nil, errors.new(500000, "internal error: " .. policy.scrub(tostring(tag), self._secrets)))
        end
        if co_status(op.co) == "dead" then
            return done(self, op, a, b)
        end
        if tag ~= ASYNC or type(a) ~= "table" then
            -- a host function (config.connections, shortener, log, clock) yielded:
            -- there is nothing to resume it with; the call fails, its callback runs
            return done(self, op, nil, errors.new(500001, "a host function (config.connections, config.shortener,"
                .. " config.log or config.clock) yielded inside an asynchronous call; asynchronous calls"
                .. " cannot wait on the host's coroutines: return the value directly, or make a blocking call"))
        end
        local reqs = a
        if reqs.sleep then
            -- a retry waits: poll() wakes the call up when its time has come
            self._sleeping[op] = self._now_ms() + reqs.sleep * 1000
            return
        end
        local session = self._io.session and self._io.session()
        if not session or #reqs == 0 then
            -- a transport without background transfers: send now, in this call
            outcomes = self._io.many(reqs)
        else
            op.waiting, op.outcomes = #reqs, {}
            for i, req in ipairs(reqs) do
                local sok, id = pcall(session.start, session, req)
                if sok then
                    self._inflight[id] = { op = op, index = i }
                else
                    op.outcomes[i] = { error = tostring(id), kind = "other" }
                    op.waiting = op.waiting - 1
                end
            end
            if op.waiting > 0 then return end
            outcomes = op.outcomes
        end
    end
end

-- Runs the callback of each finished call once.
local function deliver(self, ready)
    for _, r in ipairs(ready) do
        if not r.op.delivered then
            r.op.delivered = true
            self._ops = self._ops - 1
            local ok, e = pcall(r.op.cb, r.res, r.err)
            if not ok then
                report(self, "callback raised: " .. tostring(e))
            end
        end
    end
end

--- Releases the client's connections. Every asynchronous call not yet
-- answered (in flight, waiting to retry, or started by a callback while
-- close runs) gets its callback once, now, with 500026 "closed"; calls that
-- had finished get their own result. The client can still be used: a new
-- connection is opened on the next call.
function Client:close()
    if self._closing then return end -- close() from a callback close() runs
    self._closing = true
    for _ = 1, 100 do -- callbacks may start calls: each is answered too
        for op in pairs(self._live) do done(self, op, nil, closed_error()) end
        self._inflight, self._sleeping = {}, {}
        if #self._ready == 0 then break end
        local ready = self._ready
        self._ready = {}
        deliver(self, ready)
    end
    self._closing = nil
    self._io.close()
end

function Client:_start(method, params, callback)
    local op = { cb = callback }
    self._ops = self._ops + 1
    self._live[op] = true
    if self._closing then
        -- started from a callback that client:close() runs: answered at once
        done(self, op, nil, closed_error())
        return op
    end
    local io = call_io(self, ASYNC_IO)
    op.co = co_create(function() return ASYNC, self:_call(method, params, io) end)
    step(self, op)
    return op
end

local MAX_POLL_MS = 2147483647 -- poll(math.huge) waits at most this long (about 24.8 days)

--- Drives the asynchronous calls: sends and receives what is ready, waiting
-- at most timeout_ms (default 0) for the network, then runs the callbacks of
-- the calls that finished. Returns how many calls are still in flight.
function Client:poll(timeout_ms)
    if timeout_ms ~= nil then
        argcheck(type(timeout_ms) == "number" and timeout_ms >= 0, 1, "poll",
            "timeout_ms must be a number >= 0, got " .. tostring(timeout_ms))
        if timeout_ms > MAX_POLL_MS then timeout_ms = MAX_POLL_MS end -- math.huge included
    end
    local now = self._now_ms()
    local wake
    for _, at in pairs(self._sleeping) do
        if not wake or at < wake then wake = at end
    end
    if wake and wake > now and not next(self._inflight) and #self._ready == 0 and (timeout_ms or 0) > 0 then
        -- only retries are waiting: sleep until the first is due, within timeout_ms
        local sleep = self._config.sleep or core.sleep
        sleep(math.min(timeout_ms, wake - now) / 1000)
        now = self._now_ms()
    end
    wake = nil
    for op, at in pairs(self._sleeping) do
        if at <= now then
            self._sleeping[op] = nil
            step(self, op, {})
        elseif not wake or at < wake then
            wake = at
        end
    end
    if next(self._inflight) and self._io.session then
        local session = self._io.session()
        local wait = #self._ready > 0 and 0 or floor(timeout_ms or 0)
        if wake and wake - now < wait then wait = math.max(0, floor(wake - now)) end
        for _, r in ipairs(session:perform(wait)) do
            local slot = self._inflight[r.id]
            self._inflight[r.id] = nil
            if slot then
                local op = slot.op
                op.outcomes[slot.index] = r
                op.waiting = op.waiting - 1
                if op.waiting == 0 then step(self, op, op.outcomes) end
            end
        end
    end
    local ready = self._ready
    self._ready = {}
    deliver(self, ready)
    return self._ops
end

--- Milliseconds until poll() has work (0: now), or -1 when nothing is in flight.
function Client:timeout()
    if #self._ready > 0 then return 0 end
    local t = -1
    if next(self._inflight) and self._io.session then
        t = self._io.session():timeout()
    end
    local now = self._now_ms()
    for _, at in pairs(self._sleeping) do
        local w = math.max(0, floor(at - now))
        if t < 0 or w < t then t = w end
    end
    if t < 0 and self._ops > 0 and not next(self._sleeping) then t = 0 end
    return t
end

--- The sockets the in-flight calls wait on: { {fd = n, read = bool, write = bool}, ... },
-- for a host's own poller; call poll() when one is ready or timeout() expires.
function Client:fds()
    if next(self._inflight) and self._io.session then
        return self._io.session():fds()
    end
    return {}
end

--- Calls any Gigya method ("socialize.getUserInfo", "accounts.getAccountInfo",
-- or a bare socialize method name). Returns the response, or nil and an error.
-- With a callback, returns at once; the callback gets (res, err) from poll().
function Client:call(method, params, callback)
    argtype(method, 1, "call", "string")
    if params == nil then params = {} end
    argtype(params, 2, "call", "table")
    if callback ~= nil then
        argtype(callback, 3, "call", "function")
        self:_start(method, params, callback)
        return true
    end
    return self:_call(method, params, call_io(self, self._io))
end

--- Forgets the rate limits the networks reported (the blocked-until table):
-- all of them, one provider's (`"<provider>"`), or one account's
-- (`"<provider>", <account id>`). Returns how many entries were cleared.
function Client:unblock(provider, account)
    argcheck(provider == nil or type(provider) == "string", 1, "unblock", "provider must be a string")
    argcheck(account == nil or type(account) == "string" or type(account) == "number", 2, "unblock",
        "account must be a string or a number")
    argcheck(account == nil or provider ~= nil, 1, "unblock", "provider is required with an account")
    return policy.unblock(self._blocked, provider, account ~= nil and tostring(account) or nil)
end

local METHODS = { "publishUserAction", "setStatus", "sendNotification", "facebookGraphOperation",
                  "getUserInfo", "postBookmark" }

for _, name in pairs(METHODS) do
    local full = "socialize." .. name
    Client[name] = function(self, params, callback)
        if params == nil then params = {} end
        if type(params) ~= "table" then
            error(format("bad argument #1 to '%s' (table expected, got %s)", name, type(params)), 2)
        end
        if callback ~= nil and type(callback) ~= "function" then
            error(format("bad argument #2 to '%s' (function expected, got %s)", name, type(callback)), 2)
        end
        return self:call(full, params, callback)
    end
end

---------------------------------------------------------------------------
-- Module-level calls through a default client
---------------------------------------------------------------------------
local default_client

--- Sets the default client used by socialize.publishUserAction{...} and friends.
function _M.configure(config)
    argtype(config, 1, "configure", "table")
    if default_client then default_client:close() end
    default_client = _M.new(config)
    return default_client
end

--- The default client: the configured one, or one built from GIGYA_API_KEY,
-- GIGYA_SECRET, GIGYA_USER_KEY and GIGYA_DATA_CENTER.
function _M.default()
    if not default_client then
        default_client = _M.new {
            apiKey = os_getenv("GIGYA_API_KEY"),
            secret = os_getenv("GIGYA_SECRET"),
            userKey = os_getenv("GIGYA_USER_KEY"),
            dataCenter = os_getenv("GIGYA_DATA_CENTER"),
        }
    end
    return default_client
end

function _M.call(method, params)
    return _M.default():call(method, params)
end

for _, name in pairs(METHODS) do
    _M[name] = function(params)
        if params == _M or getmetatable(params) == Client then
            error("socialize." .. name .. " is a module function: call it with a dot, not a colon", 2)
        end
        return _M.default()[name](_M.default(), params)
    end
end

return _M
