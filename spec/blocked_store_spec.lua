-- The blocked-until table kept in config.store (docs/store.md, "Blocked-until"):
-- a rate limit a network reports in one process is written through to the
-- store; another process on the same store answers at once with the
-- rate-limited error and sends nothing; expiry is honoured; client:unblock
-- in one process clears it for the other (re-read after
-- config.store.blockedRefresh seconds); an app-scope limit blocks every
-- account; a store failing to record or to load never changes a publish's
-- result. Real SQLite files and a throwaway PostgreSQL, the sandbox's
-- recorded requests as the proof of what was sent.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local socialize = require("socialize")
local policy = require("socialize.policy")

local UA = { title = "Level 3 done" }
local T0 = 1800000000
local LIMITED = "-100ratelimit3600" -- the sandbox's Telegram: 429, retry_after 3600 (the bot's limit: app scope)

-- an account id with odd bytes ('%', non-ASCII, a newline; a connection holding NUL or
-- invalid UTF-8 is refused before anything, but the key itself holds NUL bytes)
local ODD = "12%00% \195\169\n"

local sb

-- a direct client: Telegram (and Mastodon) from the sandbox, the
-- connections in a table, the blocked-until table in the store at url;
-- clock and now are functions (the wall clock and the monotonic one)
local function client(url, clock, now, extra)
    local p = H.sandbox_providers(sb)
    local cfg = { backend = "direct", allowPrivateNetworks = true, timeout = 5,
        providers = { telegram = p.telegram, mastodon = p.mastodon, twitter = p.twitter },
        connections = {
            u1 = { telegram = { chatId = LIMITED } },
            u2 = { telegram = { chatId = "-100777" } },
            m1 = { mastodon = { accessToken = "md-ratelimit", instance = sb.url("mastodon") } },
            m2 = { mastodon = { accessToken = "md-token", instance = sb.url("mastodon") } },
            x1 = { twitter = { token = "tw-ratelimit", tokenSecret = "tw-ratelimit-secret", userId = ODD } },
            x2 = { twitter = { token = "tw-user", tokenSecret = "tw-user-secret", userId = "2244994945" } },
        },
        store = { url = url, keys = { K.KEY } },
        clock = clock, now = now }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

local function sent(path)
    return #K.requests(sb, path or "sendMessage", true)
end

local function publish(c, uid)
    return c:publishUserAction { UID = uid, userAction = UA }
end

-- the rate-limited error of a publish not sent
local function assert_not_sent(res, err, provider)
    assert.is_nil(res, provider)
    local e = assert(err.providerErrorCodes[1], tostring(err))
    assert.equal(provider or "telegram", e.provider)
    assert.equal("rate_limited", e.category)
    assert.matches("not sent", e.errorDetails)
end

-- a child process publishing (or unblocking) on the store at url, its clock
-- at `at`: what it prints
local function child(url, at, body)
    local p = H.sandbox_providers(sb)
    local path = K.script("blocked", string.format([[
local at = %d
local c = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 5,
    providers = { telegram = { botToken = %q, baseUrl = %q } },
    connections = { u1 = { telegram = { chatId = %q } }, u2 = { telegram = { chatId = "-100777" } } },
    store = { url = arg[1], keys = { %q } }, clock = function() return at end }
%s
]], at, p.telegram.botToken, p.telegram.baseUrl, LIMITED, K.KEY, body))
    return K.run(K.CHILD_LUA .. " " .. K.q(path) .. " " .. K.q(url))
end

local PUBLISH_U2 = [[
local r, e = c:publishUserAction { UID = "u2", userAction = { title = "t" } }
local pe = e and e.providerErrorCodes and e.providerErrorCodes[1] or {}
io.write(r and "sent" or tostring(pe.category), " ", tostring(pe.errorDetails or ""))
]]

