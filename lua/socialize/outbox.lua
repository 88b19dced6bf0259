-- Queued delivery (docs/delivery.md): publishUserAction, setStatus and
-- sendNotification with { deliver = "queued" } write a job into the client's
-- store, one delivery per target network; client:work(budget_ms) claims the
-- due deliveries and sends each through the direct backend for that one
-- network, then records its outcome with the retry policy of its category.
-- What each network offers (an idempotency key) comes from
-- core.provider_info: this file names no network.
local core = require("socialize.core")
local errors = require("socialize.errors")
local validate = require("socialize.validate")
local policy = require("socialize.policy")
local direct = require("socialize.direct")

local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall
local floor, max, min, random = math.floor, math.max, math.min, math.random

local E = errors.codes

local _M = {}

--- The outbox of a client: { client = the client (its store), engine = its
-- engine, worker = this client's worker id, made on first use }. Every
-- function below takes it as `client`.
function _M.new(client, engine)
    return { client = client, engine = engine }
end

_M.METHODS = {
    ["socialize.publishUserAction"] = "publish",
    ["socialize.setStatus"] = "status",
    ["socialize.sendNotification"] = "notify",
}

-- The defaults of config.outbox (docs/delivery.md).
_M.DEFAULTS = {
    lease = 60,                 -- seconds a claimed delivery is a worker's
    batch = 5,                  -- deliveries per claim
    maxAttempts = 12,           -- then dead
    reconnectWindow = 7 * 86400, -- seconds an auth_expired delivery waits for a reconnect
    recheck = 300,              -- seconds between the checks for that reconnect
    idempotencyWindow = 3000,   -- seconds a resend with the same key is safe (a network keeps keys about 1 h)
}
_M.MAX_KEY = 200
_M.DEDUP_WINDOW = 86400

-- Categories that never retry: dead at once.
local FINAL = { content_invalid = true, permission_missing = true, duplicate = true, unsupported = true,
                provider_discontinued = true, not_connected = true }

local function named(code, name, details)
    local e = errors.new(code, details)
    e.error = name
    return e
end

local function store_error(msg, name)
    return named(E.GENERAL_SERVER_ERROR, name or "store", "the store: " .. tostring(msg))
end

local function settings(client)
    local o = client.engine:settings().config.outbox or {}
    local s = {}
    for k, v in pairs(_M.DEFAULTS) do s[k] = o[k] or v end
    return s
end

-- Unix seconds: config.now when set (so tests move it), else the system's.
local function now_s(client)
    local n = client.engine:settings().config.now
    if n then return floor(n()) end
    return floor(core.now_ms() / 1000)
end

-- The client's store, or nil and the error (named no_store without config.store).
local function store_of(client)
    local st, err, name = client.client:store()
    if st then return st end
    if err == nil then
        return nil, named(E.NOT_SUPPORTED, "no_store", "Not supported: queued delivery needs config.store (docs/store.md)")
    end
    return nil, store_error(err, name)
end

local function idempotent(provider)
    local info = core.provider_info(provider)
    return info ~= nil and type(info.idempotency) == "table" and info.idempotency.kind ~= "none"
end
_M.idempotent = idempotent

-- The options of a queued call: at (Unix seconds), key (the dedup key).
local function check_opts(opts)
    for k in pairs(opts) do
        if k ~= "deliver" and k ~= "at" and k ~= "key" then
            return nil, errors.invalid("options." .. tostring(k), "is not an option (deliver, at, key)")
        end
    end
    if opts.deliver ~= "queued" then
        return nil, errors.invalid("deliver", "must be \"queued\"")
    end
    local at = opts.at
    if at ~= nil and (type(at) ~= "number" or at ~= at or at == math.huge or at == -math.huge) then
        return nil, errors.invalid("at", "must be a Unix time in seconds (got " .. (type(at) == "number" and
            tostring(at) or "a " .. type(at)) .. ")")
    end
    local key = opts.key
    if key ~= nil then
        if type(key) ~= "string" or key == "" then
            return nil, errors.invalid("key", "must be a non-empty string")
        end
        if #key > _M.MAX_KEY then
            return nil, errors.invalid("key", "is " .. #key .. " bytes; at most " .. _M.MAX_KEY)
        end
        if key:find("\0", 1, true) or not core.json_decode(core.json_encode(key) or "0") then
            return nil, errors.invalid("key", "must be UTF-8 without NUL bytes")
        end
    end
    return true
end

-- The networks the direct call would go to, from the user's connections
-- (read from the store as they are: nothing is refreshed at enqueue).
local function target_names(client, ctx, p, action)
    local conn
    if ctx.config.connections == nil and ctx.config.store ~= nil then
        local st, err = store_of(client)
        if not st then return nil, err end
        local list, lerr, lcode = st:list_connections(p.UID)
        if not list then return nil, store_error(lerr, lcode) end
        conn = {}
        for _, rec in ipairs(list) do conn[rec.provider] = true end
    else
        conn = direct.connections(ctx, p.UID)
    end
    if type(conn) ~= "table" then
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: no connections for UID " .. tostring(p.UID))
    end
    local names = direct.targets(conn, p, action)
    if #names == 0 then
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: UID " .. tostring(p.UID)
            .. " has no connection to the enabled providers")
    end
    return names
end

--- A queued call: { errorCode = 0, jobID, status = "queued", providers } |
-- nil, err. Checked exactly as the direct call; nothing is stored on error.
function _M.enqueue(client, method, params, opts)
    local ok, oerr = check_opts(opts)
    if not ok then return nil, oerr end
    local eng = client.engine
    local s = eng:settings()
    if s.backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: queued delivery needs the direct backend "
            .. "(config.backend = \"direct\")")
    end
    if s.nul_field then return nil, errors.invalid(s.nul_field, "contains a NUL byte") end
    local vok, p, err = pcall(validate.check, method, params, { auth = s.auth, backend = s.backend })
    if not vok then return nil, errors.invalid("params", "could not be read (a table's metatable raised an error)") end
    if not p then return nil, err end
    local full = validate.full_name(method)
    local action = _M.METHODS[full]
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local names, terr = target_names(client, eng:context(), p, action)
    if not names then return nil, terr end
    local text, jmsg = core.json_encode(p)
    if not text then
        return nil, errors.invalid("params", "cannot be queued: " .. tostring(jmsg)
            .. " (queue media by URL or file path, not by bytes)")
    end
    local now = now_s(client)
    local at = opts.at and floor(max(min(opts.at, 9e15), -9e15)) or now
    local id, existed, code = st:enqueue({ UID = tostring(p.UID), method = full, params = text, providers = names,
        key = opts.key, window = _M.DEDUP_WINDOW, now = now, runAt = at })
    if not id then
        if code == "bad_input" then return nil, errors.invalid("params", tostring(existed)) end
        return nil, store_error(existed, code)
    end
    local status = "queued"
    if existed then
        local j = st:job(id)
        status = j and j.status or status
    end
    return { errorCode = 0, statusCode = 200, statusReason = "OK", jobID = id, status = status,
             providers = names, deduplicated = existed or nil, runAt = at > now and at or now }
