-- The direct backend end to end against the sandbox of the networks
-- (spec/fakes/sandbox.py on 127.0.0.1), which checks each network's wire
-- format with its own code: OAuth 1.0a, appsecret_proof, version headers,
-- safe domain, facets, Idempotency-Key, guid.
local H = require("spec.helper")
local socialize = require("socialize")

local sb, providers

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3", userMessage = "Beat it!",
             description = "Cleared in 4:12" }

-- Retry waits and rate-limit blocks run on a virtual clock (H.virtual).
local function client(conns, extra)
    local v = H.virtual()
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns, timeout = 5,
                  now = v.now, sleep = v.sleep, clock = v.clock }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

local function only(conn, names)
    local c = {}
    for _, n in ipairs(names) do c[n] = conn[n] end
    return c
end

local function requests(network, path)
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if (not network or r.network == network) and (not path or r.path:find(path, 1, true)) then
            out[#out + 1] = r
        end
    end
    return out
end

local function by_provider(res)
    local t = {}
    for _, e in ipairs(res.providerErrorCodes) do t[e.provider] = e end
    return t
end

describe("direct delivery #fakes", function()
    setup(function()
        sb = H.start_sandbox()
        providers = H.sandbox_providers(sb)
    end)
    teardown(function()
        H.stop_all()
    end)
    before_each(function()
        H.reset(sb)
    end)

    it("says where connections come from when neither config.connections nor config.store is set", function()
        local c = require("socialize").new { backend = "direct", providers = providers }
        local res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(res)
        assert.are.equal(400106, err.errorCode)
        assert.truthy(tostring(err):find("neither config.connections nor config.store is set", 1, true), tostring(err))
        res, err = c:getUserInfo { UID = "u1" }
        assert.is_nil(res)
        assert.are.equal(400096, err.errorCode)
        assert.truthy(tostring(err):find("it answers from config.store", 1, true), tostring(err))
        assert.are.equal(0, #H.requests(sb))
    end)

    it("publishes to every connected network and returns each post ID", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        assert.are.equal(200, res.statusCode)
        assert.matches("^%x+$", res.callId)
        local ids = res.providerPostIDs
        assert.matches("^%d+$", ids.twitter)
        assert.matches("^1647395831_%d+$", ids.facebook)
        assert.matches("^urn:li:share:%d+$", ids.linkedin)
        assert.matches("^1001_%d+$", ids.vkontakte)
        assert.matches("^%d+$", ids.sina)
        assert.matches("^%d+$", ids.mastodon)
        assert.matches("^at://did:plc:%x+/app%.bsky%.feed%.post/", ids.bluesky)
        assert.matches("^%-100777:%d+$", ids.telegram)
        -- in the canonical order, renren (connected, discontinued) among them
        local order = {}
        for i, e in ipairs(res.providerErrorCodes) do order[i] = e.provider end
        assert.are.same({ "twitter", "facebook", "linkedin", "vkontakte", "sina", "renren", "mastodon", "bluesky", "telegram" }, order)
        local rr = by_provider(res).renren
        assert.are.equal(400096, rr.errorCode)
        assert.are.equal("provider_discontinued", rr.category)
        -- one request per network (+ the Mastodon instance and Bluesky session steps), none to renren
        assert.are.equal(10, #H.requests(sb))
        -- only title and linkBack go to X
        local tw = H.requests(sb)[1]
        local body
        for _, r in ipairs(requests("twitter")) do body = r.body end
        assert.are.equal('{"text":"Level 3 done https://game.example/l3"}', body)
        assert.truthy(tw)
    end)

    it("reports a mix of successes and classified failures, succeeding if one provider did", function()
        local conn = H.sandbox_connection(sb, { twitter = "tw-dup", facebook = "fb-expired", linkedin = "li-dup",
            vkontakte = "vk-ratelimit", mastodon = "md-ratelimit", telegram = "-100blocked" })
        H.configure(sb, { clock = 1700000000 }) -- the sandbox and the client read one frozen clock
        local c = client({ u1 = conn }, { clock = function() return 1700000000 end })
        local res = assert(c:publishUserAction { UID = "u1", userAction = UA })
        local e = by_provider(res)
        assert.are.equal("duplicate", e.twitter.category)
        assert.are.equal(403024, e.twitter.errorCode)
        assert.are.equal("auth_expired", e.facebook.category)
        assert.are.equal(403009, e.facebook.errorCode)
        assert.are.equal("190/463", e.facebook.providerCode)
        assert.are.equal(0, e.linkedin.errorCode) -- duplicate recovered as the existing post
        assert.is_true(e.linkedin.duplicate)
        assert.are.equal("urn:li:share:7141138937766391808", res.providerPostIDs.linkedin)
        assert.are.equal("rate_limited", e.vkontakte.category)
        assert.are.equal("rate_limited", e.mastodon.category)
        assert.are.equal(300, e.mastodon.retryAfter)
        assert.are.equal("permission_missing", e.telegram.category)
        assert.matches("^%d+$", res.providerPostIDs.sina)
        assert.is_nil(res.providerPostIDs.twitter)
        assert.is_nil(res.providerPostIDs.facebook)
    end)

    it("fails only when no provider succeeded, with the first real failure's code", function()
        local conn = H.sandbox_connection(sb, { twitter = "tw-expired", facebook = "fb-noperm" })
        local c = client({ u1 = only(conn, { "facebook", "twitter", "renren" }) })
        local res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(res)
        assert.are.equal(403009, err.errorCode)
        assert.matches("^403009 Provider session expired: twitter: HTTP 401", tostring(err))
        assert.are.equal(3, #err.providerErrorCodes)
        assert.are.equal("permission_missing", err.providerErrorCodes[2].category)
        assert.is_nil(err.providerPostIDs)
    end)

    it("answers 'unsupported provider' only when every targeted provider is unsupported", function()
        local conn = H.sandbox_connection(sb)
        local c = client({ u1 = only(conn, { "renren", "yahoo" }), u2 = only(conn, { "renren", "twitter" }) })
        local res, err = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(res)
        assert.are.equal(400096, err.errorCode)
        res = assert(c:publishUserAction { UID = "u2", userAction = UA })
        assert.matches("^%d+$", res.providerPostIDs.twitter)
        assert.are.equal(0, #requests("renren"))
    end)

    it("filters by enabledProviders (in their order) and disabledProviders", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local res = assert(c:publishUserAction { UID = "u1", userAction = UA,
            enabledProviders = "telegram,twitter,linkedin,facebook", disabledProviders = { "linkedin" } })
        local order = {}
        for i, e in ipairs(res.providerErrorCodes) do order[i] = e.provider end
        assert.are.same({ "telegram", "twitter", "facebook" }, order)
        assert.are.equal(3, #H.requests(sb))
    end)

    it("uses <provider>UserAction for that provider only", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter,telegram",
            twitterUserAction = { title = "Only for X", linkBack = "https://game.example/x" } })
        assert.are.equal('{"text":"Only for X https://game.example/x"}', requests("twitter")[1].body)
        assert.matches("Level 3 done", requests("telegram")[1].body)
    end)

    it("answers 400106 for a user with no connection to the enabled providers", function()
        local c = client({ u1 = only(H.sandbox_connection(sb), { "twitter" }) })
        local _, err = c:publishUserAction { UID = "nobody", userAction = UA }
        assert.are.equal(400106, err.errorCode)
        _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "facebook" }
        assert.are.equal(400106, err.errorCode)
        assert.are.equal(0, #H.requests(sb))
    end)

    it("sends the providers of one call concurrently", function()
        -- the sandbox holds every reply until all four requests arrived: sent one
        -- after another, the first would wait for the others that never come
        H.configure(sb, { barrier = 4 })
        local c = client({ u1 = H.sandbox_connection(sb) })
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter,facebook,linkedin,telegram" })
        local reqs = H.requests(sb)
        assert.are.equal(4, #reqs)
        for _, r in ipairs(reqs) do assert.are.equal("met", r.barrier, r.network) end
    end)

    it("reads Mastodon's limits once per instance and reuses Bluesky sessions", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        for _ = 1, 3 do
            assert(c:publishUserAction { UID = "u1", userAction = { title = "t" .. os.clock(), linkBack = "https://game.example/" },
                enabledProviders = "mastodon,bluesky" })
        end
        assert.are.equal(1, #requests("mastodon", "/api/v2/instance"))
        assert.are.equal(3, #requests("mastodon", "/api/v1/statuses"))
        assert.are.equal(1, #requests("bluesky", "createSession"))
        assert.are.equal(3, #requests("bluesky", "createRecord"))
    end)

    it("renews an expired Bluesky session once (refreshSession, no new login) and posts", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "bluesky" })
        H.configure(sb, { expire_bluesky = true })
        local res = assert(c:publishUserAction { UID = "u1", userAction = { title = "again" }, enabledProviders = "bluesky" })
        assert.matches("^at://", res.providerPostIDs.bluesky)
        assert.are.equal(1, #requests("bluesky", "createSession"))
        assert.are.equal(1, #requests("bluesky", "refreshSession"))
        assert.are.equal(3, #requests("bluesky", "createRecord"))
    end)

    it("de-duplicates repeats where the network can: Mastodon Idempotency-Key, VK guid", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local a = assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon,vkontakte" })
        local b = assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon,vkontakte" })
        assert.are.equal(a.providerPostIDs.mastodon, b.providerPostIDs.mastodon)
        assert.are.equal(a.providerPostIDs.vkontakte, b.providerPostIDs.vkontakte)
        local keys = {}
        for _, r in ipairs(requests("mastodon", "/api/v1/statuses")) do keys[#keys + 1] = r.headers["idempotency-key"] end
        assert.are.equal(2, #keys)
        assert.are.equal(keys[1], keys[2])
        local d = assert(c:publishUserAction { UID = "u1", userAction = { title = "different" }, enabledProviders = "mastodon" })
        assert.are_not.equal(a.providerPostIDs.mastodon, d.providerPostIDs.mastodon)
    end)

    it("setStatus goes to each network's create-post call", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local res = assert(c:setStatus { UID = "u1", status = "Online now https://game.example/live",
            enabledProviders = "twitter,facebook,mastodon,telegram,sina" })
        for _, p in ipairs({ "twitter", "facebook", "mastodon", "telegram", "sina" }) do
            assert.truthy(res.providerPostIDs[p], p)
        end
        assert.matches("message=Online%%20now%%20https", requests("facebook")[1].body)
    end)

    it("sendNotification: DMs on X, messages on Telegram, unsupported on LinkedIn", function()
        local conns = {
            u1 = H.sandbox_connection(sb),
            friend1 = { twitter = { userId = "111" }, telegram = { chatId = "5001" } },
            friend2 = { twitter = { userId = "222" }, telegram = { chatId = "5002" } },
        }
        local c = client(conns)
        local res = assert(c:sendNotification { UID = "u1", recipients = "friend1,friend2", body = "Join me https://game.example",
            subject = "Invite", enabledProviders = "twitter,telegram,linkedin" })
        local e = by_provider(res)
        assert.are.equal(0, e.twitter.errorCode)
        assert.are.equal(0, e.telegram.errorCode)
        assert.are.equal("unsupported", e.linkedin.category)
        assert.matches("^%d+,%d+$", res.providerPostIDs.twitter)
        local dms = requests("twitter", "/2/dm_conversations/with/")
        assert.are.equal(2, #dms)
        local paths = { dms[1].path, dms[2].path }
        table.sort(paths) -- sent in parallel: arrival order is not fixed
        assert.are.same({ "/2/dm_conversations/with/111/messages", "/2/dm_conversations/with/222/messages" }, paths)
        -- a recipient without a connection fails on that network, named in the details
        res = assert(c:sendNotification { UID = "u1", recipients = "friend1,stranger", body = "hi", subject = "s",
            enabledProviders = "telegram,twitter" })
        e = by_provider(res)
        assert.are.equal(0, e.telegram.errorCode) -- friend1 got it
        assert.are.same({ "stranger" }, e.telegram.failedRecipients)
        assert.matches("^1 of 2 delivered; recipient stranger: telegram: the recipient has no chatId", e.telegram.errorDetails)
        assert.matches("^%-?%d+:%d+$", res.providerPostIDs.telegram)
        -- nobody reachable: the provider fails, and so does the call
        local _, err = c:sendNotification { UID = "u1", recipients = "stranger", body = "hi", subject = "s",
            enabledProviders = "telegram" }
        assert.are.equal(400106, err.errorCode)
        assert.are.same({ "stranger" }, err.providerErrorCodes[1].failedRecipients)
    end)

    it("facebookGraphOperation passes through and returns the Graph response", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local res = assert(c:facebookGraphOperation { UID = "u1", graphPath = "/1647395831/photos", method = "POST",
            graphParams = { url = "https://game.example/i.png", caption = "hi" } })
        -- the sandbox's Facebook answers /photos as Facebook does: a published photo
        assert.matches("^%d+$", res.graphResponse.id)
        assert.are.equal("1647395831_" .. res.graphResponse.id, res.graphResponse.post_id)
        local r = requests("facebook")[1]
        assert.are.equal("/v26.0/1647395831/photos", r.path)
        assert.are.equal("POST", r.method)
        assert.matches("caption=hi", r.body, 1, true)
        assert.matches("url=https%3A%2F%2Fgame.example%2Fi.png", r.body, 1, true)
    end)

    it("shortens URLs only with a shortener, as shortURLs says", function()
        local seen = {}
        local short = function(u)
            seen[#seen + 1] = u
            return "https://sho.rt/" .. #seen
        end
        local c = client({ u1 = H.sandbox_connection(sb) }, { shortener = short })
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter,telegram" })
        assert.are.equal('{"text":"Level 3 done https://sho.rt/1"}', requests("twitter")[1].body)
        assert.are.equal(1, #seen) -- once per URL per call
        H.reset(sb)
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter", shortURLs = "never" })
        assert.matches("game.example/l3", requests("twitter")[1].body)
        H.reset(sb)
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter", shortURLs = "whenRequired" })
        assert.matches("game.example/l3", requests("twitter")[1].body)
        H.reset(sb)
        local broken = client({ u1 = H.sandbox_connection(sb) }, { shortener = function() error("down") end })
        assert(broken:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" })
        assert.matches("game.example/l3", requests("twitter")[1].body)
        H.reset(sb)
        assert(client({ u1 = H.sandbox_connection(sb) }):publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" })
        assert.matches("game.example/l3", requests("twitter")[1].body)
    end)

    it("accepts connections as a function or a store object", function()
        local conn = H.sandbox_connection(sb)
        local c = client(function(uid) if uid == "u1" then return conn end return nil, "unknown user" end)
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" })
        local _, err = c:publishUserAction { UID = "u2", userAction = UA }
        assert.are.equal(400106, err.errorCode)
        assert.matches("unknown user", err.errorDetails)
        local store = { data = { u1 = conn } }
        function store:get(uid) return self.data[uid] end
        assert(client(store):publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" })
    end)

    it("validates direct-backend provider names and refuses other Gigya methods", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "myspace" }
        assert.are.equal(400006, err.errorCode)
        assert.matches("mastodon, bluesky, telegram", err.errorDetails)
        assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "bluesky", blueskyUserAction = { title = "b" } })
        _, err = c:getUserInfo { UID = "u1" }
        assert.are.equal(400096, err.errorCode)
        assert.are.equal(0, #requests("twitter"))
    end)

    it("postBookmark returns share-intent URLs without any request", function()
        local c = client({ u1 = H.sandbox_connection(sb) })
        local res = assert(c:postBookmark { url = "https://game.example/l3", title = "Level 3",
            providers = { "twitter", "facebook", "mastodon", "pocket" }, UID = "u1" })
        assert.are.equal("https://x.com/intent/tweet?text=Level%203&url=https%3A%2F%2Fgame.example%2Fl3", res.bookmarkURLs.twitter)
        assert.are.equal("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fgame.example%2Fl3", res.bookmarkURLs.facebook)
        assert.matches("^" .. sb.url("mastodon"):gsub("%p", "%%%0") .. "/share%?text=", res.bookmarkURLs.mastodon)
        assert.are.equal("provider_discontinued", res.providerErrorCodes[4].category)
        local _, err = c:postBookmark { title = "x" }
        assert.are.equal(400002, err.errorCode)
        _, err = c:postBookmark { url = "javascript:alert(1)" }
        assert.are.equal(400006, err.errorCode)
        -- the Gigya backend builds them too, locally
        local g = socialize.new { apiKey = "k", secret = H.SECRET, url = "http://127.0.0.1:1" }
        assert.truthy(assert(g:postBookmark { url = "https://game.example/" }).bookmarkURLs.linkedin)
        assert.are.equal(0, #H.requests(sb))
    end)
end)

describe("direct delivery against a slow network #once", function()
    -- a real socket timeout: one short wait per run
    setup(function()
        sb = H.start_sandbox()
        providers = H.sandbox_providers(sb)
    end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("reports network failures per provider without losing the others", function()
        local p = {}
        for k, v in pairs(providers) do p[k] = v end
        p.telegram = { botToken = providers.telegram.botToken, baseUrl = "http://127.0.0.1:1" }
        H.configure(sb, { delay_ms = { linkedin = 1500 } })
        local v = H.virtual() -- the only real wait is LinkedIn's timeout, not the retries' backoff
        local c = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = p, connections = { u1 = H.sandbox_connection(sb) }, timeout = 0.5,
            now = v.now, sleep = v.sleep, clock = v.clock }
        local res = assert(c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter,telegram,linkedin" })
        local e = by_provider(res)
        assert.are.equal(0, e.twitter.errorCode)
        assert.are.equal("transient", e.telegram.category)
        assert.are.equal(500026, e.telegram.errorCode)
        assert.matches("connect", e.telegram.errorDetails)
        assert.are.equal(504002, e.linkedin.errorCode)
        assert.matches("may have been created", e.linkedin.errorDetails)
    end)
end)
