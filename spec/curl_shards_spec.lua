-- socialize.curl spreads asynchronous transfers over several multi handles
-- of at most 256 transfers each (csrc/curl/lsz_curl_multi.c, issue 15), the
-- first filled first. What a caller must see: every transfer answered once,
-- and keep-alive as with one multi handle: the fake Gigya server records the
-- client port of every request, so the distinct ports are the connections
-- the transport opened.
local H = require("spec.helper")
local curl = require("socialize.curl")

local srv

local function req(i)
    return { method = "POST", url = srv.http .. "/socialize.getUserInfo", body = "n=" .. i }
end

-- Starts n transfers at once and drives them until every one is back;
-- returns the outcomes by id.
local function batch(s, n)
    local ids, got, left = {}, {}, n
    for i = 1, n do
        local id = assert(s:start(req(i)))
        ids[#ids + 1] = id
    end
    local loops = 0
    while left > 0 do
        for _, r in ipairs(s:perform(50)) do
            assert.is_nil(got[r.id], "an outcome delivered twice")
            got[r.id] = r
            left = left - 1
        end
        loops = loops + 1
        assert(loops < 2000, "transfers did not finish")
    end
    for _, id in ipairs(ids) do
        assert(got[id], "no outcome for a transfer")
        assert.are.equal(200, got[id].status, got[id].error)
    end
    return got
end

-- The distinct client ports the server saw (the connections) and the requests.
local function ports()
    local seen, n, all = {}, 0, H.requests(srv)
    for _, r in ipairs(all) do
        if not seen[r.client_port] then
            seen[r.client_port] = true
            n = n + 1
        end
    end
    return n, #all
end

describe("socialize.curl: transfers over several multi handles #fakes", function()
    setup(function()
        srv = H.start_gigya()
    end)
    teardown(function()
        H.stop_all()
    end)
    before_each(function()
        H.reset(srv)
    end)

    it("100 in flight, twice: 100 connections, every one reused by the second batch", function()
        local s = curl.new()
        batch(s, 100)
        batch(s, 100)
        assert.are.equal(0, s:pending())
        s:close()
        local conns, reqs = ports()
        assert.are.equal(200, reqs)
        assert.are.equal(100, conns)
    end)

    it("one at a time after a batch: the same connection each time", function()
        local s = curl.new()
        batch(s, 10)
        H.reset(srv)
        for _ = 1, 5 do batch(s, 1) end
        s:close()
        local conns, reqs = ports()
        assert.are.equal(5, reqs)
        assert.are.equal(1, conns)
    end)

    it("300 in flight (two multi handles), twice: 300 connections, every one reused", function()
        local s = curl.new()
        batch(s, 300)
        batch(s, 300)
        s:close()
        local conns, reqs = ports()
        assert.are.equal(600, reqs)
        assert.are.equal(300, conns)
    end)

    it("request_many while 300 are in flight: both complete, each outcome once", function()
        local s = curl.new()
        local ids = {}
        for i = 1, 300 do ids[i] = assert(s:start(req(i))) end
        local many = s:request_many { req(1001), req(1002), req(1003) }
        assert.are.equal(3, #many)
        for i = 1, 3 do assert.are.equal(200, many[i].status, many[i].error) end
        local got, left, loops = {}, 300, 0
        while left > 0 do
            for _, r in ipairs(s:perform(50)) do
                assert.is_nil(got[r.id])
                got[r.id] = r
                left = left - 1
            end
            loops = loops + 1
            assert(loops < 2000, "transfers did not finish")
        end
        for i = 1, 300 do assert.are.equal(200, got[ids[i]].status) end
        assert.are.equal(0, s:pending())
        assert.are.equal(-1, s:timeout())
        s:close()
        assert.are.equal(303, #H.requests(srv))
    end)

    it("close with 300 in flight over two multi handles frees everything", function()
        local s = curl.new()
        for i = 1, 300 do assert(s:start(req(i))) end
        s:perform(0)
        assert.are.equal(300, s:pending())
        s:close()
        assert.matches("closed", tostring(s))
        assert.has_error(function() s:perform(0) end)
    end)
end)
