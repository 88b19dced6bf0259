-- The connect lifecycle end to end (docs/connections.md): client:connect,
-- the sandbox's authorize endpoint followed with the library's own HTTP
-- client, client:finishConnect, getUserInfo, publishing through the stored
-- connection (refreshed under the store's lease), removeConnection; and the
-- faults: forged, replayed and expired states, access_denied, a token
-- endpoint answering HTML or 500, missing scopes, a dead refresh token.
-- The sandbox (spec/fakes/oauth_server.py) checks PKCE and client auth itself.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local socialize = require("socialize")

local KEY = K.KEY
local REDIRECT = "https://app.example/callback/x"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local sb

local function credentials(p)
    p.twitter.clientId, p.twitter.clientSecret = "tw-client-id", "tw-client-secret"
    p.linkedin.clientId, p.linkedin.clientSecret = "li-client-id", "li-client-secret"
    p.facebook.clientId, p.facebook.clientSecret = "fb-app-id", "fb-app-secret"
    return p
end
local function providers() return credentials(H.sandbox_providers(sb)) end

local function db() return K.db("connect") end
local function client(url, extra) return K.client(sb, credentials, nil, url or db(), extra) end
local authorize = K.authorize -- one GET, no redirects: the Location the sandbox answers with

local function connect(c, UID, provider, scopes)
    return K.connect(c, provider, REDIRECT, UID, { scopes = scopes })
end

local function oauth(net) return H.control(sb, "/__oauth")[net] end
local function requests(path) return K.requests(sb, path) end

describe("connect: X (OAuth 2.0 + PKCE) #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects, stores the connection sealed, answers getUserInfo, publishes, disconnects", function()
        local c = client()
        local start = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT })
        assert.matches("^http://127%.0%.0%.1:%d+/i/oauth2/authorize%?", start.url)
        assert.matches("code_challenge_method=S256", start.url)
        assert.matches("state=" .. start.state, start.url, 1, true)
        assert.equal(48, #start.state)
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(err)
        assert.equal("twitter", id.provider)
        assert.equal("2244994945", id.providerUID)
        assert.equal("sandbox_x", id.nickname)
        assert.is_false(id.isExpiredSession)
        assert.equal("tweet.read tweet.write users.read offline.access", id.scopes)
        assert.truthy(id.expiresAt > os.time() + 7000)
        -- the token call: Basic client auth and the PKCE verifier, as the sandbox checked
        local tk = requests("/2/oauth2/token")
        assert.equal(1, #tk)
        assert.equal("Basic dHctY2xpZW50LWlkOnR3LWNsaWVudC1zZWNyZXQ=", tk[1].headers.authorization)
        assert.matches("code_verifier=[%w_-]+", tk[1].body)
        assert.matches("grant_type=authorization_code", tk[1].body)
        -- stored whole, secrets sealed
        local rec = assert(c:store():get_connection("u1", "twitter"))
        assert.equal("2244994945", rec.account)
        assert.matches("^xat%-", rec.secrets.accessToken)
        assert.matches("^xrt%-", rec.secrets.refreshToken)
        local info = assert(c:getUserInfo { UID = "u1" })
        assert.equal(0, info.errorCode)
        assert.equal(1, #info.identities)
        assert.equal("2244994945", info.identities[1].providerUID)
        assert.is_false(info.identities[1].isExpiredSession)
        -- publishing through the stored connection: the bearer token the sandbox issued
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode)
        local tw = requests("/2/tweets")
        assert.equal(1, #tw)
        assert.equal("Bearer " .. rec.secrets.accessToken, tw[1].headers.authorization)
        -- disconnect: both tokens revoked at X, the record gone
        local rm = assert(c:removeConnection { UID = "u1", provider = "twitter" })
        assert.equal(1, rm.removed)
        assert.is_true(rm.revoked.twitter)
        assert.equal(2, #requests("/2/oauth2/revoke"))
        assert.is_nil(c:store():get_connection("u1", "twitter"))
        assert.equal(0, #assert(c:getUserInfo { UID = "u1" }).identities)
        -- the revoked token no longer posts
        local res2 = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(res2)
    end)

    it("getUserInfo with a callback answers from the store, delivered by poll", function()
        local c = client()
        assert(connect(c, "a1", "twitter"))
        H.reset(sb)
        local got, n = nil, 0
        assert.is_true(c:getUserInfo({ UID = "a1" }, function(res, err) n = n + 1 got = { res, err } end))
        assert.equal(0, n) -- not before poll
        assert.equal(0, c:timeout())
        assert.equal(0, c:poll(0))
        assert.equal(1, n)
        assert.is_nil(got[2])
        assert.equal(0, got[1].errorCode)
        assert.equal("a1", got[1].UID)
        assert.equal(1, #got[1].identities)
        assert.equal("2244994945", got[1].identities[1].providerUID)
        assert.equal(0, #H.requests(sb)) -- nothing sent: the store answered
        assert.equal(-1, c:timeout())
        assert.equal(0, c:poll(0))
        assert.equal(1, n) -- once
        -- an error too, through the callback
        assert.is_true(c:getUserInfo({}, function(res, err) got = { res, err } end))
        while c:poll(10) > 0 do end
        assert.is_nil(got[1])
        assert.equal(400002, got[2].errorCode)
    end)

    it("a state is single use, bound to its store, and expires", function()
        local c = client()
        local start = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT })
        local cb = authorize(start.url)
        assert(c:finishConnect(cb))
        local none, err = c:finishConnect(cb) -- replayed
        assert.is_nil(none)
        assert.equal("state_unknown", err.error)
        assert.equal(400006, err.errorCode)
        none, err = c:finishConnect("code=abc&state=forged-state")
        assert.equal("state_unknown", err.error)
        none, err = c:finishConnect({ code = "abc" })
        assert.equal("state_unknown", err.error)
        -- expired: a pending state older than 10 minutes
        local later = client(nil, { clock = function() return os.time() + 601 end })
        local s2 = assert(c:connect { UID = "u2", provider = "twitter", redirectURI = REDIRECT })
        later._store_config = c._store_config
        later._store = c:store()
        none, err = later:finishConnect(authorize(s2.url))
        assert.equal("state_expired", err.error)
        -- only one token exchange happened in all of this
        assert.equal(1, oauth("twitter").exchanges)
    end)

    it("access_denied: nothing stored, the state spent", function()
        H.configure(sb, { oauth_scenario = { twitter = "deny" } })
        local c = client()
        local start = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT })
        local cb = authorize(start.url)
        assert.matches("error=access_denied", cb)
        local none, err = c:finishConnect(cb)
        assert.is_nil(none)
        assert.equal("access_denied", err.error)
        assert.equal(403023, err.errorCode)
        assert.is_nil(c:store():get_connection("u1", "twitter"))
        assert.equal("state_unknown", select(2, c:finishConnect(cb)).error)
    end)

    it("a token endpoint answering HTML or 500: transient, nothing stored, nothing secret in the error", function()
        for _, scen in ipairs({ "html", "500" }) do
            H.configure(sb, { oauth_scenario = { twitter = scen } })
            local c = client()
            local none, err = connect(c, "u1", "twitter")
            assert.is_nil(none)
            assert.equal("transient", err.error, scen)
            assert.equal(500023, err.errorCode)
            assert.is_nil(tostring(err):find("tw-client-secret", 1, true))
            assert.is_nil(c:store():get_connection("u1", "twitter"))
        end
    end)

    it("a token endpoint answering 429 is transient; an identity that fails stores nothing (whole or not at all)", function()
        H.configure(sb, { oauth_scenario = { twitter = "429" } })
        local c = client()
        local none, err = connect(c, "u1", "twitter")
        assert.is_nil(none)
        assert.equal("transient", err.error)
        H.configure(sb, { oauth_scenario = { twitter = "identity503" } })
        none, err = connect(c, "u1", "twitter")
        assert.is_nil(none)
        assert.equal("transient", err.error)
        assert.matches("identity endpoint answered 503", err.errorDetails)
        assert.equal(1, oauth("twitter").exchanges) -- the code was exchanged, then nothing kept
        assert.is_nil(c:store():get_connection("u1", "twitter"))
    end)

    it("a code from another connect fails PKCE at X; a repeated callback parameter is refused", function()
        local c = client()
        local a = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT })
        local b = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT })
        local code_a = authorize(a.url):match("code=([^&]+)")
        -- b's state (and verifier) with a's code: the sandbox's S256 check refuses it
        local none, err = c:finishConnect { code = code_a, state = b.state }
        assert.is_nil(none)
        assert.equal(1, #requests("/2/oauth2/token"))
        assert.equal("auth_expired", err.error) -- invalid_grant
        assert.matches("PKCE verification failed", err.errorDetails)
        assert.is_nil(c:store():get_connection("u1", "twitter"))
        none, err = c:finishConnect("code=x&state=" .. a.state .. "&state=" .. b.state)
        assert.is_nil(none)
        assert.equal(400006, err.errorCode)
        assert.matches("repeated", err.errorDetails)
    end)

    it("without config.store: a named error, nothing sent", function()
        local c = socialize.new { backend = "direct", providers = providers() }
        local none, err = c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT }
        assert.is_nil(none)
        assert.equal("no_store", err.error)
        assert.equal(0, #H.requests(sb))
    end)

    it("a grant without the scopes asked is refused by name", function()
        H.configure(sb, { oauth_scenario = { twitter = "narrow" } })
        local c = client()
        local none, err = connect(c, "u1", "twitter")
        assert.is_nil(none)
        assert.equal("scopes_missing", err.error)
        assert.matches("offline%.access", err.errorDetails)
        assert.is_nil(c:store():get_connection("u1", "twitter"))
    end)

    it("refreshes before expiry: the rotated refresh token replaces the old one, which is never sent again", function()
        H.configure(sb, { oauth_ttl = 60 }) -- under the refresh margin: every use refreshes
        local c = client()
        assert(connect(c, "u1", "twitter"))
        local rt0 = c:store():get_connection("u1", "twitter").secrets.refreshToken
        for i = 1, 3 do
            local res, err = c:publishUserAction { UID = "u1", userAction = UA }
            assert.is_nil(err, i)
            assert.equal(0, res.errorCode)
        end
        local rec = c:store():get_connection("u1", "twitter")
        assert.are_not.equal(rt0, rec.secrets.refreshToken)
        local st = oauth("twitter")
        assert.equal(3, st.refreshes)
        assert.equal(0, st.reuse)
        -- each refresh sent the refresh token of the one before
        local sent = {}
        for _, r in ipairs(requests("/2/oauth2/token")) do
            local t = r.body:match("refresh_token=([^&]+)")
            if t then
                assert.is_nil(sent[t], "a refresh token sent twice")
                sent[t] = true
            end
        end
        assert.truthy(sent[rt0])
    end)

    it("invalid_grant marks the connection expired: 403009 with a reconnect hint, isExpiredSession", function()
        H.configure(sb, { oauth_ttl = 60 })
        local c = client()
        assert(connect(c, "u1", "twitter"))
        H.configure(sb, { oauth_scenario = { twitter = "invalid_grant" } })
        local res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(res)
        assert.equal(403009, err.errorCode)
        local e = err.providerErrorCodes and err.providerErrorCodes[1] or err
        assert.equal("twitter", e.provider)
        assert.matches("reconnect with client:connect", e.errorDetails)
        assert.is_true(e.reconnect)
        assert.is_true(assert(c:getUserInfo { UID = "u1" }).identities[1].isExpiredSession)
        assert.is_true(c:store():get_connection("u1", "twitter").fields.expired)
        -- an expired connection sends nothing more: no refresh, no tweet
        H.reset(sb)
        res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.equal(403009, err.errorCode)
        assert.equal(0, #H.requests(sb))
        -- a reconnect replaces it
        assert(connect(c, "u1", "twitter"))
        assert.is_false(assert(c:getUserInfo { UID = "u1" }).identities[1].isExpiredSession)
    end)

    it("a transient refresh failure never marks the connection expired", function()
        H.configure(sb, { oauth_ttl = 60 })
        local c = client()
        assert(connect(c, "u1", "twitter"))
        local rt0 = c:store():get_connection("u1", "twitter").secrets.refreshToken
        H.configure(sb, { oauth_scenario = { twitter = "500" } })
        local res = c:publishUserAction { UID = "u1", userAction = UA }
        assert.equal(0, res.errorCode) -- the token was still valid: used
        local rec = c:store():get_connection("u1", "twitter")
        assert.is_nil(rec.fields.expired)
        assert.equal(rt0, rec.secrets.refreshToken)
        assert.is_false(assert(c:getUserInfo { UID = "u1" }).identities[1].isExpiredSession)
    end)
end)

