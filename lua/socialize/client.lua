-- The client: socialize.new(config) and its methods. It holds an engine
-- (socialize.engine: the calls) and the asynchronous calls
-- (socialize.async: callbacks driven by client:poll()).
local config = require("socialize.config")
local transport = require("socialize.transport")
local engine = require("socialize.engine")
local async = require("socialize.async")
local util = require("socialize.util")

local type, ipairs, tostring, error, pcall, setmetatable, rawget = type, ipairs, tostring, error, pcall, setmetatable,
    rawget
local format = string.format

local _M = {}

local argcheck, argtype = util.argcheck, util.argtype

local Client = { __name = "socialize.Client" }
_M.Client = Client

-- Methods, then the engine's clock offset (seconds the server's Date is ahead).
function Client.__index(self, k)
    local m = Client[k]
    if m == nil and k == "clock_offset" then return rawget(self, "_engine").clock_offset end
    return m
end

--- Creates a client. See docs/api.md for every config field.
function _M.new(cfg)
    if cfg == nil then cfg = {} end
    argtype(cfg, 1, "new", "table")
    local ok, s = pcall(config.check, cfg)
    if not ok then error(s, 2) end
    local ok_t, t = pcall(transport.select, cfg)
    if not ok_t then error(t, 2) end
    local e = engine.new(s, t)
    local client = setmetatable({
        backend = s.backend,
        auth = s.auth,
        apiDomain = s.apiDomain,
        retryExpired = s.retryExpired,
        _label = cfg.url or s.apiDomain,
        _engine = e,
        _async = async.new(e, t),
        _store_config = cfg.store,
    }, Client)
    e.store_of = function() return client:store() end
    return client
end

--- The client's store (config.store, docs/store.md), opened on first use
-- and kept: the store, or nil, message, name ("key_mismatch", "store_gone",
-- ...; a failed open is tried again on the next call). Nil with no message
-- when config.store is not set.
function Client:store()
    local st = rawget(self, "_store")
    if st then return st end
    local c = self._store_config
    if c == nil then return nil end
    if type(c) == "string" then c = { url = c } end
    local s, err, code = require("socialize.store").open(c.url, {
        keys = c.keys, plaintext = c.plaintext, busyTimeout = c.busyTimeout, outboxSync = c.outboxSync })
    if not s then return nil, err, code end
    self._store = s
    return s
end

function Client:__tostring()
    if self.backend == "direct" then
        return "socialize.Client (direct)"
    end
    return format("socialize.Client (%s, %s)", self.auth, self._label)
end

--- Releases the client's connections and the store it opened (its files
-- or its database session). Every asynchronous call not yet answered (in
-- flight, waiting to retry, or started by a callback while close runs) gets
-- its callback once, now, with 500026 "closed"; calls that had finished get
-- their own result. The client can still be used: a new connection is
-- opened, and the store opened again, on the next call that needs them.
function Client:close()
    if self._async:close() then
        self._engine:close()
        local st = rawget(self, "_store")
        local ob = rawget(self, "_outbox")
        if st and ob and ob.unrecorded then -- outcomes the store refused earlier: a last try
            pcall(require("socialize.outbox").flush_unrecorded, ob)
        end
        if st then
            self._store = nil
            st:close()
        end
    end
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
    return self._async:poll(timeout_ms)
end

--- Milliseconds until poll() has work (0: now), or -1 when nothing is in flight.
function Client:timeout()
    return self._async:timeout()
end

--- The sockets the in-flight calls wait on: { {fd = n, read = bool, write = bool}, ... },
-- for a host's own poller; call poll() when one is ready or timeout() expires.
function Client:fds()
    return self._async:fds()
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
        self._async:start(method, params, callback)
        return true
    end
    return self._engine:call(method, params)
end

--- What publishUserAction would post on each connected network, without
-- sending or fetching anything (docs/media.md): response | nil, err. It
-- answers at once, so it takes no callback (one raises: it would never run).
function Client:preview(params, callback)
    if params == nil then params = {} end
    argtype(params, 1, "preview", "table")
    argcheck(callback == nil, 2, "preview", "takes no callback: it sends nothing and answers at once")
    return self._engine:preview(params)
