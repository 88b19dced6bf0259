-- The game-loop API: calls with a callback return at once, client:poll()
-- drives them, each callback runs exactly once with (res, err).
local H = require("spec.helper")
local socialize = require("socialize")

local srv, sb

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local function drain(client, max_loops)
    local loops = 0
    while client:poll(20) > 0 do
        loops = loops + 1
        assert(loops < (max_loops or 1000), "poll loop did not finish")
    end
    return loops
end

describe("asynchronous calls #fakes", function()
    setup(function()
        srv = H.start_gigya()
        sb = H.start_sandbox()
    end)
    teardown(function()
        H.stop_all()
    end)
    before_each(function()
        H.reset(srv)
        H.reset(sb)
    end)

    it("return at once and deliver each result exactly once through poll()", function()
        local c = H.client(srv)
        local results, calls = {}, 0
        for i = 1, 20 do
            local ret = c:setStatus({ UID = "user_123", status = "s" .. i }, function(res, err)
                calls = calls + 1
                results[i] = (results[i] or 0) + 1
                assert.is_nil(err)
                assert.are.equal(0, res.errorCode)
            end)
            assert.is_true(ret)
        end
        assert.are.equal(0, calls) -- nothing runs before poll()
        assert.are.equal(0, #H.requests(srv)) -- nor is anything sent
        -- how many a poll(0) finishes depends on the machine's speed; what it
        -- returns does not: the calls not yet delivered
        local left = c:poll(0)
        assert.are.equal(20, calls + left)
        drain(c)
        assert.are.equal(20, calls)
        for i = 1, 20 do assert.are.equal(1, results[i], "callback " .. i) end
        assert.are.equal(20, #H.requests(srv))
        assert.are.equal(0, c:poll(0))
        assert.are.equal(-1, c:timeout())
    end)

    it("deliver validation errors through the callback too, without sending", function()
        local c = H.client(srv)
        local got
        c:publishUserAction({ UID = "user_123" }, function(res, err) got = { res, err } end)
        assert.is_nil(got)
        assert.are.equal(0, c:timeout()) -- ready now
        assert.are.equal(0, c:poll())
        assert.is_nil(got[1])
        assert.are.equal(400002, got[2].errorCode)
        assert.are.equal(0, #H.requests(srv))
    end)

    it("report an error raised inside a callback and stay usable", function()
        local reported = {}
        local c = H.client(srv, { onError = function(msg) reported[#reported + 1] = msg end })
        c:setStatus({ UID = "user_123", status = "a" }, function() error("boom in callback") end)
        local second
        c:setStatus({ UID = "user_123", status = "b" }, function(res) second = res end)
        drain(c)
        assert.are.equal(1, #reported)
        assert.matches("boom in callback", reported[1])
        assert.are.equal(0, second.errorCode)
        local third = assert(c:setStatus { UID = "user_123", status = "c" }) -- blocking call still works
        assert.are.equal(0, third.errorCode)
    end)

    it("retry a 403002 inside the asynchronous call", function()
        H.configure(srv, { skew = 900 })
        local c = H.client(srv)
        local got
        c:setStatus({ UID = "user_123", status = "late" }, function(res, err) got = { res, err } end)
        drain(c)
        assert.are.equal(0, got[1].errorCode)
        assert.are.equal(2, #H.requests(srv))
    end)

    it("hold no coroutine while a Gigya call waits for its first reply (issue 15: memory in flight)", function()
        H.configure(srv, { delay_ms = 200 })
        local c = H.client(srv)
        local got = {}
        for i = 1, 3 do
            c:setStatus({ UID = "user_123", status = "w" .. i }, function(res, err) got[i] = { res, err } end)
        end
        c:poll(0)
        local live = 0
        for op in pairs(c._async._live) do
            live = live + 1
            assert.is_nil(op.co)
            assert.is_table(op.plan)
        end
        assert.are.equal(3, live)
        drain(c)
        for i = 1, 3 do
            assert.is_nil(got[i][2])
            assert.are.equal(0, got[i][1].errorCode)
        end
        assert.are.equal(3, #H.requests(srv))
    end)

    it("keep fan-out parallel", function()
        -- the sandbox holds every reply until all four requests arrived: sent one
        -- after another, the first would wait for the others that never come
        H.configure(sb, { barrier = 4 })
        local c = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
            connections = { u1 = H.sandbox_connection(sb) } }
        local got
        c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "twitter,facebook,linkedin,telegram" },
            function(res, err) got = { res, err } end)
        drain(c)
        assert.is_nil(got[2])
        for _, p in ipairs({ "twitter", "facebook", "linkedin", "telegram" }) do
            assert.truthy(got[1].providerPostIDs[p], p)
        end
        local reqs = H.requests(sb)
        assert.are.equal(4, #reqs)
        for _, r in ipairs(reqs) do assert.are.equal("met", r.barrier, r.network) end
    end)

    it("run many fan-outs and Gigya calls side by side, each callback once", function()
        local d = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
            connections = { u1 = H.sandbox_connection(sb) } }
        local g = H.client(srv)
        local count = {}
        for i = 1, 10 do
            d:publishUserAction({ UID = "u1", userAction = { title = "t" .. i, linkBack = "https://game.example/" .. i } },
                function(res) count["d" .. i] = (count["d" .. i] or 0) + 1; assert.truthy(res.providerPostIDs.bluesky) end)
            g:publishUserAction({ UID = "user_123", userAction = { title = "g" .. i } },
                function(res) count["g" .. i] = (count["g" .. i] or 0) + 1; assert.are.equal(0, res.errorCode) end)
        end
        local loops = 0
        while d:poll(10) + g:poll(10) > 0 do
            loops = loops + 1
            assert(loops < 2000)
        end
        for i = 1, 10 do
            assert.are.equal(1, count["d" .. i])
            assert.are.equal(1, count["g" .. i])
        end
        -- the Bluesky session and Mastodon limits were fetched for the first call
        -- and reused or fetched concurrently, never more than once per call
        local function fetches()
            local sessions, limits = 0, 0
            for _, r in ipairs(H.requests(sb)) do
                if r.path:find("createSession", 1, true) then sessions = sessions + 1 end
                if r.path:find("/api/v2/instance", 1, true) then limits = limits + 1 end
            end
            return sessions, limits
        end
        local sessions, limits = fetches()
        assert.is_true(sessions >= 1 and sessions <= 10, sessions .. " sessions")
        assert.is_true(limits >= 1 and limits <= 10, limits .. " limit reads")
        -- ten more calls side by side: all reuse the session and limits now cached
        local more = 0
        for i = 1, 10 do
            d:publishUserAction({ UID = "u1", userAction = { title = "m" .. i, linkBack = "https://game.example/m" .. i } },
                function(res) more = more + 1; assert.truthy(res.providerPostIDs.bluesky) end)
        end
        loops = 0
        while d:poll(10) > 0 do
            loops = loops + 1
            assert(loops < 2000)
        end
        assert.are.equal(10, more)
        local sessions2, limits2 = fetches()
        assert.are.equal(sessions, sessions2, "the Bluesky session was not reused")
        assert.are.equal(limits, limits2, "the Mastodon limits were not reused")
    end)

    it("expose the next timeout and the sockets to watch", function()
        H.configure(srv, { delay_ms = 300 })
        local c = H.client(srv)
        assert.are.equal(-1, c:timeout())
        assert.are.same({}, c:fds())
        local got
        c:setStatus({ UID = "user_123", status = "x" }, function(res) got = res end)
        c:poll(0) -- connects
        local fds = c:fds()
        assert.is_true(#fds >= 1)
        assert.is_number(fds[1].fd)
        assert.is_true(fds[1].read or fds[1].write)
        local t = c:timeout()
        assert.is_true(t >= 0 and t <= 1000)
        drain(c)
        assert.are.equal(0, got.errorCode)
        assert.are.same({}, c:fds())
    end)

    it("mix with blocking calls on the same client", function()
        H.configure(srv, { delay_ms = 100 })
        local c = H.client(srv)
        local got
        c:setStatus({ UID = "user_123", status = "async" }, function(res) got = res end)
        c:poll(0)
        local sync = assert(c:setStatus { UID = "user_123", status = "sync" })
        assert.are.equal(0, sync.errorCode)
        drain(c)
        assert.are.equal(0, got.errorCode)
    end)

    it("defer callbacks with a user transport function too", function()
        local spy = H.spy()
        local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = spy.transport }
        local got
        c:setStatus({ UID = "u", status = "s" }, function(res) got = res end)
        assert.is_nil(got)
        assert.are.equal(0, c:poll())
        assert.are.equal(0, got.errorCode)
        assert.are.equal(1, #spy.calls)
    end)

    it("report transport failures through the callback", function()
        local v = H.virtual() -- the retries wait on it
        local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:1",
                                  now = v.now, sleep = v.sleep }
        local got
        c:setStatus({ UID = "u", status = "s" }, function(res, err) got = { res, err } end)
        drain(c)
        assert.is_nil(got[1])
        assert.are.equal(500026, got[2].errorCode)
    end)

    it("raise on a callback that is not a function", function()
        local c = H.client(srv)
        assert.has_error(function() c:setStatus({ UID = "u", status = "s" }, "cb") end)
        assert.has_error(function() c:call("setStatus", {}, 42) end)
        assert.has_error(function() c:poll(-1) end)
    end)
end)