local function cases(url_of)
    it("a 429 with a long reset in one process: another process answers at once and sends nothing", function()
        local url = url_of()
        local c = client(url, function() return T0 end)
        local n0 = sent()
        local res, err = publish(c, "u1")
        assert.is_nil(res)
        assert.equal("rate_limited", err.providerErrorCodes[1].category)
        assert.equal(n0 + 1, sent())
        -- the store holds it: the app's key (the bot token hashed, not in clear)
        local st = assert(c:store())
        local list = assert(st:blocked_list(T0))
        assert.equal(1, #list)
        assert.equal("telegram", list[1].provider)
        assert.equal(T0 + 3600, list[1]["until"])
        assert.is_nil(list[1].key:find("sandbox-bot-token", 1, true))
        assert.matches("^app%%00#", list[1].key)
        -- a second process, another account of the same app: not sent
        local out = child(url, T0 + 10, PUBLISH_U2)
        assert.equal("rate_limited telegram: not sent: the network asked to wait 3590 s more (an earlier rate limit)", out)
        assert.equal(n0 + 1, sent())
        -- and in this process too (app scope: every account)
        assert_not_sent(publish(c, "u2"))
        assert.equal(n0 + 1, sent())
        c:unblock()
    end)

    it("honours the expiry: a client whose clock is past the reset sends", function()
        local url = url_of()
        local t = T0
        local c = client(url, function() return t end)
        local n0 = sent()
        publish(c, "u1")
        assert.equal(n0 + 1, sent())
        t = T0 + 3599
        assert_not_sent(publish(client(url, function() return t end), "u2"))
        assert.equal(n0 + 1, sent())
        assert.equal("rate_limited telegram: not sent: the network asked to wait 1 s more (an earlier rate limit)",
            child(url, T0 + 3599, PUBLISH_U2))
        t = T0 + 3600
        assert(publish(client(url, function() return t end), "u2"))
        assert.equal("sent", child(url, T0 + 3601, PUBLISH_U2))
        assert(publish(c, "u2")) -- the first client's own entry expired too
        assert.equal(n0 + 4, sent())
        assert.equal(0, #assert(assert(c:store()):blocked_list(t)))
    end)

    it("client:unblock in another process clears it here after blockedRefresh seconds, not before", function()
        local url = url_of()
        local now = 1000
        local c = client(url, function() return T0 end)
        publish(c, "u1")
        local n0 = sent()
        local other = client(url, function() return T0 + 5 end, function() return now end)
        assert_not_sent(publish(other, "u2"))
        assert.equal("cleared 1", child(url, T0 + 6, [[io.write("cleared ", c:unblock("telegram"))]]))
        assert.equal(0, #assert(assert(c:store()):blocked_list(T0)))
        now = now + 4 -- within the default 5 s: not read again
        assert_not_sent(publish(other, "u2"))
        assert.equal(n0, sent())
        now = now + 1.5
        assert(publish(other, "u2"))
        assert.equal(n0 + 1, sent())
    end)

    it("an account's limit blocks that account only; unblock(provider, account) clears it (token hashed)", function()
        local url = url_of()
        H.configure(sb, { clock = T0 })
        local c = client(url, function() return T0 end)
        local n0 = sent("/api/v1/statuses")
        local _, err = publish(c, "m1")
        assert.equal("rate_limited", err.providerErrorCodes[1].category)
        local list = assert(assert(c:store()):blocked_list(T0))
        assert.equal(1, #list)
        assert.equal("mastodon", list[1].provider)
        assert.is_nil(list[1].key:find("md-ratelimit", 1, true))
        local c2 = client(url, function() return T0 + 1 end)
        assert_not_sent(nil, select(2, publish(c2, "m1")), "mastodon")
        assert(publish(c2, "m2"))
        assert.equal(n0 + 2, sent("/api/v1/statuses"))
        assert.equal(0, c2:unblock("mastodon", "someone-else"))
        assert.equal(1, #assert(c:store():blocked_list(T0)))
        assert.equal(1, c2:unblock("mastodon", "md-ratelimit"))
        assert.equal(0, #assert(c:store():blocked_list(T0)))
        H.configure(sb, { clock = 0 })
    end)

    it("an account id with odd bytes goes through the store whole", function()
        local url = url_of()
        H.configure(sb, { clock = T0 })
        local c = client(url, function() return T0 end)
        local n0 = sent("/2/tweets")
        local _, err = publish(c, "x1")
        assert.equal("rate_limited", err.providerErrorCodes[1].category, err.providerErrorCodes[1].errorDetails)
        local list = assert(c:store():blocked_list(T0))
        assert.equal(1, #list)
        assert.equal("twitter", list[1].provider)
        assert.equal("acct%0012%2500%25%20%C3%A9%0A", list[1].key)
        assert.equal(T0 + 900, list[1]["until"])
        local c2 = client(url, function() return T0 + 1 end)
        assert_not_sent(nil, select(2, publish(c2, "x1")), "twitter")
        assert(publish(c2, "x2")) -- another account of the app
        assert.equal(n0 + 2, sent("/2/tweets"))
        assert.equal(1, c2:unblock("twitter", ODD))
        assert.equal(0, #assert(c:store():blocked_list(T0)))
        H.configure(sb, { clock = 0 })
    end)

    it("a store failing to record the block does not change the publish's result (reported, scrubbed)", function()
        local url = url_of()
        local reports = {}
        local function on_error(m) reports[#reports + 1] = m end
        local plain = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 5,
            providers = { telegram = H.sandbox_providers(sb).telegram },
            connections = { u1 = { telegram = { chatId = LIMITED } } }, clock = function() return T0 end }
        local r0, e0 = publish(plain, "u1")
        local c = client(url, function() return T0 end, nil, { onError = on_error })
        local st = assert(c:store())
        st:_before_commit(function() error("disk full at 123456:sandbox-bot-token") end)
        local r1, e1 = publish(c, "u1")
        st:_before_commit(nil)
        assert.is_nil(r0)
        assert.is_nil(r1)
        assert.equal(e0.errorCode, e1.errorCode)
        assert.equal(e0.providerErrorCodes[1].errorCode, e1.providerErrorCodes[1].errorCode)
        assert.equal(e0.providerErrorCodes[1].errorDetails, e1.providerErrorCodes[1].errorDetails)
        assert.equal(1, #reports)
        assert.matches("could not be kept in the store", reports[1])
        assert.is_nil(reports[1]:find("sandbox-bot-token", 1, true))
        assert.equal(0, #assert(st:blocked_list(T0)))
        -- this process still knows it
        assert_not_sent(publish(c, "u2"))
    end)
end

describe("the blocked-until table in the store #once", function()
    H.use_sandbox(function(s) sb = s end)

    describe("SQLite", function()
        cases(function() return K.db("blocked") end)

        it("a store that cannot be read does not block publishing, and says so once", function()
            local reports = {}
            local now = 0
            local c = client("sqlite:" .. H.tmpdir .. "/no/such/dir/x.db", function() return T0 end,
                function() return now end, { onError = function(m) reports[#reports + 1] = m end })
            local n0 = sent()
            for _ = 1, 3 do
                assert(publish(c, "u2"))
                now = now + 10 -- past the refresh: read (and failing) again
            end
            assert.equal(n0 + 3, sent())
            assert.equal(1, #reports)
            assert.matches("blocked%-until table could not be read", reports[1])
            assert.matches("%(store_io%)$", reports[1]) -- the store's own message, then its name
        end)

        it("blockedRefresh is checked", function()
            for _, bad in ipairs({ -1, "5", 0 / 0, 86401 }) do
                assert.has_error(function()
                    socialize.new { backend = "direct", store = { url = "sqlite:/tmp/x.db", blockedRefresh = bad } }
                end, "bad argument #1 to 'new' (config.store.blockedRefresh must be a number of seconds from 0 to 86400)")
            end
        end)

        it("keys with odd bytes go through the store whole (provider apart, the rest percent-encoded)", function()
            local st = assert(require("socialize.store").open(K.db("odd"), { keys = { K.KEY } }))
            local key = "telegram\0acct\0-100\0%00\255 x%"
            local p, sk = policy.store_key(key)
            assert.equal("telegram", p)
            assert.equal("acct%00-100%00%2500%FF%20x%25", sk)
            assert(st:block(p, sk, T0 + 60))
            local list = assert(st:blocked_list(T0))
            assert.equal(1, #list)
            assert.equal(key, policy.from_store(list[1].provider, list[1].key))
            -- a raw key holding NUL is refused by name, never cut
            assert.has_error(function() st:block("telegram", "acct\0x", T0 + 60) end)
            assert.equal(1, st:unblock("telegram", sk))
            assert.equal(0, #assert(st:blocked_list(T0)))
            -- the later reset wins, a shorter one never shortens it
            assert(st:block("p", "k", T0 + 100))
            assert(st:block("p", "k", T0 + 50))
            assert.equal(T0 + 100, st:blocked("p", "k", T0))
            assert.equal(1, st:unblock())
            st:close()
        end)
    end)

    describe("PostgreSQL", function()
        local pgurl
        K.use_postgres(function(url) pgurl = url end)
        cases(function()
            -- one cluster for the block: every case starts from an empty table
            local st = assert(require("socialize.store").open(pgurl, { keys = { K.KEY } }))
            assert(st:unblock())
            st:close()
            return pgurl
        end)
    end)
end)
