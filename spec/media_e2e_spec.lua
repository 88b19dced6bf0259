-- Issue 12 end to end, every network that takes images, through a client
-- against the sandbox: an image by src (fetched by the library, or sent as
-- its URL where the network fetches it), by data; and the bad inputs of the
-- issue, each a named error with nothing posted on that network.
local H = require("spec.helper")
local core = require("socialize.core")
local socialize = require("socialize")

local sb, providers

-- The networks that take images, with what their descriptor says.
local NETS = {}
for _, n in ipairs(core.provider_names()) do
    local info = core.provider_info(n)
    if not info.discontinued and (info.media.images or 0) > 0 then NETS[#NETS + 1] = info end
end

local function client(names, extra)
    local all, conns = H.sandbox_connection(sb), {}
    for _, n in ipairs(names) do
        local demo = type(sb.ports.demo) == "table" and sb.ports.demo[n]
        if all[n] == nil and demo then -- a network the helper does not know yet: the sandbox's demo account
            all[n] = demo.connection
            providers[n] = providers[n] or demo.provider
        end
        conns[n] = all[n]
    end
    local v = H.virtual()
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = { u1 = conns },
                  timeout = 20, now = v.now, sleep = v.sleep }
    for k, x in pairs(extra or {}) do cfg[k] = x end
    return socialize.new(cfg)
end

local function entry(res, err, name)
    for _, e in ipairs((res or (err and err.response) or err or {}).providerErrorCodes or {}) do
        if e.provider == name then return e end
    end
    error("no entry for " .. name .. ": " .. tostring(err))
end

-- Requests that network received other than its setup steps (a session, limits).
local SETUP_PATHS = { "createSession", "/api/v2/instance" }
local function posted(name)
    local n = 0
    for _, r in ipairs(H.requests(sb)) do
        local setup = false
        for _, p in ipairs(SETUP_PATHS) do if r.path:find(p, 1, true) then setup = true end end
        if r.network == name and not setup then n = n + 1 end
    end
    return n
end

local function png(w, h) return sb.url("media") .. "/img/" .. w .. "x" .. h .. ".png" end

