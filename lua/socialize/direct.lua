-- The direct backend: delivers the share calls to the networks themselves,
-- through the C core's provider adapters, all providers of one call in
-- parallel, and answers in Gigya's response model. Everything it needs of
-- the client comes in the call's context (socialize.engine): send, sleep,
-- now, remaining, clock, nonce, cache, blocked, retry, log, secrets, config.
local core = require("socialize.core")
local errors = require("socialize.errors")
local policy = require("socialize.policy")
local media = require("socialize.media")
local validate = require("socialize.validate")
local connect = require("socialize.connect")

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local setmetatable, pcall = setmetatable, pcall
local concat = table.concat
local floor = math.floor
local format, gsub, gmatch, find = string.format, string.gsub, string.gmatch, string.find
local os_date = os.date

local E = errors.codes

-- The sorted secrets (every encoding) of tables[1..n], kept per client and
-- reused while the raw secret values of those tables are the same (a
-- fingerprint of them: a few lists per client, one per set of networks a
-- call goes to). A call's tables are those of the networks it sends to
-- (docs/api.md "Redaction").
local secrets_memo = setmetatable({}, { __mode = "k" })
local MEMO_LISTS = 16 -- lists kept per client (all dropped when one more comes)
local function memo_secrets(ctx, tables, n)
    local raw = {}
    for i = 1, n do policy.secret_values(raw, tables[i]) end
    -- each value with its length: a value holding NUL bytes ("a\0b", a
    -- connection the call refuses) never stands for two ("a", "b")
    for i = 1, #raw do raw[i] = #raw[i] .. ":" .. raw[i] end
    local fp = concat(raw, "\0")
    local key = ctx.cache
    local m = key and secrets_memo[key]
    local list = m and m[fp]
    if list then return list end
    list = {}
    for i = 1, n do policy.secrets_into(list, tables[i]) end
    policy.sort_secrets(list) -- longest first
    if key then
        if not m or m.n >= MEMO_LISTS then
            m = { n = 0 }
            secrets_memo[key] = m
        end
        m[fp], m.n = list, m.n + 1
    end
    return list
end

