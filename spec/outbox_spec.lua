-- Queued delivery through a client (lua/socialize/outbox.lua,
-- docs/delivery.md): enqueue, client:work against the sandbox of fake
-- networks, the retry policy per category, no duplicates, control calls,
-- lease takeover after a crash, bad input. A real SQLite file, and the same
-- cases on a throwaway PostgreSQL. The clock is virtual (config.now).
local H = require("spec.helper")
local K = require("spec.connect_kit")

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local T0 = os.time()

local function count(sb, network, path)
    local n = 0
    for _, r in ipairs(H.requests(sb)) do
        if r.network == network and (not path or (r.path or ""):find(path, 1, true)) then n = n + 1 end
    end
    return n
end

local function by_provider(j)
    local out = {}
    for _, d in ipairs(j.deliveries) do out[d.provider] = d end
    return out
end

local function cases(new_url, get_sb)
    local sb, v, conn, c
    local function client(extra, providers)
        local cfg = { connections = { u1 = conn }, now = v.now, sleep = v.sleep }
        for k, x in pairs(extra or {}) do
            if x == false then cfg[k] = nil else cfg[k] = x end -- false: not set
        end
        return K.client(sb, providers, nil, new_url(), cfg)
    end
    -- u1's connection to the sandbox's Mastodon, kept in the store st
    local function store_mastodon(st, token, at)
        assert(st:put_connection({ UID = "u1", provider = "mastodon", secrets = { accessToken = token },
            fields = { instance = sb.url("mastodon") }, updatedAt = at }))
    end
    before_each(function()
        sb = get_sb()
        v = H.virtual(T0)
        conn = H.sandbox_connection(sb)
        c = client()
    end)
    after_each(function() if c then c:close() end end)

    local function tw(token) -- the twitter connection's token selects a sandbox scenario
        conn.twitter.token, conn.twitter.tokenSecret = token, token .. "-secret"
    end

    local function publish(providers, opts, ua)
        local q = { deliver = "queued" }
        for k, x in pairs(opts or {}) do q[k] = x end
        return c:publishUserAction({ UID = "u1", userAction = ua or UA, enabledProviders = providers }, q)
    end

    it("enqueues without sending, then work delivers each provider once", function()
        local res = assert(publish("twitter,mastodon"))
        assert.same({ 0, "queued", { "twitter", "mastodon" } }, { res.errorCode, res.status, res.providers })
        assert.equal(32, #res.jobID)
        assert.equal(0, #H.requests(sb))
        local j = assert(c:job(res.jobID))
        assert.same({ 0, "queued", "u1", "socialize.publishUserAction", "Level 3 done" },
            { j.errorCode, j.status, j.UID, j.method, j.params.userAction.title })
        local sum = assert(c:work(1000))
        assert.same({ 2, 2 }, { sum.claimed, sum.sent })
        assert.equal(1, count(sb, "twitter", "/2/tweets"))
        assert.equal(1, count(sb, "mastodon", "/api/v1/statuses"))
        j = assert(c:job(res.jobID))
        assert.equal("sent", j.status)
        local d = by_provider(j)
        assert.same({ "sent", 1 }, { d.twitter.state, d.twitter.attempts })
        assert.truthy(d.twitter.postID and d.mastodon.postID)
        assert.same(0, assert(c:work(1000)).claimed)
        assert.equal(1, count(sb, "twitter", "/2/tweets"))
        -- setStatus and sendNotification queue the same way
        assert.equal("queued", assert(c:setStatus({ UID = "u1", status = "hi", enabledProviders = "mastodon" },
            { deliver = "queued" })).status)
        assert.equal(1, assert(c:work(1000)).sent)
    end)

    it("holds a delivery until `at`; `at` in the past is due now; a bad `at` is refused", function()
        local res = assert(publish("mastodon", { at = T0 + 3600 }))
        assert.equal(T0 + 3600, res.runAt)
        assert.equal(0, assert(c:work(1000)).claimed)
        v.t = T0 + 3599
        assert.equal(0, assert(c:work(1000)).claimed)
        v.t = T0 + 3600
        assert.equal(1, assert(c:work(1000)).sent)
        local past = assert(publish("mastodon", { at = 5 }))
        assert.equal(T0 + 3600, past.runAt)
        assert.equal(1, assert(c:work(1000)).sent)
        for _, bad in ipairs({ 0 / 0, "tomorrow", math.huge, {} }) do
            local r, err = publish("mastodon", { at = bad })
            assert.is_nil(r)
            assert.equal(400006, err.errorCode)
            assert.truthy(err.errorDetails:find("at ", 1, true), err.errorDetails)
        end
        assert.equal(2, #assert(c:jobs()).jobs) -- nothing stored for the refused ones
    end)

    it("retries a transient failure later on a network with an idempotency key, by attempt^4", function()
        conn.mastodon.accessToken = "md-boom" -- 503
        local res = assert(publish("mastodon"))
        local sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.retrying })
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "retrying", 1, "transient", 503 }, { d.state, d.attempts, d.category, d.errorCode and 503 })
        assert.truthy(d.nextAt >= T0 + 1 and d.nextAt <= T0 + 2, tostring(d.nextAt))
        v.t = d.nextAt - 1
        assert.equal(0, assert(c:work(1000)).claimed)
        v.t = d.nextAt
        assert.equal(1, assert(c:work(1000)).retrying)
        d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.equal(2, d.attempts)
        assert.truthy(d.nextAt - v.t >= 14 and d.nextAt - v.t <= 18, tostring(d.nextAt - v.t)) -- 2^4 +-10%
        conn.mastodon.accessToken = "md-token"
        v.t = d.nextAt
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(3, count(sb, "mastodon", "/api/v1/statuses"))
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("never resends blindly where the network has no idempotency key nor read-back: unconfirmed, then the host resolves", function()
        conn.linkedin.accessToken = "li-boom" -- 500: the post may exist
        local res = assert(publish("linkedin"))
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        local d = by_provider(assert(c:job(res.jobID))).linkedin
        assert.same({ "unconfirmed", T0 }, { d.state, d.sentAt })
        assert.is_nil(d.nextAt)
        v.t = T0 + 86400
        assert.equal(0, assert(c:work(1000)).claimed)
        assert.equal(1, count(sb, "linkedin", "/rest/posts"))
        assert.equal("unconfirmed", assert(c:job(res.jobID)).status)
        local ok, err = c:resolve(res.jobID, "linkedin", "maybe")
        assert.same({ nil, 400006 }, { ok, err.errorCode })
        assert.truthy(err.errorDetails:find("decision", 1, true))
        conn.linkedin.accessToken = "li-token"
        assert.same({ 0, "queued" }, { assert(c:resolve(res.jobID, "linkedin", "resend")).errorCode,
                                       c:job(res.jobID).deliveries[1].state })
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(2, count(sb, "linkedin", "/rest/posts"))
        ok, err = c:resolve(res.jobID, "linkedin", "sent")
        assert.is_nil(ok)
        assert.same({ 400006, "bad_state" }, { err.errorCode, err.error })
        assert.truthy(err.errorDetails:find("not unconfirmed", 1, true), err.errorDetails)
    end)

    it("marks a create whose reply never came unconfirmed; the host may say it was sent", function()
        local faults = H.start_faults()
        c:close()
        c = client(nil, function(p) p.twitter.baseUrl = faults.http .. "/drop" end)
        local res = assert(publish("twitter"))
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        local d = by_provider(assert(c:job(res.jobID))).twitter
        assert.same({ "unconfirmed", "transient" }, { d.state, d.category })
        assert.truthy(d.reason:find("may have been created", 1, true), d.reason)
        assert(c:resolve(res.jobID, "twitter", "sent"))
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("gives up at once on permanent errors, and retries a dead delivery on request", function()
        tw("tw-noperm")
        conn.mastodon.accessToken = "md-noperm"
        local res = assert(publish("twitter,mastodon"))
        assert.equal(2, assert(c:work(1000)).dead)
        local j = assert(c:job(res.jobID))
        assert.equal("dead", j.status)
        local d = by_provider(j)
        assert.same({ "dead", "permission_missing" }, { d.twitter.state, d.twitter.category })
        v.t = T0 + 86400 * 30
        assert.equal(0, assert(c:work(1000)).claimed)
        tw("tw-user")
        assert.same({ 0, 1 }, { assert(c:retry(res.jobID, "twitter")).errorCode, c:retry(res.jobID, "mastodon").retried })
        local t = by_provider(assert(c:job(res.jobID))).twitter
        assert.same({ "queued", 0 }, { t.state, t.attempts })
        conn.mastodon.accessToken = "md-token"
        assert.equal(2, assert(c:work(1000)).sent)
        assert.equal("sent", assert(c:job(res.jobID)).status)
        local ok, err = c:retry(res.jobID, "twitter")
        assert.same({ nil, "bad_state" }, { ok, err.error })
        -- the attempt ceiling: a transient failure repeated ends dead
        c:close()
        c = client({ outbox = { maxAttempts = 2 } })
        conn.mastodon.accessToken = "md-boom"
        res = assert(publish("mastodon"))
        assert.equal(1, assert(c:work(1000)).retrying)
        v.t = v.t + 100
        assert.equal(1, assert(c:work(1000)).dead)
        d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.truthy(d.reason:find("gave up after 2 attempts", 1, true), d.reason)
    end)

    it("waits for a reconnect after auth_expired, then resumes or ends dead", function()
        c:close()
        c = client({ outbox = { reconnectWindow = 600, recheck = 300 } })
        tw("tw-expired")
        local res = assert(publish("twitter"))
        assert.equal(1, assert(c:work(1000)).waiting_reconnect)
        local d = by_provider(assert(c:job(res.jobID))).twitter
        assert.same({ "waiting_reconnect", T0 + 300, T0 + 600 }, { d.state, d.nextAt, d.waitUntil })
        v.t = T0 + 299
        assert.equal(0, assert(c:work(1000)).claimed)
        v.t = T0 + 300
        tw("tw-user") -- the user connected again
        assert.equal(1, assert(c:work(1000)).sent)
        -- never reconnected: dead with the reason
        tw("tw-expired")
        res = assert(publish("twitter"))
        assert.equal(1, assert(c:work(1000)).waiting_reconnect)
        v.t = T0 + 900
        assert.equal(1, assert(c:work(1000)).dead)
        d = by_provider(assert(c:job(res.jobID))).twitter
        assert.same({ "dead", "auth_expired" }, { d.state, d.category })
        assert.truthy(d.reason:find("not reconnected within 600 s", 1, true), d.reason)
    end)

    it("queues to the store's connections and resumes when the user reconnects", function()
        c:close()
        c = client({ connections = false, outbox = { reconnectWindow = 900, recheck = 300 } })
        local st = assert(c:store())
        store_mastodon(st, "md-expired", T0 - 100)
        local res = assert(c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" }))
        assert.same({ "mastodon" }, res.providers) -- the store's one connection
        assert.equal(1, assert(c:work(1000)).waiting_reconnect)
        v.t = T0 + 300 -- no reconnect yet: checked, not sent, no attempt counted
        assert.same({ 1, 1 }, { assert(c:work(1000)).claimed, count(sb, "mastodon", "/api/v1/statuses") })
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "waiting_reconnect", 1, T0 + 600 }, { d.state, d.attempts, d.nextAt })
        store_mastodon(st, "md-token", T0 + 400) -- the user connected again
        v.t = T0 + 600
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(2, count(sb, "mastodon", "/api/v1/statuses"))
        local _, err = c:publishUserAction({ UID = "nobody", userAction = UA }, { deliver = "queued" })
        assert.equal(require("socialize.errors").codes.NOT_CONNECTED, err.errorCode)
    end)

    it("a delivery whose connections the store cannot read at the send retries, never dead", function()
        c:close()
        c = client({ connections = false })
        local st = assert(c:store())
        store_mastodon(st, "md-token", T0)
        local res = assert(c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" }))
        local idx = getmetatable(st).__index
        local list = idx.list_connections
        idx.list_connections = function() return nil, "database is locked", "store_busy" end
        local ok, sum = pcall(c.work, c, 1000)
        idx.list_connections = list
        assert(ok, sum)
        assert.same({ 1, 0, 1 }, { sum.claimed, sum.dead, sum.retrying })
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "retrying", "transient", 0 }, { d.state, d.category, d.attempts }) -- nothing sent: no attempt
        assert.truthy(d.reason:find("store_busy", 1, true), d.reason)
        assert.equal(0, count(sb, "mastodon", "/api/v1/statuses"))
        v.t = d.nextAt
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(1, count(sb, "mastodon", "/api/v1/statuses"))
    end)

    it("a reconnect check the store cannot answer at the window's end waits, never dead", function()
        c:close()
        c = client({ connections = false, outbox = { reconnectWindow = 600, recheck = 300 } })
        local st = assert(c:store())
        store_mastodon(st, "md-expired", T0 - 100)
        local res = assert(c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" }))
        assert.equal(1, assert(c:work(1000)).waiting_reconnect)
        store_mastodon(st, "md-token", T0 + 400) -- the user connected again
        v.t = T0 + 600 -- the window's end: the check finds the store gone for a moment
        local idx = getmetatable(st).__index
        local get = idx.get_connection
        idx.get_connection = function() return nil, "server closed the connection unexpectedly", "store_gone" end
        local ok, sum = pcall(c.work, c, 1000)
        idx.get_connection = get
        assert(ok, sum)
        assert.same({ 1, 0, 1 }, { sum.claimed, sum.dead, sum.waiting_reconnect })
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "waiting_reconnect", T0 + 900 }, { d.state, d.nextAt })
        v.t = T0 + 900
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("resumes a delivery waiting for a reconnect as soon as the user connects again", function()
        c:close()
        c = client({ connections = false }, function(p)
            p.mastodon = { clientName = "socialize spec", website = "https://game.example" }
        end)
        local st = assert(c:store())
        store_mastodon(st, "md-expired", T0 - 100)
        local res = assert(c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" }))
        assert.equal(1, assert(c:work(1000)).waiting_reconnect)
        assert.equal(0, assert(c:work(1000)).claimed) -- rechecked in 300 s
        assert(K.connect(c, "mastodon", "https://app.example/callback/mastodon", "u1", { instance = sb.url("mastodon") }))
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "waiting_reconnect", T0 }, { d.state, d.nextAt })
        assert.equal(1, assert(c:work(1000)).sent) -- at once, the clock unmoved
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("queues a notification to each recipient", function()
        c:close()
        c = client({ connections = { u1 = conn, friend1 = { telegram = { chatId = "5001" } },
                                     friend2 = { telegram = { chatId = "5002" } } } })
        local res = assert(c:sendNotification({ UID = "u1", recipients = "friend1,friend2", body = "Join me",
            enabledProviders = "telegram" }, { deliver = "queued" }))
        assert.same({ "telegram" }, res.providers)
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(2, count(sb, "telegram", "sendMessage"))
        assert.matches("^%-?%d+:%d+,%-?%d+:%d+$", by_provider(assert(c:job(res.jobID))).telegram.postID)
    end)

    -- sendNotification to several recipients: who got it is remembered in
    -- the delivery (its postID holds the progress record until all did)
    local function to_chat(chat) -- sendMessage requests to that chat
        local n = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "telegram" and (r.path or ""):find("sendMessage", 1, true)
                and (r.body or ""):find('"chat_id":%s*"' .. chat:gsub("%-", "%%-") .. '"') then n = n + 1 end
        end
        return n
    end
    local nurl -- one store for a test's notifiers: a new one is the same worker restarted
    local function notifier(chats, again)
        local conns = { u1 = conn }
        for uid, chat in pairs(chats) do conns[uid] = { telegram = { chatId = chat } } end
        if not again then nurl = new_url() end
        return K.client(sb, nil, nil, nurl, { connections = conns, now = v.now, sleep = v.sleep }), conns
    end
    local function notify(cl)
        return assert(cl:sendNotification({ UID = "u1", recipients = "friend1,friend2,friend3", body = "Join me",
            enabledProviders = "telegram" }, { deliver = "queued" }))
    end

    it("a notification whose recipient failed transiently is not sent; only that one is messaged again", function()
        c:close()
        -- (a 429 whose retry_after is 0: nothing left blocked on the real clock of the rate-limit table)
        local conns
        c, conns = notifier({ friend1 = "5001", friend2 = "5002ratelimit0", friend3 = "5003" })
        local res = notify(c)
        local sum = assert(c:work(1000))
        assert.same({ 1, 0, 1 }, { sum.claimed, sum.sent, sum.retrying })
        local d = by_provider(assert(c:job(res.jobID))).telegram
        assert.same({ "retrying", "rate_limited", 1 }, { d.state, d.category, d.attempts })
        assert.truthy(d.reason:find("2 of 3 recipients messaged; recipient friend2", 1, true), d.reason)
        assert.equal("active", assert(c:job(res.jobID)).status)
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002ratelimit0"), to_chat("5003") })
        conns.friend2.telegram.chatId = "5002" -- the limit is over
        v.t = d.nextAt
        sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.sent })
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002"), to_chat("5003") }) -- each once in the end
        local j = assert(c:job(res.jobID))
        d = by_provider(j).telegram
        assert.same({ "sent", "sent", 2 }, { j.status, d.state, d.attempts })
        -- every recipient's message id, in the recipients' order
        assert.matches("^5001:%d+,5002:%d+,5003:%d+$", d.postID)
    end)

    it("a notification whose recipient fails for good ends dead naming it; the others are messaged once", function()
        c:close()
        local conns
        c, conns = notifier({ friend1 = "5001", friend2 = "5002blocked", friend3 = "5003" })
        local res = notify(c)
        local sum = assert(c:work(1000))
        assert.same({ 1, 0, 1 }, { sum.claimed, sum.sent, sum.dead })
        local j = assert(c:job(res.jobID))
        local d = by_provider(j).telegram
        assert.same({ "dead", "dead", "permission_missing" }, { j.status, d.state, d.category })
        assert.truthy(d.reason:find("2 of 3 recipients messaged; 1 failed for good: recipient friend2: ", 1, true),
            d.reason)
        assert.truthy(d.reason:find("blocked", 1, true), d.reason)
        -- client:job shows the progress per recipient, not as a postID
        assert.is_nil(d.postID)
        assert.same({ "friend1", "sent", "friend2", "failed", "permission_missing", "friend3", "sent" },
            { d.recipients[1].UID, d.recipients[1].state, d.recipients[2].UID, d.recipients[2].state,
              d.recipients[2].category, d.recipients[3].UID, d.recipients[3].state })
        assert.matches("^5001:%d+$", d.recipients[1].postID)
        assert.truthy(d.recipients[2].reason:find("blocked", 1, true), d.recipients[2].reason)
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002blocked"), to_chat("5003") })
        v.t = T0 + 86400
        assert.equal(0, assert(c:work(1000)).claimed) -- final: never retried by the worker
        -- the host fixes it and retries the dead delivery: only the failed recipient is messaged
        conns.friend2.telegram.chatId = "5002"
        assert.equal(1, assert(c:retry(res.jobID)).retried)
        assert.equal(1, assert(c:work(1000)).sent)
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002"), to_chat("5003") })
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("a notification's messaged recipients survive a crash and a takeover between attempts", function()
        c:close()
        c = notifier({ friend1 = "5001", friend2 = "5002ratelimit0", friend3 = "5003" })
        local res = notify(c)
        assert.equal(1, assert(c:work(1000)).retrying)
        c:close() -- the worker's process ends; another one goes on from the store
        c = notifier({ friend1 = "5001", friend2 = "5002", friend3 = "5003" }, true)
        local st = assert(c:store())
        v.t = T0 + 100
        assert.equal(1, #assert(st:claim("crashed", v.t, 60, 10))) -- and that worker dies before any intent
        v.t = T0 + 160
        -- taken over: no intent was written, so friend2 was never sent to in that attempt: sent now,
        -- the others not again
        local sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.sent })
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002"), to_chat("5003") })
        assert.matches("^5001:%d+,5002:%d+,5003:%d+$", by_provider(assert(c:job(res.jobID))).telegram.postID)
    end)

    it("scrubs a post id and a recipient's error that echo the delivery's credentials (store, job)", function()
        conn.mastodon.accessToken = "md-echo-5f3c9a7e1b2d4c6f"
        local res = assert(publish("mastodon"))
        assert.equal(1, assert(c:work(1000)).sent)
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.same({ "sent", "[redacted]" }, { d.state, d.postID }) -- the instance answered the token as its id
        local raw = assert(assert(c:store()):job(res.jobID))
        assert.equal("[redacted]", raw.deliveries[1].postID)
        -- a notification: a recipient's refusal quoting the bot token, kept in the progress and the reason
        c:close()
        c = notifier({ friend1 = "5001", friend2 = "5002leak", friend3 = "5003" })
        res = notify(c)
        assert.equal(1, assert(c:work(1000)).dead)
        local token = H.sandbox_providers(sb).telegram.botToken
        local j = assert(c:job(res.jobID))
        d = by_provider(j).telegram
        assert.same({ "dead", "sent", "failed", "sent" }, { d.state, d.recipients[1].state, d.recipients[2].state,
            d.recipients[3].state })
        assert.truthy(d.recipients[2].reason:find("bot[redacted] was blocked", 1, true), d.recipients[2].reason)
        assert.truthy(d.reason:find("bot[redacted] was blocked", 1, true), d.reason)
        raw = assert(assert(c:store()):job(res.jobID))
        assert.falsy(raw.deliveries[1].postID:find(token, 1, true), raw.deliveries[1].postID)
        assert.falsy(raw.deliveries[1].reason:find(token, 1, true), raw.deliveries[1].reason)
        assert.falsy(raw.deliveries[1].postID:find(token:sub(1, 8), 1, true))
    end)

    it("a recipient whose connection the store cannot read is retried, never sent to an empty recipient", function()
        c:close()
        c = client({ connections = false })
        local st = assert(c:store())
        local function put(uid, chat)
            assert(st:put_connection({ UID = uid, provider = "telegram", secrets = {}, fields = { chatId = chat },
                updatedAt = T0 }))
        end
        put("u1", "-100777")
        put("friend1", "5001"); put("friend2", "5002"); put("friend3", "5003")
        local res = notify(c)
        local idx = getmetatable(st).__index
        local list = idx.list_connections
        idx.list_connections = function(self, uid, ...)
            if uid == "friend2" then return nil, "database is locked", "store_busy" end
            return list(self, uid, ...)
        end
        local ok, sum = pcall(c.work, c, 1000)
        idx.list_connections = list
        assert(ok, sum)
        assert.same({ 1, 0, 1 }, { sum.claimed, sum.dead, sum.retrying })
        local d = by_provider(assert(c:job(res.jobID))).telegram
        assert.same({ "retrying", "transient" }, { d.state, d.category })
        assert.truthy(d.reason:find("recipient friend2: telegram: recipient friend2: not sent: the store could not "
            .. "read the recipient's connection", 1, true) or d.reason:find("store_busy", 1, true), d.reason)
        assert.same({ 1, 0, 1 }, { to_chat("5001"), to_chat("5002"), to_chat("5003") })
        assert.equal(2, count(sb, "telegram", "sendMessage")) -- no request to an empty chat
        v.t = d.nextAt
        assert.equal(1, assert(c:work(1000)).sent)
        assert.same({ 1, 1, 1 }, { to_chat("5001"), to_chat("5002"), to_chat("5003") })
        -- the direct call: Gigya's response (the provider succeeded, the recipient in failedRecipients)
        idx.list_connections = function(self, uid, ...)
            if uid == "friend2" then return nil, "database is locked", "store_busy" end
            return list(self, uid, ...)
        end
        local dok, r = pcall(c.sendNotification, c, { UID = "u1", recipients = "friend1,friend2", body = "Again",
            enabledProviders = "telegram" })
        idx.list_connections = list
        assert(dok, r)
        local e = r.providerErrorCodes[1]
        assert.same({ 0, 0, { "friend2" }, "transient" }, { r.errorCode, e.errorCode, e.failedRecipients,
            e.category or "transient" })
        assert.truthy(e.errorDetails:find("recipient friend2: .*store could not read", 1), e.errorDetails)
        assert.same({ 2, 1 }, { to_chat("5001"), to_chat("5002") })
        assert.equal(4, count(sb, "telegram", "sendMessage")) -- never to an empty chat
    end)

    it("waits out a rate limit's reset, and the store's blocked-until", function()
        conn.mastodon.accessToken = "md-ratelimit"
        local res = assert(publish("mastodon"))
        assert.equal(1, assert(c:work(1000)).retrying)
        local d = by_provider(assert(c:job(res.jobID))).mastodon
        assert.equal("rate_limited", d.category)
        assert.truthy(d.nextAt >= T0 + 250, tostring(d.nextAt - T0))
        local st = assert(c:store())
        assert.truthy(st:blocked("mastodon", "uid:u1", T0))
        -- a provider blocked in the store: nothing is sent, no attempt counted
        conn.mastodon.accessToken = "md-token"
        local other = assert(publish("mastodon"))
        assert(st:block("mastodon", "", T0 + 5000))
        v.t = d.nextAt
        local before = count(sb, "mastodon", "/api/v1/statuses")
        assert.equal(2, assert(c:work(1000)).retrying)
        assert.equal(before, count(sb, "mastodon", "/api/v1/statuses"))
        local o = by_provider(assert(c:job(other.jobID))).mastodon
        assert.same({ "retrying", T0 + 5000, 0 }, { o.state, o.nextAt, o.attempts })
    end)

    it("does not count a delivery the client's own rate-limit table held back as an attempt", function()
        conn.mastodon.accessToken = "md-ratelimit"
        c:close()
        c = client({ connections = { u1 = conn, u2 = conn } }) -- two users, one account
        local a = assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "mastodon" },
            { deliver = "queued" }))
        local b = assert(c:publishUserAction({ UID = "u2", userAction = UA, enabledProviders = "mastodon" },
            { deliver = "queued" }))
        local sum = assert(c:work(1000))
        assert.same({ 2, 2 }, { sum.claimed, sum.retrying })
        assert.equal(1, count(sb, "mastodon", "/api/v1/statuses")) -- the second was not sent
        local da = by_provider(assert(c:job(a.jobID))).mastodon
        local db = by_provider(assert(c:job(b.jobID))).mastodon
        if da.attempts == 0 then da, db = db, da end -- claimed in the order of their ids
        assert.same({ 1, "rate_limited" }, { da.attempts, da.category })
        assert.same({ 0, "rate_limited" }, { db.attempts, db.category })
        assert.truthy(db.nextAt >= T0 + 250, tostring(db.nextAt - T0))
    end)

    it("cancels a job, but not while a delivery is being sent", function()
        local res = assert(publish("twitter,mastodon"))
        local st = assert(c:store())
        assert.equal(1, #assert(st:claim("other-worker", T0, 60, 1)))
        local ok, err = c:cancel(res.jobID)
        assert.is_nil(ok)
        assert.same({ 400006, "job_sending" }, { err.errorCode, err.error })
        v.t = T0 + 61 -- the other worker's lease ran out
        local r = assert(c:cancel(res.jobID))
        assert.same({ 0, 2 }, { r.errorCode, r.cancelled })
        assert.equal(0, assert(c:cancel(res.jobID)).cancelled)
        assert.equal("cancelled", assert(c:job(res.jobID)).status)
        assert.equal(0, assert(c:work(1000)).claimed)
        assert.equal(0, #H.requests(sb))
        ok, err = c:cancel("no-such-job")
        assert.same({ nil, "job_unknown" }, { ok, err.error })
        ok, err = c:job("no-such-job")
        assert.same({ nil, "job_unknown" }, { ok, err.error })
    end)

    it("dedupes by key within its window", function()
        local a = assert(publish("mastodon", { key = "level-3" }))
        local b = assert(publish("mastodon", { key = "level-3" }))
        assert.equal(a.jobID, b.jobID)
        assert.is_true(b.deduplicated)
        -- another time and other networks: still the first job's, as it is in the store
        local d = assert(publish("twitter,mastodon", { key = "level-3", at = T0 + 3600 }))
        assert.same({ a.jobID, true, a.runAt, { "mastodon" } }, { d.jobID, d.deduplicated, d.runAt, d.providers })
        assert.equal(1, #assert(c:jobs{ UID = "u1" }).jobs)
        local r, err = publish("mastodon", { key = ("k"):rep(201) })
        assert.is_nil(r)
        assert.equal(400006, err.errorCode)
        assert.truthy(err.errorDetails:find("key is 201 bytes", 1, true), err.errorDetails)
        assert.equal(1, #assert(c:jobs()).jobs)
        assert.equal(1, assert(c:work(1000)).sent)
        assert.equal(1, count(sb, "mastodon", "/api/v1/statuses"))
    end)

    it("takes over a crashed worker's deliveries: resent with the same key, or left unconfirmed", function()
        local res = assert(publish("twitter,mastodon"))
        local st = assert(c:store())
        assert.equal(2, #assert(st:claim("crashed", T0, 60, 10))) -- then the worker died
        assert.equal(0, assert(c:work(1000)).claimed) -- its lease still runs
        v.t = T0 + 60
        local sum = assert(c:work(1000))
        assert.same({ 2, 1, 1 }, { sum.claimed, sum.sent, sum.unconfirmed })
        local d = by_provider(assert(c:job(res.jobID)))
        assert.same({ "sent", 2 }, { d.mastodon.state, d.mastodon.attempts })
        assert.same({ "unconfirmed", 2 }, { d.twitter.state, d.twitter.attempts })
        assert.truthy(d.twitter.reason:find("lease ran out", 1, true))
        assert.equal(0, count(sb, "twitter", "/2/tweets")) -- never blindly repeated
        local ok, _, code = st:record(res.jobID, "mastodon", "crashed", T0 + 61, { state = "sent", postID = "x" })
        assert.same({ nil, "lease_lost" }, { ok, code })
        assert.equal(d.mastodon.postID, by_provider(assert(c:job(res.jobID))).mastodon.postID)
    end)

    it("never starts a claimed delivery its lease cannot cover; the rest are given back, claimed again", function()
        -- each send takes 25 s of the virtual clock (deadline 25: the lease is 60 s); a claim of
        -- five: the third would start at +50 s with 10 s of its lease left, and another worker
        -- takes over what is past its lease while the send runs (without a key: unconfirmed)
        c:close()
        c = client({ deadline = 25 })
        for _ = 1, 3 do assert(publish("twitter")) end
        local st = assert(c:store())
        local direct = require("socialize.direct")
        local call, taken = direct.call, 0
        direct.call = function(...)
            local a, b = call(...)
            v.t = v.t + 25
            taken = taken + #assert(st:claim("taker", v.t, 60, 10)) -- only leases that ran out
            return a, b
        end
        local ok, err = pcall(function()
            for _ = 1, 5 do
                local sum = assert(c:work(10 ^ 9))
                assert.equal(0, sum.lost)
                if sum.claimed == 0 then break end
            end
        end)
        direct.call = call
        assert(ok, err)
        assert.equal(0, taken)
        for _, j in ipairs(assert(c:jobs()).jobs) do
            assert.same({ "sent", 1 }, { j.deliveries[1].state, j.deliveries[1].attempts })
        end
        assert.equal(3, count(sb, "twitter", "/2/tweets"))
    end)

    it("stops claiming when the budget is spent, and gives unstarted deliveries back", function()
        for _ = 1, 3 do assert(publish("mastodon")) end
        c:close()
        local calls = 0
        c = client({ now = function() calls = calls + 1; return v.t + (calls > 4 and 10 or 0) end })
        local sum = assert(c:work(1000))
        assert.truthy(sum.sent < 3, tostring(sum.sent))
        assert.equal(sum.claimed, sum.sent + sum.released)
        assert.equal(0, assert(c:work(0)).claimed)
        local queued = 0
        for _, j in ipairs(assert(c:jobs()).jobs) do
            if j.deliveries[1].state == "queued" then
                queued = queued + 1
                assert.equal(0, j.deliveries[1].attempts)
            end
        end
        assert.equal(sum.released, queued)
    end)

    it("refuses bad input as the direct call does, storing nothing", function()
        local _, derr = c:publishUserAction({ userAction = UA })
        local r, qerr = c:publishUserAction({ userAction = UA }, { deliver = "queued" })
        assert.is_nil(r)
        assert.same({ derr.errorCode, derr.errorDetails }, { qerr.errorCode, qerr.errorDetails })
        _, derr = c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "myspace" })
        r, qerr = c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "myspace" }, { deliver = "queued" })
        assert.same({ derr.errorCode, derr.errorDetails }, { qerr.errorCode, qerr.errorDetails })
        r, qerr = c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "later" })
        assert.same({ nil, 400006 }, { r, qerr.errorCode })
        assert.truthy(qerr.errorDetails:find("deliver", 1, true))
        r, qerr = c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued", when = 1 })
        assert.truthy(qerr.errorDetails:find("options.when", 1, true))
        r, qerr = c:publishUserAction({ UID = "nobody", userAction = UA }, { deliver = "queued" })
        assert.equal(require("socialize.errors").codes.NOT_CONNECTED, qerr.errorCode)
        r, qerr = c:publishUserAction({ UID = "u1", userAction = { title = "x", mediaItems = {
            { type = "image", data = "\255\216\255\224", mimeType = "image/jpeg" } } } }, { deliver = "queued" })
        assert.is_nil(r)
        assert.equal(400006, qerr.errorCode)
        assert.equal(0, #assert(c:jobs()).jobs)
        assert.has_error(function() c:work(-1) end)
        assert.has_error(function() c:work(0 / 0) end)
        local no_store = require("socialize").new({ backend = "direct", connections = {} })
        r, qerr = no_store:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" })
        assert.same({ nil, "no_store" }, { r, qerr.error })
        local gigya = require("socialize").new({ apiKey = "k", secret = "c2VjcmV0", store = K.db("gigya") })
        r, qerr = gigya:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" })
        assert.same({ nil, require("socialize.errors").codes.NOT_SUPPORTED }, { r, qerr.errorCode })
        assert.has_error(function() c:publishUserAction({ UID = "u1", userAction = UA }, "queued") end)
        assert.has_error(function() c:getUserInfo({ UID = "u1" }, { deliver = "queued" }) end)
        assert.same({ nil, 400006 }, { c:prune(-1), select(2, c:prune(-1)).errorCode })
        assert.same({ nil, 400006 }, { c:job(42), select(2, c:job(42)).errorCode })
        assert.equal(400006, select(2, c:jobs({ limit = 0 / 0 })).errorCode)
        -- a status no job has is a mistake, not an empty list
        r, qerr = c:jobs({ status = "finished" })
        assert.is_nil(r)
        assert.equal(400006, qerr.errorCode)
        assert.truthy(qerr.errorDetails:find('status must be one of queued, active, unconfirmed, sent, partial, dead, '
            .. 'cancelled (got "finished")', 1, true), qerr.errorDetails)
        assert.same({}, assert(c:jobs({ status = "partial" })).jobs)
    end)

    it("prunes finished jobs older than an age", function()
        local a = assert(publish("mastodon"))
        assert.equal(1, assert(c:work(1000)).sent)
        local b = assert(publish("mastodon"))
        v.t = T0 + 100
        assert.same({ 0, 0 }, { assert(c:prune(100)).errorCode, assert(c:prune(101)).pruned })
        assert.equal(1, assert(c:prune(50)).pruned)
        assert.is_nil(c:job(a.jobID))
        assert.equal("queued", assert(c:job(b.jobID)).status)
    end)