describe("media end to end, every network that takes images #fakes", function()
    H.use_sandbox(function(s, p) sb, providers = s, p end)

    it("at least the nine live networks take images", function()
        assert.is_true(#NETS >= 9, #NETS .. " networks")
    end)

    for _, info in ipairs(NETS) do
        local name = info.name
        it(name .. ": an image by src is posted, the alt text sent where the network takes it", function()
            local c = client({ name })
            local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "Level 3", linkBack = "https://game.example/3",
                mediaItems = { { type = "image", src = png(64, 48), alt = "Boss down" } } } })
            local e = entry(res, err, name)
            assert.are.equal(0, e.errorCode, e.errorDetails)
            for _, f in ipairs(e.dropped or {}) do assert.are_not.equal("mediaItems", f) end
            if info.media.upload then
                assert.is_true(#(e.mediaIDs or {}) == 1, name .. " gave no media id")
            end
            local saw_image, saw_alt = false, false
            for _, r in ipairs(H.requests(sb)) do
                if r.network == name then
                    -- the PNG's bytes (its signature) or its URL reached the network
                    if r.body:find("PNG", 1, true) or r.body:find("64x48.png", 1, true)
                        or (r.query or ""):find("64x48.png", 1, true) then saw_image = true end
                    if r.body:find("Boss", 1, true) or (r.query or ""):find("Boss", 1, true) then saw_alt = true end
                end
            end
            assert.is_true(saw_image, name .. ": no request carried the image")
            if info.media.alt then assert.is_true(saw_alt, name .. ": the alt text was not sent") end
        end)

        if not info.media.byUrl or info.media.bytes then
            it(name .. ": an image by data is posted", function()
                local http = require("socialize.curl").new({ timeout = 10 })
                local bytes = assert(http:request({ method = "GET", url = png(32, 32) })).body
                local res, err = client({ name }):publishUserAction({ UID = "u1", userAction = { title = "Data",
                    linkBack = "https://game.example/d", mediaItems = { { type = "image", data = bytes, mimeType = "image/png" } } } })
                local e = entry(res, err, name)
                assert.are.equal(0, e.errorCode, e.errorDetails)
            end)
        end

        it(name .. ": one image more than it takes is refused naming the limit, nothing posted", function()
            local items = {}
            for i = 1, info.media.images + 1 do items[i] = { type = "image", src = png(8 + i, 8) } end
            local res, err = client({ name }):publishUserAction({ UID = "u1", userAction = { title = "Many",
                mediaItems = items } })
            local e = entry(res, err, name)
            assert.are.equal("content_invalid", e.category)
            assert.truthy(e.errorDetails:find("at most " .. info.media.images, 1, true), e.errorDetails)
            assert.are.equal(0, posted(name))
        end)
    end

    -- the fetch's refusals, on the networks that download (not by URL)
    local fetchers = {}
    for _, info in ipairs(NETS) do if not info.media.byUrl then fetchers[#fetchers + 1] = info.name end end
    local bad_src = {
        { "an HTML page sent as image/png", "/page.html?as=image/png", "not an image, video or audio file" },
        { "a 404", "/status/404", "answered HTTP 404" },
        { "a redirect to a 404", "/redirect?to=/status/404", "answered HTTP 404" },
        { "a redirect to a non-http scheme", "/redirect?to=ftp://x/y.png", "not an http(s) URL" },
        { "an empty file", "/status/200", "is empty" },
    }
    for _, c in ipairs(bad_src) do
        it("a src that is " .. c[1] .. ": each downloading network fails naming the item, nothing posted", function()
            local res, err = client(fetchers):publishUserAction({ UID = "u1", userAction = { title = "Bad",
                mediaItems = { { type = "image", src = sb.url("media") .. c[2] } } } })
            assert.is_nil(res)
            for _, n in ipairs(fetchers) do
                local e = entry(res, err, n)
                assert.are.equal("content_invalid", e.category, n)
                assert.truthy(e.errorDetails:find("mediaItems[1]: the src ", 1, true), e.errorDetails)
                assert.truthy(e.errorDetails:find(c[3], 1, true), e.errorDetails)
                assert.are.equal(0, posted(n), n)
            end
        end)
    end

    it("a src larger than config.media.maxBytes is refused naming the item and the cap, nothing posted", function()
        local res, err = client(fetchers, { media = { maxBytes = 5000 } }):publishUserAction({ UID = "u1",
            userAction = { title = "Big", mediaItems = { { type = "image", src = sb.url("media") .. "/big.png?bytes=20000" } } } })
        assert.is_nil(res)
        for _, n in ipairs(fetchers) do
            local e = entry(res, err, n)
            assert.truthy(e.errorDetails:find("mediaItems[1]", 1, true) and e.errorDetails:find("5000", 1, true),
                e.errorDetails)
            assert.are.equal(0, posted(n), n)
        end
    end)

    it("100 MB of data is refused by every network's limit, naming it, nothing posted", function()
        local names = {}
        for _, info in ipairs(NETS) do if not info.media.byUrl or info.media.bytes then names[#names + 1] = info.name end end
        local big = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\1\0\0\0\1\8\2\0\0\0" .. string.rep("\0", 100 * 1024 * 1024)
        local res, err = client(names):publishUserAction({ UID = "u1", userAction = { title = "Huge",
            mediaItems = { { type = "image", data = big } } } })
        big = nil
        collectgarbage()
        assert.is_nil(res)
        for _, n in ipairs(names) do
            local e = entry(res, err, n)
            assert.truthy(e.errorDetails:find("mediaItems[1]", 1, true) and e.errorDetails:find("bytes", 1, true),
                n .. ": " .. tostring(e.errorDetails))
            assert.are.equal(0, posted(n), n)
        end
    end)

    it("partial = allow: one src of two fails, the post goes with the other and names the failed one", function()
        local res, err = client({ "mastodon" }, { media = { partial = "allow" } }):publishUserAction({ UID = "u1",
            userAction = { title = "Two", mediaItems = { { type = "image", src = png(10, 10) },
                                                          { type = "image", src = sb.url("media") .. "/status/404" } } } })
        local e = entry(res, err, "mastodon")
        assert.are.equal(0, e.errorCode, e.errorDetails)
        assert.are.equal(1, #e.mediaIDs)
        assert.are.equal(2, e.mediaFailed[1].index)
        assert.truthy(e.mediaFailed[1].errorDetails:find("answered HTTP 404", 1, true))
    end)

    it("in a game loop (a callback and poll) the fetch and the uploads run in the background", function()
        local c = client({ "mastodon", "bluesky" })
        local got
        local ret = c:publishUserAction({ UID = "u1", userAction = { title = "Async",
            mediaItems = { { type = "image", src = png(40, 30), alt = "bg" } } } }, function(res, err) got = { res, err } end)
        assert.is_nil(got) -- nothing ran yet: the call returned at once
        assert.is_not_nil(ret)
        local n = 0
        while c:poll(20) > 0 and n < 500 do n = n + 1 end
        assert.is_not_nil(got and got[1], tostring(got and got[2]))
        for _, name in ipairs({ "mastodon", "bluesky" }) do
            local e = entry(got[1], nil, name)
            assert.are.equal(0, e.errorCode, e.errorDetails)
            assert.are.equal(1, #e.mediaIDs)
        end
    end)

    it("X: a GIF among other images is refused before anything is uploaded (X has no delete)", function()
        local res, err = client({ "twitter" }):publishUserAction({ UID = "u1", userAction = { title = "Mixed",
            mediaItems = { { type = "image", src = png(12, 12) }, { type = "image", src = sb.url("media") .. "/img/anim.gif" } } } })
        assert.is_nil(res)
        local e = entry(res, err, "twitter")
        assert.are.equal("content_invalid", e.category)
        assert.truthy(e.errorDetails:find("GIF or video alone", 1, true), e.errorDetails)
        assert.are.equal(0, posted("twitter"))
    end)

    it("a result says when the text was cut (truncated) and what was dropped; an untouched one says neither", function()
        local long = string.rep("level ", 120)
        local res, err = client({ "mastodon", "telegram" }):publishUserAction({ UID = "u1", userAction = {
            title = long, subtitle = "Hard mode", linkBack = "https://game.example/t" } })
        local m, t = entry(res, err, "mastodon"), entry(res, err, "telegram")
        assert.are.equal(0, m.errorCode, m.errorDetails)
        assert.is_true(m.truncated)
        assert.are.same({ "subtitle" }, m.dropped)
        assert.is_nil(t.truncated) -- 720 characters fit Telegram's 4096
        assert.is_nil(t.dropped)   -- Telegram composes the subtitle into the text
    end)

    it("the same src for several networks is fetched once", function()
        local names = {}
        for _, n in ipairs(fetchers) do names[#names + 1] = n end
        local c = client(names)
        local log = {}
        c = client(names, { log = function(ev) if ev.event == "request" and ev.provider == "media" then log[#log + 1] = ev end end })
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "Once",
            mediaItems = { { type = "image", src = png(20, 20) } } } })
        assert.is_not_nil(res, tostring(err))
        assert.are.equal(1, #log)
    end)

    it("preview lists per network the media, the text and what would be dropped, sending nothing", function()
        local names = {}
        for _, info in ipairs(NETS) do names[#names + 1] = info.name end
        local res = assert(client(names):preview({ UID = "u1", userAction = { title = "Preview", subtitle = "S",
            mediaItems = { { type = "image", src = png(30, 30) } } } }))
        assert.are.equal(0, #H.requests(sb))
        assert.are.equal(#names, #res.previews)
        for _, p in ipairs(res.previews) do
            assert.are.equal(1, #p.media, p.provider)
            local info = core.provider_info(p.provider)
            assert.are.equal(info.media.byUrl and "url" or "fetch", p.media[1].source, p.provider)
            assert.truthy(p.text:find("Preview", 1, true), p.provider)
        end
    end)
end)

describe("media: a src that never ends #once", function()
    setup(function()
        sb = H.start_sandbox()
        providers = H.sandbox_providers(sb)
    end)
    teardown(H.stop_all)

    it("is cut by the call's deadline, named, and nothing is posted", function()
        local all = H.sandbox_connection(sb)
        local c = socialize.new({ backend = "direct", allowPrivateNetworks = true, providers = providers,
            connections = { u1 = { mastodon = all.mastodon } }, timeout = 2, deadline = 2 })
        local t0 = core.now_ms()
        local res, err = c:publishUserAction({ UID = "u1", userAction = { title = "Slow",
            mediaItems = { { type = "image", src = sb.url("media") .. "/slow" } } } })
        local ms = core.now_ms() - t0
        assert.is_nil(res)
        local e = entry(res, err, "mastodon")
        assert.truthy(e.errorDetails:find("mediaItems[1]: the src could not be fetched (timeout", 1, true), e.errorDetails)
        assert.is_true(ms < 10000, ms .. " ms")
        assert.are.equal(0, posted("mastodon"))
    end)
end)
