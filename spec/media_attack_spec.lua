-- Issue 12, attacked: what a hostile network (or CDN) answers in the media
-- flows must not loop, reset a bound, or carry a request elsewhere.
require("spec.helper")
local core = require("socialize.core")

local NOW = 1700000000
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3" .. ("\0\1\2\255"):rep(8)

local function parse(p, status, body, step, headers)
    return core.provider_parse(p, "upload", {}, {}, {}, status, headers or {}, body, NOW, step)
end

describe("X: a hostile media reply #unit", function()
    it("a metadata reply that says processing again ends the item (no status poll whose count starts over)", function()
        local it_ = { index = 1, kind = "gif", mime = "image/gif", size = 10, alt = "a" }
        local res = parse("twitter", 200, '{"data":{"processing_info":{"state":"pending","check_after_secs":5}}}',
            { item = it_, step = { phase = "metadata", id = "77" } })
        assert.is_true(res.ok)
        assert.are.same({ media = { id = "77" } }, res.data)
    end)
end)

describe("LinkedIn: hostile upload instructions #unit", function()
    local function ins(n, url)
        local t = {}
        for i = 0, n - 1 do
            t[#t + 1] = string.format('{"uploadUrl":"%s","firstByte":%d,"lastByte":%d}', url, i, i)
        end
        return '{"value":{"video":"urn:li:video:1","uploadInstructions":[' .. table.concat(t, ",") .. ']}}'
    end
    it("more parts than the front's 300 steps per item can send are refused at once, not after 290 uploads", function()
        local it_ = { index = 1, kind = "video", mime = "video/mp4", size = 201 }
        local res = parse("linkedin", 200, ins(201, "https://www.linkedin.com/u"), { item = it_ })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
        it_.size = 200
        res = parse("linkedin", 200, ins(200, "https://www.linkedin.com/u"), { item = it_ })
        assert.is_true(res.ok)
        assert.are.equal(200, #res.data.parts)
    end)
    it("a part URL over 4096 bytes is refused (the state carried through every step stays small)", function()
        local it_ = { index = 1, kind = "video", mime = "video/mp4", size = 2 }
        local long = "https://www.linkedin.com/" .. ("a"):rep(4100)
        local res = parse("linkedin", 200, ins(2, long), { item = it_ })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
    end)
end)

describe("the OpenResty transport against a hostile CDN #unit", function()
    -- a stand-in cosocket over a fixed byte stream, with ngx's semantics for
    -- receive("*l"), receive("*a"), receive(n) and receiveuntil(pattern)
    -- (ngx buffers a line or "*a" whole, however long): `consumed` is how far
    -- the transport made it read
    local function fake_sock(data)
        local s, pos = { consumed = 0 }, 1
        local function take(n)
            local out = data:sub(pos, pos + n - 1)
            pos = pos + #out
            s.consumed = pos - 1
            return out
        end
        function s.settimeouts() end
        function s.connect() return 1 end
        function s.send(_, b) return #b end
        function s.close() return 1 end
        function s.setkeepalive() return 1 end
        function s.getreusedtimes() return 0 end
        function s.receive(_, p)
            if p == "*l" then
                local a = data:find("\n", pos, true)
                if not a then return nil, "closed", take(#data - pos + 1) end
                local line = take(a - pos + 1)
                return (line:gsub("\r?\n$", ""))
            elseif p == "*a" then
                return take(#data - pos + 1)
            end
            if pos + p - 1 > #data then return nil, "closed", take(#data - pos + 1) end
            return take(p)
        end
        function s.receiveuntil(_, pat)
            return function(size)
                local a = data:find(pat, pos, true)
                if a == pos then
                    take(#pat)
                    return nil
                end
                local left = (a or #data + 1) - pos
                if left == 0 then return nil, "closed" end
                return take(math.min(size or left, left))
            end
        end
        return s
    end
    local function with_stream(data, fn)
        local sock = fake_sock(data)
        local saved = rawget(_G, "ngx")
        _G.ngx = { socket = { tcp = function() return sock end } }
        package.loaded["socialize.resty"] = nil
        local ok, err = pcall(function() fn(require("socialize.resty").new({}), sock) end)
        package.loaded["socialize.resty"] = nil
        _G.ngx = saved
        assert(ok, err)
    end
    local HUGE = 8 * 1024 * 1024
    local req = { method = "GET", url = "http://cdn.example/a.png", maxBytes = 1000, timeout = 5 }
    local cases = {
        { "a body with no length that never ends", "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n"
            .. PNG .. ("\0"):rep(HUGE), "too_large" },
        { "a chunk-size line that never ends", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            .. ("0"):rep(HUGE) },
        { "a status line that never ends", "HTTP/1.1 200 " .. ("O"):rep(HUGE) },
        { "trailers that never end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            .. ("X-T: 1\r\n"):rep(HUGE / 8) },
    }
    for _, c in ipairs(cases) do
        it(c[1] .. ": refused after reading little more than the cap", function()
            with_stream(c[2], function(t, sock)
                local res, msg, kind = t:request(req)
                assert.is_nil(res)
                assert.truthy(msg)
                if c[3] then assert.are.equal(c[3], kind) end
                assert.truthy(sock.consumed <= 1000 + 128 * 1024, sock.consumed)
            end)
        end)
    end
    it("a body with no length that ends is read whole", function()
        with_stream("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n" .. PNG, function(t)
            local res = t:request(req)
            assert.are.equal(200, res.status)
            assert.are.equal(PNG, res.body)
        end)
    end)
    it("a chunked body with trailers is read whole", function()
        with_stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" .. PNG:sub(1, 16) .. "\r\n"
            .. string.format("%x", #PNG - 16) .. "\r\n" .. PNG:sub(17) .. "\r\n0\r\nX-T: 1\r\n\r\n", function(t)
            local res = t:request(req)
            assert.are.equal(200, res.status)
            assert.are.equal(PNG, res.body)
        end)
    end)
end)

describe("a network's error that echoes the token #unit", function()
    local socialize = require("socialize")
    local H = require("spec.helper")
    it("is scrubbed in mediaFailed too, as in errorDetails", function()
        local n = 0
        local spy = H.spy(function(req)
            if req.url:find("/api/v2/media", 1, true) then
                n = n + 1
                if n == 1 then
                    return { status = 422, headers = {}, body = '{"error":"refused for token mst-secret-token-value"}' }
                end
                return { status = 200, headers = {}, body = '{"id":"55","type":"image","url":"https://m.example/m/55.png"}' }
            end
            return { status = 200, headers = {}, body = '{"id":"99","url":"https://m.example/@u/99"}' }
        end)
        local c = socialize.new({ backend = "direct", transport = spy.transport, retry = { attempts = 1 },
            media = { partial = "allow" },
            connections = { u1 = { mastodon = { accessToken = "mst-secret-token-value", instance = "https://m.example" } } } })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG }, { type = "image", data = PNG .. "x" } } } })
        local e = (res or err).providerErrorCodes[1]
        assert.are.equal(1, #e.mediaFailed)
        assert.truthy(e.mediaFailed[1].errorDetails:find("mediaItems[1]", 1, true), e.mediaFailed[1].errorDetails)
        assert.falsy(e.mediaFailed[1].errorDetails:find("mst-secret-token-value", 1, true), e.mediaFailed[1].errorDetails)
    end)
end)

describe("an upload still processing when the deadline comes #unit", function()
    local socialize = require("socialize")
    local H = require("spec.helper")
    it("fails the item, and the items already uploaded are deleted (as after any failed upload)", function()
        local n = 0
        local spy = H.spy(function(req)
            if req.method == "POST" and req.url == "https://m.example/api/v2/media" then
                n = n + 1
                if n == 1 then
                    return { status = 200, headers = {}, body = '{"id":"55","type":"image","url":"https://m.example/m/55.png"}' }
                end
                return { status = 202, headers = {}, body = '{"id":"56","type":"image","url":null}' }
            end
            return { status = 200, headers = {}, body = "{}" }
        end)
        local c = socialize.new({ backend = "direct", transport = spy.transport, retry = { attempts = 1 }, deadline = 0.5,
            connections = { u1 = { mastodon = { accessToken = "t", instance = "https://m.example" } } } })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG }, { type = "image", data = PNG .. "x" } } } })
        local e = (res or err).providerErrorCodes[1]
        assert.truthy(e.errorDetails:find("mediaItems[2]: still processing when the call's deadline came", 1, true),
            e.errorDetails)
        local deleted = {}
        for _, r in ipairs(spy.calls) do if r.method == "DELETE" then deleted[#deleted + 1] = r.url end end
        assert.are.same({ "https://m.example/api/v1/media/55" }, deleted)
    end)