end

describe("queued delivery on SQLite #fakes", function()
    local sb
    H.use_sandbox(function(s) sb = s end)
    cases(function() return K.db("outbox") end, function() return sb end)
end)

describe("queued delivery on a full disk #once", function()
    local sb
    H.use_sandbox(function(s) sb = s end)

    it("names the full store; every job written whole or not at all; the worker goes on", function()
        local path = K.path("full")
        local conn = H.sandbox_connection(sb)
        local c = K.client(sb, nil, nil, "sqlite:" .. path, { connections = { u1 = conn } })
        assert(c:store())
        c:close()
        local pages = tonumber(K.run("sqlite3 " .. K.q(path) .. " 'PRAGMA page_count'"))
        c = K.client(sb, nil, nil, "sqlite:" .. path, { connections = { u1 = conn } })
        -- the disk's limit: SQLite's max_page_count on the client's own handle
        c._store = assert(require("socialize.store").open("sqlite:" .. path, { keys = { K.KEY }, maxPages = pages + 8 }))
        local big = { title = "Level 3 done", description = ("x"):rep(3000) }
        local ok, res, err = 0, true, nil
        for _ = 1, 100 do -- bounded: 8 pages of 4 KiB fill long before
            res, err = c:publishUserAction({ UID = "u1", userAction = big, enabledProviders = "mastodon,telegram" },
                { deliver = "queued" })
            if not res then break end
            ok = ok + 1
        end
        assert.is_nil(res)
        assert.same({ 500001, "store_full" }, { err.errorCode, err.error })
        assert.truthy(err.errorDetails:find("full", 1, true), err.errorDetails)
        assert.truthy(ok >= 1 and ok < 100, tostring(ok))
        local jobs = assert(c:jobs()).jobs
        assert.equal(ok, #jobs) -- the refused one left nothing
        for _, j in ipairs(jobs) do assert.equal(2, #j.deliveries) end
        -- outcomes change rows in place: the queued jobs are still delivered
        assert.equal(2 * ok, assert(c:work(5000)).sent)
        c:close()
    end)
end)

describe("queued delivery on PostgreSQL #once", function()
    local sb, base, n = nil, nil, 0
    H.use_sandbox(function(s) sb = s end)
    K.use_postgres(function(url) base = url end)
    local function new_db()
        n = n + 1
        K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("CREATE DATABASE q" .. n))
        return (base:gsub("/postgres%?", "/q" .. n .. "?")), "q" .. n
    end
    cases(function() return (new_db()) end, function() return sb end)

    it("names a read-only store: reads work, nothing is written, nothing lost", function()
        local url, db = new_db()
        local conn = H.sandbox_connection(sb)
        local function client() return K.client(sb, nil, nil, url, { connections = { u1 = conn } }) end
        local function read_only(on)
            K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("ALTER DATABASE " .. db
                .. " SET default_transaction_read_only = " .. on))
        end
        local c = client()
        local job = assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "mastodon" },
            { deliver = "queued" }))
        c:close()
        read_only("on")
        c = client() -- a new session: read-only
        assert.equal("queued", assert(c:job(job.jobID)).status)
        local r, err = c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "mastodon" },
            { deliver = "queued" })
        assert.is_nil(r)
        assert.same({ 500001, "store_readonly" }, { err.errorCode, err.error })
        r, err = c:work(1000)
        assert.same({ nil, 500001, "store_readonly" }, { r, err.errorCode, err.error })
        r, err = c:cancel(job.jobID)
        assert.same({ nil, 500001, "store_readonly" }, { r, err.errorCode, err.error })
        assert.equal(0, count(sb, "mastodon", "/api/v1/statuses")) -- nothing claimed, nothing sent
        c:close()
        read_only("off")
        c = client()
        assert.same({ 1, "queued" }, { #assert(c:jobs()).jobs, assert(c:job(job.jobID)).status })
        assert.equal(1, assert(c:work(1000)).sent)
        c:close()
    end)
end)

