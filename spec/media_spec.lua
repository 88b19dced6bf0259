-- Issue 12: media. The parts every network shares: the items a caller gives
-- (refused before anything is sent), the sniffing of real types, the fetch
-- of http(s) sources through the transport (redirects, guard, caps, types),
-- config.media, and client:preview.
local H = require("spec.helper")
local core = require("socialize.core")
local media = require("socialize.media")
local socialize = require("socialize")

-- Smallest real headers of each type.
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\2\128\0\0\1\224\8\2\0\0\0" .. ("\0"):rep(40)
local GIF = "GIF89a\64\1\240\0" .. ("\0"):rep(40)
local JPEG = "\255\216\255\224\0\16JFIF\0\1\1\0\0\1\0\1\0\0" -- APP0
    .. "\255\192\0\17\8\1\44\1\144\3\1\34\0\2\17\1\3\17\1" .. ("\0"):rep(20) -- SOF0 400x300
local WEBP = "RIFF\0\0\0\0WEBPVP8X\10\0\0\0\0\0\0\0\199\0\0\99\0\0" .. ("\0"):rep(10)
local MP4 = "\0\0\0\24ftypmp42\0\0\0\0mp42isom" .. ("\0"):rep(40)
local MOV = "\0\0\0\20ftypqt  \0\0\0\0qt  " .. ("\0"):rep(40)
local MP3 = "ID3\3\0\0\0\0\0\0" .. ("\0"):rep(40)
local HTML = "<!doctype html><html><body>not an image</body></html>"

-- A temporary file holding PNG; the caller removes it.
local function temp_png()
    local path = os.tmpname()
    local fh = assert(io.open(path, "wb"))
    fh:write(PNG)
    fh:close()
    return path
end

describe("media sniffing #unit", function()
    local cases = {
        { "PNG", PNG, "image/png", "image", 640, 480 },
        { "GIF", GIF, "image/gif", "gif", 320, 240 },
        { "JPEG (SOF0 after APP0)", JPEG, "image/jpeg", "image", 400, 300 },
        { "WebP (VP8X)", WEBP, "image/webp", "image", 200, 100 },
        { "MP4", MP4, "video/mp4", "video" },
        { "QuickTime", MOV, "video/quicktime", "video" },
        { "MP3 (ID3)", MP3, "audio/mpeg", "audio" },
        { "MP3 (frame sync)", "\255\251\144\100" .. ("\0"):rep(10), "audio/mpeg", "audio" },
    }
    for _, c in ipairs(cases) do
        it(c[1] .. " is " .. c[3], function()
            local s = core.media_sniff(c[2])
            assert.are.equal(c[3], s.mime)
            assert.are.equal(c[4], s.kind)
            assert.are.equal(c[5], s.width)
            assert.are.equal(c[6], s.height)
        end)
    end
    for _, c in ipairs({ { "an HTML page", HTML }, { "empty", "" }, { "a PNG signature cut short", PNG:sub(1, 12) },
                         { "text", "hello" }, { "a GIF signature alone", "GIF89" } }) do
        it(c[1] .. " is no media type", function()
            assert.is_nil(core.media_sniff(c[2]))
        end)
    end
    it("a JPEG whose segment lengths point past the end is read safely", function()
        local s = core.media_sniff("\255\216\255\225\255\255" .. ("A"):rep(100))
        assert.are.equal("image/jpeg", s.mime)
        assert.is_nil(s.width)
    end)
end)