end)

describe("a hostile CDN's redirects (regressions: refused before this attack too) #unit", function()
    local media = require("socialize.media")
    local function fetch(location)
        local sent = {}
        local ctx = { config = { timeout = 5 } }
        function ctx.send(reqs)
            local out = {}
            for i, r in ipairs(reqs) do
                sent[#sent + 1] = r.url
                out[i] = r.url == "https://cdn.example/a" and { status = 302, headers = { location = location }, body = "" }
                    or { status = 200, headers = {}, body = PNG }
            end
            return out
        end
        return media.fetch(ctx, { ["https://cdn.example/a"] = 1000 })["https://cdn.example/a"], sent
    end
    for _, c in ipairs({
        { "a Location with CR/LF", "https://cdn.example/b\r\nX-Injected: 1", "refused address" },
        { "a protocol-relative Location", "//10.0.0.1/b.png", "not an http(s) URL" },
        { "a decimal loopback", "http://2130706433/b.png", "refused address" },
        { "an octal loopback", "http://0177.0.0.1/b.png", "refused address" },
        { "a hex private address", "http://0xa000001/b.png", "refused address" },
        { "an IPv4-mapped IPv6 loopback", "http://[::ffff:7f00:1]/b.png", "refused address" },
        { "0.0.0.0", "http://0.0.0.0/b.png", "refused address" },
        { "[::]", "http://[::]/b.png", "refused address" },
        { "localhost.", "http://localhost./b.png", "refused address" },
        { "userinfo", "https://cdn.example@10.0.0.1/b.png", "refused address" },
        { "a percent-encoded host", "http://%31%32%37.0.0.1/b.png", "refused address" },
        { "a backslash trick", "https://cdn.example\\@127.0.0.1/b.png", "refused address" },
        { "a redirect to itself", "https://cdn.example/a", "more than 3" },
    }) do
        it(c[1] .. " is refused, nothing fetched there", function()
            local got, sent = fetch(c[2])
            assert.is_nil(got.bytes)
            assert.truthy(got.err:find(c[3], 1, true), got.err)
            for _, u in ipairs(sent) do assert.are.equal("https://cdn.example/a", u) end
        end)
    end
end)
