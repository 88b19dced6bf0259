-- Bluesky through a stored connection (docs/connections.md, "Bluesky"):
-- client:connect with an app password (one createSession, checked at once),
-- the session persisted sealed in the store's sessions table and reused by
-- every later client (a cron script that runs 10 times logs in once), an
-- expired session renewed with com.atproto.server.refreshSession under the
-- store's lease (the refresh JWT is single use: the sandbox refuses a reuse
-- and counts it), a refused refresh token falling back to a new login, a 5xx
-- on refresh leaving the stored session as it was. Real SQLite store files.
local H = require("spec.helper")
local socialize = require("socialize")

local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local PASS = "app-pass-1234"
local UA = { title = "Level 3 done" }

local sb, n = nil, 0

local function db()
    n = n + 1
    return H.tmpdir .. "/bsky-" .. os.time() .. "-" .. math.random(1, 1e9) .. "-" .. n .. ".db"
end

local function client(path)
    return socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 5,
                           providers = H.sandbox_providers(sb), store = { url = "sqlite:" .. path, keys = { KEY } } }
end

local function counts() return H.control(sb, "/") end

local function requests(part)
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if r.path and r.path:find(part, 1, true) then out[#out + 1] = r end
    end
    return out
end

local function publish(c, UID)
    return c:publishUserAction { UID = UID or "u1", userAction = UA, enabledProviders = "bluesky" }
end

describe("Bluesky sessions in the store #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects with an app password: one createSession, the password sealed, the identity at once", function()
        local path = db()
        local c = client(path)
        local id = assert(c:connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        assert.equal("bluesky", id.provider)
        assert.matches("^did:plc:%x+$", id.providerUID)
        assert.equal("ann.bsky.social", id.nickname)
        assert.is_false(id.isExpiredSession)
        assert.is_nil(id.url)
        assert.equal(1, counts().session_count)
        local info = assert(c:getUserInfo { UID = "u1" })
        assert.equal(1, #info.identities)
        assert.equal(id.providerUID, info.identities[1].providerUID)
        -- nothing secret in clear in the file: neither the password nor the JWTs
        local f = assert(io.open(path, "rb")); local bytes = f:read("*a"); f:close()
        assert.is_nil(bytes:find(PASS, 1, true))
        assert.is_nil(bytes:find("acc-", 1, true))
        assert.is_nil(bytes:find("ref-", 1, true))
    end)

    it("refuses a wrong app password at connect: nothing stored", function()
        local c = client(db())
        local id, err = c:connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = "nope" }
        assert.is_nil(id)
        assert.equal("auth_expired", err.error)
        assert.is_nil(tostring(err.errorDetails):find("nope", 1, true))
        local info = assert(c:getUserInfo { UID = "u1" })
        assert.equal(0, #(info.identities or {}))
        local _, e2 = c:connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social" }
        assert.matches("appPassword", tostring(e2.errorMessage) .. tostring(e2.errorDetails))
    end)

    it("a cron script run 10 times (a new client each run) logs in once", function()
        local path = db()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        for i = 1, 10 do
            local res = assert(publish(client(path)))
            assert.matches("^at://", res.providerPostIDs.bluesky, "run " .. i)
        end
        assert.equal(1, counts().session_count)
        assert.equal(0, counts().bsky_refresh_count)
        assert.equal(10, #requests("createRecord"))
    end)

    it("renews an expired session with refreshSession (no new login) and keeps the rotated one", function()
        local path = db()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        assert(publish(client(path)))
        H.configure(sb, { expire_bluesky = true })
        assert(publish(client(path)))
        local k = counts()
        assert.equal(1, k.session_count)
        assert.equal(1, k.bsky_refresh_count)
        assert.equal(0, k.bsky_refresh_reused)
        -- the refresh carried the refresh JWT as the bearer, no body
        local rs = requests("refreshSession")
        assert.equal(1, #rs)
        -- the next run reads the rotated session: no refresh, no login
        assert(publish(client(path)))
        k = counts()
        assert.equal(1, k.session_count)
        assert.equal(1, k.bsky_refresh_count)
        assert.equal(4, #requests("createRecord")) -- 3 posts + the refused one
    end)

    it("two clients holding the same expired session: one refresh, the other re-reads it (never a reuse)", function()
        local path = db()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        local a, b = client(path), client(path)
        assert(publish(a))
        assert(publish(b)) -- both hold the session in memory now
        H.configure(sb, { expire_bluesky = true })
        assert(publish(a)) -- refreshes: the old access and refresh JWTs are dead
        local res = assert(publish(b)) -- its access JWT is refused: the store has the new session
        assert.matches("^at://", res.providerPostIDs.bluesky)
        local k = counts()
        assert.equal(1, k.bsky_refresh_count)
        assert.equal(0, k.bsky_refresh_reused)
        assert.equal(1, k.session_count)
    end)

    it("a refused refresh token: one new login, then posts", function()
        local path = db()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        H.reset(sb) -- the PDS forgot every session and refresh token
        local res = assert(publish(client(path)))
        assert.matches("^at://", res.providerPostIDs.bluesky)
        local k = counts()
        assert.equal(1, k.session_count)
        assert.equal(1, #requests("refreshSession"))
        assert.equal(0, k.bsky_refresh_count)
    end)

    it("a 5xx on refreshSession fails the post as transient and leaves the stored session", function()
        local path = db()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        assert(publish(client(path)))
        H.configure(sb, { expire_bluesky = true, fail_bluesky_refresh = true })
        local res, err = publish(client(path))
        assert.is_nil(res)
        assert.equal(500023, err.errorCode)
        assert.matches("HTTP 502", err.errorDetails)
        assert.equal(1, counts().session_count)
        -- the same refresh JWT is still the stored one, and good: the next run renews with it
        assert(publish(client(path)))
        local k = counts()
        assert.equal(1, k.session_count)
        assert.equal(1, k.bsky_refresh_count)
        assert.equal(0, k.bsky_refresh_reused)
        assert.equal(2, #requests("refreshSession"))
    end)
end)
