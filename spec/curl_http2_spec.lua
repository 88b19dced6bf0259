-- curl.new{ http2 = true } (config.http2): HTTP/2 by ALPN over TLS, the
-- transfers of a session multiplexed over a few connections
-- (csrc/curl/lsz_curl_multi.c, issue 15 target 3). Against real nginx
-- (bench/hold_nginx.sh: HTTPS with HTTP/2 by ALPN and a self-signed
-- certificate, at most 128 streams a connection): it holds every request
-- until DIR/release exists and counts the requests it received, the
-- connections they came on and those that came over HTTP/2, so what is
-- counted is connections at the server, not time.
local H = require("spec.helper")
local curl = require("socialize.curl")
local socialize = require("socialize")

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local dir, base, ca
local seq = 0

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return tonumber(out:match("exit=(%d+)%s*$")), out
end

local function num(name) return tonumber(H.read(dir .. "/" .. name) or "") or 0 end

-- Until the server's files show n requests (it writes them every 50 ms,
-- the request count last).
local function settle(n)
    for _ = 1, 250 do
        if num("count") >= n then break end
        sh("sleep 0.02")
    end
    assert.are.equal(n, num("count"))
end

-- Drives s until n transfers have finished, each answered 200 and each once
-- (bounded: 1,500 rounds); returns the outcomes by transfer id.
local function drive(s, n)
    local got, loops = {}, 0
    while n > 0 do
        for _, r in ipairs(s:perform(50)) do
            assert.is_nil(got[r.id], "an outcome delivered twice")
            assert.are.equal(200, r.status, r.error)
            got[r.id] = r
            n = n - 1
        end
        loops = loops + 1
        assert(loops < 1500, "transfers did not finish")
    end
    return got
end

