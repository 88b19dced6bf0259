-- Issue 9 items 5, 8 and 9: no hang and no lost callback whatever the
-- numbers, the clock or the host do; close() answers every call exactly
-- once; fds() reports every socket (numbers >= 1024 too); every call has a
-- deadline that covers its retries (tested on a virtual clock: no real wait).
local H = require("spec.helper")
local socialize = require("socialize")
local policy = require("socialize.policy")
local core = require("socialize.core")

local srv
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local TG_APP = { telegram = { botToken = "123456:virtual-bot-token", baseUrl = "http://127.0.0.1:9" } }

local virtual = H.virtual -- now() reads it, sleep() advances it and records the wait

-- A transport that answers every request with reply(req) and makes each
-- request take `cost` virtual seconds.
local function fake(v, reply, cost)
    local f = { reqs = {} }
    f.transport = function(req)
        f.reqs[#f.reqs + 1] = req
        v.t = v.t + (cost or 0)
        return reply(req)
    end
    return f
end

local function telegram429(after)
    return function()
        return { status = 429, headers = {}, body = core.json_encode {
            ok = false, error_code = 429, description = "Too Many Requests: retry after " .. after,
            parameters = { retry_after = after } } }
    end
end

local function gigya(errorCode)
    return function()
        return { status = 200, headers = {}, body = '{"errorCode":' .. errorCode .. ',"statusCode":200}' }
    end
end

local function tg_client(v, f, extra)
    local cfg = { backend = "direct", providers = TG_APP, transport = f.transport, now = v.now, sleep = v.sleep,
                  clock = function() return 1700000000 + v.t end,
                  connections = { u1 = { telegram = { chatId = "-100777" } } } }
    for k, x in pairs(extra or {}) do cfg[k] = x end
    return socialize.new(cfg)
end

local function drain(c, v)
    local loops = 0
    while c:poll(20) > 0 do
        loops = loops + 1
        assert(loops < 1000, "poll loop did not finish")
        if v then v.t = v.t + 0.05 end
    end
end

describe("hard async and reliability cases (issue 9: 5, 8, 9) #unit", function()

    describe("numeric options: NaN, infinities and absurd values are refused, naming the option", function()
        local NAN, INF = 0 / 0, math.huge
        local rows = {}
        local options = {
            { "timeout", function(x) return { timeout = x } end },
            { "connectTimeout", function(x) return { connectTimeout = x } end },
            { "maxReplyBytes", function(x) return { maxReplyBytes = x } end },
            { "deadline", function(x) return { deadline = x } end },
            { "retry.retries", function(x) return { retry = { retries = x } } end },
            { "retry.attempts", function(x) return { retry = { attempts = x } } end },
            { "retry.baseDelay", function(x) return { retry = { baseDelay = x } } end },
            { "retry.maxDelay", function(x) return { retry = { maxDelay = x } } end },
            { "retry.maxRetryAfter", function(x) return { retry = { maxRetryAfter = x } } end },
        }
        for _, o in ipairs(options) do
            for _, x in ipairs({ NAN, INF, -INF, 1e300, -1 }) do
                rows[#rows + 1] = { o[1], x, o[2](x) }
            end
        end
        -- numbers inside a provider's app config
        rows[#rows + 1] = { "providers.telegram.x", NAN,
            { providers = { telegram = { botToken = "1:t", x = NAN } } } }
        rows[#rows + 1] = { "providers.telegram.x", INF,
            { providers = { telegram = { botToken = "1:t", x = INF } } } }
        for _, row in ipairs(rows) do
            it(row[1] .. " = " .. tostring(row[2]), function()
                local ok, err = pcall(socialize.new, row[3])
                assert.is_false(ok)
                assert.matches(row[1]:gsub("%.", "%%."), tostring(err))
            end)
        end

        it("accepts the documented ranges' ends", function()
            assert(socialize.new { timeout = 86400, connectTimeout = 0.001, deadline = 86400, maxReplyBytes = 1073741824,
                                   retry = { retries = 100, baseDelay = 0, maxDelay = 3600, maxRetryAfter = 86400 } })
        end)

        it("core.sleep returns at once for NaN and -inf (it used to spin in nanosleep)", function()
            core.sleep(0 / 0)
            core.sleep(-math.huge)
            core.sleep(-1)
        end)
    end)

    describe("poll() arguments", function()
        for _, bad in ipairs({ -1, 0 / 0, -math.huge, "x", true }) do
            it("poll(" .. tostring(bad) .. ") raises a clear error", function()
                local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:1" }
                local ok, err = pcall(c.poll, c, bad)
                assert.is_false(ok)
                assert.matches("timeout_ms must be a number >= 0", tostring(err))
            end)
        end
    end)

    describe("config.clock answering garbage: a clear error naming clock, nothing sent", function()
        local values = {
            { "NaN", function() return 0 / 0 end },
            { "inf", function() return math.huge end },
            { "-inf", function() return -math.huge end },
            { "negative", function() return -5 end },
            { "huge", function() return 1e300 end },
            { "a string", function() return "1700000000" end },
            { "nothing", function() end },
            { "an error", function() error("clock broke") end },
        }
        for _, row in ipairs(values) do
            it(row[1] .. " (blocking and asynchronous)", function()
                local spy = H.spy()
                local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = spy.transport, clock = row[2] }
                local res, err = c:setStatus { UID = "u", status = "s" }
                assert.is_nil(res)
                assert.are.equal(400006, err.errorCode)
                assert.matches("config.clock", err.errorDetails, 1, true)
                local n, aerr = 0, nil
                c:setStatus({ UID = "u", status = "s" }, function(_, e) n = n + 1 aerr = e end)
                drain(c)
                assert.are.equal(1, n)
                assert.are.equal(400006, aerr.errorCode)
                assert.are.equal(0, #spy.calls)
            end)
        end

        it("a clock that goes bad between reads never gives a garbage timestamp", function()
            local calls = 0
            local spy = H.spy()
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = spy.transport, clock = function()
                calls = calls + 1
                if calls % 2 == 0 then return 0 / 0 end -- every second reading is garbage
                return 1700000000
            end }
            for i = 1, 2 do
                local res, err = c:setStatus { UID = "u", status = "s" .. i }
                if res then
                    local ts = spy.calls[#spy.calls].body:match("timestamp=(%-?%d+)")
                    assert.is_true(tonumber(ts) > 0, ts)
                else
                    assert.are.equal(400006, err.errorCode)
                end
            end
            for _, req in ipairs(spy.calls) do
                assert.is_true(tonumber(req.body:match("timestamp=(%-?%d+)")) > 0)
            end
        end)
    end)

    describe("close()", function()
        it("answers a call waiting in a retry sleep", function()
            local sends = 0
            local c = socialize.new { apiKey = "k", secret = H.SECRET, deadline = 600,
                transport = function() sends = sends + 1 return nil, "refused", "connect" end,
                retry = { retries = 3, baseDelay = 60, maxDelay = 60 } }
            local n, got = 0, nil
            c:setStatus({ UID = "u", status = "s" }, function(_, err) n = n + 1 got = err end)
            assert.are.equal(1, c:poll(0)) -- waiting to retry
            assert.are.equal(1, sends)
            c:close()
            assert.are.equal(1, n)
            assert.are.equal(500026, got.errorCode)
            assert.are.equal("closed", got.transportKind)
            assert.are.equal(0, c:poll(0))
            assert.are.equal(1, sends)
        end)
    end)

    describe("a config.connections function that yields in asynchronous mode", function()
        it("fails that call through its callback, exactly once; the others go on", function()
            local spy = H.spy(function()
                return { status = 200, headers = {}, body = '{"ok":true,"result":{"message_id":5}}' }
            end)
            local c = socialize.new { backend = "direct", providers = TG_APP, transport = spy.transport,
                connections = function(uid)
                    if uid == "yields" then coroutine.yield("host wants to wait") end
                    return { telegram = { chatId = "-100777" } }
                end }
            local bad, good = {}, {}
            c:publishUserAction({ UID = "yields", userAction = UA }, function(res, err) bad[#bad + 1] = { res, err } end)
            c:publishUserAction({ UID = "fine", userAction = UA }, function(res, err) good[#good + 1] = { res, err } end)
            drain(c)
            assert.are.equal(1, #bad)
            assert.is_nil(bad[1][1])
            assert.matches("config.connections", bad[1][2].errorDetails, 1, true)
            assert.matches("yielded", bad[1][2].errorDetails, 1, true)
            assert.are.equal(1, #good)
            assert.truthy(good[1][1])
        end)
    end)

    describe("deadlines (virtual clock: nothing really waits)", function()
        it("a Telegram retry_after of 7 with a 5 s deadline is reported, not waited for", function()
            local v = virtual()
            local f = fake(v, telegram429(7), 0.1)
            local c = tg_client(v, f, { deadline = 5 })
            local res, err = c:publishUserAction { UID = "u1", userAction = UA }
            assert.is_nil(res)
            assert.are.equal(400125, err.errorCode)
            local e = err.providerErrorCodes[1]
            assert.are.equal(7, e.retryAfter)
            assert.matches("deadline", e.errorDetails)
            assert.are.equal(1, #f.reqs)
            assert.are.equal(0, v.slept())
        end)

        it("a retry_after that fits is waited for, within the deadline", function()
            local v = virtual()
            local f = fake(v, telegram429(2), 0.1)
            local c = tg_client(v, f, { deadline = 5, retry = { retries = 5 } })
            local _, err = c:publishUserAction { UID = "u1", userAction = UA }
            assert.are.equal(400125, err.errorCode)
            assert.are.equal(3, #f.reqs) -- 0.1 + 2.05 + 0.1 + 2.05 + 0.1: a third wait does not fit
            assert.is_true(v.slept() <= 5)
            for _, s in ipairs(v.sleeps) do assert.is_true(s >= 2 and s < 2.2, "sleep " .. s .. " of " .. #v.sleeps) end
        end)

        it("Gigya rate-limit retries stop at the deadline: waits and requests fit in it", function()
            local v = virtual()
            local f = fake(v, gigya(403048), 1)
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = f.transport, now = v.now,
                sleep = v.sleep, deadline = 2.5, retry = { retries = 10, baseDelay = 0.01 } }
            local _, err = c:setStatus { UID = "u", status = "s" }
            assert.are.equal(403048, err.errorCode)
            assert.is_true(#f.reqs <= 3)
            assert.is_true(v.t - 1000 <= 2.5 + 1) -- the last request started inside the deadline
            assert.is_true(v.slept() <= 2.5)
        end)

        it("each request's timeout is cut to what is left of the deadline", function()
            local v = virtual()
            local f = fake(v, gigya(403048), 1)
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = f.transport, now = v.now,
                sleep = v.sleep, timeout = 10, deadline = 2, retry = { retries = 1, baseDelay = 0.01 } }
            c:setStatus { UID = "u", status = "s" }
            assert.are.equal(2, #f.reqs)
            assert.is_true(f.reqs[1].timeout <= 2)
            assert.is_true(f.reqs[2].timeout < 1.01)
        end)

        it("the deadline defaults to the timeout", function()
            local v = virtual()
            local f = fake(v, gigya(403048), 1)
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = f.transport, now = v.now,
                sleep = v.sleep, timeout = 3, retry = { retries = 10, baseDelay = 0.01 } }
            c:setStatus { UID = "u", status = "s" }
            assert.is_true(#f.reqs <= 4)
            assert.is_true(v.slept() <= 3)
        end)

        it("the asynchronous path obeys the deadline too", function()
            local v = virtual()
            local f = fake(v, gigya(403048), 1)
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = f.transport, now = v.now,
                sleep = v.sleep, deadline = 2.5, retry = { retries = 10, baseDelay = 0.01 } }
            local n, got = 0, nil
            c:setStatus({ UID = "u", status = "s" }, function(_, err) n = n + 1 got = err end)
            drain(c, v)
            assert.are.equal(1, n)
            assert.are.equal(403048, got.errorCode)
            assert.is_true(#f.reqs <= 3)
        end)

        it("retries counts the extra requests; attempts is its deprecated alias", function()
            for _, retry in ipairs({ { retries = 1 }, { attempts = 1 } }) do
                local v = virtual()
                local f = fake(v, gigya(403048), 0)
                local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = f.transport, now = v.now,
                    sleep = v.sleep, retry = { retries = retry.retries, attempts = retry.attempts, baseDelay = 0.01 } }
                c:setStatus { UID = "u", status = "s" }
                assert.are.equal(2, #f.reqs)
            end
            assert.has_error(function() socialize.new { retry = { retries = 1, attempts = 2 } } end)
            assert.are.equal(2, policy.config(nil).retries)
        end)
    end)

    describe("rate-limit resets far in the future", function()
        it("are capped at 24 h in the blocked-until table and cleared by client:unblock()", function()
            local v = virtual()
            local f = fake(v, telegram429(97999347), 0)
            local c = tg_client(v, f)
            local _, err = c:publishUserAction { UID = "u1", userAction = UA }
            assert.are.equal(400125, err.errorCode)
            _, err = c:publishUserAction { UID = "u1", userAction = UA }
            assert.matches("not sent", err.providerErrorCodes[1].errorDetails)
            assert.is_true(err.providerErrorCodes[1].retryAfter <= policy.MAX_BLOCK)
            assert.are.equal(1, #f.reqs)
            assert.is_true(c:unblock("telegram") >= 1)
            c:publishUserAction { UID = "u1", userAction = UA }
            assert.are.equal(2, #f.reqs) -- sent again
            assert.are.equal(0, c:unblock("twitter"))
            assert.is_true(c:unblock() >= 1)
        end)
    end)
end)

describe("hard async cases against the fake Gigya server (issue 9: 5, 8, 9) #fakes", function()
    setup(function() srv = H.start_gigya() end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(srv) end)

    describe("numeric options", function()
        it("the curl session clamps an out-of-range timeout and reply cap instead of wrapping", function()
            local s = require("socialize.curl").new { timeout = 1e300, connectTimeout = 1e300, maxReplyBytes = 1e300 }
            local res, err = s:request { method = "POST", url = srv.http .. "/socialize.getUserInfo", body = "",
                                         timeout = 1e300 }
            s:close()
            assert(res, err)
            assert.are.equal(200, res.status)
        end)
    end)

    describe("poll() arguments", function()
        it("poll(math.huge) with a call in flight clamps instead of raising", function()
            H.configure(srv, { delay_ms = 50 })
            local c = H.client(srv)
            local got = 0
            c:setStatus({ UID = "user_123", status = "huge" }, function(res) got = got + 1 assert(res) end)
            local left = c:poll(math.huge)
            drain(c)
            assert.is_number(left)
            assert.are.equal(1, got)
        end)
    end)

    describe("close()", function()
        it("answers every call in flight exactly once with 500026 closed; poll() then returns 0", function()
            H.configure(srv, { delay_ms = 2000 })
            local c = H.client(srv)
            local got = {}
            for i = 1, 5 do
                c:setStatus({ UID = "user_123", status = "c" .. i }, function(res, err)
                    got[i] = (got[i] or 0) + 1
                    assert.is_nil(res)
                    assert.are.equal(500026, err.errorCode)
                    assert.are.equal("closed", err.transportKind)
                    assert.matches("closed", tostring(err))
                end)
            end
            c:poll(0)
            c:close()
            for i = 1, 5 do assert.are.equal(1, got[i], "callback " .. i) end
            assert.are.equal(0, c:poll(0))
            assert.are.equal(-1, c:timeout())
            assert.are.same({}, c:fds())
            -- the client can still be used
            H.configure(srv, { delay_ms = 0 })
            assert(c:setStatus { UID = "user_123", status = "after" })
        end)

        it("from inside a callback: the others in flight are answered once, closed", function()
            H.configure(srv, { delay_ms = 2000 })
            local c = H.client(srv)
            local quick, slow = 0, {}
            for i = 1, 3 do
                c:call("socialize.getUserInfo", { UID = "user_123" }, function(_, err)
                    slow[i] = (slow[i] or 0) + 1
                    assert.are.equal(500026, err.errorCode)
                    assert.are.equal("closed", err.transportKind)
                end)
            end
            c:poll(0) -- the three are in flight
            -- a validation error: answered by the next poll(), whose callback closes
            c:setStatus({ UID = "user_123" }, function(_, err)
                quick = quick + 1
                assert.are.equal(400002, err.errorCode)
                c:close()
            end)
            assert.are.equal(0, c:poll(0))
            assert.are.equal(1, quick)
            for i = 1, 3 do assert.are.equal(1, slow[i], "callback " .. i) end
        end)

        it("calls started from a callback during close() are answered too, before close() returns", function()
            H.configure(srv, { delay_ms = 2000 })
            local c = H.client(srv)
            local first, second, third = 0, 0, 0
            c:setStatus({ UID = "user_123", status = "one" }, function(_, err)
                first = first + 1
                assert.are.equal(500026, err.errorCode)
                c:setStatus({ UID = "user_123", status = "two" }, function(_, err2)
                    second = second + 1
                    assert.are.equal(500026, err2.errorCode)
                    c:setStatus({ UID = "user_123", status = "three" }, function(_, err3)
                        third = third + 1
                        assert.are.equal(500026, err3.errorCode)
                    end)
                end)
            end)
            c:poll(0)
            c:close()
            assert.are.same({ 1, 1, 1 }, { first, second, third })
            assert.are.equal(0, c:poll(0))
        end)
    end)

    describe("fds() with more than 1024 descriptors open", function()
        it("reports sockets numbered 1024 and above, and the calls complete through poll", function()
            -- in a child whose descriptor limit is raised, so the parent's limit does not matter
            local lua = os.getenv("LUA")
            if not lua or lua == "" then
                lua = (jit and "luajit") or (_VERSION == "Lua 5.1" and "lua5.1") or "lua5.4"
            end
            local script = [[
                package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
                package.cpath = ]] .. string.format("%q", package.cpath) .. [[
                local socialize = require("socialize")
                local held = {}
                for i = 1, 1100 do held[i] = assert(io.open("/dev/null")) end
                local c = socialize.new { apiKey = "]] .. H.API_KEY .. [[", secret = "]] .. H.SECRET .. [[", url = "]] .. srv.http .. [[",
                                          timeout = 10 }
                local done = 0
                for i = 1, 20 do
                    c:setStatus({ UID = "user_123", status = "fd" .. i }, function(res) if res then done = done + 1 end end)
                end
                local high, seen, loops = 0, 0, 0
                while c:poll(10) > 0 do
                    loops = loops + 1
                    if loops > 2000 then break end
                    for _, s in ipairs(c:fds()) do
                        seen = seen + 1
                        if s.fd >= 1024 and (s.read or s.write) then high = high + 1 end
                    end
                end
                io.write("high=", high, " seen=", seen, " done=", done, "\n")
                for _, f in ipairs(held) do f:close() end
            ]]
            local path = os.tmpname()
            H.write(path, script)
            H.configure(srv, { delay_ms = 300 })
            local p = io.popen("sh -c 'ulimit -n 4096 2>/dev/null; exec " .. lua .. " " .. path .. "' 2>&1")
            local out = p:read("*a")
            p:close()
            os.remove(path)
            local high, seen, done = out:match("high=(%d+) seen=(%d+) done=(%d+)")
            assert(high, out)
            assert.are.equal(20, tonumber(done), out)
            assert.is_true(tonumber(high) >= 1, out)
        end)
    end)
end)