-- The credentials of the networks a call's tasks send to: each task's
-- provider config, connection entry, the setup states (sessions) its
-- requests carried and the entries it replaced (a connection refreshed
-- during the call). With auth, the Authorization values of every request
-- the tasks sent too (a round's own are added by ctx.send).
local function tasks_secrets(ctx, tasks, auth)
    local tables, n, sent = {}, 0, {}
    for _, t in ipairs(tasks) do
        tables[n + 1], tables[n + 2], tables[n + 3] = t.app or false, t.user or false, t.state or false
        n = n + 3
        for _, c in ipairs(t.creds or {}) do n = n + 1; tables[n] = c end
        if auth then
            for _, h in ipairs(t.sent_headers or {}) do sent[#sent + 1] = h end
        end
    end
    local list = memo_secrets(ctx, tables, n)
    if auth then return policy.auth_secrets(sent, list) end
    return list
end

local _M = {}

local ORDER = core.provider_names() -- canonical order when enabledProviders is absent
-- the phases that create something at the network (a post, a message): never
-- sent twice without the network's idempotency
local CREATES = { publish = true, status = true, notify = true, graph = true }

-- What the engine says of each network (setup step, guarded URL field, ...).
local INFO = {}
for _, n in ipairs(ORDER) do INFO[n] = core.provider_info(n) end
_M.INFO = INFO

_M.ACTIONS = {
    ["socialize.publishUserAction"] = "publish",
    ["socialize.setStatus"] = "status",
    ["socialize.sendNotification"] = "notify",
    ["socialize.facebookGraphOperation"] = "graph",
}

local MAX_ROUNDS = 6
local MAX_MEDIA_STEPS = 300 -- requests for one item's upload (chunks, polls): then it failed

---------------------------------------------------------------------------
-- helpers
---------------------------------------------------------------------------
local function call_id()
    return core.random_hex(16)
end

local function now_iso()
    local ms = core.now_ms()
    return os_date("!%Y-%m-%dT%H:%M:%S", floor(ms / 1000)) .. format(".%03dZ", ms % 1000)
end

local function json_table(v)
    if type(v) == "string" then
        local t = core.json_decode(v)
        return t
    end
    return v
end

local function split(list)
    local out = {}
    if type(list) == "string" then
        for item in gmatch(list, "[^,]+") do out[#out + 1] = item end
    elseif type(list) == "table" then
        for i = 1, #list do out[i] = list[i] end
    end
    return out
end

--- The user's connections: config.connections is a table keyed by UID, a
-- function(UID), or an object with :get(UID); without it, config.store's
-- (socialize.connect: refreshed before expiry), with a third value: the
-- failures of the stored connections that cannot be used, by provider.
function _M.connections(ctx, UID)
    local c = ctx.config.connections
    if c == nil and ctx.config.store ~= nil and ctx.store and UID ~= nil then
        local conn, f = connect.stored(ctx, UID)
        -- (fourth: the store's error when it failed, not "no connection")
        if not conn then return nil, f and f.errorDetails, nil, f and f.errorCode == E.GENERAL_SERVER_ERROR and f or nil end
        return conn, nil, f
    end
    if type(c) == "function" then
        return c(UID)
    end
    if type(c) == "table" then
        if type(c.get) == "function" then
            return c:get(UID)
        end
        return c[UID]
    end
    return nil
end

---------------------------------------------------------------------------
-- URL shortening (config.shortener), per Gigya's shortURLs parameter
---------------------------------------------------------------------------
local function shortener(ctx, p)
    local fn = ctx.config.shortener
    local mode = p.shortURLs or "always"
    if type(fn) ~= "function" or mode == "never" then
        return function(u) return u end
    end
    local cache = {}
    return function(url)
        if type(url) ~= "string" or (mode == "whenRequired" and #url <= 139) then
            return url
        end
        if cache[url] == nil then
            local ok, short = pcall(fn, url)
            cache[url] = (ok and type(short) == "string" and short ~= "") and short or url
        end
        return cache[url]
    end
end

local function shorten_text(text, short)
    if type(text) ~= "string" then return text end
    return (gsub(text, "https?://[^%s]+", short))
end

local function shorten_action(ua, short)
    if type(ua) ~= "table" then return ua end
    local copy = {}
    for k, v in pairs(validate.without_bytes("userAction", ua)) do copy[k] = v end
    if type(copy.linkBack) == "string" then copy.linkBack = short(copy.linkBack) end
    return copy
end

---------------------------------------------------------------------------
-- One provider's delivery: a small state machine over the adapter's steps
---------------------------------------------------------------------------
local Task = {}
Task.__index = Task

local function fail(task, category, details, extra)
    local code = core.category_code(category)
    local r = { ok = false, provider = task.provider, category = category, errorCode = code,
                errorMessage = core.strerror(code), errorDetails = task.provider .. ": " .. details }
    for k, v in pairs(extra or {}) do r[k] = v end
    return r
end
_M.fail = fail

-- A connection URL the private-network guard refused.
local function refused_url(task, field, why)
    return fail(task, "content_invalid", "the connection's " .. field .. " is refused: " .. why
        .. " (private-network guard; allowPrivateNetworks allows well-formed private addresses)")
end

-- A parameter or credential refused before anything is sent: 400006.
function _M.invalid(task, what)
    return { ok = false, provider = task.provider, category = "content_invalid", errorCode = E.INVALID_PARAMETER,
             errorMessage = core.strerror(E.INVALID_PARAMETER),
             errorDetails = task.provider .. ": " .. what }
end

-- The first string field of t (sorted by name) that holds a NUL byte, or nil.
local function nul_field(t)
    if type(t) ~= "table" then return nil end
    local bad
    for k, v in pairs(t) do
        if type(k) == "string" and type(v) == "string" and find(v, "\0", 1, true) and (not bad or k < bad) then
            bad = k
        end
    end
    return bad
end

--- A server address (a connection URL field that may be a bare host, such
-- as the `instance` of a network whose provider_info says urlBareHost) as the
-- adapter wants it: "https://host" for a bare host ("host.example",
-- "HOST.example/"), the scheme and host of an http(s) URL, lower-cased.
-- Returns nil and the reason for anything else (a profile URL, a path,
-- spaces). `example` is a host shown in the reason.
function _M.server_address(v, example)
    example = example or "social.example"
    local like = "must be the server's address, like " .. example .. " or https://" .. example
    if type(v) ~= "string" or v == "" then return nil, "must be a string" end
    local scheme, rest = v:match("^(%a[%w+.-]*)://(.*)$")
    if scheme then
        scheme = scheme:lower()
        if scheme ~= "https" and scheme ~= "http" then
            return nil, like
        end
    else
        scheme, rest = "https", v
    end
    rest = rest:gsub("/+$", "")
    -- Only the shape is decided here; the private-network guard (policy.check_url)
    -- then parses the address strictly (userinfo, spaces, numeric forms, ranges).
    if rest == "" or rest:find("[/?#]") then
        return nil, like .. " (no path, profile or spaces)"
    end
    return scheme .. "://" .. rest:lower()
end

-- A task that is already decided: nothing will be sent for it.
local function decided(task, r)
    task.result = r
    task.done = true
    return task
end

local function new_task(ctx, provider, action, input, user)
    local providers = ctx.config.providers or {}
    local entry_type = type(user)
    if entry_type ~= "table" then user = {} end
    local app = providers[provider] or {}
    local task = setmetatable({
        keys = nil,
        attempt = 0,
        ctx = ctx,
        provider = provider,
        action = action,
        input = input,
        app = app,
        user = user,
        phase = action,
        refreshed = false,
    }, Task)
    if entry_type ~= "table" then
        return decided(task, _M.fail(task, "not_connected", "the connection entry is a " .. entry_type
            .. ", not a table of credentials"))
    end
    local bad = nul_field(app)
    if bad then
        return decided(task, _M.invalid(task, "providers." .. provider .. "." .. bad .. " contains a NUL byte"))
    end
    bad = nul_field(user)
    if bad then
        return decided(task, _M.invalid(task, "connection " .. provider .. "." .. bad .. " contains a NUL byte"))
    end
    local info = INFO[provider] or {}
    local uf = info.urlField -- a connection URL the library will fetch
    local v = uf and user[uf]
    if v ~= nil and not (info.urlBareHost and type(v) ~= "string") then
        -- the private-network guard, once per task and before the shape check
        -- (where a bare host is allowed, it means https)
        if info.urlBareHost and not find(v, "://", 1, true) and not find(v, "^/") then v = "https://" .. v end
        local ok, why = policy.check_url(v, ctx.config.allowPrivateNetworks)
        if not ok then
            return decided(task, refused_url(task, uf, why))
        end
    end
    uf = info.urlBareHost and uf
    if uf and user[uf] ~= nil then
        local inst, why = _M.server_address(user[uf], info.urlExample)
        if not inst then
            return decided(task, _M.invalid(task, "connection " .. provider .. "." .. uf .. " " .. why))
        end
        if inst ~= user[uf] then
            local copy = {}
            for k, v in pairs(user) do copy[k] = v end
            copy[uf] = inst
            task.user = copy
        end
    end
    task.keys = { policy.keys(provider, app, task.user) }
    return task
end

-- The setup cache key: a network's setup state (a session, an instance's
-- limits) belongs to one server and, when it holds credentials, to one
-- account with the credentials it was made with. So the key names the
-- server (the connection URL field, else the app's baseUrl), the cache-key
-- field, and for a setup whose state holds credentials (it is refreshed on
-- auth_expired) a digest of every secret field of the connection: another
-- connection naming the same account on another server, or with another
-- password, never receives it.
local function cache_key(task, field)
    local info = INFO[task.provider] or {}
    local server = info.urlField and task.user[info.urlField] or task.app.baseUrl or ""
    local key = task.provider .. "\0" .. tostring(server) .. "\0" .. tostring(task.user[field] or "")
    local setup = info.setup
    if setup and setup.refreshOnAuthExpired then
        local parts = {}
        for _, f in ipairs(info.secretFields or {}) do
            local v = task.user[f]
            if type(v) == "string" then parts[#parts + 1] = f .. "=" .. v end
        end
        key = key .. "\0" .. core.hmac_sha1("c2V0dXAtY2FjaGU=", table.concat(parts, "\0"))
    end
    return key
end

-- Setup states (a session) persisted in config.store's sessions table, so
-- that a process that starts again reuses the session instead of a new login
-- (docs/connections.md, sessions). Only for a setup whose state holds
-- credentials (refreshOnAuthExpired); the key is a digest of the cache key
-- (it names the server, the account and its password's digest).
local SESSION_LEASE_TTL, SESSION_LEASE_WAIT = 30000, 10000 -- ms

local function session_store(task)
    local ctx = task.ctx
    local setup = (INFO[task.provider] or {}).setup
    if not (setup and setup.refreshOnAuthExpired) or ctx.config.store == nil or not ctx.store then return nil end
    local st, err, name = ctx.store()
    if not st then
        ctx.log({ event = "session_store", provider = task.provider, error = tostring(name or err) })
        return nil
    end
    return st, core.hmac_sha1("c2Vzc2lvbi1rZXk=", cache_key(task, setup.cacheKey))
end

local function state_of_record(rec)
    if type(rec) ~= "table" then return nil end
    local s = {}
    for k, v in pairs(rec.fields or {}) do s[k] = v end
    for k, v in pairs(rec.secrets or {}) do s[k] = v end
    return s
end

-- Stores a setup state: its string fields named secret by the network
-- (provider_info(name).secretFields) sealed, the others plain.
local function save_session(task, st, skey, state)
    local secret = {}
    for _, f in ipairs((INFO[task.provider] or {}).secretFields or {}) do secret[f] = true end
    local fields, secrets = {}, {}
    for k, v in pairs(state or {}) do
        if secret[k] and type(v) == "string" then secrets[k] = v else fields[k] = v end
    end
    local setup = (INFO[task.provider] or {}).setup or {}
    local ok, err, name = st:put_session({ provider = task.provider, key = skey,
        account = tostring(task.user[setup.cacheKey] or ""), fields = fields, secrets = secrets })
    if not ok then
        task.ctx.log({ event = "session_store", provider = task.provider, error = tostring(name or err) })
    end
end

local function load_session(task)
    local st, skey = session_store(task)
    if not st then return nil end
    local rec, err, name = st:get_session(task.provider, skey)
    if err then task.ctx.log({ event = "session_store", provider = task.provider, error = tostring(name or err) }) end
    return state_of_record(rec), st, skey
end

--- Keeps a setup state obtained outside a task (client:connect's check of
-- the credentials) where the tasks look for it: the client's cache and the
-- store's sessions table.
function _M.keep_setup_state(ctx, provider, app, user, state)
    local t = { ctx = ctx, provider = provider, app = app or {}, user = user }
    local setup = (INFO[provider] or {}).setup
    if not setup then return end
    ctx.cache[cache_key(t, setup.cacheKey)] = state
    local st, skey = session_store(t)
    if st then save_session(t, st, skey, state) end
end

--- Forgets a connection's setup state (removeConnection): the cache entry
-- and the stored session.
function _M.forget_setup_state(ctx, provider, app, user)
    local t = { ctx = ctx, provider = provider, app = app or {}, user = user }
    local setup = (INFO[provider] or {}).setup
    if not setup then return end
    ctx.cache[cache_key(t, setup.cacheKey)] = nil
    local st, skey = session_store(t)
    if st then st:delete_session(provider, skey) end
end

-- The network's setup step (provider_info(name).setup), or nil.
local function setup_of(task)
    local info = INFO[task.provider]
    return info and info.setup
end

--- The first (or next) request of this task, or nil when the task is done.
function Task:request()
    if self.done then return nil end
    local ctx = self.ctx
    if self.phase == self.action then
        local wait = policy.blocked(ctx.blocked, self.keys, ctx.clock())
        if wait then
            local s = math.ceil(wait)
            self.result = fail(self, "rate_limited", "not sent: the network asked to wait " .. s
                .. " s more (an earlier rate limit)", { retryAfter = s })
            return nil
        end
    end
    -- a connection URL (checked by the guard in new_task): the transport checks
    -- the address it connects to as well
    local uf = (INFO[self.provider] or {}).urlField
    local guarded = uf and self.user[uf] ~= nil and not ctx.config.allowPrivateNetworks
    local setup = setup_of(self)
    if self.phase == self.action and setup and self.action ~= "notify" then
        local s = ctx.cache[cache_key(self, setup.cacheKey)]
        if s == nil then
            s = load_session(self) -- another process's (or an earlier run's) session
            if s ~= nil then ctx.cache[cache_key(self, setup.cacheKey)] = s end
        end
        if s == nil then
            self.phase = setup.action
        else
            self.state = s
            self.used_cached_state = true
        end
    end
    if self.phase == self.action and self.uploads and self.up_i <= #self.uploads then
        self.phase = "upload" -- each item through the network's upload step first (docs/media.md)
    end
    local step
    if self.phase == "upload" then
        -- items: every item this network will carry (one of several or alone)
        step = { item = self.uploads[self.up_i], step = self.mstep, items = self.uploads }
    elseif self.phase == "unmedia" then
        step = { media = self.cleanup[self.cl_i] }
    end
    local state = (self.phase == self.action or self.phase == "upload" or self.phase == "unmedia") and self.state
        or (self.phase == self.follow and self.follow_state)
        or (setup and self.phase == setup.refresh and self.state) or nil
    if type(state) == "table" and state ~= self.state_sent then
        -- a session this task's requests carried: redacted to the end of the
        -- call, even once another replaces it (tasks_secrets)
        self.state_sent = state
        self.creds = self.creds or {}
        self.creds[#self.creds + 1] = state
    end
    local req, msg, code, res = core.provider_request(self.provider, self.phase, self.input, self.app, self.user,
        floor(ctx.clock()), ctx.nonce(), state, step, self.blobs)
    if not req and setup and self.phase == setup.refresh then
        -- no refresh token in the state: one new setup instead
        self:release_session()
        ctx.cache[cache_key(self, setup.cacheKey)] = nil
        self.state, self.phase = nil, setup.action
        return self:request()
    end
    if not req and self.phase == "unmedia" then
        return self:next_cleanup() -- best effort: the post's own failure stays the result
    end
    if not req and self.phase == "upload" then
        return self:media_failed(res or fail(self, "content_invalid", tostring(msg or "the upload could not be built")))
    end
    if not req then
        -- res: why the network would refuse it; none: the core refused the
        -- input itself (e.g. a value with no JSON form)
        code = code or E.INVALID_PARAMETER
        self.result = res or { ok = false, provider = self.provider, category = "content_invalid",
            errorCode = code, errorMessage = core.strerror(code),
            errorDetails = self.provider .. ": " .. tostring(msg or "the request could not be built") }
        return nil
    end
    if self.phase == self.action and self.action == "publish" then
        self.truncated = req.truncated -- the build cut the text to fit (the result says so)
    end
    req.truncated = nil -- the library's, not the transport's
    req.timeout = ctx.config.timeout
    req.provider = self.provider
    -- the URL's host came from connection data: the transport must refuse to
    -- connect when the name resolves to a blocked address
    if guarded then req.guard = true end
    -- an upload URL a network's reply named (VK's upload server): not the
    -- configured endpoint's host, so checked as any URL from outside
    if self.phase == "upload" and not ctx.config.allowPrivateNetworks then
        local info = INFO[self.provider] or {}
        local base = (type(self.app) == "table" and self.app.baseUrl) or (uf and self.user[uf]) or info.baseUrl
        local function host(u) return type(u) == "string" and u:lower():match("^%a+://([^/?#]*)") or nil end
        local h = host(req.url)
        if not h or h ~= host(base) then
            local ok, why = policy.check_url(req.url, false)
            if not ok then
                return self:media_failed(fail(self, "content_invalid", "the upload URL the network gave is refused: "
                    .. tostring(why) .. " (private-network guard)"))
            end
            req.guard = true
        end
    end
    -- a create is never sent twice by the transport on its own (libcurl
    -- resends a request whose reused connection closed before any reply)
    if CREATES[self.phase] or self.phase == self.follow then req.once = true end
    self.sent = req
    if req.headers then -- its Authorization value: redacted to the end of the call
        self.sent_headers = self.sent_headers or {}
        self.sent_headers[#self.sent_headers + 1] = { headers = req.headers }
    end
    self.sent_step = step -- the upload/unmedia step's state: its reply is read with it (a poll counts)
    return req
end

local function transport_failure(task, outcome)
    local kind = outcome.kind or "other"
    local code = kind == "timeout" and E.REQUEST_TIMEOUT or E.NETWORK_ERROR
    local details = task.provider .. ": " .. kind .. ": " .. tostring(outcome.error)
    local unconfirmed = (CREATES[task.phase] or task.phase == task.follow) and (kind == "timeout" or kind == "closed")
    if unconfirmed then
        details = details .. " (the request was sent: the post may have been created)"
    end
    return {
        ok = false, provider = task.provider, category = "transient", errorCode = code,
        errorMessage = core.strerror(code), errorDetails = details,
        unconfirmed = unconfirmed or nil, -- the outbox's (socialize.outbox): not shown in the response
    }
end

--- Feeds the outcome of the last request; returns the next request or nil.
function Task:feed(outcome)
    local ctx = self.ctx
    local r
    if outcome.error then
        r = transport_failure(self, outcome)
    else
        local msg
        r, msg = core.provider_parse(self.provider, self.phase, self.input, self.app, self.user,
            outcome.status or 0, outcome.headers or {}, outcome.body or "", ctx.clock(), self.sent_step)
        if not r then r = fail(self, "transient", "the reply could not be read: " .. tostring(msg)) end
        -- the create (or its follow-up) reached the network: the outbox's, not shown
        if not r.ok and (CREATES[self.phase] or self.phase == self.follow) then r.sent_create = true end
    end
    if self.phase == "unmedia" then
        ctx.log({ event = "unmedia", provider = self.provider, ok = r.ok })
        return self:next_cleanup()
    end
    if self.phase == "upload" then
        return self:upload_fed(r, outcome)
    end
    local setup = setup_of(self)
    if setup and setup.refresh and self.phase == setup.refresh then
        return self:refreshed_session(r)
    end
    if setup and self.phase == setup.action and self.phase ~= self.action then
        if not r.ok and setup.required then
            self.result = r
            return nil
        end
        -- an optional step that failed: the network's documented defaults
        local s = (r.ok and r.data) or {}
        ctx.cache[cache_key(self, setup.cacheKey)] = s
        if r.ok then
            local st, skey = session_store(self)
            if st then save_session(self, st, skey, s) end
        end
        self.state = s
        self.used_cached_state = false
        self.phase = self.action
        return self:request()
    end
    -- the network's follow-up step (provider_info(name).followUp): the
    -- create's reply data is its state, its reply is the call's
    local follow = (INFO[self.provider] or {}).followUp
    if follow and r.ok and self.phase == self.action and CREATES[self.action] and r.data ~= nil then
        self.follow, self.follow_state = follow, r.data or {}
        self.create_media = r.mediaIDs -- what the create posted: the follow-up's reply names none
        self.phase = follow
        return self:request()
    end
    if not r.ok and self:retry(r, outcome) then return "retry" end
    if setup and setup.refreshOnAuthExpired and not r.ok and r.category == "auth_expired"
        and self.used_cached_state and not self.refreshed then
        -- the reused state (a session) expired: renewed with its refresh token
        -- where the network has a refresh step, else one new setup; then the post again
        self.refreshed = true
        if setup.refresh then return self:refresh_session() end
        ctx.cache[cache_key(self, setup.cacheKey)] = nil
        self.state = nil
        self.phase = setup.action
        return self:request()
    end
    if not r.ok and r.category == "auth_expired" and self.stored_uid and not self.conn_retried
        and self.phase == self.action then
        -- a stored connection's token refused (revoked early, rotated elsewhere):
        -- re-read under its lease, refreshed if need be, the call sent once more
        self.conn_retried = true
        local user, f = connect.on_auth_expired(ctx, self.stored_uid, self.provider, self.user)
        if user then
            self.creds = self.creds or {}
            self.creds[#self.creds + 1] = self.user -- the refused token: sent, so still redacted
            self.user = user
            return self:request()
        end
        if f then
            r = fail(self, f.category, policy.scrub(f.details, ctx.secrets), f.reconnect and { reconnect = true } or nil)
        end
    end
    if r.ok and r.mediaIDs == nil and self.create_media then r.mediaIDs = self.create_media end
    self.result = r
    if not r.ok and self.done_media and #self.done_media > 0 then
        return self:start_cleanup()
    end
    return nil
end

-- The session expired: under the store's lease for this session (several
-- processes share it), the stored session is read again: another process
-- that renewed it meanwhile left a new one (used as is, nothing sent);
-- otherwise the refresh step is sent with the refresh token, which is single
-- use: the lease is held until the reply is stored (refreshed_session).
local function lease_sleep(ms)
    local n = rawget(_G, "ngx")
    if type(n) == "table" and type(n.sleep) == "function" then return n.sleep(ms / 1000) end
    return require("socialize.store").sleep(ms / 1000)
end

function Task:refresh_session()
    local ctx, setup = self.ctx, setup_of(self)
    local used = self.state
    local st, skey = session_store(self)
    if st then
        local token, err, name
        local waited, pause = 0, 1
        while true do
            token, err, name = st:lock("socialize-session:" .. skey, self.provider, nil,
                math.max(SESSION_LEASE_TTL, connect.lease_ttl(ctx.config)))
            if token or name ~= "lock_busy" or waited >= SESSION_LEASE_WAIT then break end
            lease_sleep(pause)
            waited = waited + pause
            pause = pause < 50 and pause * 2 or 50
        end
        if not token then
            self.result = fail(self, "transient", "the session could not be renewed: the store's lease: "
                .. policy.scrub(tostring(name or err), ctx.secrets))
            return nil
        end
        self.session_lease, self.session_st, self.session_key = token, st, skey
        local cur = state_of_record(st:get_session(self.provider, skey))
        if cur and used and cur.accessJwt ~= nil and cur.accessJwt ~= used.accessJwt then
            -- renewed by another process meanwhile: its session, no refresh sent
            self:release_session()
            ctx.cache[cache_key(self, setup.cacheKey)] = cur
            self.state, self.phase = cur, self.action
            return self:request()
        end
        if cur then used = cur end
    end
    self.state = used
    self.phase = setup.refresh
    ctx.log({ event = "session_refresh", provider = self.provider })
    return self:request() -- built from the state: its refresh token
end

function Task:release_session()
    if self.session_lease then
        self.session_st:unlock("socialize-session:" .. self.session_key, self.provider, self.session_lease)
        self.session_lease = nil
    end
end

function Task:refreshed_session(r)
    local ctx, setup = self.ctx, setup_of(self)
    if r.ok and type(r.data) == "table" then
        local s = r.data
        ctx.cache[cache_key(self, setup.cacheKey)] = s
        if self.session_st then save_session(self, self.session_st, self.session_key, s) end
        self:release_session()
        self.state, self.phase = s, self.action
        return self:request()
    end
    if r.category == "auth_expired" then
        -- the refresh token was refused (expired, revoked): a new login
        if self.session_st then self.session_st:delete_session(self.provider, self.session_key) end
        self:release_session()
        ctx.cache[cache_key(self, setup.cacheKey)] = nil
        self.state, self.phase = nil, setup.action
        return self:request()
    end
    -- transient (network error, 5xx, 429): the stored session stays as it was
    self:release_session()
    self.result = r
    return nil
end

-- Uploads the post did not use are deleted where the network can
-- (provider_info(name).media.deletable); the result stays the failure.
function Task:start_cleanup()
    local mi = (INFO[self.provider] or {}).media or {}
    if not mi.deletable or self.cleaning or not self.done_media or #self.done_media == 0 then return nil end
    self.cleaning, self.cleanup, self.cl_i, self.phase = true, self.done_media, 1, "unmedia"
    return self:request()
end

function Task:next_cleanup()
    self.cl_i = self.cl_i + 1
    if self.cl_i > #self.cleanup then return nil end
    return self:request()
end

-- A failed reply r: the endpoint blocked as r says, the attempt counted; true
-- when the policy retries it (after self.retry_in seconds). safe: the step
-- may be repeated though it was sent (policy.retry_delay).
function Task:retry(r, outcome, safe)
    local ctx = self.ctx
    local bk, bu = policy.block(ctx.blocked, self.keys, r, ctx.clock())
    if bk and ctx.on_block then ctx.on_block(bk, bu) end -- config.store's copy (engine)
    self.attempt = self.attempt + 1
    local sent = not (outcome.error and outcome.kind == "connect")
    local d = policy.retry_delay(ctx.retry, self.provider, r, self.attempt, sent, safe)
    if not d then return false end
    self.retry_in = d
    self.last = r
    ctx.log({ event = "retry", provider = self.provider, delay = d, reason = tostring(r.category) })
    return true
end

-- On to the next item to upload; after the last, the action itself with
-- the items done.
function Task:next_upload()
    self.up_i, self.mstep, self.msteps = self.up_i + 1, nil, 0
    if self.up_i > #self.uploads then
        self.input.media = self.done_media
        self.phase = self.action
    end
    return self:request()
end

-- One item's upload failed (r: the classified failure): the item is named;
-- with config.media.partial = "allow" the post goes on without it.
function Task:media_failed(r)
    local item = self.uploads[self.up_i]
    local where = "mediaItems[" .. tostring(item.index) .. "]"
    local d = tostring(r.errorDetails or r.errorMessage or "failed")
    if d:sub(1, #self.provider + 2) == self.provider .. ": " then d = d:sub(#self.provider + 3) end
    -- named once: the network's parse may have named the item already
    r.errorDetails = self.provider .. ": " .. (d:find(where, 1, true) and d or where .. ": " .. d)
    local m = self.ctx.config.media
    if m and m.partial == "allow" then
        self.mediaFailed = self.mediaFailed or {}
        self.mediaFailed[#self.mediaFailed + 1] = { index = item.index, errorDetails = r.errorDetails }
        return self:next_upload()
    end
    self.result = r
    return self:start_cleanup()
end

-- The reply of an upload step: the item done, the next step (after a wait
-- while the network processes), or a failure (retried as any other step).
function Task:upload_fed(r, outcome)
    if r.ok then
        local d = type(r.data) == "table" and r.data or {}
        if type(d.media) == "table" then
            local meta = {}
            for k, v in pairs(self.uploads[self.up_i]) do meta[k] = v end
            for k, v in pairs(d.media) do meta[k] = v end
            self.done_media[#self.done_media + 1] = meta
            return self:next_upload()
        end
        self.mstep = d
        self.msteps = (self.msteps or 0) + 1
        if self.msteps > MAX_MEDIA_STEPS then
            return self:media_failed(fail(self, "transient", "the upload did not finish in " .. MAX_MEDIA_STEPS .. " steps"))
        end
        local w = tonumber(d.wait) or 0
        if w > 0 then
            self.wait_in = w
            return "wait"
        end
        return self:request()
    end
    -- an upload step is safe to repeat when the network failed (5xx) or the
    -- reply never came; a refusal (4xx, a processing failure) is not retried
    if self:retry(r, outcome, outcome.error ~= nil or (r.providerStatus or 0) >= 500) then return "retry" end
    return self:media_failed(r)
end

--- Runs tasks to completion: each round sends every pending request in
-- parallel (curl multi, light threads, or the poll loop), then feeds the
-- replies back. A task the policy retries waits its delay; the others go on.
local function run(ctx, tasks, secrets)
    local pending, later = {}, {}
    for _, t in ipairs(tasks) do
        local req = t:request()
        if req then pending[#pending + 1] = { task = t, req = req } end
    end
    local rounds = 0
    local max_rounds = MAX_ROUNDS + ctx.retry.attempts
    for _, t in ipairs(tasks) do
        if t.uploads then max_rounds = max_rounds + (MAX_MEDIA_STEPS + 2) * #t.uploads end
    end
    while #pending > 0 or #later > 0 do
        if #pending == 0 then
            -- only retries are left: wait for the first one that is due
            local first = later[1].due
            for _, l in ipairs(later) do if l.due < first then first = l.due end end
            local wait = first - ctx.now()
            if wait > 0 then ctx.sleep(wait) end
        end
        -- due within a millisecond counts as due: a sleep until `first` may end a
        -- rounding error short of it, which must not cost another (tiny) sleep
        local now, still = ctx.now() + 0.001, {}
        for _, l in ipairs(later) do
            if l.due <= now then
                local req = l.task:request()
                if req then pending[#pending + 1] = { task = l.task, req = req } end
            else
                still[#still + 1] = l
            end
        end
        later = still
        if #pending > 0 then
            rounds = rounds + 1
            local reqs = {}
            for i, p in ipairs(pending) do reqs[i] = p.req end
            local outcomes
            if rounds > max_rounds then
                outcomes = {}
                for i = 1, #reqs do outcomes[i] = { error = "too many steps", kind = "other" } end
            else
                outcomes = ctx.send(reqs, secrets) -- made only if an error or the log needs it
            end
            -- a large body (a media chunk) is garbage once sent: released now
            -- rather than when the collector next runs, so that an upload
            -- holds its file once and one chunk, not one more per step
            local big = 0
            for _, req in ipairs(reqs) do
                local b = req.body
                if type(b) == "string" and #b >= 262144 then
                    big = big + #b
                    req.body = nil
                end
            end
            if big > 0 then collectgarbage("step", floor(big / 1024)) end
            local nextp = {}
            for i, p in ipairs(pending) do
                local req = p.task:feed(outcomes[i] or { error = "no reply", kind = "other" })
                if req == "retry" and p.task.retry_in >= ctx.remaining() then
                    -- the wait does not fit in the call's deadline: reported, not waited for
                    local r = p.task.last
                    r.errorDetails = tostring(r.errorDetails) .. " (not retried: waiting "
                        .. format("%.1f", p.task.retry_in) .. " s would pass the call's deadline)"
                    p.task.result = r
                elseif req == "retry" then
                    later[#later + 1] = { task = p.task, due = ctx.now() + p.task.retry_in }
                elseif req == "wait" and p.task.wait_in >= ctx.remaining() then
                    -- the network is still processing an upload and the deadline comes first
                    local item = p.task.uploads[p.task.up_i]
                    p.task.result = fail(p.task, "transient", "mediaItems[" .. tostring(item.index)
                        .. "]: still processing when the call's deadline came (the upload was not used)")
                    -- the items already uploaded are deleted where the network can, in what time is left
                    local cleanup = p.task:start_cleanup()
                    if cleanup then nextp[#nextp + 1] = { task = p.task, req = cleanup } end
                elseif req == "wait" then
                    later[#later + 1] = { task = p.task, due = ctx.now() + p.task.wait_in }
                elseif req then
                    nextp[#nextp + 1] = { task = p.task, req = req }
                end
            end
            pending = nextp
        end
    end
end

---------------------------------------------------------------------------
-- Gigya's rules: targets, aggregation
---------------------------------------------------------------------------
-- The providers a call goes to: conn's networks, in enabledProviders' order
-- (else the canonical one), less disabledProviders (socialize.outbox too).
local function targets(conn, p, action)
    local list, seen = {}, {}
    local enabled = p.enabledProviders and split(p.enabledProviders) or ORDER
    local disabled = {}
    for _, d in ipairs(split(p.disabledProviders)) do disabled[d] = true end
    for _, name in ipairs(enabled) do
        if conn[name] ~= nil and not disabled[name] and not seen[name]
            and (action ~= "graph" or (INFO[name] and INFO[name].graph)) then
            seen[name] = true
            list[#list + 1] = name
        end
    end
    return list
end

_M.targets = targets

local function entry(r)
    local e = { provider = r.provider, errorCode = r.errorCode or 0, errorMessage = r.errorMessage or "OK" }
    if not r.ok then
        e.errorDetails = r.errorDetails
        e.category = r.category
        e.retryAfter = r.retryAfter
        e.providerCode = r.providerCode
        e.providerStatus = r.providerStatus
        e.migrateToChatId = r.migrateToChatId -- the chat's new id, for the caller to store
        e.reconnect = r.reconnect -- a stored connection that expired: connect again (docs/connections.md)
    elseif r.duplicate then
        e.duplicate = true
        e.errorDetails = "duplicate: the existing post was recovered"
    elseif r.errorDetails then
        e.errorDetails = r.errorDetails
    end
    e.failedRecipients = r.failedRecipients
    if r.ok then -- what became of the UserAction on this network (docs/media.md)
        e.mediaIDs = r.mediaIDs
        e.dropped = r.dropped
        e.truncated = r.truncated
        e.mediaFailed = r.mediaFailed
    end
    return e
end

local UNSUPPORTED = { unsupported = true, provider_discontinued = true }

local function aggregate(results, extra)
    local res = {
        statusCode = 200, errorCode = 0, statusReason = "OK", callId = call_id(), time = now_iso(),
        providerPostIDs = {}, providerErrorCodes = {},
    }
    local any_ok, first_fail, first_real_fail = false, nil, nil
    for i, r in ipairs(results) do
        res.providerErrorCodes[i] = entry(r)
        if r.ok then
            any_ok = true
            if r.postID then res.providerPostIDs[r.provider] = r.postID end
        else
            first_fail = first_fail or r
            if not UNSUPPORTED[r.category] then first_real_fail = first_real_fail or r end
        end
    end
    for k, v in pairs(extra or {}) do res[k] = v end
    if any_ok then
        return res
    end
    -- none succeeded: Gigya's "unsupported provider" error only when every
    -- targeted provider is unsupported; otherwise the first real failure
    local f = first_real_fail or first_fail
    local code = first_real_fail and f.errorCode or E.NOT_SUPPORTED
    res.errorCode = code
    res.errorMessage = core.strerror(code)
    local d = tostring(f.errorDetails or f.errorMessage)
    if d:sub(1, #f.provider + 1) ~= f.provider .. ":" then d = f.provider .. ": " .. d end
    res.errorDetails = d
    res.statusCode = floor(code / 1000)
    res.statusReason = nil
    res.providerPostIDs = nil
    local e = errors.new(code, res.errorDetails, res)
    return nil, e
end

-- Merges one provider's per-recipient results (sendNotification): the
-- provider succeeded when at least one recipient got the message; the ones
-- who did not are listed, so that a retry can target them alone.
local function merge_recipients(provider, list)
    local ids, failed, first_fail = {}, {}, nil
    local r
    for _, item in ipairs(list) do
        if item.r.ok then
            ids[#ids + 1] = item.r.postID
        else
            failed[#failed + 1] = item.recipient
            first_fail = first_fail or item
        end
    end
    if #ids == 0 then
        r = {}
        for k, v in pairs(first_fail.r) do r[k] = v end
        r.errorDetails = "recipient " .. first_fail.recipient .. ": " .. tostring(r.errorDetails)
        r.failedRecipients = failed
    else
        r = { ok = true, provider = provider, errorCode = 0, errorMessage = "OK", postID = concat(ids, ",") }
        if first_fail then
            r.failedRecipients = failed
            r.errorDetails = #ids .. " of " .. #list .. " delivered; recipient " .. first_fail.recipient .. ": "
                .. tostring(first_fail.r.errorDetails)
        end
    end
    -- each recipient's own result, in order: the outbox's (socialize.outbox
    -- remembers who got the message), not shown in the response
    r.perRecipient = list
    return r
end


---------------------------------------------------------------------------
-- entry point
---------------------------------------------------------------------------
function _M.call(ctx, method, p)
    local action = _M.ACTIONS[method]
    if not action then
        -- getUserInfo reaches here only without config.store (with it the store answers)
        local hint = method == "socialize.getUserInfo" and " (it answers from config.store: docs/connections.md)" or ""
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: the direct backend delivers publishUserAction, "
            .. "setStatus, sendNotification, facebookGraphOperation and postBookmark, not " .. method .. hint)
    end
    local conn, cerr, unusable, serr = _M.connections(ctx, p.UID)
    if type(conn) ~= "table" then
        if not cerr and ctx.config.connections == nil and ctx.config.store == nil then
            cerr = "neither config.connections nor config.store is set: docs/connections.md"
        end
        -- a store's or the caller's lookup error: no connection token is in
        -- it (refresh errors are scrubbed where they happen, socialize.connect),
        -- the client's own secrets (store keys, provider configs) are taken out
        if cerr then cerr = policy.scrub(tostring(cerr), ctx.secrets) end
        local e = errors.new(E.NOT_CONNECTED, "Not connected: no connections for UID " .. tostring(p.UID)
            .. (cerr and (" (" .. tostring(cerr) .. ")") or ""))
        e.storeError = serr and serr.error or nil -- the store failed (store_busy, store_gone, ...): not the user's
        return nil, e
    end
    local names = targets(conn, p, action)
    if #names == 0 then
        -- a key that is no network (a typo, another case) is named: it is the usual cause
        local odd = {}
        for k in pairs(conn) do
            if not INFO[k] then odd[#odd + 1] = format("%q", tostring(k)) end
        end
        table.sort(odd)
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: UID " .. tostring(p.UID)
            .. " has no connection to the enabled providers"
            .. (#odd > 0 and ("; the connection's keys " .. concat(odd, ", ") .. " are not networks (valid: "
                .. concat(ORDER, ", ") .. ")") or ""))
    end
    local short = shortener(ctx, p)
    local location = json_table(p.userLocation)
    local tasks, groups = {}, {}
    for _, prov in ipairs(names) do
        if action == "publish" then
            local which = p[prov .. "UserAction"] ~= nil and (prov .. "UserAction") or "userAction"
            local ua = json_table(p[which])
            local items, where, why = media.items(ua, ctx.config)
            if not items then return nil, errors.invalid(which .. "." .. where, why) end
            local t = new_task(ctx, prov, action,
                { userAction = shorten_action(ua, short), userLocation = location, rip = p.rip }, conn[prov])
            tasks[#tasks + 1] = t
            if not t.done then
                local plan, perr = media.plan(INFO[prov], items, ua)
                if plan then t.plan = plan else decided(t, fail(t, "content_invalid", perr)) end
            end
        elseif action == "status" then
            tasks[#tasks + 1] = new_task(ctx, prov, action,
                { status = shorten_text(p.status, short), userLocation = location, rip = p.rip }, conn[prov])
        elseif action == "graph" then
            tasks[#tasks + 1] = new_task(ctx, prov, action,
                { graphPath = p.graphPath, method = p.method, graphParams = json_table(p.graphParams) }, conn[prov])
        else -- notify: one message per recipient
            groups[prov] = {}
            for _, rUID in ipairs(split(p.recipients)) do
                -- (fourth: the store's error when it could not read the recipient's connection)
                local rconn, _, _, rserr = _M.connections(ctx, rUID)
                local info = INFO[prov] or {}
                local field = info.recipientField
                local rid
                if field and type(rconn) == "table" and type(rconn[prov]) == "table" then
                    rid = rconn[prov][field]
                end
                if rid == nil and field and info.recipientNumericUID and tonumber(rUID) then
                    rid = rUID -- a numeric UID is the id itself
                end
                local t = new_task(ctx, prov, action, { body = shorten_text(p.body, short), subject = p.subject,
                    recipient = rid and tostring(rid) or "" }, conn[prov])
                t.recipient = rUID
                if rserr then
                    -- the store failed, not the recipient: nothing sent to an empty
                    -- recipient; transient (a queued delivery retries it)
                    decided(t, fail(t, "transient", "recipient " .. rUID .. ": not sent: the store could not "
                        .. "read the recipient's connection (" .. policy.scrub(tostring(rserr.errorDetails
                        or rserr.error), ctx.secrets) .. ")", { storeError = rserr.error or "store" }))
                end
                tasks[#tasks + 1] = t
                groups[prov][#groups[prov] + 1] = t
            end
        end
    end
    -- a stored connection that expired (or whose refresh failed past its
    -- time): that network's entry fails with auth_expired (403009) and a
    -- reconnect hint, nothing sent to it
    for _, t in ipairs(tasks) do
        local u = unusable and unusable[t.provider]
        if unusable then t.stored_uid = tostring(p.UID) end -- a 401 re-reads and refreshes it (Task:feed)
        if u and not t.done then
            -- (a store's error may be in it: scrubbed of the client's secrets, its keys)
            decided(t, fail(t, u.category, policy.scrub(u.details, ctx.secrets), u.reconnect and { reconnect = true } or nil))
        end
    end
    -- every credential this call sends, in every encoding: the log hook,
    -- errors and results never show one, whatever a network or transport
    -- echoed. Only the networks of the call: a reply or a transport error
    -- holds what was sent to that network or what it holds, never another
    -- network's token (docs/api.md "Redaction")
    local function round_secrets() return tasks_secrets(ctx, tasks, false) end
    local function call_secrets() return tasks_secrets(ctx, tasks, true) end
    if action == "publish" then _M.media_ready(ctx, tasks) end
    run(ctx, tasks, round_secrets)
    local results = {}
    if action == "notify" then
        for _, prov in ipairs(names) do
            local list = {}
            for _, t in ipairs(groups[prov]) do list[#list + 1] = { r = t.result, recipient = t.recipient } end
            results[#results + 1] = merge_recipients(prov, list)
        end
    else
        for i, t in ipairs(tasks) do
            local r = t.result
            results[i] = r
            if r.ok and t.plan then
                local ids = {}
                for _, m in ipairs(t.done_media or {}) do
                    if m.id ~= nil then ids[#ids + 1] = tostring(m.id) end
                end
                if #ids > 0 then r.mediaIDs = ids end
                if #t.plan.dropped > 0 then r.dropped = t.plan.dropped end
                r.truncated = t.truncated or nil
                r.mediaFailed = t.mediaFailed
            end
        end
    end
    -- nothing shown to the caller carries a credential, whatever a network
    -- echoed (the list made only when a text could hold one: not for "OK")
    local secrets = call_secrets
    local function once()
        if type(secrets) == "function" then secrets = secrets() end
        return secrets
    end
    -- the outbox reads what the response does not show (was a request sent?),
    -- and scrubs what it stores (post ids, a recipient's error) with once()
    if ctx.on_results then ctx.on_results(results, once) end
    local extra
    if action == "graph" and results[1] and results[1].ok then
        extra = { graphResponse = results[1].data }
    end
    local res, err = aggregate(results, extra)
    return policy.scrub_result(res, once), policy.scrub_result(err, once)
end

--- The bytes of every publish task's media, before anything is posted:
-- http(s) sources fetched once per call through the transport (in
-- parallel, under the guard), data and files read once; each network's
-- items checked against its types and limits (docs/media.md). A task whose
-- item fails is decided, unless config.media.partial = "allow".
function _M.media_ready(ctx, tasks)
    local cfg = ctx.config
    -- what is read once for every network (a src fetched, a file read) is
    -- read under the largest cap among them; each network's own limit is
    -- applied to the bytes afterwards (media.ready)
    local wanted, infos_of, file_cap = {}, {}, {}
    for _, t in ipairs(tasks) do
        for _, e in ipairs(not t.done and t.plan and t.plan.items or {}) do
            local key = e.src and not e.url and e.src or e.file
            if key then
                local l = infos_of[key] or {}
                l[#l + 1] = INFO[t.provider]
                infos_of[key] = l
                local kind = e.kind == "image" and "gif" or e.kind
                local resize = e.kind == "image" and cfg.media and cfg.media.resize
                local cap = resize and 64 * 1024 * 1024 or media.fetch_cap(l, kind, cfg)
                local caps = e.file and file_cap or wanted
                if cap > (caps[key] or 0) then caps[key] = cap end
            end
        end
    end
    local got = next(wanted) and media.fetch(ctx, wanted) or {}
    local locals = { files = {}, data = {} }
    local partial = cfg.media and cfg.media.partial == "allow"
    for _, t in ipairs(tasks) do
        if not t.done and t.plan and #t.plan.items > 0 then
            local info = INFO[t.provider]
            local metas, blobs, failed, top = {}, {}, {}, 0
            for _, e in ipairs(t.plan.items) do
                local g
                if e.src and not e.url then
                    g = got[e.src]
                elseif e.data or e.file then
                    -- a file by its path, data by its bytes: never one for the other
                    local cache = e.file and locals.files or locals.data
                    local key = e.file or e.data
                    g = cache[key]
                    if not g then
                        g = media.local_bytes(e, e.file and file_cap[e.file] or 0)
                        cache[key] = g
                    end
                end
                local meta, bytes
                if g and g.err then
                    bytes = "mediaItems[" .. e.index .. "]: " .. (e.src and not e.url and "the src " or e.file and "the file " or "the data ") .. g.err
                else
                    meta, bytes = media.ready(info, e, g, cfg)
                end
                if meta then
                    metas[#metas + 1] = meta
                    if bytes then blobs[meta.index] = bytes end
                    if meta.index > top then top = meta.index end
                else
                    failed[#failed + 1] = { index = e.index, errorDetails = t.provider .. ": " .. tostring(bytes) }
                end
            end
            for k = 1, top do if blobs[k] == nil then blobs[k] = false end end
            if #failed > 0 and not partial then
                decided(t, fail(t, "content_invalid", (failed[1].errorDetails:gsub("^[^:]*: ", ""))))
            else
                if #failed > 0 then t.mediaFailed = failed end
                t.blobs = top > 0 and blobs or nil
                t.done_media = {}
                if (info.media or {}).upload and #metas > 0 then
                    -- items sent by URL to a network that uploads: the upload step gets the url
                    t.uploads, t.up_i = metas, 1
                else
                    t.input.media = metas
                    for _, m in ipairs(metas) do t.done_media[#t.done_media + 1] = m end
                end
            end
        end
    end
end

--- A dry run of publishUserAction (client:preview): per network the final
-- text, its length by that network's counter and the limit, whether it was
-- cut, the media that would be sent, what would be dropped. Nothing is
-- sent and nothing fetched (an http(s) src is listed, not checked).
function _M.preview(ctx, p)
    local conn, cerr = _M.connections(ctx, p.UID)
    if type(conn) ~= "table" then
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: no connections for UID " .. tostring(p.UID)
            .. (cerr and (" (" .. tostring(cerr) .. ")") or ""))
    end
    local short = shortener(ctx, p)
    local out = {}
    for _, prov in ipairs(targets(conn, p, "publish")) do
        local info = INFO[prov]
        local which = p[prov .. "UserAction"] ~= nil and (prov .. "UserAction") or "userAction"
        local ua = json_table(p[which])
        local items, where, why = media.items(ua, ctx.config)
        if not items then return nil, errors.invalid(which .. "." .. where, why) end
        local t = new_task(ctx, prov, "publish", { userAction = shorten_action(ua, short) }, conn[prov])
        local e = { provider = prov }
        local setup = info.setup
        local state = setup and ctx.cache[cache_key(t, setup.cacheKey)] or nil
        local plan, perr = media.plan(info, items, ua)
        if plan then
            e.dropped = plan.dropped
            e.media = {}
            for _, it in ipairs(plan.items) do
                local m = { index = it.index, kind = it.kind, alt = it.alt,
                            source = it.url and "url" or it.src and "fetch" or it.file and "file" or "data",
                            src = it.src or it.file }
                if it.data then -- the bytes are here: their type and size are checked as a call would
                    local g = media.local_bytes(it, 0)
                    local meta, why
                    if g.err then
                        why = "mediaItems[" .. it.index .. "]: the data " .. g.err
                    else
                        meta, why = media.ready(info, it, g, ctx.config)
                    end
                    if meta then
                        m.mime, m.size, m.width, m.height = meta.mime, meta.size, meta.width, meta.height
                    else
                        m.errorDetails = prov .. ": " .. tostring(why)
                    end
                end
                e.media[#e.media + 1] = m
            end
            if #items > 0 then t.input.media = e.media end
        end
        local tx = t.done and t.result or core.provider_text(prov, "publish", t.input, t.app, t.user, state)
        if type(tx) == "table" and tx.ok then
            e.text, e.length, e.max, e.counter, e.truncated, e.link = tx.text, tx.length, tx.max, tx.counter,
                tx.truncated, tx.link
            e.limitsFrom = state and "network" or "default"
        end
        local refused -- an item the call would refuse fails the post, unless media.partial = "allow"
        if plan and not (ctx.config.media and ctx.config.media.partial == "allow") then
            for _, m in ipairs(e.media) do
                if m.errorDetails then refused = m.errorDetails break end
            end
        end
        if not plan then
            e.errorCode, e.errorDetails = core.category_code("content_invalid"), prov .. ": " .. perr
        elseif refused then
            e.errorCode, e.errorDetails = core.category_code("content_invalid"), refused
        elseif type(tx) == "table" and not tx.ok then
            e.errorCode, e.errorDetails = tx.errorCode, tx.errorDetails
        end
        out[#out + 1] = e
    end
    return { statusCode = 200, errorCode = 0, statusReason = "OK", callId = call_id(), time = now_iso(),
             previews = out }
end

--- The read-back (docs/delivery.md "Reading back"): the connected
-- account's recent posts on one network whose provider_info says
-- readback.offered, for the outbox. Returns the network's result:
-- { ok = true, data = { posts = { { id, text, createdAt? }, ... } } } or a
-- failure { ok = false, category, errorCode, errorDetails } (credentials
-- scrubbed), and a function answering the read's credentials (the posts'
-- texts and ids are not scrubbed: the caller scrubs what it keeps). Sent as any call's request: the setup step, the stored
-- connection refreshed, the rate limits of the client.
function _M.recent(ctx, provider, UID)
    local conn, cerr, unusable, serr = _M.connections(ctx, UID)
    local entry = type(conn) == "table" and conn[provider] or nil
    local t = new_task(ctx, provider, "recent", {}, entry ~= nil and entry or {})
    if entry == nil then -- (the store failing: transient, the read is tried again later)
        return fail(t, serr and "transient" or "not_connected", "no connection for UID " .. tostring(UID)
            .. (cerr and (" (" .. policy.scrub(tostring(cerr), ctx.secrets) .. ")") or ""))
    end
    local u = unusable and unusable[provider]
    if unusable then t.stored_uid = tostring(UID) end
    if u and not t.done then
        decided(t, fail(t, u.category, policy.scrub(u.details, ctx.secrets), u.reconnect and { reconnect = true } or nil))
    end
    run(ctx, { t }, function() return tasks_secrets(ctx, { t }, false) end)
    local r = t.result or fail(t, "transient", "no reply")
    -- second: the read's credentials, for what the caller keeps of the posts (their ids)
    local list
    local function secrets()
        list = list or tasks_secrets(ctx, { t }, true)
        return list
    end
    return policy.scrub_result(r, secrets), secrets
end

--- The text a queued call would post on one network, as its renderer makes
-- it (core.provider_text, without the connection or the network's setup
-- state: its default limits), or nil when the call has no such text (a notification).
function _M.rendered(ctx, method, p, provider)
    local action = _M.ACTIONS[method]
    local input
    if action == "publish" then
        local which = p[provider .. "UserAction"] ~= nil and (provider .. "UserAction") or "userAction"
        local ua = json_table(p[which])
        if type(ua) ~= "table" then return nil end
        input = { userAction = validate.without_bytes("userAction", ua) }
    elseif action == "status" then
        input = { status = p.status }
    else
        return nil
    end
    local app = (ctx.config.providers or {})[provider] or {}
    local ok, tx = pcall(core.provider_text, provider, action, input, app, {}, nil)
    if ok and type(tx) == "table" and tx.ok and type(tx.text) == "string" then return tx.text end
    return nil
end

--- postBookmark: share-intent URLs, no network call.
function _M.bookmark(ctx, p)
    local defaults = {}
    for _, n in ipairs(ORDER) do
        if INFO[n].intentDefault then defaults[#defaults + 1] = n end
    end
    local dests = split(p.providers or p.provider or concat(defaults, ","))
    local res = {
        statusCode = 200, errorCode = 0, statusReason = "OK", callId = call_id(), time = now_iso(),
        bookmarkURLs = {}, providerErrorCodes = {},
    }
    local conn = p.UID and _M.connections(ctx, p.UID)
    local results, any_ok = {}, false
    for i, d in ipairs(dests) do
        d = gsub(gsub(d, "^%s+", ""), "%s+$", "")
        local info = INFO[d] or {}
        local instance = p.instance
        if not instance and info.urlField and type(conn) == "table" and type(conn[d]) == "table" then
            instance = conn[d][info.urlField]
        end
        local r
        local inst, why = instance, nil
        if info.urlBareHost and instance ~= nil then inst, why = _M.server_address(instance, info.urlExample) end
        if why then
            r = { ok = false, provider = d, category = "content_invalid", errorCode = E.INVALID_PARAMETER,
                  errorMessage = core.strerror(E.INVALID_PARAMETER), errorDetails = "instance " .. why }
        else
            local msg, code
            r, msg, code = core.bookmark_url(d, p.url, p.title, p.description, p.image, inst)
            r = r or { ok = false, provider = d, errorCode = code, errorMessage = core.strerror(code),
                       errorDetails = tostring(msg) }
        end
        r.provider = r.provider or d
        results[i] = r
        res.providerErrorCodes[i] = entry(r)
        if r.ok then
            any_ok = true
            res.bookmarkURLs[d] = r.url
        end
    end
    if any_ok then return res end
    local f = results[1]
    return nil, errors.new(f and f.errorCode or E.NOT_SUPPORTED, f and (f.provider .. ": " .. tostring(f.errorDetails)) or
        "no destination", { providerErrorCodes = res.providerErrorCodes })
end

return _M
