-- Bluesky through a stored connection (docs/connections.md, "Bluesky"):
-- client:connect with an app password (one createSession, checked at once),
-- the session persisted sealed in the store's sessions table and reused by
-- every later client (a cron script that runs 10 times logs in once), an
-- expired session renewed with com.atproto.server.refreshSession under the
-- store's lease (the refresh JWT is single use: the sandbox refuses a reuse
-- and counts it), a refused refresh token falling back to a new login, a 5xx
-- on refresh leaving the stored session as it was. Real SQLite store files.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local KEY = K.KEY
local PASS = "app-pass-1234"
local UA = { title = "Level 3 done" }

local sb

local function db() return K.path("bsky") end -- a file path, not a URL

local function client(path)
    return K.client(sb, nil, nil, path:find("^postgresql:") and path or "sqlite:" .. path)
end

local function counts() return H.control(sb, "/") end

local function requests(part) return K.requests(sb, part, true) end

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

    it("removeConnection deletes the connection and its stored session", function()
        local path = db()
        local c = client(path)
        assert(c:connect { UID = "u1", provider = "bluesky", identifier = "ann.bsky.social", appPassword = PASS })
        local rm = assert(c:removeConnection { UID = "u1", provider = "bluesky" })
        assert.equal(1, rm.removed)
        local st = assert(require("socialize.store").open("sqlite:" .. path, { keys = { KEY } }))
        local E = st:info()
        assert.equal("sqlite", E.engine)
        st:close()
        local f = assert(io.popen("sqlite3 '" .. path .. "' 'SELECT count(*) FROM socialize_sessions' 2>&1"))
        local out = f:read("*a"); f:close()
        if not out:find("not found") then assert.equal("0", out:match("%d+")) end
        -- a new client has nothing to post with
        local res, err = publish(client(path))
        assert.is_nil(res)
        assert.truthy(err)
    end)

    it("Telegram: connect stores the chat id given (the bot token is the app's), then posts to it", function()
        local path = db()
        local c = client(path)
        local id = assert(c:connect { UID = "u1", provider = "telegram", chatId = -100777 })
        assert.equal("telegram", id.provider)
        assert.equal("-100777", id.providerUID)
        local res = assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "telegram" })
        assert.truthy(res.providerPostIDs.telegram)
        local _, err = c:connect { UID = "u1", provider = "telegram" }
        assert.matches("chatId", tostring(err.errorMessage) .. tostring(err.errorDetails))
        -- a network whose connection is an OAuth token obtained elsewhere is no credentials connect
        local none, e2 = c:connect { UID = "u2", provider = "facebook", accessToken = "t", pageId = "1" }
        assert.is_nil(none)
        assert.truthy(e2)
        assert.equal(0, #(assert(c:getUserInfo { UID = "u2" }).identities or {}))
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

-- Real processes: once per run.
local CHILD_LUA, q, run = K.CHILD_LUA, K.q, K.run

-- the cron script: one client, one post through the stored connection
local function script()
    local path = K.script("bsky-cron", string.format([[
local c = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 10,
    store = { url = arg[1]:find("^postgresql:") and arg[1] or "sqlite:" .. arg[1], keys = { %q } },
    providers = { bluesky = { baseUrl = arg[2] } } }
local r, e = c:publishUserAction { UID = "u1", userAction = { title = "cron" }, enabledProviders = "bluesky" }
io.write(r and r.errorCode == 0 and "ok" or ("failed: " .. tostring(e)), "\n")
]], KEY))
    return path
end

describe("Bluesky sessions across processes #once", function()
    H.use_sandbox(function(s) sb = s end)

    local function cron10(path, ident)
        local cron = script()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = ident, appPassword = PASS })
        for i = 1, 10 do
            assert.equal("ok", run(CHILD_LUA .. " " .. q(cron) .. " " .. q(path) .. " " .. q(sb.url("bluesky"))), "run " .. i)
        end
        assert.equal(1, counts().session_count)
        assert.equal(10, #requests("createRecord"))
    end

    local function race(path, ident)
        local cron = script()
        assert(client(path):connect { UID = "u1", provider = "bluesky", identifier = ident, appPassword = PASS })
        local one = CHILD_LUA .. " " .. q(cron) .. " " .. q(path) .. " " .. q(sb.url("bluesky"))
        for round = 1, 20 do
            H.configure(sb, { expire_bluesky = true })
            local out = run("sh -c " .. q(one .. " & " .. one .. " & wait"))
            assert.equal("ok\nok", out, "round " .. round)
        end
        local k = counts()
        assert.equal(0, k.bsky_refresh_reused)
        assert.equal(1, k.session_count)
        assert.equal(20, k.bsky_refresh_count)
    end

    it("a cron script run 10 times as 10 processes logs in once", function() cron10(db(), "ann.bsky.social") end)

    it("two processes finding the same session expired at once: one refreshSession, never a reuse (20 rounds)",
        function() race(db(), "ann.bsky.social") end)

    describe("PostgreSQL", function()
        local pgurl
        K.use_postgres(function(url) pgurl = url end)

        it("a cron script run 10 times logs in once (PostgreSQL store)", function() cron10(pgurl, "pg1.bsky.social") end)

        it("two processes refreshing at once, 20 rounds: never a reuse (PostgreSQL store)",
            function() race(pgurl, "pg2.bsky.social") end)
    end)
end)