end

---------------------------------------------------------------------------
-- the worker
---------------------------------------------------------------------------
local function backoff(n)
    n = max(1, min(n, 1000))
    return max(1, floor(n ^ 4 * (0.9 + 0.2 * random()) + 0.5))
end
_M.backoff = backoff

local function worker_id(client)
    local id = client.worker
    if not id then
        id = "w-" .. core.random_hex(8)
        client.worker = id
    end
    return id
end

-- The store's blocked-until for this delivery (the provider as a whole, or
-- this UID on it): Unix seconds or nil.
local function blocked_until(st, provider, uid, now)
    local a = st:blocked(provider, "", now)
    local b = st:blocked(provider, "uid:" .. uid, now)
    if type(a) == "number" and type(b) == "number" then return max(a, b) end
    return type(a) == "number" and a or type(b) == "number" and b or nil
end

-- A text from a network made fit for the store: no NUL, UTF-8 (else its
-- bytes above 127 replaced), at most n bytes (default 1000).
local function cut(s, n)
    s = tostring(s or ""):gsub("%z", "?")
    if not core.json_encode(s) then s = s:gsub("[\128-\255]", "?") end
    n = n or 1000
    if #s > n then
        s = s:sub(1, n)
        while #s > 0 and not core.json_encode(s) do s = s:sub(1, -2) end -- a character cut in two
    end
    return s
