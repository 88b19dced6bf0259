-- Reliability and safety promises (docs/RELIABILITY.md): what is retried and
-- what never is, the blocked-until table, redaction of secrets, private
-- networks, header injection.
local H = require("spec.helper")
local socialize = require("socialize")
local policy = require("socialize.policy")
local core = require("socialize.core")

local srv, sb
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

-- A direct-backend client on the sandbox; retry waits and rate-limit blocks
-- run on a virtual clock (extra.now, extra.sleep, extra.clock replace it).
local function direct(conns, extra)
    local v = H.virtual()
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
                  connections = conns, timeout = 5, now = v.now, sleep = v.sleep, clock = v.clock }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

local function count(network, path)
    local n = 0
    for _, r in ipairs(H.requests(sb)) do
        if r.network == network and (not path or r.path:find(path, 1, true)) then n = n + 1 end
    end
    return n
end

local function by_provider(t)
    local out = {}
    for _, e in ipairs(t.providerErrorCodes) do out[e.provider] = e end
    return out
end

local T0 = 1700000000 -- a frozen Unix clock, shared with the sandbox where a reset time matters

describe("reliability: retry policy and redaction #unit", function()
    it("backs off exponentially with jitter, capped", function()
        local p = policy.config { baseDelay = 1, maxDelay = 5 }
        for _ = 1, 200 do
            local d1, d3, d9 = policy.backoff(p, 1), policy.backoff(p, 3), policy.backoff(p, 9)
            assert.is_true(d1 >= 0.5 and d1 <= 1)
            assert.is_true(d3 >= 2 and d3 <= 4)
            assert.is_true(d9 >= 2.5 and d9 <= 5)
        end
        assert.has_error(function() socialize.new { retry = { attempts = -1 } } end)
        assert.has_error(function() socialize.new { retry = { sometimes = 1 } } end)
    end)

    it("retries a connection that failed before anything was sent", function()
        local events = {}
        local v = H.virtual()
        local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:1",
            retry = { attempts = 2, baseDelay = 0.01 }, log = function(e) events[#events + 1] = e end,
            now = v.now, sleep = v.sleep }
        local _, err = c:setStatus { UID = "u", status = "s" }
        assert.are.equal(500026, err.errorCode)
        local req, retry = 0, 0
        for _, e in ipairs(events) do
            if e.event == "request" then req = req + 1 end
            if e.event == "retry" then retry = retry + 1 end
        end
        assert.are.equal(3, req)
        assert.are.equal(2, retry)
        assert.are.equal(2, #v.sleeps) -- the backoffs, on the virtual clock
        events = {}
        c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:1", retry = false,
            log = function(e) events[#events + 1] = e end }
        c:setStatus { UID = "u", status = "s" }
        assert.are.equal(2, #events) -- one request, one response
    end)

    it("redact tokens from the URLs given to the log hook", function()
        assert.are.equal("https://api.telegram.org/bot[redacted]/sendMessage",
            policy.redact_url("https://api.telegram.org/bot123:abc/sendMessage"))
        assert.are.equal("https://g/v26.0/me?access_token=[redacted]&fields=[redacted]",
            policy.redact_url("https://g/v26.0/me?access_token=tok&fields=id"))
    end)
end)

describe("reliability #fakes", function()
    setup(function()
        srv = H.start_gigya()
        sb = H.start_sandbox()
    end)
    teardown(function() H.stop_all() end)
    before_each(function()
        H.reset(srv)
        H.reset(sb)
    end)

    describe("retry policy", function()
        it("retries Gigya's rate limit (403048) but never a server error after the call ran", function()
            local c = H.client(srv, { retry = { attempts = 2, baseDelay = 0.01 } })
            local _, err = c:call("test.error", { code = 403048 })
            assert.are.equal(403048, err.errorCode)
            assert.are.equal(3, #H.requests(srv))
            H.reset(srv)
            _, err = c:call("test.error", { code = 500001 })
            assert.are.equal(500001, err.errorCode)
            assert.are.equal(1, #H.requests(srv))
        end)

        it("retries a 5xx only where the network has an idempotency key", function()
            local conn = H.sandbox_connection(sb, { mastodon = "md-boom", twitter = "tw-boom" })
            local c = direct({ u1 = conn }, { retry = { attempts = 2, baseDelay = 0.01 } })
            local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon,twitter" }
            assert.are.equal(500023, err.errorCode)
            assert.are.equal(3, count("mastodon", "/api/v1/statuses")) -- same Idempotency-Key each time
            local keys = {}
            for _, r in ipairs(H.requests(sb)) do
                if r.path == "/api/v1/statuses" then keys[r.headers["idempotency-key"]] = true end
            end
            local n = 0
            for _ in pairs(keys) do n = n + 1 end
            assert.are.equal(1, n)
            assert.are.equal(1, count("twitter")) -- X has no key: a create is not repeated
        end)

        it("waits for a short reset the network gave, then tries again", function()
            local events = {}
            local v = H.virtual()
            local conn = H.sandbox_connection(sb, { telegram = "ratelimit1" })
            local c = direct({ u1 = conn }, { retry = { attempts = 1, maxRetryAfter = 2 },
                log = function(e) events[#events + 1] = e end, now = v.now, sleep = v.sleep, clock = v.clock })
            local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "telegram" }
            assert.are.equal(400125, err.errorCode)
            assert.are.equal(2, count("telegram"))
            local delay
            for _, e in ipairs(events) do if e.event == "retry" then delay = e.delay end end
            assert.is_true(delay >= 1 and delay < 1.2)
            assert.are.equal(1, #v.sleeps) -- waited once, that long, on the virtual clock
            assert.is_true(math.abs(v.sleeps[1] - delay) < 1e-6, v.sleeps[1] .. " s")
            assert.are.equal(1, err.providerErrorCodes[1].retryAfter)
        end)

        it("reports a long reset with retryAfter instead of waiting, and blocks the account meanwhile", function()
            -- the sandbox and the client read the same frozen clock: the reset is exact
            H.configure(sb, { clock = T0 })
            local conns = { u1 = H.sandbox_connection(sb, { twitter = "tw-ratelimit" }), u2 = H.sandbox_connection(sb) }
            conns.u2.twitter.userId = "783214" -- another X account
            local c = direct(conns, { clock = function() return T0 end })
            local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" }
            assert.are.equal(400125, err.errorCode)
            local e = err.providerErrorCodes[1]
            assert.are.equal(900, e.retryAfter)
            assert.are.equal(1, count("twitter"))
            -- the same account again: not sent at all
            _, err = c:publishUserAction { UID = "u1", userAction = { title = "again" }, enabledProviders = "twitter" }
            assert.are.equal(400125, err.errorCode)
            assert.matches("not sent", err.providerErrorCodes[1].errorDetails)
            assert.are.equal(900, err.providerErrorCodes[1].retryAfter)
            assert.are.equal(1, count("twitter"))
            -- another account of the same app still posts
            local res = assert(c:publishUserAction { UID = "u2", userAction = UA, enabledProviders = "twitter" })
            assert.truthy(res.providerPostIDs.twitter)
            assert.are.equal(2, count("twitter"))
        end)

        it("blocks every account of an app when the limit is the app's (Telegram bot)", function()
            local c = direct({ u1 = H.sandbox_connection(sb, { telegram = "ratelimit30" }), u2 = H.sandbox_connection(sb) })
            c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "telegram" }
            local _, err = c:publishUserAction { UID = "u2", userAction = UA, enabledProviders = "telegram" }
            assert.are.equal(400125, err.errorCode)
            assert.matches("not sent", err.providerErrorCodes[1].errorDetails)
            assert.are.equal(1, count("telegram"))
        end)

        it("does not sleep in asynchronous mode: other calls finish while one waits to retry", function()
            local order = {}
            local v = H.virtual()
            local c = direct({ u1 = H.sandbox_connection(sb, { telegram = "ratelimit1" }), u2 = H.sandbox_connection(sb) },
                { retry = { attempts = 1, maxRetryAfter = 2 }, now = v.now, sleep = v.sleep, clock = v.clock })
            c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "telegram" },
                function() order[#order + 1] = "waiting" end)
            c:publishUserAction({ UID = "u2", userAction = UA, enabledProviders = "twitter" },
                function() order[#order + 1] = "quick" end)
            local loops = 0
            while c:poll(20) > 0 do
                loops = loops + 1
                assert(loops < 500)
            end
            assert.are.same({ "quick", "waiting" }, order)
            assert.are.equal(2, count("telegram"))
            assert.is_true(v.slept() >= 1, "the wait ran on the virtual clock") -- poll() slept it there
        end)
    end)

    describe("secrets", function()
        it("never appear in errors, __tostring or the log hook", function()
            local pem = H.read(H.key("jwt.pem"))
            local seen = {}
            local function collect(v, depth)
                depth = depth or 0
                if type(v) == "string" then seen[#seen + 1] = v
                elseif type(v) == "table" and depth < 6 then
                    for k, x in pairs(v) do collect(k, depth + 1); collect(x, depth + 1) end
                end
            end
            local log = function(e) collect(e) end
            -- Gigya backend: wrong signature, bad secret, transport errors
            for _, cfg in ipairs({
                { secret = H.USER_SECRET }, { url = "http://127.0.0.1:1" }, { secret = "bad secret!" },
            }) do
                cfg.log = log
                local c = H.client(srv, cfg)
                local _, err = c:setStatus { UID = "user_123", status = "s" }
                collect(err)
                seen[#seen + 1] = tostring(err)
                local _, e2 = c:call("test.error", { code = 403003, details = "echo " .. (cfg.secret or H.SECRET) })
                collect(e2)
                seen[#seen + 1] = tostring(e2)
            end
            local jc = H.client(srv, { url = srv.https, userKey = H.JWT_USER_KEY, privateKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", secret = H.NONE, log = log })
            local _, jerr = jc:getUserInfo { UID = "u" }
            collect(jerr)
            seen[#seen + 1] = tostring(jerr)
            -- direct backend: a network that echoes the token, expired tokens, timeouts
            local conn = H.sandbox_connection(sb, { facebook = "fb-leaky-SECRETTOKEN42", twitter = "tw-expired-SECRET77" })
            local c = direct({ u1 = conn }, { log = log })
            local res, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "facebook,twitter,telegram" }
            collect(res)
            collect(err)
            local all = table.concat(seen, "\n")
            assert.matches("Cannot parse access token: %[redacted%]", all) -- the echo was caught
            for _, secret in ipairs({ H.SECRET, H.USER_SECRET, "bad secret!", "SECRETTOKEN42", "SECRET77",
                                      "tw-consumer-secret", "fb-app-secret", "sandbox-bot-token", "app-pass-1234",
                                      pem:sub(40, 80) }) do
                assert.is_nil(all:find(secret, 1, true), "leaked: " .. secret)
            end
            assert.is_nil(all:find("Authorization", 1, true))
            assert.is_nil(all:find("sig=", 1, true))
            assert.is_nil(all:find("oauth_signature", 1, true))
        end)
    end)

    describe("safe defaults", function()
        it("refuse connection URLs into loopback or private networks unless allowed", function()
            local conn = H.sandbox_connection(sb)
            local c = socialize.new { backend = "direct", providers = H.sandbox_providers(sb), connections = { u1 = conn } }
            local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon" }
            assert.are.equal(400006, err.errorCode)
            assert.matches("private", err.providerErrorCodes[1].errorDetails)
            assert.are.equal(0, #H.requests(sb))
            for _, u in ipairs({ "http://127.0.0.1/", "https://10.0.0.1/", "https://192.168.1.1", "https://[::1]/",
                                 "https://localhost:8080/", "https://169.254.169.254/latest" }) do
                assert.is_true(policy.private_url(u), u)
            end
            assert.is_false(policy.private_url("https://mastodon.social/"))
        end)

        it("refuse credentials that would inject headers, sending nothing", function()
            local conn = H.sandbox_connection(sb)
            conn.linkedin.accessToken = "li-token\r\nX-Evil: 1"
            conn.telegram.chatId = "1\r\n"
            local c = direct({ u1 = conn })
            local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "linkedin" }
            assert.are.equal(400106, err.errorCode)
            assert.matches("control character", err.providerErrorCodes[1].errorDetails)
            assert.are.equal(0, #H.requests(sb))
        end)

        it("cap the reply size", function()
            local c = H.client(srv, { maxReplyBytes = 100 })
            local _, err = c:getUserInfo { UID = "user_123" }
            assert.are.equal(500026, err.errorCode)
            assert.matches("too_large", err.errorDetails)
        end)

        it("always set a timeout", function()
            -- no timeout in the config, and a connect timeout longer than the documented 10 s
            -- default: once the request is sent and the server is silent, the deadline curl
            -- waits on can only come from the default timeout
            H.configure(srv, { delay_ms = 3000 })
            local c = H.client(srv, { timeout = H.NONE, connectTimeout = 60 })
            local calls = 0
            c:setStatus({ UID = "user_123", status = "s" }, function() calls = calls + 1 end)
            local ms
            for _ = 1, 100 do
                c:poll(20)
                ms = c:timeout()
                if #H.requests(srv) == 1 and (ms > 1000 or ms < 0) then break end
            end
            assert.are.equal(1, #H.requests(srv))
            assert.is_true(ms > 1000 and ms <= 10000, "the transfer waits on a deadline of " .. tostring(ms) .. " ms")
            assert.are.equal(0, calls)
            c:close()
        end)
    end)
end)

describe("reliability: a reply that times out #once", function()
    -- a real socket timeout against a slow sandbox: one short wait per run
    setup(function() sb = H.start_sandbox() end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("never repeats a create whose reply timed out, and says it may exist", function()
        H.configure(sb, { delay_ms = { linkedin = 1500 } })
        local c = direct({ u1 = H.sandbox_connection(sb) }, { timeout = 0.4, retry = { baseDelay = 0.01 } })
        local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "linkedin" }
        assert.are.equal(504002, err.errorCode)
        assert.matches("may have been created", err.providerErrorCodes[1].errorDetails)
        assert.are.equal(1, count("linkedin"))
    end)
end)