describe("the outbox's helpers #unit", function()
    local outbox = require("socialize.outbox")
    it("makes a network's text fit for the store: no NUL, UTF-8, cut on a character", function()
        assert.equal("a?b?", outbox.cut("a\0b\255"))
        assert.equal(("\195\169"):rep(2), outbox.cut(("\195\169"):rep(3), 5))
        assert.equal("", outbox.cut(nil))
        assert.equal(1000, #outbox.cut(("x"):rep(5000)))
    end)

    it("plans a notification's attempt: an intent without an outcome is in doubt; who is sent to", function()
        local cfg = { idempotencyWindow = 3000 }
        local function plan(provider, prev, prog)
            local d = { method = "socialize.sendNotification", provider = provider, prevState = prev,
                        postID = '{"recipients":4,' .. prog .. "}" }
            local p = outbox.notify_plan(d, { recipients = "a,b,c,d" }, 10000, cfg)
            local u = {}
            for k in pairs(p.prog.unconfirmed) do u[#u + 1] = tonumber(k) end
            table.sort(u)
            return { p.send, u }, p.names
        end
        -- a's message recorded, b's intent left by a worker that died, c failed for good, d untried
        local prog = '"sent":{"1":"m1"},"failed":{"3":["permission_missing","blocked"]},"unconfirmed":{},'
            .. '"sending":{"2":9000}'
        -- taken over, no idempotency key: b in doubt (not sent), d sent
        assert.same({ { 4 }, { 2 } }, (plan("telegram", "sending", prog)))
        -- with a key, within the window since b's intent: b resent with it
        assert.same({ { 2, 4 }, {} }, (plan("mastodon", "sending", prog)))
        -- past the window: left in doubt
        assert.same({ { 4 }, { 2 } }, (plan("mastodon", "sending", (prog:gsub("9000", "5000")))))
        -- the host's resend (queued again, b in doubt): b and d, never c nor a
        local sent, names = plan("telegram", "queued", prog)
        assert.same({ { 2, 4 }, { "b", "d" } }, { sent[1], names })
        -- the host's retry of a dead one (nobody in doubt): every one not messaged
        assert.same({ { 2, 3, 4 }, {} }, (plan("telegram", "queued",
            '"sent":{"1":"m1"},"failed":{"3":["permission_missing","blocked"]},"unconfirmed":{},"sending":{}')))
    end)

    it("takes a store's progress record whose failed entries are not { category, reason } (no raise)", function()
        local cfg = { idempotencyWindow = 3000 }
        local sent = { perRecipient = { { r = { ok = true, postID = "m2" }, recipient = "b" } } }
        for _, f in ipairs({ 'true', '5', 'null', '"x"', '{}', '[null,7]', '["no_such_category","r"]' }) do
            local d = { method = "socialize.sendNotification", provider = "telegram", prevState = "sending",
                        postID = '{"recipients":2,"sent":{},"failed":{"1":' .. f .. '},"unconfirmed":{},"sending":{}}' }
            local plan = outbox.notify_plan(d, { recipients = "a,b" }, 10000, cfg)
            assert.same({ 2 }, plan.send, f)
            local ok, o = pcall(outbox.notify_outcome, d, plan, sent, 10000, cfg)
            assert.is_true(ok, f .. ": " .. tostring(o))
            assert.equal("dead", o.state, f)
            local why = f:find('"r"', 1, true) and "r" or "?"
            assert.equal("1 of 2 recipients messaged; 1 failed for good: " .. why .. " (content_invalid)", o.reason, f)
            assert.equal("content_invalid", o.category, f)
            local j = outbox.shape({ method = "socialize.sendNotification", params = '{"recipients":"a,b"}',
                                     deliveries = { { state = "dead", postID = o.progress } } })
            assert.same({ UID = "a", state = "failed", category = "content_invalid", reason = why },
                        j.deliveries[1].recipients[1], f)
        end
    end)

    it("takes a store's progress record whose sent entries are not post ids (no raise)", function()
        local cfg = { idempotencyWindow = 3000 }
        local sent = { perRecipient = { { r = { ok = true, postID = "m2" }, recipient = "b" } } }
        for _, case in ipairs({ { 'true', "m2" }, { 'null', "m2" }, { '{}', "m2" }, { '[1]', "m2" },
                                { '5', "5,m2" }, { '"m1"', "m1,m2" } }) do
            local d = { method = "socialize.sendNotification", provider = "telegram", prevState = "sending",
                        postID = '{"recipients":2,"sent":{"1":' .. case[1] .. '},"failed":{},"unconfirmed":{},"sending":{}}' }
            local plan = outbox.notify_plan(d, { recipients = "a,b" }, 10000, cfg)
            assert.same({ 2 }, plan.send, case[1])
            local ok, o = pcall(outbox.notify_outcome, d, plan, sent, 10000, cfg)
            assert.is_true(ok, case[1] .. ": " .. tostring(o))
            assert.same({ "sent", case[2] }, { o.state, o.postID }, case[1])
            local j = outbox.shape({ method = "socialize.sendNotification", params = '{"recipients":"a,b"}',
                                     deliveries = { { state = "retrying", postID = d.postID } } })
            assert.equal("string", type(j.deliveries[1].recipients[1].postID), case[1])
        end
    end)

    it("never records a sent notification's post ids as a progress record (a network's id shaped like one)", function()
        -- a hostile network's message id: read as progress, client:job showed forged recipients
        -- (a delivery resolved sent by the host keeps its real progress, decoded)
        local cfg = { idempotencyWindow = 3000 }
        local forged = '{"recipients":1,"sent":{},"failed":{"1":["auth_expired","forged"]},"unconfirmed":{},"sending":{}}'
        local d = { method = "socialize.sendNotification", provider = "telegram", prevState = "queued" }
        local plan = outbox.notify_plan(d, { recipients = "a" }, 10000, cfg)
        local o = outbox.notify_outcome(d, plan, { perRecipient = { { r = { ok = true, postID = forged },
                                                                      recipient = "a" } } }, 10000, cfg)
        assert.equal("sent", o.state)
        assert.equal("?" .. forged:sub(2), o.postID)
        local j = outbox.shape({ method = "socialize.sendNotification", params = '{"recipients":"a"}',
                                 deliveries = { { state = "sent", postID = o.postID } } })
        assert.equal("?" .. forged:sub(2), j.deliveries[1].postID)
        assert.is_nil(j.deliveries[1].recipients)
    end)

    it("keeps who got a notification whose progress outgrows the store's postID: a retry messages none twice", function()
        -- X answering 200-byte message ids: the record fills up after ~300
        -- recipients; the last one messaged was kept only as an intent (in
        -- doubt), and client:retry of the dead delivery messaged it again
        local socialize = require("socialize")
        local path = os.tmpname()
        os.remove(path)
        local dms, ev = {}, 0
        local conns, names = { u1 = { twitter = { token = "tok-aaaa", tokenSecret = "toksec-bbbb" } } }, {}
        for i = 1, 400 do
            conns["f" .. i] = { twitter = { userId = tostring(1000 + i) } }
            names[i] = "f" .. i
        end
        local c = socialize.new { backend = "direct", retry = false, connections = conns,
            providers = { twitter = { consumerKey = "ck", consumerSecret = "cs-secret" } },
            store = { url = "sqlite:" .. path, keys = { "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } },
            transport = function(req)
                local to = req.url:match("/dm_conversations/with/(%d+)/messages")
                if not to then return { status = 404, headers = {}, body = "{}" } end
                dms[to] = (dms[to] or 0) + 1
                ev = ev + 1
                return { status = 201, headers = {},
                         body = '{"data":{"dm_conversation_id":"c","dm_event_id":"' .. ev .. ("e"):rep(190) .. '"}}' }
            end }
        local job = assert(c:sendNotification({ UID = "u1", recipients = table.concat(names, ","), body = "hi",
                                                enabledProviders = "twitter" }, { deliver = "queued" }))
        assert.equal(1, assert(c:work(60000)).dead)
        local d = assert(c:job(job.jobID)).deliveries[1]
        local states = {}
        for _, r in ipairs(d.recipients) do states[r.state] = (states[r.state] or 0) + 1 end
        assert.equal("dead", d.state)
        assert.truthy(ev > 250, ev)
        assert.same({ sent = ev, pending = 400 - ev }, states)
        assert.truthy(d.reason:find("^" .. ev .. " of 400 recipients messaged; the progress of so many"))
        assert(c:retry(job.jobID))
        c:work(60000)
        for to, n in pairs(dms) do assert.equal(1, n, "recipient " .. to) end
        c:close()
        os.remove(path)
    end)

    it("backs off about attempt^4 seconds, +-10 %", function()
        for _ = 1, 200 do
            local b1, b3, b9 = outbox.backoff(1), outbox.backoff(3), outbox.backoff(9)
            assert.equal(1, b1)
            assert.truthy(b3 >= 73 and b3 <= 89, b3)
            assert.truthy(b9 >= 5905 and b9 <= 7217, b9)
        end
        assert.equal(1, outbox.backoff(-5))
    end)
end)

describe("docs/delivery.md #unit", function()
    it("names each network's idempotency key as core.provider_info does", function()
        local core = require("socialize.core")
        local doc = assert(H.read((os.getenv("SOCIALIZE_ROOT") or ".") .. "/docs/delivery.md"))
        local rows = {}
        for name, key in doc:gmatch("\n| `(%l+)` | ([^|]-) |") do rows[name] = key end
        local listed = 0
        for _, name in ipairs(core.provider_names()) do
            local i = core.provider_info(name).idempotency
            local row = rows[name]
            if row then
                listed = listed + 1
                if i.kind == "none" then
                    assert.equal("none", row, name)
                else
                    local kind = i.kind == "param" and "parameter" or i.kind
                    local want = kind .. " `" .. i.name .. "`"
                    assert.equal(want, row:sub(1, #want), name)
                end
            else
                assert.equal("none", i.kind, name .. " has a key and is not in docs/delivery.md")
            end
        end
        assert.equal(9, listed)
    end)
end)