end
_M.cut = cut

-- Sends one claimed delivery through the direct backend for its provider
-- alone: the outcome table for store:record.
local function send_one(client, d, now, cfg)
    local eng = client.engine
    local s = eng:settings()
    local params = core.json_decode(d.params)
    if type(params) ~= "table" then
        return { state = "dead", errorCode = E.INVALID_PARAMETER, category = "content_invalid",
                 reason = "the queued parameters are damaged" }
    end
    params.enabledProviders = d.provider
    params.disabledProviders = nil
    local p, verr = validate.check(d.method, params, { auth = s.auth, backend = s.backend })
    if not p then
        return { state = "dead", errorCode = verr.errorCode, category = "content_invalid", reason = cut(verr.errorDetails) }
    end
    local ctx = eng:context()
    ctx.retry = policy.config(false) -- the outbox retries, later, by its own policy
    local raw
    ctx.on_results = function(results) raw = results and results[1] end
    local res, err = direct.call(ctx, d.method, p)
    local out = res or err or {}
    local e = type(out.providerErrorCodes) == "table" and out.providerErrorCodes[1] or nil
    if res and e and (e.errorCode or 0) == 0 then
        local id = type(res.providerPostIDs) == "table" and res.providerPostIDs[d.provider] or nil
        return { state = "sent", postID = id ~= nil and cut(id, 1024) or nil }
    end
    if not e then -- decided before any network: no connection, a parameter
        local code = out.errorCode or E.INTERNAL
        return { state = "dead", errorCode = code, category = code == E.NOT_CONNECTED and "not_connected"
                 or "content_invalid", reason = cut(out.errorDetails or out.errorMessage) }
    end
    local r = { errorCode = e.errorCode, category = e.category or "transient", reason = cut(e.errorDetails),
                retryAfter = tonumber(e.retryAfter), status = e.providerStatus, reconnect = e.reconnect }
    r.unconfirmed = raw and raw.unconfirmed or nil
    r.sent_create = raw and raw.sent_create or nil
    return r
end

