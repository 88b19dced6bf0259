-- client:work(budget_ms, { async = true }) in a game loop (docs/delivery.md,
-- "In a game loop"): work claims and starts, client:poll completes. The
-- sandbox holds its reply (delay_ms) far past the budget: a work that waited
-- for the network would come back with the delivery `sent`; the non-blocking
-- one comes back with it still `sending`, and poll() completes it. A real
-- SQLite file, the real clock, the curl transport.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local function statuses(sb, any)
    local n = 0
    for _, r in ipairs(H.requests(sb)) do
        if r.network == "mastodon" and (any or r.path == "/api/v1/statuses") then n = n + 1 end
    end
    return n
end

local function state_of(c, id, provider)
    for _, d in ipairs(assert(c:job(id)).deliveries) do
        if d.provider == provider then return d.state, d end
    end
end

describe("client:work in a game loop #fakes", function()
    local sb, c
    H.use_sandbox(function(s) sb = s end)
    before_each(function()
        c = K.client(sb, nil, nil, K.db("loop"), { connections = { u1 = H.sandbox_connection(sb) } })
    end)
    after_each(function() c:close() end)

    local function enqueue(providers)
        return assert(c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = providers },
            { deliver = "queued" }))
    end

    -- polls until nothing is in flight (bounded: at most 200 polls of 50 ms)
    local function drain()
        for _ = 1, 200 do
            c:poll(50)
            if c:work(0, { async = true }).inflight == 0 then return true end
        end
        return false
    end

    it("returns before the network replies; poll() completes the delivery", function()
        H.configure(sb, { delay_ms = { mastodon = 1500 } }) -- each reply comes 1.5 s after its request
        local job = enqueue("mastodon")
        local sum = assert(c:work(20, { async = true }))
        assert.same({ 1, 1, 0, 1 }, { sum.claimed, sum.started, sum.sent, sum.inflight })
        -- the first request goes out as poll() drives the transfer; until the replies, the delivery stays sending
        for _ = 1, 100 do
            if statuses(sb, true) > 0 then break end
            c:poll(10)
        end
        assert.equal(1, statuses(sb, true))
        assert.equal("sending", (state_of(c, job.jobID, "mastodon")))
        -- a frame's work meanwhile claims nothing more (the delivery is leased) and starts nothing
        assert.same({ 0, 0, 1 }, { c:work(20, { async = true }).claimed, 0, c:work(0, { async = true }).inflight })
        assert.is_true(drain())
        local st, d = state_of(c, job.jobID, "mastodon")
        assert.same({ "sent", 1 }, { st, d.attempts })
        assert.truthy(d.postID)
        assert.equal("sent", assert(c:job(job.jobID)).status)
        assert.equal(1, statuses(sb)) -- sent once
    end)

    it("keeps at most `batch` deliveries in flight; the next work starts the rest", function()
        c:close()
        c = K.client(sb, nil, nil, K.db("loop"), { connections = { u1 = H.sandbox_connection(sb) },
                                                   outbox = { batch = 2 } })
        H.configure(sb, { delay_ms = { mastodon = 300 } })
        local ids = {}
        for i = 1, 3 do ids[i] = enqueue("mastodon").jobID end
        local sum = assert(c:work(1000, { async = true, limit = 1 }))
        assert.same({ 1, 1, 1 }, { sum.claimed, sum.started, sum.inflight })
        sum = assert(c:work(1000, { async = true }))
        assert.same({ 1, 1, 2 }, { sum.claimed, sum.started, sum.inflight })
        assert.equal(0, assert(c:work(1000, { async = true })).claimed) -- two in flight: the cap
        assert.is_true(drain())
        sum = assert(c:work(1000, { async = true }))
        assert.same({ 1, 1 }, { sum.claimed, sum.started })
        assert.is_true(drain())
        for i = 1, 3 do assert.equal("sent", assert(c:job(ids[i])).status) end
        assert.equal(3, statuses(sb))
    end)

    it("with `concurrency`, keeps up to n in flight past `batch`; on_done reports each outcome", function()
        H.configure(sb, { delay_ms = { mastodon = 300 } })
        local ids, want = {}, {}
        for i = 1, 8 do
            ids[i] = enqueue("mastodon").jobID
            want[ids[i]] = true
        end
        local done = {}
        local opts = { async = true, concurrency = 8, on_done = function(state, jobID, provider)
            done[#done + 1] = { state, jobID, provider }
        end }
        local sum = assert(c:work(5000, opts)) -- batch is 5; concurrency 8 starts all eight
        assert.same({ 8, 8, 8 }, { sum.claimed, sum.started, sum.inflight })
        assert.equal(0, #done) -- nothing finished before poll
        assert.is_true(drain())
        assert.equal(8, #done)
        for _, x in ipairs(done) do
            assert.same({ "sent", "mastodon" }, { x[1], x[3] })
            assert.is_true(want[x[2]], x[2])
            want[x[2]] = nil -- each job once
        end
        -- the sandbox handled more than one at a time (its count of requests being handled)
        local most = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.path == "/api/v1/statuses" then most = math.max(most, r.inflight or 0) end
        end
        assert.is_true(most > 1 and most <= 8, "in flight at once: " .. most)
        assert.equal(8, statuses(sb))
        for i = 1, 8 do assert.equal("sent", assert(c:job(ids[i])).status) end
        -- a task ended by close() is reported with its recorded state
        H.configure(sb, { delay_ms = { mastodon = 3000 } })
        enqueue("mastodon")
        done = {}
        assert.equal(1, assert(c:work(20, opts)).started)
        c:close()
        assert.equal(1, #done)
        assert.equal("unconfirmed", done[1][1])
        assert.has_error(function() c:work(10, { concurrency = 0 }) end,
            "bad argument #2 to 'work' (opts.concurrency must be a number from 1 to 10000)")
        assert.has_error(function() c:work(10, { on_done = true }) end,
            "bad argument #2 to 'work' (opts.on_done must be a function)")
    end)

    it("an on_done that raises, or closes the client, costs no outcome: reported to onError", function()
        c:close()
        local reported = {}
        c = K.client(sb, nil, nil, K.db("loop"), { connections = { u1 = H.sandbox_connection(sb) },
                                                   onError = function(m) reported[#reported + 1] = m end })
        H.configure(sb, { delay_ms = { telegram = 3000 } })
        local fast, slow = enqueue("mastodon").jobID, enqueue("telegram").jobID
        local done = {}
        local opts = { async = true, concurrency = 4, on_done = function(state, jobID)
            done[#done + 1] = { state, jobID }
            if #done == 1 then
                c:close() -- from inside poll's callbacks: the slow one is ended and recorded
                error("host bug in on_done")
            end
        end }
        assert.equal(2, assert(c:work(1000, opts)).started)
        for _ = 1, 100 do
            if #done > 0 then break end
            assert.is_number(c:poll(50)) -- never raises
        end
        assert.same({ { "sent", fast }, { "unconfirmed", slow } }, done)
        assert.equal(1, #reported)
        assert.truthy(reported[1]:find("host bug in on_done", 1, true), reported[1])
        assert.equal("sent", assert(c:job(fast)).status)
        assert.equal("unconfirmed", (state_of(c, slow, "telegram")))
        assert.equal(0, c:work(0, { async = true }).inflight)
    end)

    it("async outcomes the store refuses are kept, reported \"error\", and recorded by the next work", function()
        local ids = { enqueue("mastodon").jobID, enqueue("mastodon").jobID }
        local st = assert(c:store())
        local idx = getmetatable(st).__index
        local record, many = idx.record, idx.record_many
        local function full() return nil, "database or disk is full", "store_full" end -- the disk fills up
        idx.record, idx.record_many = full, full
        local done = {}
        local opts = { async = true, concurrency = 4, on_done = function(state) done[#done + 1] = state end }
        local ok, err = pcall(function()
            local sum = assert(c:work(1000, opts))
            assert.same({ 2, 2 }, { sum.claimed, sum.started })
            for _ = 1, 200 do if c:poll(50) == 0 then break end end
            assert.same({ "error", "error" }, done)
            -- sent, not recorded: still leased, and nothing more is claimed while the store refuses
            for _, id in ipairs(ids) do assert.equal("sending", (state_of(c, id, "mastodon"))) end
            local r, e = c:work(1000, opts)
            assert.is_nil(r)
            assert.same({ 2, "store_full" }, { e.unrecorded, e.error })
        end)
        idx.record, idx.record_many = record, many
        assert(ok, err)
        local sum = assert(c:work(0, opts)) -- the store takes them: recorded and counted here
        assert.same({ 2, 2, 0 }, { sum.sent, sum.recorded, sum.claimed })
        for _, id in ipairs(ids) do assert.equal("sent", assert(c:job(id)).status) end
        assert.equal(2, statuses(sb)) -- each sent once
    end)

    it("more than 100 kept outcomes are recorded 100 to a transaction (record_many's most)", function()
        local calls = {}
        for i = 1, 120 do
            calls[i] = { method = "publishUserAction", params = { UID = "u1", enabledProviders = "telegram",
                userAction = { title = "Batch " .. i } } }
        end
        local ids = {}
        for i, r in ipairs(assert(c:enqueueMany(calls)).results) do ids[i] = r.jobID end
        local idx = getmetatable(assert(c:store())).__index
        local record, many = idx.record, idx.record_many
        local function full() return nil, "database or disk is full", "store_full" end
        idx.record, idx.record_many = full, full
        local done = 0
        local opts = { async = true, concurrency = 200, on_done = function() done = done + 1 end }
        local ok, err = pcall(function()
            assert.equal(120, assert(c:work(60000, opts)).started)
            for _ = 1, 400 do if c:poll(50) == 0 then break end end
        end)
        idx.record, idx.record_many = record, many
        assert(ok, err)
        assert.equal(120, done)
        local sizes, singles = {}, 0
        idx.record_many = function(st, w, now, items)
            sizes[#sizes + 1] = #items
            return many(st, w, now, items)
        end
        idx.record = function(...) singles = singles + 1; return record(...) end
        ok, err = pcall(function()
            local sum = assert(c:work(0, opts))
            assert.same({ 120, 120 }, { sum.sent, sum.recorded })
        end)
        idx.record, idx.record_many = record, many
        assert(ok, err)
        assert.same({ { 100, 20 }, 0 }, { sizes, singles })
        for _, id in ipairs(ids) do assert.equal("sent", assert(c:job(id)).status) end
        local sent = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "telegram" and (r.path or ""):find("sendMessage", 1, true) then sent = sent + 1 end
        end
        assert.equal(120, sent) -- each once
    end)

    it("kept outcomes are recorded by the next work even while `idle` holds claims back", function()
        local ids = { enqueue("mastodon").jobID, enqueue("mastodon").jobID }
        local idx = getmetatable(assert(c:store())).__index
        local record, many = idx.record, idx.record_many
        local function full() return nil, "database or disk is full", "store_full" end
        local opts = { async = true, concurrency = 4, idle = 600000 }
        local sum = assert(c:work(1000, opts)) -- claims both, then finds nothing: idle from here
        assert.same({ 2, 2 }, { sum.claimed, sum.started })
        idx.record, idx.record_many = full, full
        local ok, err = pcall(function()
            for _ = 1, 200 do if c:poll(50) == 0 then break end end
        end)
        idx.record, idx.record_many = record, many
        assert(ok, err)
        for _, id in ipairs(ids) do assert.equal("sending", (state_of(c, id, "mastodon"))) end
        sum = assert(c:work(0, opts))
        assert.same({ 2, 2, 0, true }, { sum.sent, sum.recorded, sum.claimed, sum.idle }) -- recorded, nothing claimed
        for _, id in ipairs(ids) do assert.equal("sent", assert(c:job(id)).status) end
    end)

    it("records a delivery ended by client:close() as unconfirmed, never lost nor resent blindly", function()
        H.configure(sb, { delay_ms = { mastodon = 3000 } })
        local job = enqueue("mastodon")
        assert.equal(1, assert(c:work(20, { async = true })).started)
        c:close() -- answers the in-flight task with 500026 closed: the request may have gone out
        local st, d = state_of(c, job.jobID, "mastodon")
        assert.same({ "unconfirmed", "transient", 1 }, { st, d.category, d.attempts })
        assert.truthy(d.nextAt > 0) -- the network has an idempotency key: resent with it later
        assert.truthy(d.reason:find("closed", 1, true), d.reason)
        assert.equal(0, c:work(0, { async = true }).inflight)
    end)

    it("with `idle`, claims nothing for idle ms after finding nothing, unless this client enqueued", function()
        local db = K.db("idle")
        c:close()
        c = K.client(sb, nil, nil, db, { connections = { u1 = H.sandbox_connection(sb) } })
        local other = K.client(sb, nil, nil, db, { connections = { u1 = H.sandbox_connection(sb) } })
        local opts = { async = true, idle = 600000 }
        local sum = assert(c:work(100, opts))
        assert.same({ 0, nil }, { sum.claimed, sum.idle }) -- claimed, found nothing
        assert.is_true(assert(c:work(100, opts)).idle)   -- no claim now
        -- another process's job waits for the idle time to pass...
        local job = assert(other:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "telegram" },
            { deliver = "queued" }))
        sum = assert(c:work(100, opts))
        assert.same({ 0, true }, { sum.claimed, sum.idle })
        assert.equal(1, assert(c:work(100, { async = true })).claimed) -- a call without idle claims
        assert.is_true(drain())
        assert.equal("sent", assert(c:job(job.jobID)).status)
        -- ...this client's own enqueue ends it at once
        assert.equal(0, assert(c:work(100, opts)).claimed)
        job = enqueue("telegram")
        sum = assert(c:work(100, opts))
        assert.same({ 1, 1 }, { sum.claimed, sum.started })
        assert.is_true(drain())
        assert.equal("sent", assert(c:job(job.jobID)).status)
        other:close()
        assert.has_error(function() c:work(10, { idle = -1 }) end,
            "bad argument #2 to 'work' (opts.idle must be a number of ms >= 0)")
    end)

    it("three deliveries of one stored connection answered 401 at once: one refresh, the others wait for "
        .. "its lease in the poll loop (not blocking the transfers), all sent", function()
        -- the first task's refresh goes out under the connection's lease and waits for poll();
        -- the others' 401 came with it: a lease wait that blocked the thread (the store's own
        -- sleep) stalled that refresh and every other transfer until the lease wait ran out
        -- (10 s): lock_timeout for the waiters, the transfers timed out, deliveries unconfirmed
        c:close()
        c = K.client(sb, function(p)
            p.twitter.clientId, p.twitter.clientSecret = "tw-client-id", "tw-client-secret"
        end, nil, K.db("loop-401"))
        assert(K.connect(c, "twitter", "https://app.example/callback/x", "r1"))
        local ids = {}
        for i = 1, 3 do
            ids[i] = assert(c:publishUserAction({ UID = "r1", userAction = { title = "Refused " .. i },
                enabledProviders = "twitter" }, { deliver = "queued" })).jobID
        end
        -- every reply (the 401s, the refresh's) comes 300 ms after its request: the three 401s
        -- arrive together, while the first one's refresh is in flight
        H.configure(sb, { oauth_revoke_early = { twitter = true }, delay_ms = { twitter = 300 } })
        local done = {}
        local opts = { async = true, concurrency = 8, on_done = function(state) done[#done + 1] = state end }
        assert.equal(3, assert(c:work(1000, opts)).started)
        -- (a waiter's lease wait wakes poll() every few ms: more polls than drain's)
        local drained = false
        for _ = 1, 5000 do
            c:poll(50)
            if c:work(0, { async = true }).inflight == 0 then drained = true break end
        end
        assert.is_true(drained)
        assert.same({ "sent", "sent", "sent" }, done)
        for i = 1, 3 do
            local st, d = state_of(c, ids[i], "twitter")
            assert.same({ "sent", 1 }, { st, d.attempts })
        end
        assert.equal(1, H.control(sb, "/__oauth").twitter.refreshes) -- the waiters re-read the new token
        assert.equal(6, #K.requests(sb, "/2/tweets")) -- three refused, three sent with the new token
    end)

    it("does nothing when stop() answers true, and checks its options", function()
        enqueue("mastodon")
        local sum = assert(c:work(1000, { async = true, stop = function() return true end }))
        assert.same({ 0, 0 }, { sum.claimed, sum.started })
        assert.has_error(function() c:work(10, { stop = 1 }) end,
            "bad argument #2 to 'work' (opts.stop must be a function)")
    end)
end)

describe("socialize.resty.outbox_worker's arguments #unit", function()
    local resty = require("socialize.resty")
    it("refuses bad options, and runs only inside nginx", function()
        local saved = rawget(_G, "ngx")
        _G.ngx = nil
        assert.same({ nil, "opts.interval must be a number of seconds from 0.001 to 86400" },
            { resty.outbox_worker({}, { interval = 0 }) })
        assert.same({ nil, "opts.interval must be a number of seconds from 0.001 to 86400" },
            { resty.outbox_worker({}, { interval = 0 / 0 }) })
        assert.same({ nil, "opts.budget must be a number of ms from 0 to 3600000" },
            { resty.outbox_worker({}, { budget = -1 }) })
        assert.same({ nil, "opts must be a table" }, { resty.outbox_worker({}, 5) })
        assert.same({ nil, "not inside nginx (no ngx.timer)" }, { resty.outbox_worker({}, {}) })
        _G.ngx = saved
    end)
end)

describe("client:work{ async = true }'s store calls #unit", function()
    local socialize = require("socialize")
    local CANNED = '{"id":"110000000000000001","url":"https://masto.example/@u/110000000000000001"}'

    -- the store's methods wrapped to count their calls (the method table all
    -- stores of the process share, restored after)
    local function counting(st)
        local mt = debug.getmetatable(st)
        local index = type(mt.__index) == "table" and mt.__index or mt
        local calls, saved = {}, {}
        for _, name in ipairs({ "claim", "record", "record_many" }) do
            local f = index[name]
            saved[name] = f
            index[name] = function(self, ...)
                calls[name] = calls[name] or {}
                table.insert(calls[name], select(select("#", ...), ...)) -- the last argument
                return f(self, ...)
            end
        end
        return calls, function() for k, f in pairs(saved) do index[k] = f end end
    end

    it("claims its free slots at once (past `batch`) and records what one poll finished in one transaction",
        function()
        local sent = 0
        local c = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 5, retry = false,
            providers = { mastodon = {} }, store = { url = K.db("loop-unit"), keys = { K.KEY } },
            connections = { u1 = { mastodon = { accessToken = "t", instance = "https://masto.example" } } },
            transport = function(req)
                if req.url:find("/api/v1/statuses", 1, true) then sent = sent + 1 end
                return { status = 200, headers = {}, body = CANNED }
            end }
        local ids = {}
        for i = 1, 12 do
            ids[i] = assert(c:publishUserAction({ UID = "u1", userAction = { title = "status " .. i } },
                { deliver = "queued" })).jobID
        end
        local calls, restore = counting(assert(c:store()))
        local done = {}
        local ok, err = pcall(function()
            local opts = { async = true, concurrency = 8, on_done = function(state, jobID)
                done[#done + 1] = state .. " " .. jobID
            end }
            local sum = assert(c:work(5000, opts)) -- batch is 5: one claim of 8 all the same
            assert.same({ 8, 8, 8 }, { sum.claimed, sum.started, sum.inflight })
            assert.same({ 8 }, calls.claim) -- the limit asked: 8 at once
            assert.equal(0, #done) -- (the transport answered at once: the tasks finished, not yet recorded)
            assert.equal(0, c:poll(0))
            assert.equal(8, #done)
            assert.equal(1, #calls.record_many) -- the eight outcomes in one transaction
            assert.equal(8, #calls.record_many[1])
            assert.is_nil(calls.record)
            local want = {}
            for i = 1, 12 do want["sent " .. ids[i]] = true end
            for i = 1, 8 do
                assert.is_true(want[done[i]], done[i])
                want[done[i]] = nil -- each once
            end
            -- the next call claims the 4 left (8 slots free), one more transaction records them
            assert.same({ 4, 4 }, { assert(c:work(5000, opts)).claimed, (c:poll(0)) + 4 })
            assert.same({ 8, 8, 4 }, calls.claim) -- 4 found, then 4 asked for the slots left: none due
            assert.same({ 8, 4 }, { #calls.record_many[1], #calls.record_many[2] })
        end)
        restore()
        assert(ok, err)
        for i = 1, 12 do assert.equal("sent", assert(c:job(ids[i])).status) end
        assert.equal(12, sent)
        assert.equal(12, #done)
        c:close()
    end)
end)
