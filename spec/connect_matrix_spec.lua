-- The connect matrix (issue 13, "Done when"): every network's connect flow
-- end to end through the sandbox on both store engines (a fresh SQLite file,
-- one throwaway PostgreSQL cluster for the whole file), one row per
-- (flow x engine): connect (the authorization URL followed with
-- K.authorize), finishConnect, getUserInfo, a publish carrying the token the
-- sandbox issued, the token made to expire (the client's clock and the
-- sandbox's clock moved together, or the sandbox's own control) then a
-- refresh and a publish with the NEW token (or, for a network without
-- refresh, isExpiredSession and 403009), removeConnection with the revoke
-- the network has. Then the fault table: rows = fault x OAuth network, on
-- both engines. The sandbox's networks check the wire format themselves
-- (spec/fakes/oauth_server.py, spec/fakes/networks/*.py).
local H = require("spec.helper")
local K = require("spec.connect_kit")

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local REDIRECT = "https://app.example/callback/matrix"
local DAY = 86400

local sb, pgurl

-- the sandbox's app credentials of every OAuth network
local function apps(p)
    p.twitter.clientId, p.twitter.clientSecret = "tw-client-id", "tw-client-secret"
    p.linkedin.clientId, p.linkedin.clientSecret = "li-client-id", "li-client-secret"
    p.facebook.clientId, p.facebook.clientSecret = "fb-app-id", "fb-app-secret"
    p.vkontakte.clientId = "vk-client-id"
    p.sina.clientId, p.sina.clientSecret = "wb-client-id", "wb-client-secret"
    p.threads = { baseUrl = sb.url("threads"), clientId = "th-client-id", clientSecret = "th-client-secret" }
    p.mastodon = { clientName = "socialize matrix" }
end

local function client(url, extra) return K.client(sb, apps, nil, url, extra) end
local function requests(path, containing) return K.requests(sb, path, containing) end
local function oauth(net) return H.control(sb, "/__oauth")[net] or {} end

-- the engines: a fresh SQLite file per row, the file's PostgreSQL cluster
local ENGINES = {
    { name = "SQLite", url = function() return K.db("matrix") end },
    { name = "PostgreSQL", url = function() return (assert(pgurl, "no PostgreSQL cluster")) end },
}

-- what a recorded request carries
local function bearer(r, tok) return r.headers.authorization == "Bearer " .. tok end
local function param(r, tok)
    local all = "&" .. (r.body or "") .. "&" .. (r.query or "") .. "&"
    return all:find("&access_token=" .. tok .. "&", 1, true) ~= nil
end
local function oauth1(r, tok)
    return (r.headers.authorization or ""):find('oauth_token="' .. tok .. '"', 1, true) ~= nil
end

-- the refresh requests sent to a token endpoint (a form with grant_type=refresh_token)
local function refresh_calls(path)
    local n = 0
    for _, r in ipairs(requests(path)) do
        if (r.body or ""):find("grant_type=refresh_token", 1, true) then n = n + 1 end
    end
    return n
end

local function browser(c, provider, uid, more)
    local id, err = K.connect(c, provider, REDIRECT, uid, more)
    assert.is_nil(err)
    return id
end

-- the sandbox forgets its Mastodon app registrations on each reset: so
-- does the store (the PostgreSQL one is shared by the file's cases)
local function fresh_instance(c)
    assert(c:store():delete_app("mastodon", (sb.url("mastodon"):gsub("/$", ""))))
end

-- One row per network flow. connect(c, uid): the identity. token(rec): the
-- stored token a publish carries; carries(r, tok): the recorded request
-- carries it. life: "refresh" (age: how far the clocks move; refreshed():
-- the refresh requests seen), "expires" (no refresh: expired after `age`),
-- "never" (no expiry: still good after `age`). revoke: the path the
-- sandbox must see on removeConnection (nil: deleted locally).
local FLOWS = {
    {
        name = "X OAuth 2.0 PKCE", provider = "twitter", uid = "2244994945", nickname = "sandbox_x",
        connect = function(c, uid) return browser(c, "twitter", uid) end,
        publish = "/2/tweets", token = function(rec) return rec.secrets.accessToken end, carries = bearer,
        life = "refresh", age = 7300, refreshed = function() return refresh_calls("/2/oauth2/token") end,
        revoke = "/2/oauth2/revoke", revokes = 2,
    },
    {
        name = "X OAuth 1.0a", provider = "twitter", uid = "2244994945", nickname = "sandbox_x",
        connect = function(c, uid) return browser(c, "twitter", uid, { oauth = "1.0a" }) end,
        publish = "/2/tweets", token = function(rec) return rec.secrets.token end, carries = oauth1,
        life = "never", age = 365 * DAY,
    },
    {
        name = "Facebook (page choice)", provider = "facebook", uid = "2750001234", nickname = "Sandbox Page Two",
        connect = function(c, uid)
            local r = browser(c, "facebook", uid)
            assert.equal("selectPage", r.pending)
            assert.equal(2, #r.pages)
            assert.is_nil(c:store():get_connection(uid, "facebook")) -- nothing before the choice
            return assert(c:selectPage { UID = uid, provider = "facebook", pageId = r.pages[2].id })
        end,
        publish = "/v26.0/2750001234/feed", token = function(rec) return rec.secrets.accessToken end, carries = param,
        life = "never", age = 30 * DAY,
        revoke = "/v26.0/me/permissions", revokes = 1,
    },
    {
        name = "LinkedIn", provider = "linkedin", uid = "abc123", nickname = "Sandbox Person",
        connect = function(c, uid) return browser(c, "linkedin", uid) end,
        publish = "/rest/posts", token = function(rec) return rec.secrets.accessToken end, carries = bearer,
        life = "refresh", age = 7300, refreshed = function() return refresh_calls("/oauth/v2/accessToken") end,
        revoke = "/oauth/v2/revoke", revokes = 2,
    },
    {
        name = "VK ID", provider = "vkontakte", uid = "1001", nickname = "Sandbox",
        connect = function(c, uid) return browser(c, "vkontakte", uid) end,
        publish = "/method/wall.post", token = function(rec) return rec.secrets.accessToken end, carries = param,
        life = "refresh", age = 7300, refreshed = function() return refresh_calls("/oauth2/auth") end,
    },
    {
        name = "Mastodon (instance app)", provider = "mastodon", uid = "109", nickname = "sandbox",
        connect = function(c, uid)
            fresh_instance(c)
            local id = browser(c, "mastodon", uid, { instance = sb.url("mastodon") })
            assert.truthy(c:store():get_app("mastodon", (sb.url("mastodon"):gsub("/$", ""))))
            return id
        end,
        publish = "/api/v1/statuses", token = function(rec) return rec.secrets.accessToken end, carries = bearer,
        life = "never", age = 365 * DAY,
        revoke = "/oauth/revoke", revokes = 1,
    },
    {
        name = "Bluesky (app password session)", provider = "bluesky", nickname = "ann.bsky.social",
        connect = function(c, uid)
            return assert(c:connect { UID = uid, provider = "bluesky", identifier = "ann.bsky.social",
                                      appPassword = "app-pass-1234" })
        end,
        publish = "/xrpc/com.atproto.repo.createRecord", session = true, carries = bearer,
        life = "refresh", sandbox_expiry = { expire_bluesky = true },
        refreshed = function() return #requests("/xrpc/com.atproto.server.refreshSession") end,
    },
    {
        name = "Weibo", provider = "sina", uid = "1404376560", nickname = "sandbox_weibo",
        connect = function(c, uid) return browser(c, "sina", uid) end,
        publish = "/2/statuses/share.json", token = function(rec) return rec.secrets.accessToken end, carries = param,
        args = { rip = "203.0.113.7" },
        life = "expires", age = 7300,
        revoke = "/oauth2/revokeoauth2", revokes = 1,
    },
    {
        name = "Threads", provider = "threads", uid = "1789", nickname = "sandbox_threads",
        connect = function(c, uid) return browser(c, "threads", uid) end,
        publish = "/v1.0/1789/threads", token = function(rec) return rec.secrets.accessToken end, carries = param,
        life = "refresh", age = 54 * DAY, refreshed = function() return #requests("/refresh_access_token") end,
    },
    {
        name = "Telegram (chat id)", provider = "telegram", uid = "-100777",
        connect = function(c, uid) return assert(c:connect { UID = uid, provider = "telegram", chatId = -100777 }) end,
        publish = "/bot123456:sandbox-bot-token/sendMessage",
        carries = function(r) return (r.body or ""):find('"chat_id":"-100777"', 1, true) ~= nil end,
        life = "never", age = 365 * DAY,
    },
}

local function publish(c, uid, flow)
    local args = { UID = uid, userAction = UA, enabledProviders = flow.provider }
    for k, v in pairs(flow.args or {}) do args[k] = v end
    return c:publishUserAction(args)
end

-- the last request to the publish path
local function last_publish(flow)
    local rs = requests(flow.publish)
    return rs[#rs], #rs
end

local function row(flow, engine)
    local url = engine.url()
    local uid = "mx-" .. flow.provider .. "-" .. flow.name:gsub("%W", "") .. "-" .. engine.name
    local c = client(url)
    -- connect, finishConnect
    local id = flow.connect(c, uid)
    assert.equal(flow.provider, id.provider)
    if flow.uid then assert.equal(flow.uid, id.providerUID) else assert.matches("^did:plc:%x+$", id.providerUID) end
    if flow.nickname then assert.equal(flow.nickname, id.nickname) end
    assert.is_false(id.isExpiredSession)
    -- getUserInfo: the identity, from the store
    local info = assert(c:getUserInfo { UID = uid })
    assert.equal(0, info.errorCode)
    assert.equal(1, #info.identities)
    assert.equal(flow.provider, info.identities[1].provider)
    assert.equal(id.providerUID, info.identities[1].providerUID)
    assert.is_false(info.identities[1].isExpiredSession)
    -- a publish reaches the network with the stored token
    local rec = assert(c:store():get_connection(uid, flow.provider))
    local res, err = publish(c, uid, flow)
    assert.is_nil(err)
    assert.equal(0, res.errorCode, tostring(res.errorDetails))
    local sent, n = last_publish(flow)
    assert.equal(1, n)
    local tok = flow.token and flow.token(rec)
    if flow.token then
        assert.truthy(tok and #tok > 8)
        assert.is_true(flow.carries(sent, tok), "the publish does not carry the stored token")
    elseif flow.session then -- Bluesky: the stored session's access JWT (the sandbox checks it is live)
        tok = sent.headers.authorization:match("^Bearer (.+)$")
        assert.truthy(tok)
    else -- Telegram: the app's bot token (in the path), the stored chat id
        assert.is_true(flow.carries(sent))
    end
    -- the token expires
    local later, T = c, nil
    if flow.age then
        T = os.time() + flow.age
        H.configure(sb, { clock = T }) -- the network's clock too: the old token is dead there
        later = client(url, { clock = function() return T end })
    else
        H.configure(sb, flow.sandbox_expiry)
        later = client(url)
    end
    if flow.life == "refresh" then
        assert.equal(0, flow.refreshed())
        res, err = publish(later, uid, flow)
        assert.is_nil(err)
        assert.equal(0, res.errorCode, tostring(res.errorDetails))
        assert.equal(1, flow.refreshed()) -- once, at the token endpoint
        local after = last_publish(flow)
        local new
        if flow.token then
            local rec2 = assert(later:store():get_connection(uid, flow.provider))
            new = flow.token(rec2)
            assert.is_true(after.headers and flow.carries(after, new), "the publish does not carry the new token")
        else
            new = after.headers.authorization:match("^Bearer (.+)$")
        end
        assert.are_not.equal(tok, new)
        assert.is_false(flow.carries(after, tok))
        assert.is_false(assert(later:getUserInfo { UID = uid }).identities[1].isExpiredSession)
        -- the next call uses the refreshed token: no second refresh
        assert.equal(0, assert(publish(later, uid, flow)).errorCode)
        assert.equal(1, flow.refreshed())
    elseif flow.life == "expires" then
        assert.is_true(assert(later:getUserInfo { UID = uid }).identities[1].isExpiredSession)
        local before = select(2, last_publish(flow))
        res, err = publish(later, uid, flow)
        assert.is_nil(res)
        assert.equal(403009, err.errorCode)
        local e = err.providerErrorCodes and err.providerErrorCodes[1] or err
        assert.equal(flow.provider, e.provider)
        assert.equal("auth_expired", e.category or e.error)
        assert.is_true(e.reconnect, require("socialize.core").json_encode(err))
        assert.matches("reconnect with client:connect", e.errorDetails)
        assert.equal(before, select(2, last_publish(flow))) -- nothing sent
    else -- never expires
        assert.is_false(assert(later:getUserInfo { UID = uid }).identities[1].isExpiredSession)
        assert.equal(0, assert(publish(later, uid, flow)).errorCode)
        assert.is_true(flow.carries((last_publish(flow)), tok))
    end
    -- removeConnection: revoked where the network can, nothing left in the store
    local rm = assert(later:removeConnection { UID = uid, provider = flow.provider })
    assert.equal(1, rm.removed)
    if flow.revoke then
        assert.is_true(rm.revoked[flow.provider])
        assert.equal(flow.revokes, #requests(flow.revoke))
    else
        assert.is_nil(rm.revoked[flow.provider])
    end
    assert.is_nil(later:store():get_connection(uid, flow.provider))
    assert.is_nil(c:store():get_connection(uid, flow.provider))
    assert.equal(0, #assert(later:getUserInfo { UID = uid }).identities)
end

-- The fault table's networks: every OAuth flow. token: the token endpoint's
-- path; secret: the app's secret (nil: a public client); scopes: the network
-- reports the granted scopes in its token reply (X, LinkedIn, VK ID,
-- Mastodon; Facebook's, Weibo's and Threads' replies name none, X OAuth
-- 1.0a has no scopes); refresh: "grant" (a refresh token at the token
-- endpoint, past expiresAt), "access" (Threads: the unexpired access token
-- itself, a week before expiry), nil (no refresh).
local NETS = {
    { name = "X OAuth 2.0", provider = "twitter", token = "/2/oauth2/token", secret = "tw-client-secret",
      scopes = "offline.access", refresh = "grant", age = 7300 },
    { name = "X OAuth 1.0a", provider = "twitter", more = { oauth = "1.0a" }, scenario = "twitter1",
      token = "/oauth/access_token", secret = "tw-consumer-secret", oauth1 = true },
    { name = "Facebook", provider = "facebook", token = "/v26.0/oauth/access_token", secret = "fb-app-secret",
      pages = true },
    { name = "LinkedIn", provider = "linkedin", token = "/oauth/v2/accessToken", secret = "li-client-secret",
      scopes = "w_member_social", refresh = "grant", age = 7300 },
    { name = "VK ID", provider = "vkontakte", token = "/oauth2/auth", scopes = "photos", refresh = "grant", age = 7300 },
    { name = "Mastodon", provider = "mastodon", instance = true, token = "/oauth/token", secret = "md-client-secret",
      scopes = "read:accounts" },
    { name = "Weibo", provider = "sina", token = "/oauth2/access_token", secret = "wb-client-secret",
      args = { rip = "203.0.113.7" } },
    { name = "Threads", provider = "threads", token = "/oauth/access_token", secret = "th-client-secret",
      refresh = "access", age = 54 * DAY, s500 = "refresh500", s429 = "refresh429" },
}

local json = require("socialize.core").json_encode

local function more_of(net)
    local m = {}
    for k, v in pairs(net.more or {}) do m[k] = v end
    if net.instance then m.instance = sb.url("mastodon") end
    return m
end

local function start(c, net, uid)
    if net.instance then fresh_instance(c) end
    local args = { UID = uid, provider = net.provider, redirectURI = REDIRECT }
    for k, v in pairs(more_of(net)) do args[k] = v end
    return assert(c:connect(args))
end

local function scenario(net, name)
    H.configure(sb, { oauth_scenario = { [net.scenario or net.provider] = name } })
end

-- the error names what happened; none of `secrets` is in its text
local function refused(err, name, code, secrets)
    assert.is_table(err)
    if name then assert.equal(name, err.error, json(err)) end
    if code then assert.equal(code, err.errorCode) end
    local text = json(err) .. tostring(err.errorDetails) .. tostring(err.errorMessage)
    for _, sec in ipairs(secrets) do
        if sec and #sec >= 6 then assert.is_nil(text:find(sec, 1, true), "a secret in the error: " .. sec) end
    end
end

-- the secrets a connect puts on the wire: the app's secret, the code (or
-- OAuth 1.0a verifier) of the callback, the PKCE verifier the token call sent
local function wire_secrets(net, cb)
    local out = { net.secret }
    if cb then
        out[#out + 1] = cb:match("[?&]code=([^&]+)")
        out[#out + 1] = cb:match("[?&]oauth_verifier=([^&]+)")
    end
    for _, r in ipairs(requests(net.token)) do out[#out + 1] = (r.body or ""):match("code_verifier=([^&]+)") end
    return out
end

-- nothing of the connect kept: no connection, no pending page choice
local function nothing_stored(c, net, uid)
    assert.is_nil(c:store():get_connection(uid, net.provider))
    if net.pages then
        local none, err = c:selectPage { UID = uid, provider = net.provider, pageId = "1647395831" }
        assert.is_nil(none)
        assert.equal("no_pending_page", err.error)
    end
end

-- a connect completed (Facebook: the first page chosen)
local function complete(c, net, uid, cb)
    local id, err = c:finishConnect(cb)
    assert.is_nil(err)
    if net.pages then
        assert.equal("selectPage", id.pending)
        id = assert(c:selectPage { UID = uid, provider = net.provider, pageId = id.pages[1].id })
    end
    assert.is_false(id.isExpiredSession)
    return assert(c:store():get_connection(uid, net.provider))
end

-- a connected user, then the clocks (the client's, the sandbox's) moved to
-- where a publish refreshes: the later client and its time
local function due(net, url, uid)
    local c = client(url)
    local rec = complete(c, net, uid, K.authorize(start(c, net, uid).url))
    local T = os.time() + net.age
    H.configure(sb, { clock = T })
    return client(url, { clock = function() return T end }), rec, T
end

local function publish_on(c, net, uid)
    local args = { UID = uid, userAction = UA, enabledProviders = net.provider }
    for k, v in pairs(net.args or {}) do args[k] = v end
    return c:publishUserAction(args)
end

local function same_record(a, b)
    assert.same(a.secrets, b.secrets)
    assert.equal(a.expiresAt, b.expiresAt)
    assert.equal(a.account, b.account)
    assert.is_nil((b.fields or {}).expired)
end

-- a refresh that failed transiently: the record as it was; the call failed as
-- transient (Threads: the token is still good a week before expiry: the call
-- goes on with it); the next call, the network back, refreshes with it
local function transient_refresh(net, engine, uid, setup, unreachable)
    local url = engine.url()
    local later, rec, T = due(net, url, uid)
    later = setup(later, T, url) or later
    local res, err = publish_on(later, net, uid)
    local after = assert(later:store():get_connection(uid, net.provider))
    same_record(rec, after)
    if net.refresh == "access" and not unreachable then
        assert.is_nil(err)
        assert.equal(0, res.errorCode)
    else -- past expiry (Threads, unreachable: the publish could not go either)
        assert.is_nil(res)
        -- 500023 (the refresh failed) or 500026 (Threads unreachable: the publish's own network error)
        assert.is_true(err.errorCode == 500023 or unreachable and err.errorCode == 500026, json(err))
        local e = err.providerErrorCodes and err.providerErrorCodes[1] or err
        assert.equal("transient", e.category)
        assert.is_nil(e.reconnect)
        refused(err, nil, nil, { net.secret, rec.secrets.accessToken, rec.secrets.refreshToken })
    end
    assert.is_false(assert(later:getUserInfo { UID = uid }).identities[1].isExpiredSession)
    -- the network back: the same grant refreshes
    H.configure(sb, { oauth_scenario = {}, clock = T })
    local ok = assert(publish_on(client(url, { clock = function() return T end }), net, uid))
    assert.equal(0, ok.errorCode, json(ok))
    assert.are_not.same(rec.secrets, assert(later:store():get_connection(uid, net.provider)).secrets)
end

-- fault rows: name, applies(net), run(net, engine, uid)
local FAULTS = {
    { name = "forged state", run = function(net, engine, uid)
        local c = client(engine.url())
        local s = start(c, net, uid)
        local cb = K.authorize(s.url)
        local forged = net.oauth1 and { oauth_token = "o1rt-forged0000", oauth_verifier = "forged" }
            or ("code=" .. (cb:match("[?&]code=([^&]+)") or "x") .. "&state=forged-" .. s.state:sub(8))
        local none, err = c:finishConnect(forged)
        assert.is_nil(none)
        refused(err, "state_unknown", 400006, wire_secrets(net, cb))
        assert.equal(0, #requests(net.token)) -- nothing exchanged
        nothing_stored(c, net, uid)
        -- the forgery consumed nothing: the genuine callback still connects, once
        complete(c, net, uid, cb)
    end },
    { name = "replayed state", run = function(net, engine, uid)
        local c = client(engine.url())
        local cb = K.authorize(start(c, net, uid).url)
        local rec = complete(c, net, uid, cb)
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "state_unknown", 400006, wire_secrets(net, cb))
        local calls = requests(net.token)
        assert.equal(net.pages and 2 or 1, #calls) -- one code exchange (Facebook: then its long-lived exchange)
        assert.same(rec.secrets, assert(c:store():get_connection(uid, net.provider)).secrets)
    end },
    { name = "expired state (10 min, the clock moved)", run = function(net, engine, uid)
        local url = engine.url()
        local c = client(url)
        local cb = K.authorize(start(c, net, uid).url)
        local later = client(url, { clock = function() return os.time() + 601 end })
        local none, err = later:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "state_expired", 400006, wire_secrets(net, cb))
        assert.equal(0, #requests(net.token))
        nothing_stored(c, net, uid)
        -- consumed: the same callback in time is unknown now
        none, err = c:finishConnect(cb)
        assert.equal("state_unknown", err.error)
        assert.equal(0, #requests(net.token))
    end },
    { name = "callback error=access_denied", run = function(net, engine, uid)
        scenario(net, "deny")
        local c = client(engine.url())
        local cb = K.authorize(start(c, net, uid).url)
        assert.truthy(cb:find("error=access_denied", 1, true) or cb:find("denied=", 1, true))
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "access_denied", 403023, wire_secrets(net, cb))
        assert.equal(0, #requests(net.token))
        nothing_stored(c, net, uid)
        none, err = c:finishConnect(cb) -- spent
        assert.equal("state_unknown", err.error)
    end },
    { name = "token endpoint answering HTML", run = function(net, engine, uid)
        scenario(net, "html")
        local c = client(engine.url())
        local cb = K.authorize(start(c, net, uid).url)
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "transient", 500023, wire_secrets(net, cb))
        assert.equal(1, #requests(net.token))
        nothing_stored(c, net, uid)
        none, err = c:finishConnect(cb) -- spent: a code is single use
        assert.equal("state_unknown", err.error)
    end },
    { name = "token endpoint answering 500", run = function(net, engine, uid)
        scenario(net, "500")
        local c = client(engine.url())
        local cb = K.authorize(start(c, net, uid).url)
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "transient", 500023, wire_secrets(net, cb))
        assert.equal(1, #requests(net.token))
        nothing_stored(c, net, uid)
    end },
    { name = "a grant without the scopes asked", applies = function(net) return net.scopes end,
      run = function(net, engine, uid)
        scenario(net, "narrow")
        local c = client(engine.url())
        local cb = K.authorize(start(c, net, uid).url)
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        refused(err, "scopes_missing", 403023, wire_secrets(net, cb))
        assert.matches(net.scopes, err.errorDetails, 1, true)
        nothing_stored(c, net, uid)
    end },
    { name = "invalid_grant on refresh marks expired", applies = function(net) return net.refresh end,
      run = function(net, engine, uid)
        local later, rec = due(net, engine.url(), uid)
        scenario(net, "invalid_grant")
        local res, err = publish_on(later, net, uid)
        assert.is_nil(res)
        assert.equal(403009, err.errorCode)
        local e = err.providerErrorCodes and err.providerErrorCodes[1] or err
        assert.equal("auth_expired", e.category)
        assert.is_true(e.reconnect)
        refused(err, nil, nil, { net.secret, rec.secrets.accessToken, rec.secrets.refreshToken })
        local after = assert(later:store():get_connection(uid, net.provider))
        assert.is_true(after.fields.expired)
        assert.same(rec.secrets, after.secrets) -- nothing overwritten
        assert.is_true(assert(later:getUserInfo { UID = uid }).identities[1].isExpiredSession)
        -- an expired connection sends nothing more
        H.configure(sb, { oauth_scenario = {} })
        local before = #H.requests(sb)
        assert.equal(403009, select(2, publish_on(later, net, uid)).errorCode)
        assert.equal(before, #H.requests(sb))
    end },
    { name = "500 on refresh leaves the connection, the call transient", applies = function(net) return net.refresh end,
      run = function(net, engine, uid)
        transient_refresh(net, engine, uid, function() scenario(net, net.s500 or "500") end)
    end },
    { name = "429 on refresh leaves the connection, the call transient", applies = function(net) return net.refresh end,
      run = function(net, engine, uid)
        transient_refresh(net, engine, uid, function() scenario(net, net.s429 or "429") end)
    end },
    { name = "network error on refresh leaves the connection, the call transient",
      applies = function(net) return net.refresh end,
      run = function(net, engine, uid)
        transient_refresh(net, engine, uid, function(_, T, url)
            -- the network unreachable: nothing listens on the discard port of the loopback
            return client(url, { clock = function() return T end, providers = (function()
                local p = H.sandbox_providers(sb)
                apps(p)
                p[net.provider].baseUrl = "http://127.0.0.1:9"
                return p
            end)() })
        end, true)
    end },
}

describe("connect matrix: every network x both store engines #once", function()
    H.use_sandbox(function(s) sb = s end)
    K.use_postgres(function(url) pgurl = url end)

    describe("flows", function()
        for _, engine in ipairs(ENGINES) do
            for _, flow in ipairs(FLOWS) do
                it(flow.name .. " on " .. engine.name .. ": connects, publishes, "
                    .. (flow.life == "refresh" and "refreshes" or flow.life == "expires" and "expires (no refresh)"
                        or "does not expire") .. ", disconnects", function()
                    row(flow, engine)
                end)
            end
        end
    end)

    describe("faults", function()
        for _, engine in ipairs(ENGINES) do
            for _, fault in ipairs(FAULTS) do
                for _, net in ipairs(NETS) do
                    if not fault.applies or fault.applies(net) then
                        it(fault.name .. " x " .. net.name .. " on " .. engine.name, function()
                            local uid = "fx-" .. net.name:gsub("%W", "") .. "-" .. math.random(1, 1e9)
                            fault.run(net, engine, uid)
                        end)
                    end
                end
            end
        end
    end)
end)
