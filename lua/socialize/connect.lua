-- The connection lifecycle (docs/connections.md): client:connect,
-- client:finishConnect, client:getUserInfo and client:removeConnection in
-- direct mode, and the stored connections the direct backend publishes
-- through, refreshed before they expire under the store's per-connection
-- lease. It names no network: what a network does is in
-- core.provider_info(name).connect and the core's oauth_* functions.
local core = require("socialize.core")
local errors = require("socialize.errors")
local policy = require("socialize.policy")

local type, pairs, ipairs, tostring, tonumber, next, rawget = type, pairs, ipairs, tostring, tonumber, next, rawget
local concat, sort = table.concat, table.sort
local floor = math.floor
local gsub, gmatch, find, sub, char = string.gsub, string.gmatch, string.find, string.sub, string.char
local os_date = os.date

local E = errors.codes

local _M = {}

_M.PENDING_TTL = 600     -- seconds a pending connect (its state) lives
_M.REFRESH_MARGIN = 300  -- a token with less than this left is refreshed before use
_M.LEASE_TTL = 30000     -- ms: the refresh lease (longer than one refresh)

-- The lease of a step that sends a single-use credential: LEASE_TTL, or
-- longer when the config lets one request take longer (a lease that ran out
-- mid-request would let another process send the same refresh token).
function _M.lease_ttl(config)
    local t = tonumber(config and config.timeout) or 0
    local c = tonumber(config and config.connectTimeout) or 0
    local need = (t + c) * 2000 + 5000
    if not (need > _M.LEASE_TTL) then return _M.LEASE_TTL end -- NaN included
    return math.min(floor(need), 4 * 86400000)
end

local INFO = {}
for _, n in ipairs(core.provider_names()) do INFO[n] = core.provider_info(n) end

local function named(code, name, details, extra)
    local e = errors.new(code, details, extra)
    e.error = name
    return e
end

local function connect_info(provider)
    local info = type(provider) == "string" and INFO[provider] or nil
    return info and info.connect, info
end

local function app_of(ctx, provider)
    local p = ctx.config.providers
    return type(p) == "table" and type(p[provider]) == "table" and p[provider] or {}
end

local function store_of(ctx)
    local st, err, name
    if ctx.store then st, err, name = ctx.store() end
    if st then return st end
    if err == nil then
        return nil, named(E.NOT_SUPPORTED, "no_store", "Not supported: connections need config.store (docs/store.md)")
    end
    return nil, named(E.GENERAL_SERVER_ERROR, name or "store", "the store: " .. tostring(err))
end

local function store_error(err, name)
    return named(E.GENERAL_SERVER_ERROR, name or "store", "the store: " .. tostring(err))
end

-- The store's answer to a value the caller gave (a UID, a callback's
-- state): a value it refuses (too long, not UTF-8) is the caller's 400006.
local function input_error(err, name)
    if name == "bad_input" then return named(E.INVALID_PARAMETER, name, "Invalid parameter value: " .. tostring(err)) end
    return store_error(err, name)
end

local unpack = table.unpack or unpack

-- One request through the client's transport: the outcome ({status,
-- headers, body} or {error, kind}). ...: the tables of the credentials the
-- request carries (the app's, a refresh token, an app password): with the
-- client's, what a transport error and the log hook never show (the list
-- made only when an error or the log needs it).
local function send(ctx, provider, req, ...)
    req.timeout = ctx.config.timeout
    req.provider = provider
    local n, carried = select("#", ...), { ... }
    local function secrets()
        return policy.merge_secrets(ctx.secrets, policy.secrets({}, unpack(carried, 1, n)))
    end
    return ctx.send({ req }, n > 0 and secrets or nil)[1] or { error = "no reply", kind = "other" }
end

-- A request that got no reply (o = {error, kind}): a transient error.
local function transport_error(o)
    local e = errors.transport(o.error, o.kind)
    e.error = "transient"
    return e
end

-- A core failure result ({ok = false, category, errorCode, errorDetails})
-- as an error named by its category.
local function from_result(r)
    local e = errors.new(r.errorCode ~= 0 and r.errorCode or E.PROVIDER_ERROR, r.errorDetails or "failed")
    e.error = r.category
    if r.oauthError and r.oauthError ~= "" then e.oauthError = r.oauthError end
    return e
end

-- the arguments of an OAuth step that are credentials
local STEP_SECRETS = { "code", "verifier", "refreshToken", "accessToken", "token", "tokenSecret" }

