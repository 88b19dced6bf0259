-- Fault injection: every misbehaviour of the network gives a clear,
-- classified error; nothing hangs; in asynchronous mode every callback runs
-- exactly once. The faults come from spec/fakes/faults.py on 127.0.0.1.
local H = require("spec.helper")
local socialize = require("socialize")

local F
-- fault -> Gigya-backend code and a pattern of its details
local FAULTS = {
    drop = { 500026, "closed" },
    reset = { 500026, "closed" },
    slow = { 504002, "Request Timeout" },
    trickle = { 504002, "Request Timeout" },
    truncated = { 500026, "closed" },
    badjson = { 500000, "not valid JSON" },
    utf8 = { 500000, "not valid JSON" },
    huge = { 500026, "too_large" },
    html = { 500000, "not a JSON object" },
    e500 = { 500001, "HTTP 500" },
    e503 = { 500001, "HTTP 503" },
    redirect = { 500001, "HTTP 302" },
    empty = { 500000, "not a JSON object" },
}

-- The 0.5 s timeout is what the slow faults test (the server holds its reply
-- 3 s, or sends a byte every 0.5 s: any timeout below that gives 504002);
-- the others get room, so that a loaded machine (sanitizers, parallel CI)
-- cannot turn them into timeouts. The slow faults really wait: they run once
-- per test run (#once), the others on every ABI (#fakes).
local SLOW = { slow = true, trickle = true }

local function gigya(fault, extra)
    local cfg = { apiKey = H.API_KEY, secret = H.SECRET, url = F.http .. "/" .. fault, timeout = SLOW[fault] and 0.5 or 20,
                  maxReplyBytes = 1024 * 1024, retry = false }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

local function gigya_row(fault, want)
    it("Gigya backend: " .. fault .. " -> " .. want[1], function()
        local res, err = gigya(fault):setStatus { UID = "u", status = "s" }
        assert.is_nil(res)
        assert.are.equal(want[1], err.errorCode, tostring(err))
        assert.matches(want[2], tostring(err))
    end)
end

describe("fault injection #fakes", function()
    setup(function() F = H.start_faults() end)
    teardown(function() H.stop_all() end)

    for fault, want in pairs(FAULTS) do
        if not SLOW[fault] then gigya_row(fault, want) end
    end

    -- libcurl resends a request on its own when a reused connection closed
    -- before any reply byte (the server may have stored it): a create must
    -- not be posted twice that way
    describe("a reused connection that closes after the request was sent", function()
        local transport = require("socialize.transport")
        local n = 0
        local function count(path)
            local t = transport.select({ timeout = 5 })
            local res = assert(t:request({ method = "GET", url = F.http .. "/count/" .. path, headers = {}, timeout = 5 }))
            t:close()
            return assert(require("socialize.core").json_decode(res.body)).count
        end
        local function twice(once)
            n = n + 1
            local path = "t" .. n .. "-" .. math.random(1, 1e9)
            local t = transport.select({ timeout = 5 })
            local req = { method = "POST", url = F.http .. "/keepdrop/" .. path, timeout = 5, once = once,
                          headers = { ["Content-Type"] = "application/json" }, body = '{"post":1}' }
            local first = assert(t:request(req))
            assert.equal(200, first.status)
            local second, err, kind = t:request(req)
            t:close()
            return second, err, kind, count(path)
        end

        it("once = true (a create): not sent again; kind closed, the server saw it once", function()
            local res, err, kind, seen = twice(true)
            assert.is_nil(res)
            assert.equal("closed", kind)
            assert.matches("not sent again", err, 1, true)
            assert.equal(2, seen) -- the first request and the second, once
        end)

        it("without once (a read): libcurl resends it on a new connection", function()
            local res, _, _, seen = twice(nil)
            assert.equal(200, assert(res).status)
            assert.equal(3, seen) -- what once = true prevents
        end)

        it("the direct backend marks its creates once = true, not its other requests", function()
            local spy = H.spy(function(req)
                if req.url:find("/statuses", 1, true) then
                    return { status = 200, headers = {}, body = '{"id":"1","url":"https://m.example/@a/1"}' }
                end
                return { status = 200, headers = {}, body = "{}" }
            end)
            local c = socialize.new { backend = "direct", transport = spy.transport, allowPrivateNetworks = true,
                providers = { mastodon = {} },
                connections = { u = { mastodon = { accessToken = "t", instance = "https://m.example" } } } }
            assert.equal(0, c:publishUserAction { UID = "u", userAction = { title = "hi" } }.errorCode)
            local creates = 0
            for _, req in ipairs(spy.calls) do
                if req.method == "POST" and req.url:find("/api/v1/statuses", 1, true) then
                    assert.is_true(req.once)
                    creates = creates + 1
                else
                    assert.is_nil(req.once)
                end
            end
            assert.equal(1, creates)
        end)
    end)

    it("reads a reply without Content-Length to the end of the connection", function()
        local res = assert(gigya("nolength"):setStatus { UID = "u", status = "s" })
        assert.are.equal("f1", res.callId)
    end)
end)

describe("fault injection, timeouts included #once", function()
    setup(function() F = H.start_faults() end)
    teardown(function() H.stop_all() end)

    for fault, want in pairs(FAULTS) do
        if SLOW[fault] then gigya_row(fault, want) end
    end

    it("direct backend: each network's faults are classified per provider", function()
        local providers = {}
        local conn = {}
        local names = { "drop", "slow", "truncated", "badjson", "html", "e503", "redirect", "huge" }
        local c = {}
        for i = 1, #names do
            local fault = names[i]
            providers = {
                twitter = { baseUrl = F.http .. "/" .. fault },
                facebook = { baseUrl = F.http .. "/" .. fault },
                linkedin = { baseUrl = F.http .. "/" .. fault },
                vkontakte = { baseUrl = F.http .. "/" .. fault },
                telegram = { baseUrl = F.http .. "/" .. fault, botToken = "1:x" },
            }
            conn = {
                twitter = { bearerToken = "b" }, facebook = { accessToken = "a", pageId = "1" },
                linkedin = { accessToken = "a", personId = "p" }, vkontakte = { accessToken = "a", userId = 1 },
                telegram = { chatId = "1" },
            }
            c[i] = socialize.new { backend = "direct", providers = providers, connections = { u = conn },
                timeout = 0.5, maxReplyBytes = 1024 * 1024, retry = false }
        end
        for i = 1, #names do
            local res, err = c[i]:publishUserAction { UID = "u", userAction = { title = "t", linkBack = "https://g.example/" } }
            assert.is_nil(res)
            for _, e in ipairs(err.providerErrorCodes) do
                assert.is_string(e.category, e.provider)
                assert.is_true(e.errorCode ~= 0)
                assert.is_string(e.errorDetails)
            end
        end
    end)

    it("asynchronous mode: every callback runs exactly once, whatever the fault", function()
        local clients, calls = {}, {}
        local n = 0
        for fault in pairs(FAULTS) do
            local c = gigya(fault)
            clients[#clients + 1] = c
            for k = 1, 3 do
                n = n + 1
                local id = fault .. k
                c:setStatus({ UID = "u", status = "s" }, function(res, err)
                    calls[id] = (calls[id] or 0) + 1
                    assert.is_nil(res)
                    assert.is_true(err.errorCode > 0)
                end)
            end
        end
        local loops, left = 0, 1
        while left > 0 do
            left = 0
            for _, c in ipairs(clients) do left = left + c:poll(10) end
            loops = loops + 1
            assert(loops < 2000, "async calls did not finish")
        end
        local got = 0
        for _, v in pairs(calls) do
            assert.are.equal(1, v)
            got = got + 1
        end
        assert.are.equal(n, got)
    end)
end)