describe("media items: refused before anything is sent #unit", function()
    local function client(spy, extra)
        local cfg = { backend = "direct", transport = spy.transport,
                      connections = { u1 = { mastodon = { accessToken = "t", instance = "https://m.example" } } } }
        for k, v in pairs(extra or {}) do cfg[k] = v end
        return socialize.new(cfg)
    end
    local bad = {
        { "a src that is not http(s)", { type = "image", src = "ftp://cdn.example/a.png" },
          "userAction.mediaItems[1].src", "http(s) URL" },
        { "a javascript: src", { type = "image", src = "javascript:alert(1)" }, "mediaItems[1].src", "http(s) URL" },
        { "a src on a loopback address", { type = "image", src = "http://127.0.0.1/a.png" }, "mediaItems[1].src",
          "refused" },
        { "a src on a private address in hex", { type = "image", src = "http://0xa000001/a.png" },
          "mediaItems[1].src", "refused" },
        { "a src on an IPv4-mapped IPv6 loopback", { type = "image", src = "http://[::ffff:127.0.0.1]/a.png" },
          "mediaItems[1].src", "refused" },
        { "a src on localhost", { type = "image", src = "http://localhost./a.png" }, "mediaItems[1].src", "refused" },
        { "a src with userinfo", { type = "image", src = "https://u:p@cdn.example/a.png" }, "mediaItems[1].src",
          "refused" },
        { "a local path without allowFiles", { type = "image", src = "/etc/passwd" }, "mediaItems[1].src",
          "allowFiles" },
        { "empty data", { type = "image", data = "" }, "mediaItems[1].data", "empty" },
        { "data that is not a string", { type = "image", data = 12 }, "mediaItems[1].data", "string" },
        { "neither src nor data", { type = "image" }, "mediaItems[1]", "no src or data" },
        { "alt that is not a string", { type = "image", data = PNG, alt = {} }, "mediaItems[1].alt", "string" },
        { "a src with a NUL byte", { type = "image", src = "https://cdn.example/a\0.png" }, "mediaItems[1].src", "NUL" },
    }
    for _, c in ipairs(bad) do
        it(c[1] .. ": 400006 naming " .. c[3] .. ", nothing sent", function()
            local spy = H.spy()
            local res, err = client(spy):publishUserAction({ UID = "u1", userAction = { title = "T",
                mediaItems = { c[2] } } })
            assert.is_nil(res)
            assert.are.equal(400006, err.errorCode)
            assert.truthy(err.errorDetails:find(c[3], 1, true), err.errorDetails)
            assert.truthy(err.errorDetails:find(c[4], 1, true), err.errorDetails)
            assert.are.equal(0, #spy.calls)
        end)
    end
    it("mixed media types are refused (Gigya's rule), nothing sent", function()
        local spy = H.spy()
        local res, err = client(spy):publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG }, { type = "video", data = MP4 } } } })
        assert.is_nil(res)
        assert.are.equal(400006, err.errorCode)
        assert.truthy(err.errorDetails:find("mixes media types", 1, true))
        assert.are.equal(0, #spy.calls)
    end)
    it("a per-network UserAction's item is named with its own parameter", function()
        local spy = H.spy()
        local res, err = client(spy):publishUserAction({ UID = "u1", userAction = { title = "T" },
            mastodonUserAction = { title = "M", mediaItems = { { type = "image", src = "gopher://x" } } } })
        assert.is_nil(res)
        assert.truthy(err.errorDetails:find("mastodonUserAction.mediaItems[1].src", 1, true), err.errorDetails)
        assert.are.equal(0, #spy.calls)
    end)
    it("Gigya's backend refuses bytes (it takes media by src URL), nothing sent", function()
        local spy = H.spy()
        local c = socialize.new({ apiKey = "k", secret = "c2VjcmV0", transport = spy.transport })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG } } } })
        assert.is_nil(res)
        assert.are.equal(400006, err.errorCode)
        assert.truthy(err.errorDetails:find("userAction.mediaItems[1].data", 1, true), err.errorDetails)
        assert.are.equal(0, #spy.calls)
    end)
    it("config.media is checked: unknown keys, partial, resize, maxBytes, allowFiles", function()
        for _, m in ipairs({ { partial = "sometimes" }, { resize = "yes" }, { maxBytes = -1 }, { allowFiles = 1 },
                             { maxbytes = 10 }, { maxBytes = { mastodon = "big" } }, { maxBytes = { mastadon = 5 } } }) do
            local ok, e = pcall(socialize.new, { backend = "direct", media = m })
            assert.is_false(ok)
            assert.truthy(tostring(e):find("config.media", 1, true), tostring(e))
        end
        local ok, e = pcall(socialize.new, { backend = "direct", media = { maxBytes = { mastadon = 5 } } })
        assert.truthy(tostring(e):find("did you mean mastodon", 1, true), tostring(e))
        assert.is_true((pcall(socialize.new, { backend = "direct", media = { partial = "allow", maxBytes = { mastodon = 5 },
            allowFiles = true, resize = function(b) return b end } })))
    end)
end)

