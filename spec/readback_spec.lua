-- Reading back an unconfirmed delivery (docs/delivery.md "Reading back"):
-- through a client against the sandbox with a real SQLite store. The X fake
-- keeps every tweet it created and serves GET /2/users/:id/tweets from them;
-- its fault switch cuts the reply short, after storing the tweet ("after")
-- or without storing it ("before"). The clock is virtual (config.now).
local H = require("spec.helper")
local K = require("spec.connect_kit")

-- a link (X makes it a t.co link) and an ampersand (X shows &amp;): the
-- read-back compares by the normalised text
local UA = { title = "Level 3 done & dusted", linkBack = "https://game.example/l3?a=1&b=2" }
local T0 = os.time()

describe("read-back of unconfirmed deliveries #fakes", function()
    local sb, v, conn, c
    H.use_sandbox(function(s) sb = s end)

    local function requests(method, pattern)
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "twitter" and r.method == method and (r.path or ""):find(pattern) then out[#out + 1] = r end
        end
        return out
    end
    local function creates() return requests("POST", "^/2/tweets$") end
    local function reads() return requests("GET", "^/2/users/%d+/tweets$") end

    local function client(outbox, providers)
        local cfg = { connections = { u1 = conn }, now = v.now, sleep = v.sleep, outbox = outbox }
        return K.client(sb, providers, nil, K.db("readback"), cfg)
    end
    before_each(function()
        v = H.virtual(T0)
        conn = H.sandbox_connection(sb)
        c = client()
    end)
    after_each(function() if c then c:close() end end)

    local function publish(provider)
        return assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = provider or "twitter" },
            { deliver = "queued" }))
    end
    local function delivery(res) return assert(c:job(res.jobID)).deliveries[1] end

    it("finds a post whose reply was lost: sent with its id, posted once", function()
        H.configure(sb, { x_drop = "after" })
        local res = publish()
        assert.same({ 1, 1 }, { assert(c:work(1000)).claimed, #creates() })
        local d = delivery(res)
        assert.same({ "unconfirmed", T0 + 30, T0 + 30 + 4 * 300, 1 }, { d.state, d.nextAt, d.waitUntil, d.attempts })
        assert.equal("active", assert(c:job(res.jobID)).status) -- the worker's still, not the host's
        assert.equal(0, assert(c:work(1000)).claimed) -- it settles first
        assert.equal(0, #reads())
        v.t = T0 + 30
        local sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.sent })
        local stored = creates()[1]
        assert.is_true(stored.tweet_stored)
        d = delivery(res)
        assert.same({ "sent", stored.tweet_id, 1 }, { d.state, d.postID, d.attempts })
        assert.equal("sent", assert(c:job(res.jobID)).status)
        assert.equal(1, #creates()) -- the network saw exactly one post
        local q = reads()
        assert.equal(1, #q)
        assert.truthy(q[1].query:find("max_results=20", 1, true), q[1].query)
        assert.truthy(q[1].query:find("tweet.fields=created_at", 1, true), q[1].query)
        assert.truthy(q[1].path:find("/2/users/2244994945/tweets", 1, true))
    end)

    it("reads back from the poll loop too (work{ async = true })", function()
        H.configure(sb, { x_drop = "after" })
        local res = publish()
        local function drain()
            local sum = assert(c:work(1000, { async = true }))
            for _ = 1, 200 do
                if c:work(0, { async = true }).inflight == 0 then break end
                c:poll(50)
            end
            return sum
        end
        assert.equal(1, drain().started)
        assert.equal("unconfirmed", delivery(res).state)
        v.t = T0 + 30
        assert.equal(1, drain().started)
        local d = delivery(res)
        assert.same({ "sent", creates()[1].tweet_id, 1 }, { d.state, d.postID, d.attempts })
        assert.same({ 1, 1 }, { #creates(), #reads() })
    end)

    it("resends once a post that never reached the network", function()
        H.configure(sb, { x_drop = "before" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        assert.is_false(creates()[1].tweet_stored)
        v.t = T0 + 30
        local sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.sent })
        local all = creates()
        assert.same({ 2, 1 }, { #all, #reads() })
        local d = delivery(res)
        assert.same({ "sent", all[2].tweet_id, 2 }, { d.state, d.postID, d.attempts })
        assert.equal(0, assert(c:work(1000)).claimed)
        assert.equal(2, #creates())
    end)

    it("a busy account whose latest posts are all newer than the job: left for the host, not resent", function()
        H.configure(sb, { x_drop = "after" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        H.configure(sb, { x_drop = false })
        -- 20 other posts of the account since: the lost one is further back than a read shows
        for i = 1, 20 do
            assert.equal(0, c:publishUserAction { UID = "u1", enabledProviders = "twitter",
                userAction = { title = "other post " .. i } }.errorCode)
        end
        local before = #creates()
        v.t = T0 + 30
        assert.equal(1, assert(c:work(1000)).claimed)
        local d = delivery(res)
        assert.equal("unconfirmed", d.state)
        assert.truthy(d.reason:find("latest posts are all newer than the job", 1, true), d.reason)
        assert.equal(before, #creates()) -- not resent
        assert.equal("unconfirmed", assert(c:job(res.jobID)).status) -- the host's to decide
    end)

    it("a post not among a full page of newer posts is left for the host, not resent", function()
        H.configure(sb, { x_drop = "before" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        for i = 1, 20 do -- a busy account: 20 posts since the job, the page read back is full
            assert(c:publishUserAction({ UID = "u1", userAction = { title = "Another post " .. i },
                enabledProviders = "twitter" }))
        end
        assert.equal(21, #creates())
        v.t = T0 + 30
        local sum = assert(c:work(1000))
        assert.same({ 1, 1 }, { sum.claimed, sum.unconfirmed })
        local d = delivery(res)
        assert.same({ "unconfirmed", 1 }, { d.state, d.attempts })
        assert.is_nil(d.nextAt)
        assert.truthy(d.reason:find("latest posts are all newer than the job", 1, true), d.reason)
        assert.same({ 21, 1 }, { #creates(), #reads() }) -- not resent
    end)

    it("a resend that is lost again is left for the host, not resent twice", function()
        H.configure(sb, { x_drop = "before" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        H.configure(sb, { x_drop = "before" })
        v.t = T0 + 30
        local sum = assert(c:work(1000))
        assert.equal(1, sum.unconfirmed)
        local d = delivery(res)
        assert.same({ "unconfirmed", 2 }, { d.state, d.attempts })
        assert.is_nil(d.nextAt)
        assert.truthy(d.reason:find("resent once", 1, true), d.reason)
        assert.equal("unconfirmed", assert(c:job(res.jobID)).status) -- now the host's
        v.t = T0 + 86400
        assert.equal(0, assert(c:work(1000)).claimed)
        assert.equal(2, #creates())
        assert.equal("unconfirmed", assert(c:job(res.jobID)).status)
    end)

    it("a job the store cannot read at the check: checked again later, never matched to an older post", function()
        -- the same text posted directly long before the job: only the job's time tells them apart
        assert.equal(0, c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "twitter" }).errorCode)
        local old = creates()[1].tweet_id
        v.t = T0 + 86400
        H.configure(sb, { x_drop = "before" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        v.t = T0 + 86400 + 30
        local idx = getmetatable(assert(c:store())).__index
        local job = idx.job
        idx.job = function() return nil, "server closed the connection unexpectedly", "store_gone" end
        local ok, sum = pcall(c.work, c, 1000)
        idx.job = job
        assert(ok, sum)
        assert.same({ 1, 0 }, { sum.claimed, sum.sent or 0 })
        local d = delivery(res)
        assert.equal("unconfirmed", d.state)
        assert.is_not.equal(old, d.postID)
        assert.truthy(d.nextAt and d.nextAt > v.t, tostring(d.nextAt))
        -- read back once the store answers: not posted (the old post is older than the job), resent once
        v.t = d.nextAt
        assert.equal(1, assert(c:work(1000)).sent)
        d = delivery(res)
        assert.same({ "sent", creates()[3].tweet_id }, { d.state, d.postID })
        assert.equal(3, #creates()) -- the direct one, the lost one, the resend
    end)

    it("connections the store cannot read at the check: checked again later, not left for the host", function()
        c:close()
        local cfg = { now = v.now, sleep = v.sleep }
        c = K.client(sb, nil, nil, K.db("readback"), cfg)
        local st = assert(c:store())
        local tw = conn.twitter
        local secrets = {}
        for k, x in pairs(tw) do if type(x) == "string" and k:find("[Tt]oken") then secrets[k] = x end end
        local fields = {}
        for k, x in pairs(tw) do if secrets[k] == nil then fields[k] = x end end
        assert(st:put_connection({ UID = "u1", provider = "twitter", account = tostring(tw.userId or "2244994945"),
            secrets = secrets, fields = fields, updatedAt = T0 }))
        H.configure(sb, { x_drop = "after" })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        v.t = T0 + 30
        local idx = getmetatable(st).__index
        local list = idx.list_connections
        idx.list_connections = function() return nil, "database is locked", "store_busy" end
        local ok, sum = pcall(c.work, c, 1000)
        idx.list_connections = list
        assert(ok, sum)
        assert.same({ 1, 1 }, { sum.claimed, sum.unconfirmed })
        local d = delivery(res)
        assert.same({ "unconfirmed", T0 + 330 }, { d.state, d.nextAt })
        v.t = T0 + 330
        assert.equal(1, assert(c:work(1000)).sent)
        assert.same({ "sent", creates()[1].tweet_id }, { delivery(res).state, delivery(res).postID })
        assert.equal(1, #creates())
    end)

    it("checks again later when the read-back fails, then finds the post", function()
        H.configure(sb, { x_drop = "after", x_timeline_5xx = 1 })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        v.t = T0 + 30
        local sum = assert(c:work(1000))
        assert.same({ 1, 1, 0 }, { sum.claimed, sum.unconfirmed, sum.sent })
        local d = delivery(res)
        assert.same({ "unconfirmed", T0 + 330, T0 + 30 + 1200, 1 }, { d.state, d.nextAt, d.waitUntil, d.attempts })
        assert.truthy(d.reason:find("read-back failed", 1, true), d.reason)
        v.t = T0 + 329
        assert.equal(0, assert(c:work(1000)).claimed)
        v.t = T0 + 330
        assert.equal(1, assert(c:work(1000)).sent)
        d = delivery(res)
        assert.same({ "sent", creates()[1].tweet_id, 1 }, { d.state, d.postID, d.attempts })
        assert.same({ 1, 2 }, { #creates(), #reads() })
    end)

    it("stops checking after readbackChecks failed read-backs: left for the host", function()
        c:close()
        c = client({ readbackChecks = 2, readbackDelay = 10, readbackRecheck = 100 })
        H.configure(sb, { x_drop = "after", x_timeline_5xx = 100 })
        local res = publish()
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        assert.same({ T0 + 10, T0 + 110 }, { delivery(res).nextAt, delivery(res).waitUntil })
        v.t = T0 + 10
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        assert.equal(T0 + 110, delivery(res).nextAt)
        v.t = T0 + 110
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        local d = delivery(res)
        assert.is_nil(d.nextAt)
        assert.truthy(d.reason:find("left for the host", 1, true), d.reason)
        v.t = T0 + 86400
        assert.equal(0, assert(c:work(1000)).claimed)
        assert.same({ 1, 2 }, { #creates(), #reads() })
        assert(c:resolve(res.jobID, "twitter", "sent"))
        assert.equal("sent", assert(c:job(res.jobID)).status)
    end)

    it("leaves an unconfirmed post on a network without read-back for the host", function()
        assert.is_false(require("socialize.core").provider_info("linkedin").readback.offered)
        local faults = H.start_faults()
        c:close()
        c = client(nil, function(p) p.linkedin.baseUrl = faults.http .. "/drop" end)
        local res = publish("linkedin")
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        local d = delivery(res)
        assert.same({ "unconfirmed", "linkedin" }, { d.state, d.provider })
        assert.is_nil(d.nextAt)
        v.t = T0 + 86400
        assert.equal(0, assert(c:work(1000)).claimed)
    end)
end)

describe("read-back on each network that offers it #fakes", function()
    local sb, v, conn, c
    H.use_sandbox(function(s) sb = s end)
    local NETS = { twitter = "^/2/tweets$", facebook = "^/v[%d.]+/%d+/feed$", bluesky = "createRecord$",
                   threads = "/threads_publish$" }
    local function client()
        local cfg = { connections = { u1 = conn }, now = v.now, sleep = v.sleep }
        return K.client(sb, function(p) p.threads = { baseUrl = sb.url("threads") } end, nil, K.db("readback"), cfg)
    end
    before_each(function()
        v = H.virtual(T0)
        conn = H.sandbox_connection(sb)
        conn.threads = { accessToken = "th-token", userId = "1789" }
        c = client()
    end)
    after_each(function() if c then c:close() end end)
    local function creates(net)
        local n = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.network == net and r.method == "POST" and (r.path or ""):find(NETS[net]) then n = n + 1 end
        end
        return n
    end
    -- a crashed worker's delivery: unconfirmed (the request may have gone out), read back after it settled
    local function crashed(net)
        local res = assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = net },
            { deliver = "queued" }))
        local t = v.t
        assert.equal(1, #assert(assert(c:store()):claim("crashed", t, 60, 10)))
        v.t = t + 60
        assert.equal(1, assert(c:work(1000)).unconfirmed)
        local d = assert(c:job(res.jobID)).deliveries[1]
        assert.same({ "unconfirmed", t + 90 }, { d.state, d.nextAt })
        v.t = t + 90
        return res
    end

    for _, net in ipairs({ "twitter", "facebook", "bluesky", "threads" }) do
        it(net .. ": a post that exists is found with its id, one that does not is sent once", function()
            assert.is_true(require("socialize.core").provider_info(net).readback.offered)
            local direct = assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = net }))
            local id = assert(direct.providerPostIDs[net])
            local res = crashed(net)
            assert.equal(1, assert(c:work(1000)).sent)
            local d = assert(c:job(res.jobID)).deliveries[1]
            -- attempts: the crashed worker's, the claim that found its lease run out (the check is none)
            assert.same({ "sent", id, 2 }, { d.state, d.postID, d.attempts })
            assert.equal(1, creates(net))
            -- another text: not among the recent posts, so posted (once)
            UA.title, UA.userMessage = "Level 4 done", "Level 4 done"
            res = crashed(net)
            UA.title, UA.userMessage = "Level 3 done & dusted", nil
            assert.equal(1, assert(c:work(1000)).sent)
            d = assert(c:job(res.jobID)).deliveries[1]
            assert.same({ "sent", 3 }, { d.state, d.attempts })
            assert.is_truthy(d.postID ~= id)
            assert.equal(2, creates(net))
        end)
    end
end)

describe("the read-back's text rule #unit", function()
    local outbox = require("socialize.outbox")
    it("removes links, decodes &lt; &gt; &amp;, folds whitespace", function()
        assert.equal("Level 3 done & dusted", outbox.normalise("Level 3 done &amp; dusted https://t.co/abc"))
        assert.equal("a <b> c", outbox.normalise("  a\n\n&lt;b&gt;\tc  HTTPS://x.example/y?z=1 "))
        assert.equal("", outbox.normalise("https://only.example/link"))
        assert.is_nil(outbox.normalise(nil))
        assert.is_nil(outbox.normalise({}))
        assert.equal("&lt;", outbox.normalise("&amp;lt;"))
    end)
end)