end

--- Forgets the rate limits the networks reported (the blocked-until table):
-- all of them, one provider's (`"<provider>"`), or one account's
-- (`"<provider>", <account id>`); with config.store, the store's entries
-- too (engine). Returns how many entries were cleared.
function Client:unblock(provider, account)
    argcheck(provider == nil or type(provider) == "string", 1, "unblock", "provider must be a string")
    argcheck(account == nil or type(account) == "string" or type(account) == "number", 2, "unblock",
        "account must be a string or a number")
    argcheck(account == nil or provider ~= nil, 1, "unblock", "provider is required with an account")
    return self._engine:unblock(provider, account ~= nil and tostring(account) or nil)
end

-- the calls that may be queued (socialize.outbox)
local QUEUED = { publishUserAction = true, setStatus = true, sendNotification = true }

-- the client's outbox (socialize.outbox), made on first use
local function outbox(self)
    local ob = rawget(self, "_outbox")
    if not ob then
        ob = require("socialize.outbox").new(self, self._engine, self._async)
        self._outbox = ob
    end
    return ob
end

-- A connection made: the queued deliveries waiting for it resume now
-- (docs/delivery.md); then the result as it was.
local function connected(self, res, err, ...)
    if type(res) == "table" and res.UID ~= nil and res.provider ~= nil and rawget(self, "_store") then
        require("socialize.outbox").reconnected(outbox(self), tostring(res.UID), res.provider)
    end
    return res, err, ...
end

--- Connections (docs/connections.md): the authorization URL to send the
-- user to, and its pending state kept in the store: {url, state} | nil, err.
function Client:connect(params)
    argtype(params, 1, "connect", "table")
    return connected(self, require("socialize.connect").connect(self._engine:context(), params))
end

--- The callback of a connect (its query string, URL or a table): the new
-- connection's identity | nil, err (err.error names why: state_unknown,
-- state_expired, access_denied, scopes_missing, auth_expired, transient...).
function Client:finishConnect(callback)
    argcheck(type(callback) == "string" or type(callback) == "table", 1, "finishConnect",
        "the callback's query string, URL or a table expected")
    return connected(self, require("socialize.connect").finish(self._engine:context(), callback))
end


--- Completes a connect whose finishConnect returned a page list (pending =
-- "selectPage"): {UID, provider, pageId} -> the connection's identity | nil, err.
function Client:selectPage(params)
    argtype(params, 1, "selectPage", "table")
    return connected(self, require("socialize.connect").select_page(self._engine:context(), params))
end

--- Disconnects a user from one network (provider) or all: revokes where the
-- network can, deletes from the store.
function Client:removeConnection(params)
    argtype(params, 1, "removeConnection", "table")
    return require("socialize.connect").remove(self._engine:context(), params)
end

_M.METHODS = { "publishUserAction", "setStatus", "sendNotification", "facebookGraphOperation",
               "getUserInfo", "postBookmark" }


--- Queued delivery (docs/delivery.md): claims the due deliveries of the
-- store's outbox and sends them, starting none after budget_ms. Returns a
-- summary { claimed, sent, retrying, unconfirmed, dead, waiting_reconnect,
-- lost, released, started, inflight } | nil, err. opts: { worker = id,
-- limit = n, async = true (started, client:poll completes them), stop = fn,
-- idle = ms (no claim for idle ms after one found nothing), concurrency = n
-- (async: at most n in flight; default config.outbox.batch), on_done =
-- fn(state, jobID, provider) (async: each outcome as poll records it) }.
function Client:work(budget_ms, opts)
    argcheck(type(budget_ms) == "number" and budget_ms >= 0 and budget_ms == budget_ms, 1, "work",
        "budget_ms must be a number >= 0, got " .. tostring(budget_ms))
    if budget_ms > MAX_POLL_MS then budget_ms = MAX_POLL_MS end
    argcheck(opts == nil or type(opts) == "table", 2, "work", "opts must be a table")
    if opts then
        argcheck(opts.worker == nil or (type(opts.worker) == "string" and opts.worker ~= ""
            and not opts.worker:find("\0", 1, true)), 2, "work", "opts.worker must be a string")
        argcheck(opts.limit == nil or (type(opts.limit) == "number" and opts.limit >= 1), 2, "work",
            "opts.limit must be a number >= 1")
        argcheck(opts.stop == nil or type(opts.stop) == "function", 2, "work", "opts.stop must be a function")
        argcheck(opts.on_done == nil or type(opts.on_done) == "function", 2, "work",
            "opts.on_done must be a function")
        argcheck(opts.concurrency == nil or (type(opts.concurrency) == "number" and opts.concurrency >= 1
            and opts.concurrency <= 10000), 2, "work", "opts.concurrency must be a number from 1 to 10000")
        argcheck(opts.idle == nil or (type(opts.idle) == "number" and opts.idle >= 0 and opts.idle <= MAX_POLL_MS), 2,
            "work", "opts.idle must be a number of ms >= 0")
    end
    return require("socialize.outbox").work(outbox(self), budget_ms, opts)
