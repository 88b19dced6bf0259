-- Telegram and Weibo media against the sandbox (spec/fakes/networks/
-- telegram.py, sina.py, media_kit.py): the core's requests sent as they are
-- and their replies parsed, with the fakes reading the multipart bodies with
-- their own code. The fakes recognise their own test media byte for byte
-- (the file id is then the medium's name): a byte changed on the way shows.
local H = require("spec.helper")
local core = require("socialize.core")
local transport = require("socialize.transport")

local sb, net, TG_APP, WB_APP
local TG_USER = { chatId = "-100777" }
local WB_USER = { accessToken = "wb-token", ip = "203.0.113.7" }
local UA = { title = "Level 7", linkBack = "https://game.example/l7" }
local media = {}

local function send(req)
    local res, msg = net:request({ method = req.method, url = req.url, headers = req.headers, body = req.body,
        timeout = 10 })
    assert(res, msg)
    return res
end

local function get(network, name)
    if not media[name] then
        local res = send({ method = "GET", url = sb.url(network) .. "/__media/" .. name, headers = {} })
        assert.are.equal(200, res.status, name)
        media[name] = res.body
    end
    return media[name]
end

-- a core-built request sent, its reply parsed: the result, and the reply
local function call(provider, action, input, blobs, setup)
    local app, user = provider == "telegram" and TG_APP or WB_APP, provider == "telegram" and TG_USER or WB_USER
    local req, msg = core.provider_request(provider, action, input, app, user, 1700000000, "n-" .. action, setup,
        nil, blobs)
    assert(req, msg)
    local res = send(req)
    return core.provider_parse(provider, action, input, app, user, res.status, res.headers, res.body, 1700000000), res
end

-- a request built by hand (what the core never sends, to see the fake refuse it)
local function raw(provider, path, ctype, body)
    local res = send({ method = "POST", url = sb.url(provider) .. path, headers = { ["Content-Type"] = ctype },
        body = body })
    local app, user = provider == "telegram" and TG_APP or WB_APP, provider == "telegram" and TG_USER or WB_USER
    return core.provider_parse(provider, "publish", { userAction = UA }, app, user, res.status, res.headers, res.body,
        1700000000)
end

local function multipart(parts)
    local b, out = "test-boundary-7", {}
    for _, p in ipairs(parts) do
        out[#out + 1] = "--" .. b .. "\r\nContent-Disposition: form-data; name=\"" .. p[1] .. "\""
            .. (p[3] and ("; filename=\"x\"\r\nContent-Type: " .. p[3]) or "") .. "\r\n\r\n" .. p[2] .. "\r\n"
    end
    return "multipart/form-data; boundary=" .. b, table.concat(out) .. "--" .. b .. "--\r\n"
end

local function item(i, kind, mime, url) return { index = i, kind = kind, mime = mime, url = url } end

local function tg_requests()
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if r.network == "telegram" and r.method == "POST" then out[#out + 1] = r.path:match("/([%w]+)$") end
    end
    return out
end

describe("telegram and weibo media in the sandbox", function()
    H.use_sandbox(function(s, p)
        sb, TG_APP, WB_APP = s, p.telegram, p.sina
        net = transport.select({ transport = "curl", timeout = 10 })
    end, function() net:close() end)

    it("a photo upload arrives byte for byte", function()
        local r = call("telegram", "publish", { userAction = UA, media = { item(1, "image", "image/png") } },
            { get("telegram", "shot.png") })
        assert.is_true(r.ok, r.errorDetails)
        assert.are.same({ "AgAD-shot.png" }, r.mediaIDs)
        assert.matches("^%-100777:%d+$", r.postID)
        -- one byte changed: still a PNG, no longer the medium
        local bent = get("telegram", "shot.png"):sub(1, -2) .. "\0"
        r = call("telegram", "publish", { userAction = UA, media = { item(1, "image", "image/png") } }, { bent })
        assert.is_true(r.ok, r.errorDetails)
        assert.are_not.equal("AgAD-shot.png", r.mediaIDs[1])
    end)

    it("a video, an mp3 and a GIF alone, uploaded", function()
        for _, c in ipairs({ { "video", "video/mp4", "clip.mp4", "BAAD-clip.mp4" },
                             { "audio", "audio/mpeg", "song.mp3", "BAAD-song.mp3" },
                             { "gif", "image/gif", "anim.gif", "BAAD-anim.gif" } }) do
            local r = call("telegram", "publish", { userAction = UA, media = { item(1, c[1], c[2]) } },
                { get("telegram", c[3]) })
            assert.is_true(r.ok, r.errorDetails)
            assert.are.same({ c[4] }, r.mediaIDs)
        end
        assert.are.same({ "sendVideo", "sendAudio", "sendAnimation" }, tg_requests())
    end)

    it("an album mixing uploads and URLs the fake fetches resolves every attach://", function()
        local url = sb.url("telegram") .. "/__media/shot.jpg"
        local r = call("telegram", "publish", { userAction = UA, media = {
            item(1, "image", "image/png"), item(2, "image", "image/jpeg", url), item(3, "video", "video/mp4") } },
            { get("telegram", "shot.png"), false, get("telegram", "clip.mp4") })
        assert.is_true(r.ok, r.errorDetails)
        assert.are.same({ "AgAD-shot.png", "AgAD-shot.jpg", "BAAD-clip.mp4" }, r.mediaIDs)
        assert.are.same({ "sendMediaGroup" }, tg_requests())
        -- an audio album
        r = call("telegram", "publish", { userAction = UA, media = { item(1, "audio", "audio/mpeg"),
            item(2, "audio", "audio/mpeg", sb.url("telegram") .. "/__media/song.mp3") } }, { get("telegram", "song.mp3") })
        assert.is_true(r.ok, r.errorDetails)
        assert.are.same({ "BAAD-song.mp3", "BAAD-song.mp3" }, r.mediaIDs)
    end)

    it("a text over 1024 characters: the photo goes bare, then the text as a message", function()
        local input = { userAction = { userMessage = string.rep("x", 1100), linkBack = UA.linkBack },
            media = { item(1, "image", "image/png") } }
        local r = call("telegram", "publish", input, { get("telegram", "shot.png") })
        assert.is_true(r.ok, r.errorDetails)
        assert.is_table(r.data)
        local f = call("telegram", "sendText", input, nil, r.data)
        assert.is_true(f.ok, f.errorDetails)
        assert.are.same({ "sendPhoto", "sendMessage" }, tg_requests())
        local sent = H.requests(sb)
        assert.is_nil(sent[1].body:find('name="caption"', 1, true))
        assert.matches(UA.linkBack, core.json_decode(sent[2].body).text, 1, true)
    end)

    it("URLs Telegram cannot use are refused with its own words", function()
        for _, c in ipairs({
            { "https://cdn.example/unfetchable.png", "wrong file identifier/HTTP URL specified" },
            { sb.url("telegram") .. "/__media/missing.png", "wrong file identifier/HTTP URL specified" },
            { sb.url("telegram") .. "/__media/big.jpg", "failed to get HTTP URL content" }, -- over 5 MB by URL
            { sb.url("telegram") .. "/__media/page.png", "wrong type of the web page content" },
        }) do
            local r = call("telegram", "publish", { userAction = UA, media = { item(1, "image", "image/png", c[1]) } })
            assert.is_false(r.ok)
            assert.are.equal("content_invalid", r.category)
            assert.matches(c[2], r.errorDetails, 1, true)
        end
    end)

    it("the fake enforces Telegram's rules on what the core never sends", function()
        local json = "application/json"
        local cases = {
            { "/sendPhoto", json, core.json_encode({ chat_id = "1", photo = "https://cdn.example/a.png",
                caption = string.rep("c", 1025) }), "Bad Request: message caption is too long" },
            { "/sendMediaGroup", json, core.json_encode({ chat_id = "1", media = {
                { type = "photo", media = "https://cdn.example/a.png" } } }), "from 2 to 10" },
            { "/sendMediaGroup", json, core.json_encode({ chat_id = "1", media = {
                { type = "audio", media = "https://cdn.example/a.mp3" },
                { type = "photo", media = "https://cdn.example/a.png" } } }), "messages of the same type" },
        }
        local eleven = {}
        for i = 1, 11 do eleven[i] = { type = "photo", media = "https://cdn.example/" .. i .. ".png" } end
        cases[#cases + 1] = { "/sendMediaGroup", json, core.json_encode({ chat_id = "1", media = eleven }),
            "too many messages" }
        local ct, body = multipart({ { "chat_id", "1" }, { "media",
            '[{"type":"photo","media":"attach://file1"},{"type":"photo","media":"attach://file9"}]' },
            { "file1", get("telegram", "shot.png"), "image/png" } })
        cases[#cases + 1] = { "/sendMediaGroup", ct, body, "wrong file identifier/HTTP URL specified" }
        ct, body = multipart({ { "chat_id", "1" }, { "photo", get("telegram", "shot.png"), "image/jpeg" } })
        cases[#cases + 1] = { "/sendPhoto", ct, body, "says Content-Type image/jpeg, its bytes are image/png" }
        ct, body = multipart({ { "chat_id", "1" }, { "photo", "<html></html>", "image/png" } })
        cases[#cases + 1] = { "/sendPhoto", ct, body, "IMAGE_PROCESS_FAILED" }
        ct, body = multipart({ { "chat_id", "1" }, { "photo", get("telegram", "shot.png"), "image/png" } })
        cases[#cases + 1] = { "/sendPhoto", ct, body:sub(1, -3), "can't parse multipart/form-data" }
        for _, c in ipairs(cases) do
            local r = raw("telegram", "/bot" .. TG_APP.botToken .. c[1], c[2], c[3])
            assert.is_false(r.ok, c[4])
            assert.are.equal("content_invalid", r.category, c[4])
            assert.matches(c[4], r.errorDetails, 1, true)
        end
        -- a photo upload over 10 MB
        ct, body = multipart({ { "chat_id", "1" }, { "photo", "\255\216\255" .. string.rep("\0", 10485760), "image/jpeg" } })
        local r = raw("telegram", "/bot" .. TG_APP.botToken .. "/sendPhoto", ct, body)
        assert.are.equal("content_invalid", r.category)
        assert.matches("Request Entity Too Large", r.errorDetails, 1, true)
    end)

    it("weibo: one picture as the part pic, byte for byte", function()
        local r = call("sina", "publish", { userAction = UA, media = { item(1, "image", "image/png") } },
            { get("sina", "shot.png") })
        assert.is_true(r.ok, r.errorDetails)
        assert.are.same({ "shot.png" }, r.mediaIDs)
        r = call("sina", "publish", { userAction = UA, media = { item(1, "gif", "image/gif") } }, { get("sina", "anim.gif") })
        assert.is_true(r.ok, r.errorDetails)
        assert.are.same({ "anim.gif" }, r.mediaIDs)
        -- the text-only share still works
        r = call("sina", "publish", { userAction = UA })
        assert.is_true(r.ok, r.errorDetails)
        assert.is_nil(r.mediaIDs)
    end)

    it("weibo: a picture too large, of a type it refuses, or lying about its type", function()
        local form = "access_token=wb-token&rip=1.2.3.4&status=" .. "https%3A%2F%2Fgame.example%2F"
        local function share(pic, mime)
            local ct, body = multipart({ { "access_token", "wb-token" }, { "status", "hi https://game.example/" },
                { "rip", "1.2.3.4" }, { "pic", pic, mime } })
            return raw("sina", "/2/statuses/share.json", ct, body)
        end
        local r = share(get("sina", "big.jpg"), "image/jpeg")
        assert.are.equal("content_invalid", r.category)
        assert.matches("20006", r.errorDetails, 1, true)
        r = share(get("sina", "page.png"), "image/png")
        assert.are.equal("content_invalid", r.category)
        assert.matches("20005", r.errorDetails, 1, true)
        r = share(get("sina", "shot.png"), "image/gif")
        assert.are.equal("content_invalid", r.category)
        assert.matches("Content-Type image/gif, bytes image/png", r.errorDetails, 1, true)
        -- the form without a picture is accepted as before
        r = raw("sina", "/2/statuses/share.json", "application/x-www-form-urlencoded", form)
        assert.is_true(r.ok, r.errorDetails)
    end)
end)

-- Through a client (the direct backend's media pipeline, lua/socialize/media.lua):
-- Telegram is sent URLs as they are and bytes as uploads; Weibo's picture is
-- fetched by the library and uploaded. Every src is a sandbox URL.
describe("telegram and weibo media through a client", function()
    local socialize = require("socialize")
    local providers
    local function client(conns, extra)
        local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers,
            connections = { u1 = conns }, timeout = 10 }
        for k, v in pairs(extra or {}) do cfg[k] = v end
        return socialize.new(cfg)
    end
    local TG = { telegram = { chatId = "-100777" } }
    local WB = { sina = { accessToken = "wb-token", ip = "203.0.113.7" } }
    local function entry(res, p)
        for _, e in ipairs(res.providerErrorCodes) do if e.provider == p then return e end end
    end
    local function posts(network)
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == network and r.method == "POST" then out[#out + 1] = r end
        end
        return out
    end
    local function src(network, name) return sb.url(network) .. "/__media/" .. name end

    H.use_sandbox(function(s, p)
        sb, providers = s, p
        net = transport.select({ transport = "curl", timeout = 10 })
    end, function() net:close() end)

    it("telegram: an image src is sent as its URL, bytes as an upload, both arriving whole", function()
        local res = assert(client(TG):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            linkBack = UA.linkBack, mediaItems = { { type = "image", src = src("telegram", "shot.jpg") } } } })
        assert.are.equal(0, res.errorCode)
        assert.are.same({ "AgAD-shot.jpg" }, entry(res, "telegram").mediaIDs)
        local p = posts("telegram")
        assert.are.equal(1, #p)
        assert.are.same({ chat_id = "-100777", photo = src("telegram", "shot.jpg"),
            caption = "Level 7\n\n" .. UA.linkBack }, core.json_decode(p[1].body))

        H.reset(sb)
        local png = get("telegram", "shot.png")
        res = assert(client(TG):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            mediaItems = { { type = "image", data = png, mimeType = "image/png" } } } })
        assert.are.same({ "AgAD-shot.png" }, entry(res, "telegram").mediaIDs)
        assert.matches("^%-100777:%d+$", res.providerPostIDs.telegram)
        assert.matches("/sendPhoto$", posts("telegram")[1].path)
    end)

    it("telegram: an album of uploads and URLs, and a long text after it", function()
        local res = assert(client(TG):publishUserAction { UID = "u1", userAction = {
            userMessage = string.rep("w", 1500), linkBack = UA.linkBack, mediaItems = {
                { type = "image", data = get("telegram", "shot.png") },
                { type = "image", src = src("telegram", "shot.jpg") },
                { type = "image", data = get("telegram", "anim.gif") } } } })
        assert.are.equal(0, res.errorCode)
        local e = entry(res, "telegram")
        assert.are.same({ "AgAD-shot.png", "AgAD-shot.jpg", "AgAD-anim.gif" }, e.mediaIDs)
        local p = posts("telegram")
        assert.are.equal(2, #p)
        assert.matches("/sendMediaGroup$", p[1].path)
        assert.is_nil(p[1].body:find("caption", 1, true))
        assert.matches("/sendMessage$", p[2].path)
        assert.are.equal(string.rep("w", 1500) .. "\n\n" .. UA.linkBack, core.json_decode(p[2].body).text)
        assert.matches("^%-100777:%d+$", res.providerPostIDs.telegram) -- the text message's
    end)

    it("telegram: the text after a bare photo fails: said so; a rate limit retries the text alone", function()
        local ua = { userMessage = string.rep("t", 1100), mediaItems = { { type = "image", data = get("telegram", "shot.png") } } }
        local conn = { telegram = { chatId = "-100textfail" } }
        local res, err = client(conn, { retry = false }):publishUserAction { UID = "u1", userAction = ua }
        local e = entry(res or err, "telegram")
        assert.are.equal("transient", e.category)
        assert.matches("the media were posted without their text; the text message failed: HTTP 502", e.errorDetails,
            1, true)
        local p = posts("telegram")
        assert.are.equal(2, #p) -- a 502 on a create without idempotency is not retried: it may have posted
        H.reset(sb)
        local v = H.virtual()
        conn.telegram.chatId = "-100textlimit"
        res, err = client(conn, { retry = { retries = 2 }, now = v.now, sleep = v.sleep }):publishUserAction {
            UID = "u1", userAction = ua }
        e = entry(res or err, "telegram")
        assert.are.equal("rate_limited", e.category)
        p = posts("telegram")
        assert.are.equal(4, #p) -- the photo once, the text three times
        assert.matches("/sendPhoto$", p[1].path)
        for i = 2, 4 do assert.matches("/sendMessage$", p[i].path) end
        assert.are.equal(2, #v.sleeps)
    end)

    it("telegram: mp3 and video items, and a URL it cannot fetch", function()
        local res = assert(client(TG):publishUserAction { UID = "u1", userAction = { title = "Listen",
            mediaItems = { { type = "mp3", src = src("telegram", "song.mp3") } } } })
        assert.are.same({ "BAAD-song.mp3" }, entry(res, "telegram").mediaIDs)
        res = assert(client(TG):publishUserAction { UID = "u1", userAction = { title = "Watch",
            mediaItems = { { type = "video", data = get("telegram", "clip.mp4") } } } })
        assert.are.same({ "BAAD-clip.mp4" }, entry(res, "telegram").mediaIDs)
        local r2, err = client(TG):publishUserAction { UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", src = src("telegram", "page.png") } } } }
        local e = entry(r2 or err, "telegram")
        assert.are.equal("content_invalid", e.category)
        assert.matches("wrong type of the web page content", e.errorDetails, 1, true)
    end)

    it("weibo: the library fetches the picture and uploads it as pic, byte for byte", function()
        local res = assert(client(WB):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            linkBack = UA.linkBack, mediaItems = { { type = "image", src = src("sina", "shot.png") } } } })
        assert.are.equal(0, res.errorCode)
        assert.are.same({ "shot.png" }, entry(res, "sina").mediaIDs)
        local p = posts("sina")
        assert.are.equal(1, #p)
        assert.matches("^multipart/form%-data; boundary=", p[1].headers["content-type"])
    end)

    it("weibo: a picture over 5 MB is refused before sending, naming the item and the limit", function()
        local res, err = client(WB):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            linkBack = UA.linkBack, mediaItems = { { type = "image", src = src("sina", "big.jpg") } } } }
        local e = entry(res or err, "sina")
        assert.are.equal("content_invalid", e.category)
        assert.matches("mediaItems[1]", e.errorDetails, 1, true)
        assert.matches("5242879", e.errorDetails, 1, true)
        assert.are.equal(0, #posts("sina"))
    end)

    it("weibo: two pictures are more than it takes; a video is dropped and reported", function()
        local res, err = client(WB):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            linkBack = UA.linkBack, mediaItems = { { type = "image", src = src("sina", "shot.png") },
                { type = "image", src = src("sina", "shot.jpg") } } } }
        local e = entry(res or err, "sina")
        assert.are.equal("content_invalid", e.category)
        assert.matches("takes at most 1", e.errorDetails, 1, true)
        assert.are.equal(0, #posts("sina"))
        res = assert(client(WB):publishUserAction { UID = "u1", userAction = { title = "Level 7",
            linkBack = UA.linkBack, mediaItems = { { type = "video", src = src("sina", "clip.mp4") } } } })
        assert.are.equal(0, res.errorCode)
        assert.are.same({ "mediaItems" }, entry(res, "sina").dropped)
        assert.are.equal("application/x-www-form-urlencoded", posts("sina")[1].headers["content-type"])
    end)

    it("preview: Telegram sends the URL, Weibo fetches", function()
        local res = assert(client({ telegram = TG.telegram, sina = WB.sina }):preview { UID = "u1",
            userAction = { title = "Level 7", linkBack = UA.linkBack,
                mediaItems = { { type = "image", src = src("sina", "shot.png") } } } })
        local by = {}
        for _, p in ipairs(res.previews) do by[p.provider] = p end
        assert.are.equal("url", by.telegram.media[1].source)
        assert.are.equal("fetch", by.sina.media[1].source)
        assert.are.same({}, by.sina.dropped)
        assert.are.equal(0, #H.requests(sb))
    end)
end)