-- The outcome of one attempt, by the category of its failure (docs/delivery.md).
local function decide(client, st, d, r, now, cfg)
    if r.state then return r end
    local idem = idempotent(d.provider)
    local o = { errorCode = r.errorCode, category = r.category, reason = r.reason }
    -- sent, and no reply (or a server error on a network without a key): the
    -- post may exist; resent only with the same key
    if r.unconfirmed or (r.category == "transient" and (r.status or 0) >= 500 and r.sent_create and not idem) then
        o.state = "unconfirmed"
        o.nextAt = 0
        if idem and d.attempts < cfg.maxAttempts then o.nextAt = now + backoff(d.attempts) end
        return o
    end
    if FINAL[r.category] then
        o.state = "dead"
        return o
    end
    if r.category == "auth_expired" then
        o.state = "waiting_reconnect"
        o.waitUntil = (d.waitUntil and d.waitUntil > 0) and d.waitUntil or now + cfg.reconnectWindow
        o.nextAt = min(now + cfg.recheck, o.waitUntil)
        if now >= o.waitUntil then
            o.state = "dead"
            o.reason = cut("not reconnected within " .. cfg.reconnectWindow .. " s: " .. tostring(r.reason))
        end
        return o
    end
    -- held back by the client's own rate-limit table (another delivery to the
    -- same account was answered with a rate limit): nothing was sent, so not
    -- an attempt; due again once that limit is over
    if r.category == "rate_limited" and not r.status and not r.sent_create then
        local at = now + max(1, floor(min(r.retryAfter or 1, policy.MAX_BLOCK) + 0.999))
        local b = blocked_until(st, d.provider, d.UID, now)
        o.state, o.nextAt, o.release = "retrying", b and max(at, b) or at, true
        return o
    end
    -- transient, rate_limited and anything else the policy may retry
    if d.attempts >= cfg.maxAttempts then
        o.state = "dead"
        o.reason = cut("gave up after " .. d.attempts .. " attempts: " .. tostring(r.reason))
        return o
    end
    local at = now + backoff(d.attempts)
    if r.retryAfter and r.retryAfter > 0 then
        at = max(at, now + floor(min(r.retryAfter, policy.MAX_BLOCK) + 0.999))
        -- other workers (other processes) wait for it too
        st:block(d.provider, "uid:" .. d.UID, now + floor(min(r.retryAfter, policy.MAX_BLOCK) + 0.999))
    end
    local b = blocked_until(st, d.provider, d.UID, now)
    if b then at = max(at, b) end
    o.state = "retrying"
    o.nextAt = at
    return o
end

-- A delivery whose user may have reconnected since auth expired: true when
-- the stored connection was written after the failure (or connections come
-- from the host, which may hold a new token), false when it is still the old
-- one; a reconnect is looked for every cfg.recheck seconds until waitUntil.
local function reconnected(client, st, d, cfg)
    if client.engine:settings().config.connections ~= nil then return true end
    local rec = st:get_connection(d.UID, d.provider)
    local since = (d.waitUntil or 0) - cfg.reconnectWindow
    return type(rec) == "table" and (rec.updatedAt or 0) >= since
end

-- One claimed delivery, start to end: the outcome recorded; returns its state.
local function process(client, st, d, worker, cfg)
    local now = now_s(client)
    local prev = d.prevState
    local idem = idempotent(d.provider)
    local o
    if prev == "sending" and not idem then
        -- a worker's lease ran out mid-delivery (a crash): the request may have gone out
        o = { state = "unconfirmed", nextAt = 0, category = "transient",
              reason = "the worker's lease ran out during the delivery: the request may have been sent" }
    elseif (prev == "unconfirmed" or prev == "sending") and d.sentAt and d.sentAt > 0
        and now - d.sentAt > cfg.idempotencyWindow then
        o = { state = "unconfirmed", nextAt = 0, category = "transient",
              reason = "past the idempotency key's window (" .. cfg.idempotencyWindow .. " s): not resent" }
    elseif prev == "waiting_reconnect" and not reconnected(client, st, d, cfg) then
        if now >= (d.waitUntil or 0) then
            o = { state = "dead", errorCode = d.errorCode, category = "auth_expired",
                  reason = cut("not reconnected within " .. cfg.reconnectWindow .. " s: " .. tostring(d.reason)) }
        else
            o = { state = "waiting_reconnect", nextAt = min(now + cfg.recheck, d.waitUntil),
                  waitUntil = d.waitUntil, errorCode = d.errorCode, category = d.category, reason = d.reason,
                  release = true }
        end
    else
        local b = blocked_until(st, d.provider, d.UID, now)
        if b then -- blocked by a rate limit: not an attempt
            o = { state = "retrying", nextAt = b, errorCode = d.errorCode, category = "rate_limited",
                  reason = "not sent: blocked until " .. b .. " (an earlier rate limit)", release = true }
        else
            local ok, r = pcall(send_one, client, d, now, cfg)
            if not ok then
                r = { errorCode = E.INTERNAL, category = "transient", reason = cut(client.engine:scrub(r)) }
            end
            o = decide(client, st, d, r, now_s(client), cfg)
        end
    end
    local pok, rok, rerr, rcode = pcall(st.record, st, d.jobID, d.provider, worker, now_s(client), o)
    if not pok then rok, rerr, rcode = nil, rok, "bad_input" end
    if not rok then
        local log = client.engine:settings().config.log
        if log then pcall(log, { event = "outbox", provider = d.provider, jobID = d.jobID, error = rcode,
                                 details = tostring(rerr) }) end
        return rcode == "lease_lost" and "lost" or "error"
    end
    return o.state