-- media.fetch over a stand-in for the call's send (the transport's requests
-- are what the test sees and answers).
local function fetch_with(routes, allow)
    local sent = {}
    local ctx = { config = { allowPrivateNetworks = allow, timeout = 5 } }
    function ctx.send(reqs)
        local out = {}
        for i, r in ipairs(reqs) do
            sent[#sent + 1] = r
            local f = routes[r.url]
            out[i] = f and f(r) or { status = 404, headers = {}, body = "" }
        end
        return out
    end
    return ctx, sent
end

describe("media fetch through the transport #unit", function()
    local function ok(body, ct)
        return function() return { status = 200, headers = { ["content-type"] = ct or "image/png" }, body = body } end
    end
    local function redirect(to)
        return function() return { status = 302, headers = { location = to }, body = "" } end
    end
    it("fetches once with the guard, the cap and the deadline's timeout, and sniffs the type", function()
        local ctx, sent = fetch_with({ ["https://cdn.example/a.png"] = ok(PNG) })
        local got = media.fetch(ctx, { ["https://cdn.example/a.png"] = 1000 })
        assert.are.equal("image/png", got["https://cdn.example/a.png"].sniff.mime)
        assert.are.equal(1, #sent)
        assert.is_true(sent[1].guard)
        assert.are.equal(1000, sent[1].maxBytes)
        assert.are.equal("GET", sent[1].method)
    end)
    it("follows a relative redirect, checking the target", function()
        local ctx, sent = fetch_with({ ["https://cdn.example/a"] = redirect("/b.png"),
                                       ["https://cdn.example/b.png"] = ok(PNG) })
        local got = media.fetch(ctx, { ["https://cdn.example/a"] = 1000 })
        assert.is_not_nil(got["https://cdn.example/a"].bytes)
        assert.are.equal(2, #sent)
    end)
    local refused = {
        { "a redirect to a private address", redirect("http://10.0.0.1/a.png"), "refused address" },
        { "a redirect to a link-local metadata address", redirect("http://169.254.169.254/latest"), "refused address" },
        { "a redirect to a non-http scheme", redirect("file:///etc/passwd"), "not an http(s) URL" },
        { "an HTML page sent as image/png", ok(HTML, "image/png"), "not an image, video or audio file" },
        { "a 404", function() return { status = 404, headers = {}, body = "" } end, "answered HTTP 404" },
        { "an empty 200", ok(""), "is empty" },
        { "a body over the cap (transport that ignores maxBytes)", ok(PNG .. ("x"):rep(2000)), "larger than 1000" },
        { "a transport that reports too_large", function() return nil end, "larger than 1000" },
    }
    for _, c in ipairs(refused) do
        it(c[1] .. " is refused with the reason", function()
            local routes = { ["https://cdn.example/a"] = c[2] }
            local ctx = fetch_with(routes)
            if c[1]:find("too_large", 1, true) then
                ctx.send = function() return { { error = "reply too large", kind = "too_large" } } end
            end
            local got = media.fetch(ctx, { ["https://cdn.example/a"] = 1000 })
            assert.is_nil(got["https://cdn.example/a"].bytes)
            assert.truthy(got["https://cdn.example/a"].err:find(c[3], 1, true), got["https://cdn.example/a"].err)
        end)
    end
    it("stops after 3 redirects", function()
        local routes = {}
        for i = 0, 5 do routes["https://cdn.example/" .. i] = redirect("https://cdn.example/" .. (i + 1)) end
        local ctx, sent = fetch_with(routes)
        local got = media.fetch(ctx, { ["https://cdn.example/0"] = 1000 })
        assert.truthy(got["https://cdn.example/0"].err:find("more than 3", 1, true))
        assert.are.equal(4, #sent)
    end)
end)

describe("media files (config.media.allowFiles) #unit", function()
    it("a /proc file (a regular file whose size says 0 and whose bytes go on) is refused", function()
        local g = media.local_bytes({ index = 1, kind = "image", file = "/proc/self/status" }, 1000)
        assert.is_nil(g.bytes)
        assert.are.equal("is empty", g.err)
    end)
    it("a real file is read whole; one over the cap is refused by its size before any read", function()
        local path = temp_png()
        local g = media.local_bytes({ index = 1, kind = "image", file = path }, #PNG)
        assert.are.equal(PNG, g.bytes)
        g = media.local_bytes({ index = 1, kind = "image", file = path }, #PNG - 1)
        assert.are.equal("is larger than " .. (#PNG - 1) .. " bytes", g.err)
        os.remove(path)
    end)
end)

describe("a file for several networks #unit", function()
    it("is read once under the largest cap, each network then applying its own limit", function()
        local path = temp_png()
        local spy = H.spy(function() return { status = 500, headers = {}, body = "{}" } end)
        local c = socialize.new({ backend = "direct", transport = spy.transport, retry = { attempts = 1 },
            media = { allowFiles = true, maxBytes = { vkontakte = 50 } },
            connections = { u1 = { vkontakte = { accessToken = "at", ownerId = "7" },
                                   mastodon = { accessToken = "t", instance = "https://m.example" } } } })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", src = path } } } })
        os.remove(path)
        local by = {}
        for _, e in ipairs((res or err).providerErrorCodes) do by[e.provider] = e end
        -- VK (first in order) refuses it by its own cap ...
        assert.are.equal("vkontakte: mediaItems[1]: " .. #PNG .. " bytes; vkontakte takes images up to 50 bytes",
            by.vkontakte.errorDetails)
        -- ... and Mastodon, whose limit it fits, uploads it
        assert.falsy(tostring(by.mastodon.errorDetails):find("larger than", 1, true), by.mastodon.errorDetails)
        local up = 0
        for _, r in ipairs(spy.calls) do if r.url == "https://m.example/api/v2/media" then up = up + 1 end end
        assert.is_true(up >= 1)
    end)
end)

describe("a data item whose bytes spell a file's path #unit", function()
    it("is its own bytes, never the file's", function()
        local path = temp_png()
        local spy = H.spy(function() return { status = 500, headers = {}, body = "{}" } end)
        local c = socialize.new({ backend = "direct", transport = spy.transport, retry = { attempts = 1 },
            media = { allowFiles = true },
            connections = { u1 = { mastodon = { accessToken = "t", instance = "https://m.example" } } } })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", src = path }, { type = "image", data = path } } } })
        os.remove(path)
        local e = (res or err).providerErrorCodes[1]
        assert.are.equal("mastodon: mediaItems[2]: the data is not an image, video or audio file the library recognises",
            e.errorDetails)
        assert.are.equal(0, #spy.calls)
    end)
end)

describe("an upload URL's signature #unit", function()
    it("is in no error or log event, even when the transport's error quotes the URL", function()
        local up = "https://pu.vk.com/c850/upload.php?act=do_add&mid=7&hash=0f1e2d3c4b5a69788796a5b4&rhash=feedfacecafe1234"
        local spy = H.spy(function(req)
            if req.url:find("getWallUploadServer", 1, true) then
                return { status = 200, headers = {}, body = '{"response":{"upload_url":"' .. up .. '"}}' }
            end
            if req.url:find("pu.vk.com", 1, true) then
                return nil, "could not connect to " .. req.url .. " (reset)", "connect"
            end
            return { status = 500, headers = {}, body = "{}" }
        end)
        local events = {}
        local c = socialize.new({ backend = "direct", transport = spy.transport, retry = { attempts = 1 },
            log = function(e) events[#events + 1] = e end,
            connections = { u1 = { vkontakte = { accessToken = "at-secret-value", ownerId = "7" } } } })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG } } } })
        local e = (res or err).providerErrorCodes[1]
        assert.truthy(e.errorDetails:find("mediaItems[1]", 1, true), e.errorDetails)
        assert.truthy(e.errorDetails:find("pu.vk.com", 1, true), e.errorDetails)
        local seen = {}
        for _, v in ipairs(events) do for _, f in pairs(v) do seen[#seen + 1] = tostring(f) end end
        seen[#seen + 1] = e.errorDetails
        for _, text in ipairs(seen) do
            assert.falsy(text:find("0f1e2d3c4b5a69788796a5b4", 1, true), text)
            assert.falsy(text:find("feedfacecafe1234", 1, true), text)
            assert.falsy(text:find("at-secret-value", 1, true), text)
        end
        assert.is_true(#spy.calls >= 2)
    end)
end)

describe("media plan: what a network carries #unit", function()
    local info = { name = "net", text = { compose = "userMessage,title;linkBack" }, carries = "subtitle",
                   media = { images = 2, videos = 0, audio = false, maxImage = 100 } }
    it("lists the fields the network cannot carry, in a fixed order", function()
        local plan = media.plan(info, {}, { title = "T", subtitle = "S", description = "D", actionLinks = { {} },
                                             linkBack = "https://x.example/" })
        assert.are.same({ "description", "actionLinks" }, plan.dropped)
    end)
    it("media of a kind the network does not take are dropped, not refused", function()
        local plan = media.plan(info, { { index = 1, kind = "video", data = MP4 } },
            { title = "T", mediaItems = { {} } })
        assert.are.same({ "mediaItems" }, plan.dropped)
        assert.are.equal(0, #plan.items)
    end)
    it("more items than the network takes in one post: refused naming the limit", function()
        local items = {}
        for i = 1, 3 do items[i] = { index = i, kind = "image", data = PNG } end
        local plan, why = media.plan(info, items, { title = "T" })
        assert.is_nil(plan)
        assert.are.equal("mediaItems: 3 image items; net takes at most 2 in one post", why)
    end)
    it("an image over the limit is refused naming the item and the limit, unless resize makes it fit", function()
        local e = { index = 2, kind = "image", data = PNG .. ("\0"):rep(100) }
        local meta, why = media.ready(info, e, media.local_bytes(e, 0), {})
        assert.is_nil(meta)
        assert.are.equal("mediaItems[2]: " .. #e.data .. " bytes; net takes images up to 100 bytes", why)
        local seen
        meta = media.ready(info, e, media.local_bytes(e, 0), { media = { resize = function(b, mime, limit)
            seen = { #b, mime, limit }
            return PNG:sub(1, 60)
        end } })
        assert.are.same({ #e.data, "image/png", 100 }, seen)
        assert.are.equal(60, meta.size)
        meta, why = media.ready(info, e, media.local_bytes(e, 0), { media = { resize = function() error("boom") end } })
        assert.is_nil(meta)
        assert.truthy(why:find("raised an error", 1, true))
    end)
    it("bytes that are not the declared kind are refused", function()
        local e = { index = 1, kind = "image", data = MP4 }
        local meta, why = media.ready(info, e, media.local_bytes(e, 0), {})
        assert.is_nil(meta)
        assert.are.equal("mediaItems[1]: the bytes are video/mp4, not an image", why)
    end)
    it("config.media.maxBytes lowers a network's limit, per network or for all", function()
        assert.are.equal(50, media.limit(info, "image", { media = { maxBytes = 50 } }))
        assert.are.equal(100, media.limit(info, "image", { media = { maxBytes = 500 } }))
        assert.are.equal(7, media.limit(info, "image", { media = { maxBytes = { net = 7 } } }))
        assert.are.equal(100, media.limit(info, "image", { media = { maxBytes = { other = 7 } } }))
    end)
end)

describe("client:preview #unit", function()
    it("answers per network without sending anything", function()
        local spy = H.spy()
        local c = socialize.new({ backend = "direct", transport = spy.transport,
            connections = { u1 = { mastodon = { accessToken = "t", instance = "https://m.example" },
                                   telegram = { chatId = "5" } } },
            providers = { telegram = { botToken = "1:x" } } })
        local long = ("word "):rep(200)
        local res = assert(c:preview({ UID = "u1", userAction = { title = long, linkBack = "https://g.example/p",
            actionLinks = { { text = "Play", href = "https://g.example/" } } } }))
        assert.are.equal(0, #spy.calls)
        assert.are.equal(2, #res.previews)
        local byp = {}
        for _, p in ipairs(res.previews) do byp[p.provider] = p end
        local m = byp.mastodon
        assert.is_true(m.truncated)
        assert.are.equal(500, m.max)
        assert.is_true(m.length <= 500)
        assert.are.equal("graphemes", m.counter)
        assert.are.equal("default", m.limitsFrom)
        assert.truthy(m.text:find("https://g.example/p", 1, true))
        assert.is_false(byp.telegram.truncated)
    end)
    it("is refused with Gigya's backend", function()
        local c = socialize.new({ apiKey = "k", secret = "c2VjcmV0", transport = H.spy().transport })
        local res, err = c:preview({ UID = "u1", userAction = { title = "T" } })
        assert.is_nil(res)
        assert.are.equal(400096, err.errorCode)
    end)
end)

describe("subtitle and actionLinks: carried where a network has a place, else reported #unit", function()
    local ua = { title = "Won level 3", subtitle = "Hard mode", linkBack = "https://g.example/l3",
                 actionLinks = { { title = "Play", href = "https://g.example/play" },
                                 { title = "Bad", href = "javascript:alert(1)" } } }
    it("Telegram, Facebook and Mastodon compose the action links into the text (Gigya's {title, href})", function()
        for _, c in ipairs({ { "telegram", { botToken = "1:x" }, { chatId = "5" } },
                             { "facebook", { appSecret = "s" }, { accessToken = "t", pageId = "1" } },
                             { "mastodon", {}, { accessToken = "t", instance = "https://m.example" } } }) do
            local t = core.provider_text(c[1], "publish", { userAction = ua }, c[2], c[3])
            assert.truthy(t.text:find("Play: https://g.example/play", 1, true), c[1] .. ": " .. t.text)
            assert.is_nil(t.text:find("javascript", 1, true), c[1])
            local plan = media.plan(core.provider_info(c[1]), {}, ua)
            for _, f in ipairs(plan.dropped) do assert.are_not.equal("actionLinks", f, c[1]) end
        end
    end)
    it("Telegram composes the subtitle too; X lists both as dropped", function()
        local t = core.provider_text("telegram", "publish", { userAction = ua }, { botToken = "1:x" }, { chatId = "5" })
        assert.truthy(t.text:find("Won level 3\n\nHard mode", 1, true), t.text)
        local plan = media.plan(core.provider_info("twitter"), {}, ua)
        assert.are.same({ "subtitle", "actionLinks" }, plan.dropped)
    end)
end)

describe("local files (config.media.allowFiles) #unit", function()
    local dir = H.tmpdir .. "/media-files"
    os.execute("mkdir -p " .. dir)
    H.write(dir .. "/shot.png", PNG)
    H.write(dir .. "/empty.png", "")
    H.write(dir .. "/big.png", PNG .. ("\0"):rep(5000))
    os.execute("rm -f " .. dir .. "/fifo; mkfifo " .. dir .. "/fifo")
    local cases = {
        { "a regular file is read", "/shot.png", nil },
        { "a FIFO is refused without waiting for a writer", "/fifo", "is not a regular file" },
        { "a directory is refused", "", "is not a regular file" },
        { "a device is refused", "/dev/zero", "is not a regular file" },
        { "an empty file is refused", "/empty.png", "is empty" },
        { "a file over the cap is refused before it is read", "/big.png", "is larger than 1000 bytes" },
        { "a missing file is refused", "/nope.png", "could not be opened" },
    }
    for _, c in ipairs(cases) do
        it(c[1], function()
            local path = c[2]:sub(1, 5) == "/dev/" and c[2] or dir .. c[2]
            local g = media.local_bytes({ index = 1, kind = "image", file = path }, 1000)
            if c[3] then
                assert.is_nil(g.bytes)
                assert.truthy(g.err:find(c[3], 1, true), g.err)
            else
                assert.are.equal(PNG, g.bytes)
                assert.are.equal("image/png", g.sniff.mime)
            end
        end)
    end
end)

describe("linkBack and quoted values in errors #unit", function()
    it("a linkBack that is not an http(s) URL is refused by the core, naming it, for every live network", function()
        for _, n in ipairs(core.provider_names()) do
            local info = core.provider_info(n)
            if not info.discontinued then
                for _, bad in ipairs({ "javascript:alert(1)", "https://x.example/a b", "ftp://x.example/", "https:///x" }) do
                    local t = core.provider_text(n, "publish", { userAction = { title = "T", linkBack = bad } }, {}, {})
                    assert.is_false(t.ok, n .. " " .. bad)
                    assert.truthy(t.errorDetails:find("linkBack must be an http(s) URL", 1, true), t.errorDetails)
                end
                local ok = core.provider_text(n, "publish", { userAction = { title = "T", linkBack = "HTTPS://X.example/a" } }, {}, {})
                assert.is_true(ok.ok, n)
            end
        end
    end)
    it("a caller's value quoted in a failure brings no control character along", function()
        local _, _, _, res = core.provider_request("twitter", "notify", { body = "hi", recipient = "1\r\n2" },
            { consumerKey = "k", consumerSecret = "s" }, { token = "t", tokenSecret = "s" }, 1700000000, "n")
        assert.is_not_nil(res)
        assert.is_nil(res.errorDetails:find("[\r\n]"), res.errorDetails)
    end)
end)
