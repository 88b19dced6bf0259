-- Threads' connect end to end through the sandbox (docs/connections.md):
-- the code grant at /oauth/access_token (a 1-hour token), its exchange for
-- a 60-day token (GET /access_token th_exchange_token), the identity
-- /v1.0/me?fields=id,username, publishing with the stored token, the
-- refresh of the long-lived token by itself (GET /refresh_access_token
-- th_refresh_token) a week before it runs out, and the faults. The sandbox
-- (spec/fakes/networks/threads.py with spec/fakes/oauth_server.py) checks
-- the wire format itself.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local REDIRECT = "https://app.example/callback/threads"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local DAY = 86400

local sb

local function db() return K.db("th") end

local function client(url, extra, app)
    local function threads(p)
        p.threads = { baseUrl = sb.url("threads"), clientId = "th-client-id", clientSecret = "th-client-secret" }
        for k, v in pairs(app or {}) do p.threads[k] = v end
    end
    return K.client(sb, threads, nil, url or db(), extra)
end
local authorize = K.authorize
local function requests(path) return K.requests(sb, path) end
local function connect(c) return K.connect(c, "threads", REDIRECT, "u1") end

describe("connect: Threads (OAuth, long-lived tokens) #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects with a 60-day token, publishes with it, disconnects locally", function()
        local c = client()
        local start = assert(c:connect { UID = "u1", provider = "threads", redirectURI = REDIRECT })
        assert.matches("^http://127%.0%.0%.1:%d+/oauth/authorize%?", start.url)
        assert.matches("scope=threads_basic%2Cthreads_content_publish", start.url, 1, true)
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(err)
        assert.equal("threads", id.provider)
        assert.equal("1789", id.providerUID)
        assert.equal("sandbox_threads", id.nickname)
        assert.equal("threads_basic threads_content_publish", id.scopes)
        assert.is_false(id.isExpiredSession)
        -- 60 days, not the code's 1 hour
        assert.truthy(id.expiresAt >= os.time() + 5184000 - 60 and id.expiresAt <= os.time() + 5184000 + 5)
        local tk = requests("/oauth/access_token")
        assert.equal(1, #tk)
        assert.matches("client_secret=th%-client%-secret", tk[1].body)
        assert.matches("grant_type=authorization_code", tk[1].body)
        local ex = requests("/access_token")
        assert.equal(1, #ex)
        -- the parameters in the order the core sorts them
        assert.matches("^access_token=that%-%x+&client_secret=th%-client%-secret&grant_type=th_exchange_token$",
            ex[1].query)
        local me = requests("/v1.0/me")
        assert.equal(1, #me)
        assert.equal("fields=id,username", me[1].query)
        local rec = assert(c:store():get_connection("u1", "threads"))
        assert.equal("1789", rec.account)
        assert.is_nil(rec.secrets.refreshToken)
        assert.equal("Bearer " .. rec.secrets.accessToken, me[1].headers.authorization)
        -- the stored token is the long-lived one, not the code's
        assert.is_nil(ex[1].query:find(rec.secrets.accessToken, 1, true))
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode, tostring(res.errorDetails))
        local posts = requests("/v1.0/1789/threads")
        assert.equal(1, #posts)
        assert.truthy((posts[1].body .. "&" .. posts[1].query):find("access_token=" .. rec.secrets.accessToken, 1, true))
        local rm = assert(c:removeConnection { UID = "u1", provider = "threads" })
        assert.equal(1, rm.removed)
        assert.is_nil(rm.revoked.threads)
        assert.is_nil(c:store():get_connection("u1", "threads"))
    end)

    it("refreshes the long-lived token by itself a week before it runs out, once", function()
        local url = db()
        local c = client(url)
        assert(connect(c))
        local old = assert(c:store():get_connection("u1", "threads")).secrets.accessToken
        -- 52 days on: 8 days left, not due
        local c52 = client(url, { clock = function() return os.time() + 52 * DAY end })
        assert.equal(0, assert(c52:publishUserAction { UID = "u1", userAction = UA }).errorCode)
        assert.equal(0, #requests("/refresh_access_token"))
        -- 54 days on: 6 days left, refreshed with the access token itself
        local c54 = client(url, { clock = function() return os.time() + 54 * DAY end })
        local res = assert(c54:publishUserAction { UID = "u1", userAction = UA })
        assert.equal(0, res.errorCode, tostring(res.errorDetails))
        local rf = requests("/refresh_access_token")
        assert.equal(1, #rf)
        assert.equal("access_token=" .. old .. "&grant_type=th_refresh_token", rf[1].query)
        local rec = assert(c:store():get_connection("u1", "threads"))
        assert.are_not.equal(old, rec.secrets.accessToken)
        assert.is_nil(rec.secrets.refreshToken)
        assert.truthy(rec.expiresAt > os.time() + 54 * DAY + 59 * DAY)
        -- the next call (same clock) does not refresh again
        assert.equal(0, assert(c54:publishUserAction { UID = "u1", userAction = UA }).errorCode)
        assert.equal(1, #requests("/refresh_access_token"))
        assert.equal(1, H.control(sb, "/__oauth").threads.refreshes)
    end)

    it("a refresh answering 500 leaves the connection as it was; past 60 days it shows expired", function()
        local url = db()
        assert(connect(client(url)))
        local before = assert(client(url):store():get_connection("u1", "threads"))
        H.configure(sb, { oauth_scenario = { threads = "refresh500" } })
        local c54 = client(url, { clock = function() return os.time() + 54 * DAY end })
        assert.equal(0, assert(c54:publishUserAction { UID = "u1", userAction = UA }).errorCode)
        local after = assert(c54:store():get_connection("u1", "threads"))
        assert.equal(before.secrets.accessToken, after.secrets.accessToken)
        assert.equal(before.expiresAt, after.expiresAt)
        assert.is_nil((after.fields or {}).expired)
        local c61 = client(url, { clock = function() return os.time() + 61 * DAY end })
        local info = assert(c61:getUserInfo { UID = "u1" })
        assert.is_true(info.identities[1].isExpiredSession)
    end)

    it("the exchange failing: transient, nothing stored", function()
        local c = client()
        H.configure(sb, { oauth_scenario = { threads = "exchange500" } })
        local id, err = connect(c)
        assert.is_nil(id)
        assert.equal("transient", err.error)
        assert.is_nil(c:store():get_connection("u1", "threads"))
    end)

    it("a wrong client secret: not_connected, no secret in the error", function()
        local c = client(nil, nil, { clientSecret = "wrong-secret-xyz" })
        local id, err = connect(c)
        assert.is_nil(id)
        assert.equal("not_connected", err.error)
        assert.is_nil(tostring(err.errorDetails):find("wrong-secret", 1, true))
        assert.is_nil(c:store():get_connection("u1", "threads"))
    end)
end)