end

-- A claimed delivery not started (the budget ran out): given back as it was.
local function give_back(client, st, d, worker)
    local state = d.prevState
    local o = { state = state, nextAt = d.nextAt or 0, waitUntil = d.waitUntil, errorCode = d.errorCode,
                category = d.category, reason = d.reason, release = true }
    if state == "sending" then -- taken over: its previous attempt's outcome is unknown
        o.state, o.nextAt = "unconfirmed", idempotent(d.provider) and now_s(client) or 0
        o.reason = "the worker's lease ran out during the delivery: the request may have been sent"
        o.release = nil
    end
    st:record(d.jobID, d.provider, worker, now_s(client), o)
end

--- client:work(budget_ms [, opts]): claims due deliveries and sends them,
-- never starting one after budget_ms have passed. Returns a summary
-- { claimed, sent, retrying, unconfirmed, dead, waiting_reconnect, lost,
-- released } | nil, err.
function _M.work(client, budget_ms, opts)
    opts = opts or {}
    local st, serr = store_of(client)
    if not st then return nil, serr end
    if client.engine:settings().backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: queued delivery needs the direct backend")
    end
    local cfg = settings(client)
    -- a lease outlives the call's deadline: no one takes over a delivery still being sent
    cfg.lease = max(cfg.lease, floor(client.engine:settings().deadline + 0.999) + 5)
    local worker = opts.worker or worker_id(client)
    local eng = client.engine
    local deadline = eng:now_ms() + budget_ms
    local sum = { errorCode = 0, claimed = 0, sent = 0, retrying = 0, unconfirmed = 0, dead = 0,
                  waiting_reconnect = 0, lost = 0, released = 0, error = 0 }
    for _ = 1, 100000 do -- bounded; the budget ends it first
        if eng:now_ms() >= deadline then break end
        local batch = min(cfg.batch, opts.limit and (opts.limit - sum.claimed) or cfg.batch)
        if batch < 1 then break end
        local list, cerr, ccode = st:claim(worker, now_s(client), cfg.lease, batch)
        if not list then return nil, store_error(cerr, ccode) end
        if #list == 0 then break end
        sum.claimed = sum.claimed + #list
        for i, d in ipairs(list) do
            if eng:now_ms() >= deadline then
                for k = i, #list do give_back(client, st, list[k], worker) end
                sum.released = sum.released + (#list - i + 1)
                break
            end
            local state = process(client, st, d, worker, cfg)
            sum[state] = (sum[state] or 0) + 1
        end
    end
    return sum
end

---------------------------------------------------------------------------
-- status and control
---------------------------------------------------------------------------
local function job_error(msg, code, what)
    if code == "job_unknown" then return named(E.INVALID_PARAMETER, code, "Invalid parameter value: jobID: " .. tostring(msg)) end
    if code == "job_sending" or code == "bad_state" or code == "bad_input" then
        return named(E.INVALID_PARAMETER, code, "Invalid parameter value: " .. what .. ": " .. tostring(msg))
    end
    return store_error(msg, code)
end

local function check_id(id, name)
    if type(id) ~= "string" or id == "" or id:find("\0", 1, true) or #id > 1024 then
        return nil, errors.invalid(name or "jobID", "must be a job's id (a string)")
    end
    return true
end

local function shape(j)
    j.errorCode = 0
    if type(j.params) == "string" then j.params = core.json_decode(j.params) end
    return j
end

--- The job and each delivery's state | nil, err.
function _M.job(client, id)
    local ok, err = check_id(id)
    if not ok then return nil, err end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local j, msg, code = st:job(id)
    if j == nil and msg == nil then return nil, named(E.INVALID_PARAMETER, "job_unknown", "Invalid parameter value: jobID: no such job") end
    if not j then return nil, store_error(msg, code) end
    return shape(j)
end

--- { errorCode = 0, jobs = {...} } newest first | nil, err.
function _M.jobs(client, q)
    q = q or {}
    if type(q) ~= "table" then return nil, errors.invalid("query", "must be a table { UID?, status?, limit? }") end
    if q.UID ~= nil and (type(q.UID) ~= "string" or q.UID:find("\0", 1, true)) then
        return nil, errors.invalid("UID", "must be a string")
    end
    if q.status ~= nil and type(q.status) ~= "string" then return nil, errors.invalid("status", "must be a string") end
    local limit = q.limit
    if limit ~= nil and (type(limit) ~= "number" or limit ~= limit or limit < 1) then
        return nil, errors.invalid("limit", "must be a number >= 1")
    end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local list, msg, code = st:jobs({ UID = q.UID, status = q.status, limit = limit and floor(min(limit, 1000)) or 50 })
    if not list then return nil, store_error(msg, code) end
    return { errorCode = 0, jobs = list }
end

local function control(client, id, fn)
    local ok, err = check_id(id)
    if not ok then return nil, err end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    return fn(st, now_s(client))
end

--- Cancels what is not yet delivered: { errorCode = 0, jobID, cancelled = n } | nil, err
-- (err.error = "job_sending" while a delivery is being sent).
function _M.cancel(client, id)
    return control(client, id, function(st, now)
        local n, msg, code = st:cancel(id, now)
        if not n then return nil, job_error(msg, code, "jobID") end
        return { errorCode = 0, jobID = id, cancelled = n }
    end)
end

--- Queues the dead deliveries again: { errorCode = 0, jobID, retried = n } | nil, err.
function _M.retry(client, id, provider)
    if provider ~= nil and (type(provider) ~= "string" or provider:find("\0", 1, true)) then
        return nil, errors.invalid("provider", "must be a provider name")
    end
    return control(client, id, function(st, now)
        local n, msg, code = st:retry(id, provider, now)
        if not n then return nil, job_error(msg, code, provider and "provider" or "jobID") end
        return { errorCode = 0, jobID = id, retried = n }
    end)
end

--- The host's decision on an unconfirmed delivery: "sent" or "resend".
function _M.resolve(client, id, provider, decision)
    if type(provider) ~= "string" or provider == "" or provider:find("\0", 1, true) then
        return nil, errors.invalid("provider", "must be a provider name")
    end
    if decision ~= "sent" and decision ~= "resend" then
        return nil, errors.invalid("decision", "must be \"sent\" or \"resend\"")
    end
    return control(client, id, function(st, now)
        local ok, msg, code = st:resolve(id, provider, decision, now)
        if not ok then return nil, job_error(msg, code, "provider") end
        return { errorCode = 0, jobID = id, provider = provider, state = decision == "sent" and "sent" or "queued" }
    end)
end

--- Deletes finished jobs unchanged for age seconds: { errorCode = 0, pruned = n }.
function _M.prune(client, age)
    if type(age) ~= "number" or age ~= age or age < 0 then
        return nil, errors.invalid("age", "must be a number of seconds >= 0")
    end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local n, msg, code = st:prune(now_s(client) - floor(min(age, 9e15)))
    if not n then return nil, store_error(msg, code) end
    return { errorCode = 0, pruned = n }
end

return _M
