-- The engine of one client: the state its calls share (settings, transport,
-- the blocked-until table, the setup cache, the server clock offset) and
-- the life of one call, whatever drives its requests: checked, then handed
-- to the Gigya path (socialize.gigya) or the direct backend
-- (socialize.direct) with an explicit context.
--
-- The context of one call (what gigya.call and direct.call/bookmark get):
--   send(reqs [, secrets]) -> outcomes  sends through the call's driver (the
--                           transport, or the poll loop), each request's timeout cut
--                           to the deadline; tells config.log; scrubs the errors
--   send1(req) -> outcome  one request, as send({ req })[1] answers it
--   sleep(seconds)          a retry's wait, never past the deadline
--   now() -> seconds        the clock of deadlines and waits (config.now, the transport's)
--   remaining() -> seconds  left before the call's deadline (config.deadline)
--   clock() -> seconds      Unix time for signing and rate limits, corrected by
--                           the server's Date (learn_date)
--   learn_date(date)        a reply's Date header: the clock offset follows it
--   nonce() -> string
--   cache                   the setup states of the direct backend (a session, limits)
--   blocked                 the blocked-until table (policy.block / policy.blocked)
--   retry                   the retry policy (policy.config)
--   log(event)              config.log, never raising (nothing without config.log)
--   secrets                 the client's secrets in every encoding (redaction)
--   config                  the client's config table, read only
--   options                 the Gigya request options that do not change between calls
--   ffi_build               socialize.ffi's build under LuaJIT (config.ffi), else nil
local core = require("socialize.core")
local errors = require("socialize.errors")
local validate = require("socialize.validate")
local policy = require("socialize.policy")
local transport = require("socialize.transport")
local direct = require("socialize.direct")
local gigya = require("socialize.gigya")
local config_mod = require("socialize.config")

local type, ipairs, tostring, pcall, setmetatable = type, ipairs, tostring, pcall, setmetatable
local co_running = coroutine.running
local format = string.format
local E = errors.codes

local _M = {}

local Engine = {}
Engine.__index = Engine

--- An engine over checked settings (config.check) and a completed transport.
function _M.new(settings, t)
    local cfg = settings.config
    local now_ms = settings.now_ms or core.now_ms
    if cfg.now then
        local now_s = cfg.now
        now_ms = function() return now_s() * 1000 end
    elseif t.now then
        now_ms = function() return t:now() * 1000 end
    end
    return setmetatable({
        clock_offset = 0,   -- seconds the server's Date is ahead of settings.clock
        _s = settings,
        _transport = t,
        _now_ms = now_ms,
        _blocked = {},      -- (provider, app|account) -> blocked until (Unix seconds)
        _bl_mirror = {},    -- the keys of _blocked that are in config.store's table
        _bl_next = nil,     -- now_ms at which config.store's table is read again
        _bl_warned = false, -- a failed read of it was reported
        _cache = {},        -- provider \0 key -> the state its setup step returned
                            -- (core.provider_info(name).setup: limits, a session)
        _options = nil,     -- the Gigya request options, made on first use
        _last_date = nil,   -- the last Date header the offset was learned from
    }, Engine)
end

--- The checked settings (config.check): config, backend, auth, nul_field...
function Engine:settings()
    return self._s
end

--- Milliseconds on the clock of deadlines and waits.
function Engine:now_ms()
    return self._now_ms()
end

--- A blocking wait outside any call (client:poll when only retries wait):
-- config.sleep, else the transport's.
function Engine:sleep(seconds)
    local sleep = self._s.config.sleep
    if sleep then return sleep(seconds) end
    return self._transport:sleep(seconds)
end

--- text with the client's secrets redacted.
function Engine:scrub(text)
    return policy.scrub(text, self._s.secrets)
end

--- Tells config.onError (default: stderr) about a callback's error, redacted.
function Engine:report(msg)
    msg = self:scrub(tostring(msg))
    local h = self._s.config.onError
    if h and pcall(h, msg) then return end
    io.stderr:write("socialize: ", tostring(msg), "\n")
end

-- config.store's blocked-until table (docs/store.md): read on first use,
-- then again at most every config.store.blockedRefresh seconds (other
-- processes' rate limits); a rate limit the network reports is written
-- through. A failing store never fails or changes a call: it is reported.
local DEFAULT_BLOCKED_REFRESH = 5

local function with_store(self, fn)
    local ok, err = pcall(function()
        local st, e, name = self.store_of()
        -- the store's message says what to do (a key, a directory); it holds no secret (docs/store.md)
        if not st then error(name and e and (tostring(e) .. " (" .. tostring(name) .. ")") or tostring(name or e), 0) end
        return fn(st)
    end)
    return ok, err
end

local function must(v, err) if v == nil then error(tostring(err), 0) end return v end

-- true when the blocked-until table is kept in config.store (direct backend)
local function kept_in_store(self)
    return self._s.config.store ~= nil and self.store_of ~= nil and self._s.backend == "direct"
end

--- Reads config.store's blocked-until table when it is due.
function Engine:sync_blocked()
    if not kept_in_store(self) then return end
    local sc = self._s.config.store
    local now = self._now_ms()
    if self._bl_next and now < self._bl_next then return end
    local every = type(sc) == "table" and sc.blockedRefresh or DEFAULT_BLOCKED_REFRESH
    self._bl_next = now + every * 1000
    local clock = self._s.clock() + self.clock_offset
    local list
    local ok, err = with_store(self, function(st)
        list = must(st:blocked_list(math.floor(clock)))
    end)
    if not ok then
        if not self._bl_warned then
            self._bl_warned = true
            self:report("the store's blocked-until table could not be read (calls go on without it): " .. tostring(err))
        end
        return
    end
    self._bl_warned = false
    local tbl, mirror = self._blocked, self._bl_mirror
    for k in pairs(mirror) do tbl[k] = nil; mirror[k] = nil end
    local cap = clock + policy.MAX_BLOCK
    for _, e in ipairs(list) do
        local u = e["until"]
        if type(e.provider) == "string" and type(e.key) == "string" and type(u) == "number" then
            if u > cap then u = cap end -- a store's value is capped like a network's
            local k = policy.from_store(e.provider, e.key)
            if not tbl[k] or tbl[k] < u then tbl[k] = u end
            mirror[k] = true
        end
    end
end

--- Writes a rate limit (policy.block's key and until) through to config.store.
function Engine:store_block(k, until_)
    local ok, err = with_store(self, function(st)
        local p, sk = policy.store_key(k)
        must(st:block(p, sk, math.ceil(until_)))
    end)
    if ok then
        self._bl_mirror[k] = true
    else
        self:report("a rate limit could not be kept in the store (the call's result stands): " .. tostring(err))
    end
end

function Engine:unblock(provider, account)
    local stored = kept_in_store(self)
    if stored then self:sync_blocked() end
    local n = policy.unblock(self._blocked, provider, account)
    if stored then
        local ok, err = with_store(self, function(st)
            if account ~= nil then
                local a, b = policy.account_store_keys(provider, account)
                must(st:unblock(provider, a))
                must(st:unblock(provider, b))
            else
                must(st:unblock(provider))
            end
        end)
        if not ok then self:report("the store's blocked-until entries could not be cleared: " .. tostring(err)) end
    end
    return n
end

function Engine:close()
    self._transport:close()
end

local function request_options(self)
    local o = self._options
    if not o then
        local s, c = self._s, self._s.config
        o = { apiDomain = s.apiDomain, url = c.url, auth = s.auth, apiKey = c.apiKey, userKey = c.userKey,
              secret = c.secret, accessToken = c.accessToken, privateKey = c.privateKey, sdk = c.sdk }
        self._options = o
    end
    return o
end

--- The context of one call (see the top of this file). driver: nil for a
-- blocking call (the transport itself), or the poll loop's stand-in
-- (async = true, request_many and sleep that yield).
function Engine:context(driver, st)
    local s, cfg, t = self._s, self._s.config, self._transport
    local now_ms = self._now_ms
    st = st or {} -- st.deadline: ms (a reused context gets a new one per call)
    st.deadline = now_ms() + s.deadline * 1000
    local sleep, lease_sleep
    local driver_given = driver ~= nil
    if driver then
        sleep = function(seconds) driver:sleep(seconds) end
        lease_sleep = sleep
    else
        driver = t
        sleep = cfg.sleep or function(seconds) t:sleep(seconds) end
    end
    local ctx = {
        config = cfg, options = request_options(self), retry = s.retry, retry_expired = s.retryExpired,
        blocked = self._blocked, cache = self._cache, secrets = s.secrets, nonce = s.nonce,
        ffi_build = s.ffi_build, -- false/nil: core.build_request only
        store = self.store_of, -- the client's store (client:store), when config.store is set
    }
    if kept_in_store(self) then
        self:sync_blocked()
        ctx.on_block = function(k, until_) self:store_block(k, until_) end
    end
    -- a store lease's wait (socialize.connect): in an asynchronous call, a yield to the poll
    -- loop, which drives every transfer meanwhile (the lease's holder may be another call of
    -- the same loop, its refresh in flight: a blocking sleep stalled it until the wait ran
    -- out); nil in a blocking call (the store's own sleep)
    ctx.lease_sleep = lease_sleep
    local function remaining()
        return (st.deadline - now_ms()) / 1000
    end
    ctx.remaining = remaining
    function ctx.now() return now_ms() / 1000 end
    function ctx.clock() return s.clock() + self.clock_offset end
    function ctx.learn_date(date)
        if date and date ~= self._last_date then
            local server = type(date) == "string" and core.parse_http_date(date) or nil
            if server then
                self.clock_offset = server - s.clock()
                self._last_date = date -- the same Date second says nothing new
            end
        end
    end
    local log = cfg.log
    function ctx.log(event)
        if log then pcall(log, event) end
    end
    function ctx.sleep(seconds)
        local rem = remaining()
        if not (seconds <= rem) then seconds = rem end -- never past the deadline (nor NaN)
        if seconds > 0 then sleep(seconds) end
    end
    -- every request's timeout fits in what is left of the deadline; once it
    -- has passed, nothing more is sent
    local late = "the call's deadline (" .. tostring(s.deadline) .. " s) passed before this request was sent"
    local function fit(reqs)
        local rem = remaining()
        if not (rem > 0) then return false end
        for _, req in ipairs(reqs) do
            if not (type(req.timeout) == "number" and req.timeout <= rem) then req.timeout = rem end
        end
        return true
    end
    local function many(reqs)
        if #reqs > 0 and not fit(reqs) then
            local out = {}
            for i = 1, #reqs do out[i] = { error = late, kind = "deadline" } end
            return out
        end
        return driver:request_many(reqs)
    end
    -- a transport's error shows no credential, and none of its request's URL
    -- a log would not show (an upload URL's signature, a bot token)
    -- (secrets: the list, or false to take the requests' own with base at the first error)
    local function scrub_errors(out, reqs, secrets, base)
        for i, o in ipairs(out) do
            if type(o) == "table" and o.error then
                if type(base) == "function" then base = base() end
                secrets = secrets or policy.auth_secrets(reqs, base)
                o.error = policy.scrub(policy.scrub(o.error, secrets), policy.url_secrets(reqs[i] and reqs[i].url))
            end
        end
    end
    -- One request of a blocking call without config.log, as ctx.send({ req })[1]
    -- would answer it, without its lists (issue 15: no garbage per call).
    local direct_one = not log and driver.request ~= nil
    function ctx.send1(req)
        if not direct_one then return ctx.send({ req })[1] end
        local o
        local rem = remaining()
        if rem > 0 then
            if not (type(req.timeout) == "number" and req.timeout <= rem) then req.timeout = rem end
            o = transport.outcome(driver:request(req))
        else
            o = { error = late, kind = "deadline" }
        end
        if type(o) == "table" and o.error then scrub_errors({ o }, { req }, false, s.secrets) end
        return o
    end
    -- One blocking Gigya request in one C call (issue 15): build, sign, send and
    -- read the reply (socialize.curl's s:gigya through core.capi), with no Lua
    -- request table. Only for a blocking call (driver nil) on the built-in curl
    -- transport (t.gigya: a host's transport, OpenResty's or a wrapped one has
    -- none) without config.log (which logs the request table); the answer is
    -- what gigya.answer(ctx, ctx.send1(gigya.build(...))) gives: reply | nil, err;
    -- nil, nil when the deadline has passed (the general path then says so, after
    -- checking the request as it always did).
    local t_gigya = not log and not driver_given and t.gigya
    if t_gigya then
        local cfg_timeout = cfg.timeout
        function ctx.fast(o, params)
            local rem = remaining()
            if not (rem > 0) then return nil, nil end
            local timeout = cfg_timeout
            if not (type(timeout) == "number" and timeout <= rem) then timeout = rem end
            local r, a, b, c = t_gigya(o, params, timeout)
            if r then -- reply, date
                if a ~= nil and a ~= self._last_date then ctx.learn_date(a) end
                return r
            end
            if r == false then -- false, date, message, code: the reply did not read
                ctx.learn_date(a)
                return nil, errors.new(c, b)
            end
            if type(b) == "number" then -- nil, message, code: nothing built
                return nil, errors.new(b, a)
            end
            -- nil, message, kind, req: the transfer failed; its message redacted as ctx.send1's
            local o1 = transport.outcome(nil, a, b)
            scrub_errors({ o1 }, { c or {} }, false, s.secrets)
            return nil, errors.transport(o1.error, o1.kind)
        end
    end
    -- (secrets: the call's list, or a function that makes it, called only
    -- when an error or config.log needs it)
    function ctx.send(reqs, secrets)
        -- the Authorization values of these requests (a Gigya JWT, an OAuth 1.0a
        -- signature, a Bearer token) are credentials too: a transport error that
        -- quotes the request never shows them
        local out
        if not log then
            if #reqs == 1 and driver.request then
                -- one blocking request: the transport's direct path
                if fit(reqs) then
                    out = { transport.outcome(driver:request(reqs[1])) }
                else
                    out = { { error = late, kind = "deadline" } }
                end
            else
                out = many(reqs)
            end
            scrub_errors(out, reqs, false, secrets or s.secrets) -- the secrets only when an error needs them
            return out
        end
        if type(secrets) == "function" then secrets = secrets() end
        secrets = policy.auth_secrets(reqs, secrets or s.secrets)
        local wall_ms = s.now_ms or core.now_ms
        local t0 = wall_ms()
        for _, req in ipairs(reqs) do
            pcall(log, { event = "request", provider = req.provider or "gigya", method = req.method,
                         url = policy.scrub(policy.redact_url(req.url), secrets) })
        end
        out = many(reqs)
        local ms = wall_ms() - t0
        scrub_errors(out, reqs, secrets)
        for i, o in ipairs(out) do
            pcall(log, { event = "response", provider = reqs[i].provider or "gigya", status = o.status,
                         error = o.error and policy.scrub(o.error, secrets), kind = o.kind, ms = ms })
        end
        return out
    end
    return ctx
end

-- The contexts of blocking calls on Gigya's backend, kept for reuse: a call
-- takes one from the client's free list (or makes one) and gives it back when
-- it returns, so only the deadline changes between calls. Calls that run at
-- once (OpenResty requests waiting on their cosockets, a call made from a
-- callback or a host transport) each hold their own. At most MAX_FREE are
-- kept. Returns ctx and the holder to give back (release_context).
local MAX_FREE = 64

local function blocking_context(self)
    local free = self._free
    if free then
        local n = #free
        if n > 0 then
            local b = free[n]
            free[n] = nil
            b.st.deadline = self._now_ms() + self._s.deadline * 1000
            return b.ctx, b
        end
    else
        self._free = {}
    end
    local st = {}
    local b = { st = st, ctx = self:context(nil, st) }
    return b.ctx, b
end

local function release_context(self, b)
    local free = self._free
    local n = #free
    if n < MAX_FREE then free[n + 1] = b end
end

-- The context of the asynchronous calls of one driver (the poll loop's),
-- made once and shared by every call in flight: each call runs in its own
-- coroutine, and its deadline is kept by that coroutine (a weak table), so a
-- call in flight holds no context, no closures of its own (issue 15: memory
-- per in-flight call). Returns the context for the running coroutine, its
-- deadline set; nil outside a coroutine (a context of its own then).
local function shared_async(self, driver)
    local a = self._async
    if not a or a.driver ~= driver then
        local deadlines = setmetatable({}, { __mode = "k" })
        local st = setmetatable({}, {
            -- (Lua 5.1 and LuaJIT: no coroutine.running() on the main thread, where
            -- Engine:context sets a first deadline no call reads)
            __index = function(_, k) if k == "deadline" then return deadlines[co_running() or deadlines] end end,
            __newindex = function(_, k, v) if k == "deadline" then deadlines[co_running() or deadlines] = v end end,
        })
        a = { driver = driver, st = st }
        a.ctx = self:context(driver, st)
        self._async = a
    elseif kept_in_store(self) then
        self:sync_blocked() -- as a context of its own would
    end
    return a
end

local function async_context(self, driver, deadline)
    if not co_running() then return nil end -- Lua 5.1 / LuaJIT: the main thread
    local a = shared_async(self, driver)
    a.st.deadline = deadline or self._now_ms() + self._s.deadline * 1000
    return a.ctx
end

-- The call's params checked (validate.check, the options made once per
-- client): p | nil, err. A parameter table whose metatable raises (__pairs,
-- __index, __len) is bad input, not a crash of the call: 400006, nothing sent.
local function checked(self, method, params)
    local vopts = self._vopts
    if not vopts then
        local s = self._s
        vopts = { auth = s.auth, backend = s.backend }
        self._vopts = vopts
    end
    local vok, p, err = pcall(validate.check, method, params, vopts)
    if not vok then
        return nil, errors.invalid("params", "could not be read (a table's metatable raised an error)")
    end
    return p, err
end

--- The first request of an asynchronous call on Gigya's backend, checked,
-- built and signed here, outside any coroutine: the call holds no
-- coroutine while it waits (issue 15: memory per in-flight call); its
-- reply goes to Engine:gigya_rest. Returns nil when the call takes the
-- general path (config.log, config.clock, config.nonce, a store, a gated
-- transport: anything that may run host code or log around the request);
-- else { res, err } answered at once, or { method, p, req, deadline }.
function Engine:gigya_first(method, params, driver)
    local s, cfg = self._s, self._s.config
    if s.backend == "direct" or cfg.log or s.user_clock or cfg.nonce or s.nul_field
        or kept_in_store(self) or self._transport.gate then
        return nil
    end
    local p, err = checked(self, method, params)
    if not p then return { nil, err } end
    if validate.full_name(method) == "socialize.postBookmark" then return nil end
    local deadline = self._now_ms() + s.deadline * 1000
    local req, berr = gigya.build(shared_async(self, driver).ctx, method, p)
    if not req then return { nil, berr } end
    -- as ctx.send: the request's timeout fits in the call's deadline
    if not (type(req.timeout) == "number" and req.timeout <= s.deadline) then req.timeout = s.deadline end
    return { method = method, p = p, req = req, deadline = deadline }
end

--- The rest of a call that Engine:gigya_first started, in the call's
-- coroutine (retries may wait and send again): res is the transport's
-- outcome of the first request.
function Engine:gigya_rest(plan, res, driver)
    local ctx = async_context(self, driver, plan.deadline)
    if type(res) == "table" and res.error then
        -- as ctx.send: a transport error shows no credential
        local secrets = policy.auth_secrets({ plan.req }, self._s.secrets)
        res.error = policy.scrub(policy.scrub(res.error, secrets), policy.url_secrets(plan.req.url))
    end
    local reply, err = gigya.answer(ctx, res)
    return gigya.call(ctx, plan.method, plan.p, { reply, err })
end

-- nil, or the error of a config.clock that does not answer Unix seconds.
local function clock_error(s)
    if not s.user_clock then return nil end
    local ok, t = pcall(s.user_clock)
    if ok and type(t) == "number" and t >= 0 and t < config_mod.CLOCK_MAX then return nil end
    return errors.invalid("config.clock", format("(returned %s; Unix seconds from 0 to 2^33 expected): "
        .. "nothing was sent", ok and (t ~= t and "NaN" or type(t) == "number" and format("%.17g", t) or type(t)) or "an error"))
end

--- A dry run of publishUserAction (docs/media.md): response | nil, err.
function Engine:preview(params)
    local s = self._s
    if s.backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: preview needs the direct backend "
            .. "(config.backend = \"direct\"); Gigya's backend composes posts itself")
    end
    local vok, p, err = pcall(validate.check, "socialize.publishUserAction", params, { auth = s.auth, backend = s.backend })
    if not vok then
        return nil, errors.invalid("params", "could not be read (a table's metatable raised an error)")
    end
    if not p then return nil, err end
    return direct.preview(self:context(), p)
end

--- The whole of one call: response | nil, err. driver as for context().
function Engine:call(method, params, driver)
    local s = self._s
    if s.nul_field then
        return nil, errors.invalid(s.nul_field, "contains a NUL byte")
    end
    local p, err = checked(self, method, params)
    if not p then return nil, err end
    local full = validate.full_name(method)
    if driver == nil and s.backend ~= "direct" and full ~= "socialize.postBookmark" then
        local ctx, held = blocking_context(self)
        local res, e = self:gigya_call(ctx, method, p)
        release_context(self, held)
        return res, e
    end
    local ctx = driver and async_context(self, driver) or self:context(driver)
    if full == "socialize.postBookmark" then
        return direct.bookmark(ctx, p) -- share-intent URLs: no network call
    end
    local why = self._transport.gate and self._transport:gate()
    if why then -- e.g. an OpenResty phase without cosockets
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: " .. tostring(why))
    end
    local clock_err = clock_error(s)
    if clock_err then return nil, clock_err end
    if s.backend == "direct" then
        return direct.call(ctx, full, p)
    end
    return gigya.call(ctx, method, p)
end

-- A Gigya call from its checked parameters (Engine:call): the gate, the clock, the call.
function Engine:gigya_call(ctx, method, p)
    local why = self._transport.gate and self._transport:gate()
    if why then -- e.g. an OpenResty phase without cosockets
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: " .. tostring(why))
    end
    local clock_err = clock_error(self._s)
    if clock_err then return nil, clock_err end
    return gigya.call(ctx, method, p)
end

return _M