-- Starts n POSTs at once on s and drives s until the server holds all n
-- (none answered yet), then releases them and checks every answer; returns
-- the connections the server counted while it held all n.
local function held_batch(s, n, url)
    local ids = {}
    for i = 1, n do ids[i] = assert(s:start { method = "POST", url = (url or base) .. "/x", body = "n=" .. i }) end
    local loops = 0
    while num("count") < n do
        local early = s:perform(20)
        assert.are.equal(0, #early, "a transfer finished while the server held it: " .. tostring(early[1] and early[1].error))
        loops = loops + 1
        assert(loops < 1500, "the server did not receive every request: " .. num("count") .. " of " .. n)
    end
    assert.are.equal(n, num("count"))
    local conns = num("conns") -- before any is answered: all n in flight at once
    H.write(dir .. "/release", "")
    local got = drive(s, n)
    for _, id in ipairs(ids) do
        assert(got[id], "no outcome for a transfer")
        assert.truthy(got[id].body:find('"callId":"hold"', 1, true))
    end
    return conns
end

describe("socialize.curl: http2 = true #once", function()
    before_each(function()
        seq = seq + 1
        dir = H.tmpdir .. "/h2nginx" .. seq
        local code, out = sh("sh '" .. ROOT .. "/bench/hold_nginx.sh' start '" .. dir .. "'")
        assert.are.equal(0, code, out)
        base = "https://127.0.0.1:" .. assert(H.read(dir .. "/ready"):match('"https": (%d+)'))
        ca = dir .. "/cert.pem"
    end)
    after_each(function()
        sh("sh '" .. ROOT .. "/bench/hold_nginx.sh' stop '" .. dir .. "'")
        assert.is_nil(H.read(dir .. "/nginx.pid"), "nginx did not stop")
    end)

    it("20 requests in flight at once share one connection, all over HTTP/2", function()
        local s = curl.new { http2 = true, cafile = ca, timeout = 60 }
        assert.are.equal(1, held_batch(s, 20))
        s:close()
        settle(20)
        assert.are.equal(20, num("h2"))
        assert.are.equal(1, num("conns"))
    end)

    it("without it, the same 20 open 20 connections (HTTP/2 by ALPN too, a stream each)", function()
        local s = curl.new { cafile = ca, timeout = 60 }
        assert.are.equal(20, held_batch(s, 20))
        s:close()
        settle(20)
        assert.are.equal(20, num("h2"))
    end)

    it("http:// stays HTTP/1.1: 20 held requests on 20 connections, none waiting for another's reply", function()
        local http = "http://127.0.0.1:" .. assert(H.read(dir .. "/ready"):match('"http": (%d+)'))
        local s = curl.new { http2 = true, timeout = 60 }
        assert.are.equal(20, held_batch(s, 20, http))
        s:close()
        settle(20)
        assert.are.equal(0, num("h2"))
    end)

    it("https:// and http:// in one session: each multiplexed or not, all in flight at once", function()
        local http = "http://127.0.0.1:" .. assert(H.read(dir .. "/ready"):match('"http": (%d+)'))
        local s = curl.new { http2 = true, cafile = ca, timeout = 60 }
        for i = 1, 30 do
            assert(s:start { method = "POST", url = (i % 3 == 0 and http or base) .. "/p", body = "n=" .. i })
        end
        local loops = 0
        while num("count") < 30 do
            assert.are.equal(0, #s:perform(20))
            loops = loops + 1
            assert(loops < 1500, "the server did not receive every request: " .. num("count"))
        end
        assert.are.equal(11, num("conns")) -- 10 cleartext connections, 1 for the 20 over TLS
        assert.are.equal(20, num("h2"))
        H.write(dir .. "/release", "")
        drive(s, 30)
        s:close()
    end)

    it("300 in flight over two multi handles: at most 8 connections each, the next 300 open none", function()
        local s = curl.new { http2 = true, cafile = ca, timeout = 60 }
        local conns = held_batch(s, 300)
        assert.truthy(conns >= 3 and conns <= 16, "connections: " .. conns) -- 128 streams a connection
        assert.are.equal(300, num("h2"))
        -- answered at once now: the connections the first 300 held at once carry them
        for i = 1, 300 do assert(s:start { method = "POST", url = base .. "/y", body = "n=" .. i }) end
        drive(s, 300)
        s:close()
        settle(600)
        assert.are.equal(conns, num("conns"))
        assert.are.equal(600, num("h2"))
    end)

    it("a client with config.http2: asynchronous calls answered over HTTP/2 on one connection", function()
        H.write(dir .. "/release", "") -- answered at once
        local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = base, cafile = ca, http2 = true,
            timeout = 30, retry = false }
        local got = {}
        for i = 1, 5 do
            c:publishUserAction({ UID = "user_" .. i, userAction = { title = "t" .. i, linkBack = "https://game.example/" .. i } },
                function(res, err) got[i] = { res, err } end)
        end
        local loops = 0
        while c:poll(50) > 0 do
            loops = loops + 1
            assert(loops < 600, "calls did not finish")
        end
        for i = 1, 5 do
            assert.is_nil(got[i][2], got[i][2] and got[i][2].message)
            assert.are.equal(0, got[i][1].errorCode)
        end
        c:close()
        settle(5)
        assert.are.equal(5, num("h2"))
        assert.are.equal(1, num("conns"))
    end)

    it("http2 must be a boolean, in curl.new and in the config", function()
        local ok, err = pcall(curl.new, { http2 = 1 })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("http2 must be a boolean", 1, true), err)
        ok, err = pcall(socialize.new, { apiKey = H.API_KEY, secret = H.SECRET, http2 = "yes" })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("config.http2 must be a boolean", 1, true), err)
        local s = curl.new { http2 = false }
        s:close()
    end)
end)

describe("socialize.curl: http2 = true against an HTTP/1.1 server #once", function()
    local srv
    setup(function() srv = H.start_gigya() end)
    teardown(function() H.stop_all() end)

    -- The fake Gigya server speaks HTTP/1.1 over TLS (ALPN answers no h2):
    -- the transfers still all run, at most 8 at once per multi handle (the
    -- connections to a host are bounded with http2 on), each connection kept.
    it("40 at once: every one answered, on 8 connections", function()
        H.reset(srv)
        local s = curl.new { http2 = true, cafile = srv.ca, timeout = 30 }
        for i = 1, 40 do
            assert(s:start { method = "POST", url = srv.https .. "/socialize.getUserInfo", body = "n=" .. i })
        end
        drive(s, 40)
        s:close()
        local seen, n, all = {}, 0, H.requests(srv)
        for _, r in ipairs(all) do
            if not seen[r.client_port] then seen[r.client_port] = true n = n + 1 end
        end
        assert.are.equal(40, #all)
        assert.are.equal(8, n)
    end)
end)