describe("connect: a publish answered 401 with a stored connection #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    local function tweets_auth()
        local out = {}
        for i, r in ipairs(requests("/2/tweets")) do out[i] = r.headers.authorization end
        return out
    end

    it("a token revoked early: refreshed once under the lease, the post sent once more", function()
        local c = client()
        assert(connect(c, "r1", "twitter"))
        local rec0 = c:store():get_connection("r1", "twitter")
        H.configure(sb, { oauth_revoke_early = { twitter = true } })
        local res, err = c:publishUserAction { UID = "r1", userAction = UA }
        assert.is_nil(err)
        assert.equal(0, res.errorCode)
        local rec = c:store():get_connection("r1", "twitter")
        assert.are_not.equal(rec0.secrets.accessToken, rec.secrets.accessToken)
        assert.are_not.equal(rec0.secrets.refreshToken, rec.secrets.refreshToken)
        assert.same({ "Bearer " .. rec0.secrets.accessToken, "Bearer " .. rec.secrets.accessToken }, tweets_auth())
        local st = oauth("twitter")
        assert.equal(1, st.refreshes)
        assert.equal(0, st.reuse)
        -- the refresh answering invalid_grant: the connection expired, 403009 with the reconnect hint,
        -- the post not sent again
        H.reset(sb)
        local c2 = client()
        assert(connect(c2, "r2", "twitter"))
        H.configure(sb, { oauth_revoke_early = { twitter = true }, oauth_scenario = { twitter = "invalid_grant" } })
        res, err = c2:publishUserAction { UID = "r2", userAction = UA }
        assert.is_nil(res)
        assert.equal(403009, err.errorCode)
        local e = err.providerErrorCodes and err.providerErrorCodes[1] or err
        assert.is_true(e.reconnect)
        assert.matches("reconnect with client:connect", e.errorDetails)
        assert.equal(1, #requests("/2/tweets"))
        assert.is_true(c2:store():get_connection("r2", "twitter").fields.expired)
    end)

    it("a token rotated by another client on the same store: the re-read token, no refresh sent", function()
        local url = db()
        local c0 = client(url)
        assert(connect(c0, "r3", "twitter"))
        local A = c0:store():get_connection("r3", "twitter").secrets.accessToken
        local core = require("socialize.core")
        local transport = require("socialize.transport")
        local done = false
        local c1 = client(url, { log = function(ev)
            if done or ev.event ~= "request" or not tostring(ev.url):find("/2/tweets", 1, true) then return end
            done = true
            -- meanwhile another client (its clock near the token's expiry) refreshes it,
            -- and the old token is revoked at X
            local c2 = client(url, { clock = function() return os.time() + 7000 end })
            assert.equal(0, assert(c2:publishUserAction { UID = "r3", userAction = UA }).errorCode)
            local req = assert(core.oauth_request("twitter", "revoke", providers().twitter,
                { token = A, hint = "access_token" }))
            req.timeout = 5
            assert(transport.select({ timeout = 5 }):request(req))
        end })
        local res, err = c1:publishUserAction { UID = "r3", userAction = UA }
        assert.is_true(done)
        assert.is_nil(err)
        assert.equal(0, res.errorCode)
        local B = c1:store():get_connection("r3", "twitter").secrets.accessToken
        assert.are_not.equal(A, B)
        -- c2's post with B, c1's with A (refused), c1's again with B
        assert.same({ "Bearer " .. B, "Bearer " .. A, "Bearer " .. B }, tweets_auth())
        assert.equal(1, oauth("twitter").refreshes) -- c2's only
        assert.equal(0, oauth("twitter").reuse)
    end)
end)

describe("connect: LinkedIn #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects with the client secret in the body, stores personId, publishes, refreshes, disconnects", function()
        local c = client()
        local id, err = connect(c, "u1", "linkedin", { "openid", "profile", "w_member_social" })
        assert.is_nil(err)
        assert.equal("abc123", id.providerUID)
        assert.equal("Sandbox Person", id.nickname)
        local tk = requests("/oauth/v2/accessToken")[1]
        assert.is_nil(tk.headers.authorization)
        assert.matches("client_secret=li%-client%-secret", tk.body)
        assert.is_nil(tk.body:find("code_verifier", 1, true))
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode)
        local rec = c:store():get_connection("u1", "linkedin")
        assert.equal("Bearer " .. rec.secrets.accessToken, requests("/rest/posts")[1].headers.authorization)
        -- refresh: LinkedIn's refresh token does not rotate; it is kept
        H.configure(sb, { oauth_ttl = 60 })
        assert(connect(c, "u2", "linkedin"))
        local rt = c:store():get_connection("u2", "linkedin").secrets.refreshToken
        assert.equal(0, c:publishUserAction { UID = "u2", userAction = UA }.errorCode)
        assert.equal(rt, c:store():get_connection("u2", "linkedin").secrets.refreshToken)
        assert.equal(1, oauth("linkedin").refreshes)
        local rm = assert(c:removeConnection { UID = "u1" })
        assert.equal(1, rm.removed)
        assert.is_true(rm.revoked.linkedin)
    end)

    it("a network without a connect flow yet is refused by name", function()
        local c = client()
        local none, err = c:connect { UID = "u1", provider = "renren", redirectURI = REDIRECT }
        assert.is_nil(none)
        assert.equal("unsupported", err.error)
        assert.equal(400096, err.errorCode)
    end)
end)

