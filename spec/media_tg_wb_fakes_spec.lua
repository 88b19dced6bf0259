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
    setup(function()
        sb = H.start_sandbox()
        local p = H.sandbox_providers(sb)
        TG_APP, WB_APP = p.telegram, p.sina
        net = transport.select({ transport = "curl", timeout = 10 })
    end)
    teardown(function()
        net:close()
        H.stop_all()
    end)
    before_each(function() H.reset(sb) end)

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