-- One OAuth step: request built by the core, sent, its reply read by the
-- core. Returns the result (ok = true ...) or nil, err.
local function step(ctx, provider, op, app, args, parse_args)
    local req, msg, code = core.oauth_request(provider, op, app, args)
    if not req then return nil, errors.new(code or E.INVALID_PARAMETER, tostring(msg)) end
    if req.ok == false then return nil, from_result(req) end
    -- the app's secrets and the credentials this step sends: a network's
    -- error text or a transport error may echo the request, the caller never sees them
    local sent = {}
    for _, k in ipairs(STEP_SECRETS) do
        if type(args[k]) == "string" then sent[#sent + 1] = { secret = args[k] } end
    end
    local o = send(ctx, provider, req, app, unpack(sent))
    if o.error then return nil, transport_error(o) end
    local r = core.oauth_parse(provider, op == "refresh" and "refresh" or op, o.status or 0, o.body or "",
        floor(ctx.clock()), parse_args or {})
    if not r or not r.ok then
        local e = from_result(r or { errorCode = E.INTERNAL, errorDetails = "out of memory" })
        e.errorDetails = policy.scrub(e.errorDetails, policy.secrets(policy.secrets({}, app), unpack(sent)))
        return nil, e
    end
    return r
end

local function nonempty(s) return type(s) == "string" and s ~= "" end

-- nil, or the error of the first of `names` in t holding a NUL byte (the
-- store refuses them: a named 400006, never a raised error)
local function nul_in(t, names)
    for _, k in ipairs(names) do
        if type(t[k]) == "string" and find(t[k], "\0", 1, true) then return errors.invalid(k, "holds a NUL byte") end
    end
end

-- A connect whose store write failed after the token exchange: the fresh
-- tokens revoked at the network (best effort: revoke, or an OAuth 1.0a
-- invalidate, where the network has one), nothing stored, and the store's
-- named error (its `revoked`: true, false when a revoke failed, nil when
-- the network has none).
local function unstored(ctx, provider, app, perr, pname, tokens, oauth1)
    local e = store_error(perr, pname)
    local c, kept = (INFO[provider] or {}).connect or {}, nil
    if oauth1 then
        if c.invalidate and nonempty(tokens.token) and nonempty(tokens.tokenSecret) then
            e.revoked = step(ctx, provider, "oauth1_invalidate", app, { token = tokens.token,
                tokenSecret = tokens.tokenSecret, timestamp = floor(ctx.clock()), nonce = core.random_hex(16) })
                and true or false
        end
    elseif c.revoke and c.revokeGrant then
        -- the network's revoke ends the user's whole grant to the app: the
        -- user's other connections (a page connected before) would die too
        kept = "; the grant at " .. provider .. " was left as it is (revoking it would end the user's other connections)"
    elseif c.revoke then
        for _, t in ipairs(tokens) do
            if nonempty(t[1]) then
                local ok = step(ctx, provider, "revoke", app, { token = t[1], hint = t[2] })
                e.revoked = (e.revoked ~= false) and (ok and true or false)
            end
        end
    end
    e.errorDetails = e.errorDetails .. "; nothing was stored" .. (kept or "")
        .. (e.revoked == true and ", the new tokens were revoked at " .. provider
            or e.revoked == false and ", revoking the new tokens at " .. provider .. " failed" or "")
    return nil, e
end

-- The pending connect under key, taken (single use, deleted whatever
-- follows): pend | nil, err (an unknown or replayed key, an expired one:
-- 400006 with the message given; a store failure: its named error).
local function take_pending(st, key, now, unknown, expired)
    local pend, err, name = st:take_state(key, now)
    if pend then return pend end
    if name == "state_unknown" then
        return nil, named(E.INVALID_PARAMETER, name, "Invalid parameter value: " .. unknown)
    elseif name == "state_expired" then
        return nil, named(E.INVALID_PARAMETER, name, "Invalid parameter value: " .. expired)
    end
    return nil, input_error(err, name)
end

-- nil, or the error of a connect call's params: a table naming UID and provider.
local function check_params(p)
    if type(p) ~= "table" then return errors.invalid("params", "must be a table") end
    for _, k in ipairs({ "UID", "provider" }) do
        if not nonempty(p[k]) then return errors.missing(k) end
    end
    return nul_in(p, { "UID", "provider", "redirectURI" })
end

-- Waiting for a lease: in OpenResty ngx.sleep (yields the request, not the
-- worker); in an asynchronous call a yield to the poll loop (ctx.lease_sleep:
-- the lease's holder may be a call of that loop, whose reply only the loop
-- reads); elsewhere the store's own sleep. Never the call's deadline clamp.
local function lease_sleep(ctx)
    local n = rawget(_G, "ngx")
    if type(n) == "table" and type(n.sleep) == "function" then return n.sleep end
    return ctx and ctx.lease_sleep or nil
end

-- Lua 5.1 cannot yield across pcall: an asynchronous call's refresh under
-- the lease (its request yields to the poll loop) runs unprotected there;
-- should it raise, its lease runs out by its ttl instead of being given back
local NO_YIELD_ACROSS_PCALL = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
local function lock_opts(ctx)
    return { ttl = _M.lease_ttl(ctx.config), sleep = lease_sleep(ctx),
             unprotected = NO_YIELD_ACROSS_PCALL and ctx.lease_sleep ~= nil or nil }
end

---------------------------------------------------------------------------
-- per-instance networks (c.instance names the argument and connection
-- field): the app registered once per instance, kept in the store's apps
---------------------------------------------------------------------------

-- The instance as an origin ("https://host[:port]"; a bare host means
-- https), under the private-network guard. nil, err when refused.
local function instance_origin(ctx, provider, v)
    if not nonempty(v) or #v > 300 then return nil, errors.missing("instance") end
    local u = find(v, "://", 1, true) and v or "https://" .. v
    local scheme, host = u:match("^(https?)://([%w%.%-:%[%]]+)/?$")
    local ok, why = false, "not an http(s) origin (https://host)"
    if scheme == "http" and not ctx.config.allowPrivateNetworks then
        scheme, why = nil, "an instance is https (http only with allowPrivateNetworks, for a local one)"
    end
    if scheme then ok, why = policy.check_url(u, ctx.config.allowPrivateNetworks) end
    if not ok then
        return nil, errors.invalid("instance", provider .. ": the instance is refused: " .. tostring(why)
            .. " (private-network guard; allowPrivateNetworks allows well-formed private addresses)")
    end
    return scheme .. "://" .. host:lower()
end

local function merged(base, extra)
    local t = {}
    for k, v in pairs(base) do t[k] = v end
    for k, v in pairs(extra) do t[k] = v end
    return t
end

-- The app of a per-instance network at origin: the registration kept in the
-- store, or (register = {redirectURI, scopes}) a new one, registered once
-- under the instance's lease: a concurrent first connect re-reads it after
-- taking the lease and does not register twice.
local function instance_app(ctx, st, provider, origin, register)
    local base = app_of(ctx, provider)
    local function as_app(rec)
        return merged(base, { clientId = rec.fields.clientId, clientSecret = rec.secrets.clientSecret,
                              baseUrl = origin })
    end
    local rec = st:get_app(provider, origin)
    if rec then return as_app(rec), rec end
    if not register then
        return nil, named(E.NOT_CONNECTED, "not_connected", provider .. ": no app registered at " .. origin)
    end
    local failure
    local got, err, name = st:with_lock("\1app " .. origin, provider, function()
        local again = st:get_app(provider, origin)
        if again then return again end
        local r, rerr = step(ctx, provider, "register", merged(base, { baseUrl = origin }),
            { redirectURI = register.redirectURI, scopes = register.scopes })
        if not r then failure = rerr return nil end
        local nrec = { provider = provider, instance = origin,
                       fields = { clientId = r.clientId, redirectURI = register.redirectURI },
                       secrets = { clientSecret = r.clientSecret } }
        local ok, perr, pname = st:put_app(nrec)
        if not ok then failure = store_error(perr, pname) return nil end
        return nrec
    end, lock_opts(ctx))
    if err then return nil, store_error(err, name) end
    if not got then return nil, failure end
    return as_app(got), got
end

---------------------------------------------------------------------------
-- connect
---------------------------------------------------------------------------

--- client:connect{UID, provider, redirectURI, scopes?} -> {url, state} | nil, err
function _M.connect(ctx, p)
    local bad = check_params(p)
    if bad then return nil, bad end
    if connect_info(p.provider) and not nonempty(p.redirectURI) then return nil, errors.missing("redirectURI") end
    local c = connect_info(p.provider)
    if not c and INFO[p.provider] then return _M.connect_credentials(ctx, p) end
    if not c then
        return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: no connect flow for provider '"
            .. tostring(p.provider) .. "' yet (docs/connections.md)")
    end
    if p.oauth ~= nil and p.oauth ~= "2.0" then
        if p.oauth ~= "1.0a" then return nil, errors.invalid("oauth", "must be \"2.0\" (the default) or \"1.0a\"") end
        if not c.oauth1 then
            return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: provider '" .. p.provider
                .. "' has no OAuth 1.0a connect flow")
        end
        local st, serr = store_of(ctx)
        if not st then return nil, serr end
        return _M.connect1(ctx, st, p)
    end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local state = core.random_hex(24) -- 192 bits
    local verifier, challenge
    local app, origin, pkce = app_of(ctx, p.provider), nil, c.pkce
    if c.instance then -- per instance (provider_info: connect.instance): its app, registered once; PKCE if it says S256
        local oerr, reg
        origin, oerr = instance_origin(ctx, p.provider, p[c.instance])
        if not origin then return nil, oerr end
        app, reg = instance_app(ctx, st, p.provider, origin, { redirectURI = p.redirectURI, scopes = p.scopes })
        if not app then return nil, reg end
        if reg.fields.redirectURI ~= p.redirectURI then
            return nil, errors.invalid("redirectURI", p.provider .. ": the app registered at " .. origin
                .. " has another redirect URI (" .. tostring(reg.fields.redirectURI) .. ")")
        end
        local d = step(ctx, p.provider, "discover", app, {})
        pkce = d and d.pkce
    end
    if pkce then
        verifier, challenge = core.oauth_pkce((gsub(core.random_hex(32), "%x%x",
            function(h) return char(tonumber(h, 16)) end)))
    end
    local scopes = p.scopes
    local req, msg, code = core.oauth_request(p.provider, "authorize", app,
        { redirectURI = p.redirectURI, state = state, challenge = challenge, scopes = scopes })
    if not req then return nil, errors.new(code or E.INVALID_PARAMETER, tostring(msg)) end
    if req.ok == false then return nil, from_result(req) end
    -- the scopes asked, as the authorization URL says them (checked against the grant)
    local asked = req.url:match("[?&]scope=([^&]*)") or ""
    asked = gsub(gsub(asked, "%%20", " "), "%%(%x%x)", function(h) return char(tonumber(h, 16)) end)
    -- the verifier and the scopes asked, sealed together in the state record
    st:purge(floor(ctx.clock())) -- best effort: abandoned connects (expired states) go
    local ok, err, name = st:put_state{ state = state, UID = p.UID, provider = p.provider, redirect = p.redirectURI,
        expiresAt = floor(ctx.clock()) + _M.PENDING_TTL,
        verifier = (verifier or "") .. "\n" .. asked .. (origin and "\n" .. origin or "") }
    if not ok then return nil, input_error(err, name) end
    return { url = req.url, state = state }