-- Children and PostgreSQL: once per run (real processes, a throwaway cluster).
local CHILD_LUA, q, run = K.CHILD_LUA, K.q, K.run

-- A process publishing n times for u1 through the store at url.
local function publisher(url, n, out)
    local path = K.script("publisher", string.format([[
local c = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 10,
    store = { url = arg[1], keys = { %q } },
    providers = { twitter = { clientId = "tw-client-id", clientSecret = "tw-client-secret", baseUrl = arg[2] } } }
local ok = 0
for i = 1, tonumber(arg[3]) do
    local r, e = c:publishUserAction { UID = "u1", userAction = { title = "post " .. i } }
    if r and r.errorCode == 0 then ok = ok + 1 else io.write("failed: ", tostring(e), "\n") end
end
io.write("ok ", ok, "\n")
]], KEY))
    return CHILD_LUA .. " " .. q(path) .. " " .. q(url) .. " " .. q(sb.url("twitter")) .. " " .. n .. " >" .. q(out)
end

local function race(url, n)
    H.configure(sb, { oauth_ttl = 60 }) -- every use refreshes
    local c = client(url)
    assert(connect(c, "u1", "twitter"))
    H.configure(sb, { record = true })
    local o1, o2 = H.tmpdir .. "/race1-" .. n .. ".out", H.tmpdir .. "/race2-" .. n .. ".out"
    run("sh -c " .. q(publisher(url, n, o1) .. " & " .. publisher(url, n, o2) .. " & wait"))
    for _, o in ipairs({ o1, o2 }) do
        assert.equal("ok " .. n, H.read(o):gsub("%s+$", ""), H.read(o))
    end
    local st = oauth("twitter")
    assert.equal(0, st.reuse)
    assert.equal(0, st.families_killed)
    assert.equal(2 * n, st.refreshes)
    local sent, count = {}, 0
    for _, r in ipairs(requests("/2/oauth2/token")) do
        local t = r.body:match("refresh_token=([^&]+)")
        if t then
            assert.is_nil(sent[t], "refresh token used twice: " .. t)
            sent[t], count = true, count + 1
        end
    end
    assert.equal(2 * n, count)
    return c