end

--- Many queued calls in one transaction (docs/delivery.md "Many at once"):
-- calls = { { method = "publishUserAction", params = {...}, at = t?, key = k? }, ... };
-- opts = { tx = tx }? to write them in the host's store:transaction.
-- { errorCode = 0, results = { { jobID, status, providers, ... }, ... } } |
-- nil, err (err.index: the call at fault; nothing is written).
function Client:enqueueMany(calls, opts)
    return require("socialize.outbox").enqueue_many(outbox(self), calls, opts)
end

--- A queued job with each delivery's state | nil, err (err.error = "job_unknown").
function Client:job(jobID) return require("socialize.outbox").job(outbox(self), jobID) end

--- Queued jobs, newest first: { errorCode = 0, jobs = {...} } | nil, err.
function Client:jobs(query) return require("socialize.outbox").jobs(outbox(self), query) end

--- Cancels a job's deliveries not yet sent (refused, err.error = "job_sending",
-- while one is being sent).
function Client:cancel(jobID) return require("socialize.outbox").cancel(outbox(self), jobID) end

--- Queues a job's dead deliveries again (one provider's, or all).
function Client:retry(jobID, provider) return require("socialize.outbox").retry(outbox(self), jobID, provider) end

--- The host's decision on an unconfirmed delivery: "sent" or "resend".
function Client:resolve(jobID, provider, decision)
    return require("socialize.outbox").resolve(outbox(self), jobID, provider, decision)
end

--- Deletes finished jobs unchanged for `age` seconds.
function Client:prune(age) return require("socialize.outbox").prune(outbox(self), age) end

-- getUserInfo on the direct backend with config.store: from the store. (Its
-- own function: a function that defines a closure closes upvalues at every
-- return, which LuaJIT cannot compile (issue 15), so the methods below define none.)
local function stored_user_info(self, params, callback)
    local ctx, info = self._engine:context(), require("socialize.connect").user_info
    if callback == nil then return info(ctx, params) end
    -- from the store too, the callback run by poll() as any call's
    self._async:answer(function() return info(ctx, params) end, callback)
    return true
end

for _, name in ipairs(_M.METHODS) do
    local full = "socialize." .. name
    Client[name] = function(self, params, callback)
        if params == nil then params = {} end
        if type(params) ~= "table" then
            error(format("bad argument #1 to '%s' (table expected, got %s)", name, type(params)), 2)
        end
        if type(callback) == "table" and QUEUED[name] then
            -- { deliver = "queued", at = <unix time>?, key = <dedup key>? } (docs/delivery.md)
            return require("socialize.outbox").enqueue(outbox(self), full, params, callback)
        end
        if callback ~= nil and type(callback) ~= "function" then
            error(format("bad argument #2 to '%s' (function expected, got %s)", name, type(callback)), 2)
        end
        if name == "getUserInfo" and self.backend == "direct" and self._store_config ~= nil then
            return stored_user_info(self, params, callback)
        end
        if callback == nil then
            return self._engine:call(full, params) -- what self:call would do, its checks done above
        end
        return self:call(full, params, callback)
    end
end

return _M