end

-- "a=1&b=2", "https://app/cb?a=1#x" or a table -> a table of strings
local function callback_params(q)
    if type(q) == "table" then
        local t = {}
        for k, v in pairs(q) do
            if type(k) == "string" and (type(v) == "string" or type(v) == "number") then t[k] = tostring(v) end
        end
        return t
    end
    if type(q) ~= "string" then return nil end
    local s = q
    local qi = find(s, "?", 1, true)
    if qi then s = sub(s, qi + 1) end
    s = gsub(s, "#.*$", "")
    local t = {}
    for pair in gmatch(s, "[^&]+") do
        local k, v = pair:match("^([^=]*)=?(.*)$")
        local function dec(x)
            return (gsub(gsub(x, "+", " "), "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
        end
        k = dec(k)
        if t[k] ~= nil then return nil, k end -- a repeated parameter: refused
        t[k] = dec(v)
    end
    return t
end

local function identity_of(rec, now)
    local f = rec.fields or {}
    local expired = f.expired == true or (rec.expiresAt ~= nil and rec.expiresAt <= now
        and not nonempty(rec.secrets and rec.secrets.refreshToken))
    return { provider = rec.provider, providerUID = rec.account, nickname = f.nickname,
             isExpiredSession = expired and true or false, expiresAt = rec.expiresAt, scopes = rec.scopes,
             isLoginIdentity = false, allowsLogin = false,
             lastUpdatedTimestamp = rec.updatedAt and rec.updatedAt * 1000 or nil }
end

--- client:finishConnect(callbackQueryOrTable) -> identity | nil, err
function _M.finish(ctx, q)
    local t, rep = callback_params(q)
    if not t then
        return nil, errors.invalid(rep and ("callback parameter " .. rep) or "callback",
            rep and "is repeated" or "must be the callback's query string, URL or a table")
    end
    local bad = nul_in(t, { "state", "oauth_token", "denied" })
    if bad then return nil, bad end
    if not nonempty(t.state) and (nonempty(t.oauth_token) or nonempty(t.denied)) then
        return _M.finish1(ctx, t)
    end
    if not nonempty(t.state) then
        return nil, named(E.INVALID_PARAMETER, "state_unknown", "Invalid parameter value: the callback has no state")
    end
    if find(t.state, "^page:") or find(t.state, "^oauth1:") then -- a pending page choice is no connect state
        return nil, named(E.INVALID_PARAMETER, "state_unknown", "Invalid parameter value: state is unknown or was used already")
    end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local now = floor(ctx.clock())
    -- single use: taken (and deleted) before anything else, whatever follows
    local pend, perr = take_pending(st, t.state, now, "state is unknown or was used already",
        "state expired (a connect lives " .. _M.PENDING_TTL .. " s): connect again")
    if not pend then return nil, perr end
    if t.provider ~= nil and t.provider ~= pend.provider then
        return nil, named(E.INVALID_PARAMETER, "state_unknown", "Invalid parameter value: state belongs to another provider")
    end
    local provider = pend.provider
    if t.error ~= nil then
        if t.error == "access_denied" then
            return nil, named(E.NO_USER_PERMISSION, "access_denied", provider .. ": the user denied the authorization")
        end
        return nil, named(E.PROVIDER_ERROR, "authorization_error", provider .. ": the authorization failed: "
            .. gsub(sub(t.error, 1, 64), "[^%w_.-]", "?"))
    end
    if not nonempty(t.code) then return nil, errors.missing("code") end
    local secret = pend.verifier or "\n"
    local nl = find(secret, "\n", 1, true) or (#secret + 1)
    local verifier, asked = sub(secret, 1, nl - 1), sub(secret, nl + 1)
    local origin = asked:match("\n(.*)$")
    asked = asked:match("^[^\n]*")
    local c, info = connect_info(provider)
    if not c then return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: " .. provider) end
    local app = app_of(ctx, provider)
    if c.instance then
        if not origin then return nil, errors.missing("instance") end
        local aerr
        app, aerr = instance_app(ctx, st, provider, origin)
        if not app then return nil, aerr end
    end
    -- a parameter the network adds to the callback and wants back on every
    -- token call (VK ID's device_id): kept with the connection
    local extra
    if c.callbackParam then
        extra = t[c.callbackParam]
        if not nonempty(extra) or #extra > 512 then return nil, errors.missing(c.callbackParam) end
    end
    local tok, terr = step(ctx, provider, "token", app,
        { code = t.code, redirectURI = pend.redirect, verifier = verifier ~= "" and verifier or nil,
          extra = extra, state = t.state },
        { scopes = asked })
    if not tok then return nil, terr end
    if tok.missingScopes then
        return nil, named(E.NO_USER_PERMISSION, "scopes_missing", provider .. ": the grant lacks the scopes "
            .. concat(tok.missingScopes, " ") .. " (asked: " .. asked .. "); nothing was stored")
    end
    if c.exchange then -- a short-lived token exchanged at once for a long-lived one (provider_info: connect.exchange)
        local long, xerr = step(ctx, provider, "exchange", app, { accessToken = tok.accessToken }, { scopes = asked })
        if not long then return nil, xerr end
        long.scope, long.account = tok.scope, long.account or tok.account
        tok = long
    end
    if c.permissions then -- a token reply without scope: the network says what was granted (provider_info: connect.permissions)
        local perm, perr = step(ctx, provider, "permissions", app, { accessToken = tok.accessToken }, { scopes = asked })
        if not perm then return nil, perr end
        if perm.missingScopes then
            return nil, named(E.NO_USER_PERMISSION, "scopes_missing", provider .. ": the user declined the permissions "
                .. concat(perm.missingScopes, " ") .. " (asked: " .. asked .. "); nothing was stored")
        end
        tok.scope = perm.scope
    end
    local id, ierr = step(ctx, provider, "identity", app, { accessToken = tok.accessToken, account = tok.account })
    if not id then return nil, ierr end
    if c.pages then return _M.pages_connect(ctx, st, pend.UID, provider, tok, id, now) end
    local fields = { nickname = id.nickname }
    if c.callbackParam then fields[c.callbackParam] = extra end
    if c.instance then fields[c.instance] = origin end
    if c.accountField then fields[c.accountField] = id.providerUID end
    local secrets = { accessToken = tok.accessToken, refreshToken = tok.refreshToken }
    local fresh = { { tok.refreshToken, "refresh_token" }, { tok.accessToken, "access_token" } }
    -- a reconnect without a refresh token keeps the one stored for that account
    if not secrets.refreshToken then
        local old = st:get_connection(pend.UID, provider)
        if old and old.account == id.providerUID and old.secrets and nonempty(old.secrets.refreshToken) then
            secrets.refreshToken = old.secrets.refreshToken
        end
    end
    local rec = { UID = pend.UID, provider = provider, account = id.providerUID, scopes = tok.scope,
                  fields = fields, secrets = secrets, expiresAt = tok.expiresAt > 0 and tok.expiresAt or nil }
    local ok, perr, pname = st:put_connection(rec)
    if not ok then return unstored(ctx, provider, app, perr, pname, fresh) end
    local out = identity_of(rec, now)
    out.UID = pend.UID
    out.display = info and info.display
    return out
end

---------------------------------------------------------------------------
-- OAuth 1.0a 3-legged (info.connect.oauth1): client:connect{..., oauth = "1.0a"}
---------------------------------------------------------------------------

-- The pending connect is keyed by the request token (the callback carries
-- oauth_token and oauth_verifier, no state); its secret is sealed.
function _M.connect1(ctx, st, p)
    local app = app_of(ctx, p.provider)
    local now = floor(ctx.clock())
    local rt, err = step(ctx, p.provider, "oauth1_request", app,
        { redirectURI = p.redirectURI, timestamp = now, nonce = core.random_hex(16) })
    if not rt then return nil, err end
    local req, msg, code = core.oauth_request(p.provider, "oauth1_authorize", app, { token = rt.token })
    if not req then return nil, errors.new(code or E.INVALID_PARAMETER, tostring(msg)) end
    if req.ok == false then return nil, from_result(req) end
    local key = "oauth1:" .. rt.token
    st:purge(now)
    local ok, perr, name = st:put_state{ state = key, UID = p.UID, provider = p.provider, redirect = p.redirectURI,
        expiresAt = now + _M.PENDING_TTL, verifier = rt.tokenSecret }
    if not ok then return nil, store_error(perr, name) end
    return { url = req.url, state = key, oauth = "1.0a" }
end

function _M.finish1(ctx, t)
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local now = floor(ctx.clock())
    local pend, perr = take_pending(st, "oauth1:" .. (nonempty(t.oauth_token) and t.oauth_token or t.denied), now,
        "oauth_token is unknown or was used already",
        "the connect expired (it lives " .. _M.PENDING_TTL .. " s): connect again")
    if not pend then return nil, perr end
    local provider = pend.provider
    if nonempty(t.denied) then
        return nil, named(E.NO_USER_PERMISSION, "access_denied", provider .. ": the user denied the authorization")
    end
    if not nonempty(t.oauth_verifier) then return nil, errors.missing("oauth_verifier") end
    local tok, terr = step(ctx, provider, "oauth1_access", app_of(ctx, provider), { token = t.oauth_token,
        tokenSecret = pend.verifier or "", verifier = t.oauth_verifier, timestamp = now, nonce = core.random_hex(16) })
    if not tok then return nil, terr end
    local fields = { nickname = tok.nickname, oauth = "1.0a" }
    local rec = { UID = pend.UID, provider = provider, account = tok.providerUID, fields = fields,
                  secrets = { token = tok.token, tokenSecret = tok.tokenSecret } }
    local ok, perr, pname = st:put_connection(rec)
    if not ok then return unstored(ctx, provider, app_of(ctx, provider), perr, pname, rec.secrets, true) end
    local out = identity_of(rec, now)
    out.UID = pend.UID
    out.display = (INFO[provider] or {}).display
    out.oauth = "1.0a"
    return out
end

---------------------------------------------------------------------------
-- a connection that publishes as one of the user's pages (info.connect.pages)
---------------------------------------------------------------------------

-- The pending page choice of (UID, provider): a state record under this
-- key, its sealed field holding the user token, the scopes and the user id.
local function page_key(UID, provider) return "page:" .. provider .. ":" .. UID end

local function page_record(UID, provider, page, tok, userId)
    return { UID = UID, provider = provider, account = page.id, scopes = tok.scope,
             fields = { nickname = page.name, userId = userId },
             secrets = { accessToken = page.accessToken, userToken = tok.accessToken } }
end

local function store_page(ctx, st, rec, now)
    local ok, perr, pname = st:put_connection(rec)
    if not ok then -- the user token revokes the grant (as removeConnection does)
        return unstored(ctx, rec.provider, app_of(ctx, rec.provider), perr, pname,
            { { rec.secrets.userToken, "access_token" } })
    end
    local out = identity_of(rec, now)
    out.UID = rec.UID
    out.display = (INFO[rec.provider] or {}).display
    return out
end

_M.PAGES_MAX_REQUESTS = 10 -- pages calls per list (paging.next followed at most 9 times)
_M.PAGES_MAX = 100          -- pages kept per list

-- Every page of the user (a paged list): paging.next followed while it
-- names the pages endpoint (the core checks; another origin or path is
-- refused), at most PAGES_MAX_REQUESTS calls and PAGES_MAX pages, a cursor
-- seen before ending the list (a reply looping back), a page id once.
local function all_pages(ctx, provider, token)
    local pages, seen, cursors = {}, {}, {}
    local next_url
    for _ = 1, _M.PAGES_MAX_REQUESTS do
        local pg, perr = step(ctx, provider, "pages", app_of(ctx, provider), { accessToken = token, next = next_url })
        if not pg then return nil, perr end
        for _, page in ipairs(pg.pages or {}) do
            if #pages >= _M.PAGES_MAX then return { pages = pages } end
            if not seen[page.id] then
                seen[page.id] = true
                pages[#pages + 1] = page
            end
        end
        if #pages >= _M.PAGES_MAX or not nonempty(pg.next) or not nonempty(pg.after) or cursors[pg.after] then
            break
        end
        cursors[pg.after] = true
        next_url = pg.next
    end
    return { pages = pages }
end

-- After the user token: the pages. None: refused; one: connected at once;
-- several: the choice is kept (PENDING_TTL) and the list returned
-- ({pending = "selectPage", pages = {{id, name}}}) for client:selectPage.
function _M.pages_connect(ctx, st, UID, provider, tok, id, now)
    local pg, perr = all_pages(ctx, provider, tok.accessToken)
    if not pg then return nil, perr end
    local pages = pg.pages or {}
    if #pages == 0 then
        return nil, named(E.NO_USER_PERMISSION, "no_pages", provider .. ": the account manages no page the app was "
            .. "granted; nothing was stored")
    end
    if #pages == 1 then return store_page(ctx, st, page_record(UID, provider, pages[1], tok, id.providerUID), now) end
    local key = page_key(UID, provider)
    st:take_state(key, now) -- an older pending choice is replaced
    local ok, err, name = st:put_state{ state = key, UID = UID, provider = provider, redirect = "",
        expiresAt = now + _M.PENDING_TTL, verifier = tok.accessToken .. "\n" .. (tok.scope or "") .. "\n" .. id.providerUID }
    if not ok then
        return unstored(ctx, provider, app_of(ctx, provider), err, name, { { tok.accessToken, "access_token" } })
    end
    local list = {}
    for i, p in ipairs(pages) do list[i] = { id = p.id, name = p.name } end
    return { UID = UID, provider = provider, pending = "selectPage", pages = list, expiresAt = now + _M.PENDING_TTL }
end

--- client:selectPage{UID, provider, pageId} -> identity | nil, err: completes
-- a connect whose finishConnect returned several pages.
function _M.select_page(ctx, p)
    local bad = check_params(p)
    if bad then return nil, bad end
    local pageId = p.pageId ~= nil and tostring(p.pageId) or nil
    if not nonempty(pageId) then return nil, errors.missing("pageId") end
    local c = connect_info(p.provider)
    if not (c and c.pages) then
        return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: provider '" .. tostring(p.provider)
            .. "' has no page choice")
    end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local now = floor(ctx.clock())
    local key = page_key(p.UID, p.provider)
    local pend, err, name = st:take_state(key, now)
    if not pend then
        if name == "state_unknown" or name == "state_expired" then
            return nil, named(E.INVALID_PARAMETER, "no_pending_page", "Invalid parameter value: no page choice is "
                .. "pending for this UID and provider (finishConnect first; a choice lives " .. _M.PENDING_TTL .. " s)")
        end
        return nil, input_error(err, name)
    end
    local sec = pend.verifier or ""
    local a = find(sec, "\n", 1, true) or (#sec + 1)
    local b = find(sec, "\n", a + 1, true) or (#sec + 1)
    local tok = { accessToken = sub(sec, 1, a - 1), scope = sub(sec, a + 1, b - 1) }
    local userId = sub(sec, b + 1)
    local function keep() -- the choice stays pending (until its own expiry)
        st:put_state{ state = key, UID = pend.UID, provider = pend.provider, redirect = "",
                      expiresAt = pend.expiresAt or (now + _M.PENDING_TTL), verifier = sec }
    end
    local pg, perr = all_pages(ctx, p.provider, tok.accessToken)
    if not pg then
        if perr.error ~= "auth_expired" then keep() end
        return nil, perr
    end
    for _, page in ipairs(pg.pages or {}) do
        if page.id == pageId then
            return store_page(ctx, st, page_record(pend.UID, p.provider, page, tok, userId), now)
        end
    end
    keep()
    return nil, named(E.INVALID_PARAMETER, "page_unknown", "Invalid parameter value: pageId " .. pageId:sub(1, 40)
        .. " is not one of the user's pages")
end

---------------------------------------------------------------------------
-- connect with credentials (a network without a redirect flow)
---------------------------------------------------------------------------

--- client:connect{UID, provider, <the network's credential fields>} for a
-- network that has no OAuth flow here: the fields the connection needs
-- (provider_info(name).authFields and accountFields, less those the app's
-- config gives) are taken from the params; where the network has a setup
-- step (a session login) it is run once to check them, and its state is kept
-- in the store's sessions table (the first publish reuses it). The
-- connection is stored sealed (secretFields) and the identity returned at
-- once: there is no url and no finishConnect.
function _M.connect_credentials(ctx, p)
    local provider = p.provider
    local info = INFO[provider]
    local app = app_of(ctx, provider)
    local appkeys, secret = {}, {}
    for _, f in ipairs(info.appKeyFields or {}) do appkeys[f] = true end
    for _, f in ipairs(info.secretFields or {}) do secret[f] = true end
    local login = info.setup and info.setup.refreshOnAuthExpired -- a session login checks the credentials
    local need = {}
    for _, list in ipairs({ info.authFields or {}, info.accountFields or {} }) do
        for _, f in ipairs(list) do
            if not (appkeys[f] and app[f] ~= nil) and not need[f] then
                need[f] = true
                need[#need + 1] = f
                -- a token the user would have obtained elsewhere (an OAuth token) is
                -- no connect flow: such a network waits for its own (config.connections)
                if secret[f] and not login then
                    return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: no connect flow for provider '"
                        .. provider .. "' yet (docs/connections.md)")
                end
            end
        end
    end
    if #need == 0 or info.discontinued then
        return nil, named(E.NOT_SUPPORTED, "unsupported", "Not supported: no connect flow for provider '"
            .. provider .. "' (docs/connections.md)")
    end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local user = {}
    for _, f in ipairs(need) do
        local v = p[f]
        if type(v) == "number" and v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then v = string.format("%d", v) end
        if not nonempty(v) then return nil, errors.missing(f) end
        if #v > 1024 or find(v, "%c") then return nil, errors.invalid(f, "must be printable, at most 1024 bytes") end
        user[f] = v
    end
    if info.urlField and p[info.urlField] ~= nil then
        local ok, why = require("socialize.policy").check_url(p[info.urlField], ctx.config.allowPrivateNetworks)
        if not ok then return nil, errors.invalid(info.urlField, tostring(why)) end
        user[info.urlField] = p[info.urlField]
    end
    local account = user[(info.accountFields or {})[1] or ""]
    local setup = info.setup
    local nickname = account
    if setup and setup.action then
        -- the network's login, once: wrong credentials are refused here, not at the first post
        local now = floor(ctx.clock())
        local req, msg, code, res = core.provider_request(provider, setup.action, {}, app, user, now, ctx.nonce())
        if not req then
            if res then return nil, from_result(res) end
            return nil, errors.new(code or E.INVALID_PARAMETER, tostring(msg))
        end
        local o = send(ctx, provider, req, app, user)
        if o.error then return nil, transport_error(o) end
        local r = core.provider_parse(provider, setup.action, {}, app, user, o.status or 0, o.headers or {},
            o.body or "", now)
        if not r or not r.ok then
            local e = from_result(r or { errorCode = E.INTERNAL, errorDetails = "out of memory" })
            -- the network's text may echo the credentials it was sent
            e.errorDetails = policy.scrub(e.errorDetails, policy.secrets({}, app, user))
            return nil, e
        end
        local state = type(r.data) == "table" and r.data or {}
        require("socialize.direct").keep_setup_state(ctx, provider, app, user, state)
        -- the account's stable id where the session names one (a DID), else the login
        if nonempty(state.did) then account = state.did end
    end
    local fields, secrets = {}, {}
    for k, v in pairs(user) do
        if secret[k] then secrets[k] = v else fields[k] = v end
    end
    fields.nickname = nickname
    local rec = { UID = p.UID, provider = provider, account = account, fields = fields, secrets = secrets }
    local ok, perr, pname = st:put_connection(rec)
    if not ok then return nil, store_error(perr, pname) end
    local out = identity_of(rec, floor(ctx.clock()))
    out.UID = p.UID
    out.display = info.display
    return out
end

---------------------------------------------------------------------------
-- getUserInfo, removeConnection
---------------------------------------------------------------------------

local function ok_response(t)
    t.errorCode, t.statusCode, t.statusReason = 0, 200, "OK"
    t.time = os_date("!%Y-%m-%dT%H:%M:%SZ")
    return t
end

--- client:getUserInfo{UID} in direct mode, from the store: Gigya's User
-- with its identities.
function _M.user_info(ctx, p)
    if type(p) ~= "table" or not nonempty(p.UID) then return nil, errors.missing("UID") end
    if find(p.UID, "\0", 1, true) then return nil, errors.invalid("UID", "holds a NUL byte") end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local list, err, name = st:list_connections(p.UID)
    if not list then return nil, input_error(err, name) end
    local now = floor(ctx.clock())
    local ids, provs = {}, {}
    sort(list, function(a, b) return a.provider < b.provider end)
    for i, rec in ipairs(list) do
        ids[i] = identity_of(rec, now)
        provs[i] = rec.provider
    end
    return ok_response({ UID = p.UID, identities = ids, providers = concat(provs, ","),
                         isConnected = #ids > 0, nickname = ids[1] and ids[1].nickname or nil })
end

--- client:removeConnection{UID, provider?}: revokes at each network that has
-- a revoke endpoint (best effort), then deletes locally.
function _M.remove(ctx, p)
    if type(p) ~= "table" or not nonempty(p.UID) then return nil, errors.missing("UID") end
    if find(p.UID, "\0", 1, true) then return nil, errors.invalid("UID", "holds a NUL byte") end
    if p.provider ~= nil and not nonempty(p.provider) then return nil, errors.invalid("provider", "must be a string") end
    local st, serr = store_of(ctx)
    if not st then return nil, serr end
    local list, err, name = st:list_connections(p.UID)
    if not list then return nil, input_error(err, name) end
    local revoked, failed, n = {}, {}, 0
    for _, rec in ipairs(list) do
        if p.provider == nil or rec.provider == p.provider then
            local c = connect_info(rec.provider)
            local s1 = rec.secrets or {}
            if c and (rec.fields or {}).oauth == "1.0a" then
                -- an OAuth 1.0a token: invalidated where the network can (connect.invalidate), signed with itself
                if c.invalidate and nonempty(s1.token) and nonempty(s1.tokenSecret) then
                    local r, rerr = step(ctx, rec.provider, "oauth1_invalidate", app_of(ctx, rec.provider),
                        { token = s1.token, tokenSecret = s1.tokenSecret, timestamp = floor(ctx.clock()),
                          nonce = core.random_hex(16) })
                    revoked[rec.provider] = r and true or false
                    if not r then failed[rec.provider] = rerr.errorDetails end
                end
            elseif c and c.revoke then
                local s = rec.secrets or {}
                local okr = true
                local which_list = { { s.refreshToken, "refresh_token" }, { s.accessToken, "access_token" } }
                -- a page connection revokes the user's grant (its user token)
                if nonempty(s.userToken) then which_list = { { s.userToken, "access_token" } } end
                for _, which in ipairs(which_list) do
                    if nonempty(which[1]) then
                        local app = app_of(ctx, rec.provider)
                        if c.instance and nonempty((rec.fields or {})[c.instance]) then app = instance_app(ctx, st, rec.provider, (rec.fields or {})[c.instance])
                            or app end
                        local r, rerr = step(ctx, rec.provider, "revoke", app,
                            { token = which[1], hint = which[2] })
                        if not r then
                            okr = false
                            failed[rec.provider] = rerr.errorDetails
                        end
                    end
                end
                if nonempty(s.accessToken) or nonempty(s.refreshToken) or nonempty(s.userToken) then
                    revoked[rec.provider] = okr
                end
            end
            local d, derr, dname = st:delete_connection(p.UID, rec.provider)
            if not d then return nil, store_error(derr, dname) end
            n = n + d
            local info = INFO[rec.provider] or {}
            if info.setup and info.setup.refreshOnAuthExpired then
                -- its login session goes too (the connection's fields and secrets name it)
                local user = {}
                for k, v in pairs(rec.fields or {}) do if k ~= "nickname" and k ~= "expired" then user[k] = v end end
                for k, v in pairs(rec.secrets or {}) do user[k] = v end
                require("socialize.direct").forget_setup_state(ctx, rec.provider, app_of(ctx, rec.provider), user)
            end
        end
    end
    if p.provider ~= nil and n == 0 then
        return nil, named(E.NOT_CONNECTED, "not_connected", "Not connected: UID " .. p.UID .. " has no "
            .. p.provider .. " connection")
    end
    return ok_response({ UID = p.UID, removed = n, revoked = revoked, revokeFailed = next(failed) and failed or nil })
end

---------------------------------------------------------------------------
-- the direct backend's stored connections, refreshed before expiry
---------------------------------------------------------------------------

-- A stored record as the connection the network's adapter reads.
local function as_connection(rec)
    local info = INFO[rec.provider] or {}
    local c = info.connect
    local t = {}
    for k, v in pairs(rec.fields or {}) do
        if k ~= "expired" and k ~= "nickname" and k ~= "userId" and k ~= "oauth" then t[k] = v end
    end
    if c then
        -- secrets a connection holds by their own names (OAuth 1.0a's token and tokenSecret)
        for k, v in pairs(rec.secrets or {}) do
            if k ~= "accessToken" and k ~= "refreshToken" and k ~= "userToken" then t[k] = v end
        end
        t[c.tokenField] = rec.secrets and rec.secrets.accessToken
        if c.accountField and nonempty(rec.account) then t[c.accountField] = rec.account end
    else
        for k, v in pairs(rec.secrets or {}) do t[k] = v end
    end
    return t
end


local function due(rec, now)
    local c = (INFO[rec.provider] or {}).connect or {}
    return rec.expiresAt ~= nil and rec.expiresAt - now < (c.refreshMargin or _M.REFRESH_MARGIN)
end

-- Refreshes one connection under its lease: re-read after taking it (another
-- process may have refreshed it meanwhile: then nothing is sent), a refresh
-- token never used twice, never replaced with an empty one; only an
-- auth_expired answer (invalid_grant) marks the connection expired.
-- Returns the record to use (maybe unchanged), and the failure when the
-- refresh failed.
-- used: the access token a call was refused with (401): refreshed whatever
-- its expiry, unless the re-read record holds another one (rotated by
-- another process meanwhile: that one is returned, nothing sent).
local function refresh(ctx, st, UID, provider, used)
    local app = (ctx.config.providers or {})[provider] or {}
    local failure
    local rec, err, name = st:with_lock(UID, provider, function(cur, lease)
        if not cur then return nil end
        local now = floor(ctx.clock())
        if (cur.fields or {}).expired then return cur end
        if used ~= nil then
            if (cur.secrets or {}).accessToken ~= used then return cur end
        elseif not due(cur, now) then
            return cur
        end
        local c = (INFO[provider] or {}).connect or {}
        -- a network that refreshes the (unexpired) access token itself (connect.refreshWithAccess)
        local rt = cur.secrets and (c.refreshWithAccess and cur.expiresAt > now and cur.secrets.accessToken
                                    or cur.secrets.refreshToken)
        if not nonempty(rt) then return cur end
        local tok, terr = step(ctx, provider, "refresh", app, { refreshToken = rt, state = core.random_hex(16),
            extra = c.callbackParam and (cur.fields or {})[c.callbackParam] or nil }, { scopes = cur.scopes })
        local nrec = { UID = UID, provider = provider, account = cur.account, scopes = cur.scopes,
                       fields = cur.fields or {}, secrets = cur.secrets, expiresAt = cur.expiresAt, lease = lease }
        if tok then
            nrec.secrets = { accessToken = tok.accessToken,
                             refreshToken = nonempty(tok.refreshToken) and tok.refreshToken
                                 or (not c.refreshWithAccess and rt or nil) }
            nrec.scopes = nonempty(tok.scope) and tok.scope or cur.scopes
            nrec.expiresAt = tok.expiresAt > 0 and tok.expiresAt or nil
        elseif terr.error == "auth_expired" then
            nrec.fields.expired = true
            failure = terr
        else
            failure = terr -- transient: the connection stays as it was
            return cur
        end
        local ok, perr, pname = st:put_connection(nrec)
        if not ok then
            failure = store_error(perr, pname)
            return cur
        end
        nrec.lease = nil
        return nrec
    end, lock_opts(ctx))
    if err then return nil, store_error(err, name) end
    return rec, failure
end
_M.refresh = refresh

local function expired_failure(prov)
    return { category = "auth_expired", details = "the connection expired or was revoked "
        .. "(the network refused its refresh token): reconnect with client:connect{UID = ..., provider = \""
        .. prov .. "\"}", reconnect = true }
end

--- A call answered auth_expired (401) with the stored connection `user`
-- (as the adapter read it): under the connection's lease the record is read
-- again; another process rotated its token meanwhile: that connection, no
-- refresh sent; else it is refreshed where it has a refresh token. Returns
-- the connection to retry with once, or nil and the failure ({category,
-- details, reconnect}: a refresh answering invalid_grant marked the
-- connection expired) or nil, nil (nothing to refresh with: the call's own
-- failure stands).
function _M.on_auth_expired(ctx, UID, provider, user)
    local c = (INFO[provider] or {}).connect
    local st = ctx.store and ctx.store()
    local used = c and type(user) == "table" and user[c.tokenField]
    if not (st and nonempty(used)) then return nil end
    local rec, failure = refresh(ctx, st, UID, provider, used)
    if not rec then return nil, failure and { category = "transient", details = tostring(failure.errorDetails) } end
    if (rec.fields or {}).expired then return nil, expired_failure(provider) end
    local at = (rec.secrets or {}).accessToken
    if nonempty(at) and at ~= used then return as_connection(rec) end
    if failure then
        return nil, { category = failure.error == "auth_expired" and "auth_expired" or "transient",
                      details = "the token was refused and its refresh failed: " .. tostring(failure.errorDetails) }
    end
    return nil
end

--- The UID's stored connections for the direct backend: conn (keyed by
-- provider, as config.connections would give), and failures (keyed by
-- provider: the error of a connection that cannot be used: expired, or its
-- refresh failed and the token is past its time). nil, err when the store
-- fails.
function _M.stored(ctx, UID)
    local st, err, name = ctx.store()
    if not st then return nil, err and store_error(err, name) or nil end
    local list, lerr, lname = st:list_connections(tostring(UID))
    if not list then return nil, store_error(lerr, lname) end
    local conn, failures = {}, {}
    local now = floor(ctx.clock())
    for _, rec in ipairs(list) do
        local prov = rec.provider
        local failure
        if not (rec.fields or {}).expired and (INFO[prov] or {}).connect and due(rec, now) then
            local nrec
            nrec, failure = refresh(ctx, st, rec.UID or tostring(UID), prov)
            rec = nrec or rec
        end
        if (rec.fields or {}).expired then
            failures[prov] = expired_failure(prov)
        elseif failure and rec.expiresAt and rec.expiresAt <= now then
            failures[prov] = { category = failure.error == "auth_expired" and "auth_expired" or "transient",
                               details = "the token expired and its refresh failed: " .. tostring(failure.errorDetails) }
        elseif rec.expiresAt and rec.expiresAt <= now then
            -- past its time with nothing to refresh it with (isExpiredSession): not sent
            failures[prov] = { category = "auth_expired", details = "the token expired and the connection has no "
                .. "refresh: reconnect with client:connect{UID = ..., provider = \"" .. prov .. "\"}", reconnect = true }
        end
        conn[prov] = as_connection(rec)
    end
    return conn, failures
end

return _M