end

describe("connect: stores shared by processes #once", function()
    H.use_sandbox(function(s) sb = s end)

    it("two processes refreshing the same X connection at once, 100 times each: no refresh token used twice (SQLite)", function()
        race(db(), 100)
    end)

    describe("PostgreSQL", function()
        local pgurl
        K.use_postgres(function(url) pgurl = url end)

        it("connects, publishes, refreshes and disconnects through a PostgreSQL store", function()
            local c = client(pgurl)
            local id = assert(connect(c, "u9", "twitter"))
            assert.equal("2244994945", id.providerUID)
            assert.equal(1, #assert(c:getUserInfo { UID = "u9" }).identities)
            assert.equal(0, c:publishUserAction { UID = "u9", userAction = UA }.errorCode)
            assert(c:removeConnection { UID = "u9" })
            assert.is_nil(c:store():get_connection("u9", "twitter"))
        end)

        it("Facebook (page choice) and X OAuth 1.0a connect, publish and disconnect through PostgreSQL", function()
            local c = client(pgurl)
            local s = assert(c:connect { UID = "u8", provider = "facebook", redirectURI = REDIRECT })
            local r = assert(c:finishConnect(authorize(s.url)))
            assert.equal("selectPage", r.pending)
            local id = assert(c:selectPage { UID = "u8", provider = "facebook", pageId = r.pages[2].id })
            assert.equal(r.pages[2].id, id.providerUID)
            s = assert(c:connect { UID = "u8", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
            id = assert(c:finishConnect(authorize(s.url)))
            assert.equal("1.0a", id.oauth)
            assert.equal(2, #assert(c:getUserInfo { UID = "u8" }).identities)
            local res = assert(c:publishUserAction { UID = "u8", userAction = UA })
            assert.equal(0, res.errorCode)
            assert.equal(1, #requests("/v26.0/" .. r.pages[2].id .. "/feed"))
            assert.equal(1, #requests("/2/tweets"))
            assert.equal(2, assert(c:removeConnection { UID = "u8" }).removed)
        end)

        it("two processes refreshing at once, 50 times each: no refresh token used twice", function()
            race(pgurl, 50)
        end)
    end)
end)

describe("connect: VK ID (OAuth 2.1, PKCE, device_id) #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects with the callback's device_id, publishes, refreshes with it, disconnects locally", function()
        local p = providers()
        p.vkontakte.clientId = "vk-client-id"
        local c = client(nil, { providers = p })
        local start = assert(c:connect { UID = "u1", provider = "vkontakte", redirectURI = REDIRECT })
        assert.matches("^http://127%.0%.0%.1:%d+/authorize%?", start.url)
        assert.matches("code_challenge_method=S256", start.url)
        assert.matches("scope=vkid.personal_info%%20wall%%20photos", start.url)
        local cb = authorize(start.url)
        local device = cb:match("device_id=([^&]+)")
        assert.truthy(device)
        -- without the device_id the callback is refused by name, the state spent
        local none, err = c:finishConnect((cb:gsub("&?device_id=[^&]+", "")))
        assert.is_nil(none)
        assert.matches("device_id", err.errorDetails)
        start = assert(c:connect { UID = "u1", provider = "vkontakte", redirectURI = REDIRECT })
        cb = authorize(start.url)
        device = cb:match("device_id=([^&]+)")
        local id = assert(c:finishConnect(cb))
        assert.equal("1001", id.providerUID)
        assert.equal("Sandbox", id.nickname)
        local tk = requests("/oauth2/auth")
        assert.equal(1, #tk)
        assert.matches("device_id=" .. device, tk[1].body, 1, true)
        assert.matches("state=" .. start.state, tk[1].body, 1, true)
        assert.matches("code_verifier=", tk[1].body, 1, true)
        assert.is_nil(tk[1].body:find("client_secret", 1, true)) -- the app has none here: a public client
        assert.equal("POST", requests("/oauth2/user_info")[1].method)
        local rec = c:store():get_connection("u1", "vkontakte")
        assert.equal(device, rec.fields.device_id)
        assert.equal(0, c:publishUserAction { UID = "u1", userAction = UA }.errorCode)
        -- a refresh sends the same device_id and a state
        H.configure(sb, { oauth_ttl = 60 })
        assert(connect(c, "u2", "vkontakte"))
        local dev2 = c:store():get_connection("u2", "vkontakte").fields.device_id
        assert.equal(0, c:publishUserAction { UID = "u2", userAction = UA }.errorCode)
        local last = requests("/oauth2/auth")
        last = last[#last]
        assert.matches("grant_type=refresh_token", last.body)
        assert.matches("device_id=" .. dev2, last.body, 1, true)
        assert.matches("state=%x+", last.body)
        assert.equal(1, oauth("vkontakte").refreshes)
        -- no revoke endpoint used: deleted locally
        local rm = assert(c:removeConnection { UID = "u1", provider = "vkontakte" })
        assert.equal(1, rm.removed)
        assert.is_nil(rm.revoked.vkontakte)
    end)
end)

describe("connect: the store write failing after the token exchange #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    -- the store's commits after the first n fail (rolled back), as a full or
    -- read-only store would at put_connection
    local function fail_after(c, n)
        local k = 0
        c:store():_before_commit(function() k = k + 1 return k <= n end)
    end

    it("X OAuth 2.0: the fresh tokens revoked, the store's error, nothing stored, the state spent", function()
        local c = client()
        local start = assert(c:connect { UID = "w1", provider = "twitter", redirectURI = REDIRECT })
        local cb = authorize(start.url)
        fail_after(c, 1) -- take_state commits, put_connection does not
        local id, err = c:finishConnect(cb)
        c:store():_before_commit(nil)
        assert.is_nil(id)
        assert.equal(500001, err.errorCode)
        assert.is_true(err.revoked)
        assert.matches("nothing was stored, the new tokens were revoked at twitter", err.errorDetails)
        assert.not_matches("xat%-", err.errorDetails)
        local rv = requests("/2/oauth2/revoke")
        assert.equal(2, #rv)
        assert.matches("token=xrt%-", rv[1].body)
        assert.matches("token_type_hint=refresh_token", rv[1].body)
        assert.matches("token=xat%-", rv[2].body)
        assert.equal(2, oauth("twitter").revoked)
        assert.is_nil(c:store():get_connection("w1", "twitter"))
        assert.equal("state_unknown", select(2, c:finishConnect(cb)).error)
    end)

    it("Facebook: a failed selectPage keeps the user's grant (its revoke would end the page connected before); X OAuth 1.0a invalidates", function()
        local c = client()
        -- a first page connected, then a reconnect choosing another page fails to store
        local r = assert(connect(c, "w2", "facebook"))
        assert.equal("selectPage", r.pending)
        assert(c:selectPage { UID = "w2", provider = "facebook", pageId = r.pages[1].id })
        r = assert(connect(c, "w2", "facebook"))
        fail_after(c, 1)
        local id, err = c:selectPage { UID = "w2", provider = "facebook", pageId = r.pages[2].id }
        c:store():_before_commit(nil)
        assert.is_nil(id)
        assert.equal(500001, err.errorCode)
        assert.is_nil(err.revoked)
        assert.matches("nothing was stored; the grant at facebook was left as it is", err.errorDetails, 1, true)
        for _, q in ipairs(requests("/v26.0/me/permissions")) do assert.equal("GET", q.method) end
        -- the page connected before still publishes
        assert.equal(r.pages[1].id, assert(c:store():get_connection("w2", "facebook")).account)
        assert.equal(0, c:publishUserAction { UID = "w2", userAction = { title = "still here" } }.errorCode)
        -- OAuth 1.0a
        local s = assert(c:connect { UID = "w3", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
        local cb = authorize(s.url)
        fail_after(c, 1)
        id, err = c:finishConnect(cb)
        c:store():_before_commit(nil)
        assert.is_nil(id)
        assert.is_true(err.revoked)
        assert.equal(1, #requests("/1.1/oauth/invalidate_token"))
        assert.is_nil(c:store():get_connection("w3", "twitter"))
    end)
end)
