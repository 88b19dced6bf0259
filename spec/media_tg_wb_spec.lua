-- Media on Telegram and Weibo at the core level (csrc/core/net/telegram.c,
-- sina.c; docs/media.md): the requests byte for byte (multipart bodies
-- rebuilt here from the boundary the request names), the caption rule of
-- Telegram (the text is the caption when it fits 1024 characters, else the
-- media go bare and the follow-up step "sendText" posts the text), the
-- limits each core refuses by itself, and the replies' parse.
local core = require("socialize.core")

local TS, NONCE = 1700000000, "n1"
local TG_APP, TG_USER = { botToken = "1:b" }, { chatId = "5" }
local WB_APP, WB_USER = { safeDomain = "game.example" }, { accessToken = "at", ip = "1.2.3.4" }
local TG = "https://api.telegram.org/bot1:b/"

-- bytes a careless writer would break: NUL, CR LF, "--", 8-bit
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3\8\2\0\0\0" .. "\r\n--x\0\255end"
local JPG = "\255\216\255\224\0\16JFIF\0" .. "\r\n\r\n--\0"
local MP4 = "\0\0\0\24ftypmp42\0\0\0\0" .. "\r\n"
local MP3 = "ID3\4\0\0\0\0\0\0\255\251"

local function tg(action, input, blobs, setup)
    return core.provider_request("telegram", action, input, TG_APP, TG_USER, TS, NONCE, setup, nil, blobs)
end

local function wb(input, blobs)
    return core.provider_request("sina", "publish", input, WB_APP, WB_USER, TS, NONCE, nil, nil, blobs)
end

local function item(i, kind, mime, url)
    return { index = i, kind = kind, mime = mime, url = url }
end

-- The multipart body expected: parts are {name, value} or {name, filename, mime, bytes}.
local function multipart(boundary, parts)
    local out = {}
    for _, p in ipairs(parts) do
        if p[4] then
            out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. p[1]
                .. "\"; filename=\"" .. p[2] .. "\"\r\nContent-Type: " .. p[3] .. "\r\n\r\n" .. p[4] .. "\r\n"
        else
            out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. p[1]
                .. "\"\r\n\r\n" .. p[2] .. "\r\n"
        end
    end
    return table.concat(out) .. "--" .. boundary .. "--\r\n"
end

local function boundary_of(r)
    local ct = r.headers["Content-Type"]
    local b = ct and ct:match("^multipart/form%-data; boundary=(socialize%-%x+)$")
    assert(b, "a multipart Content-Type with the core's boundary: " .. tostring(ct))
    return b
end

local function ok_reply(result)
    return core.json_encode({ ok = true, result = result })
end

local function photo_msg(id, fid)
    return { message_id = id, chat = { id = 5 }, photo = { { file_id = fid .. "-s" }, { file_id = fid } } }
end

describe("telegram media", function()
    it("says what it takes in provider_info", function()
        local m = core.provider_info("telegram").media
        assert.are.same({ images = 10, videos = 10, audio = true, maxImage = 10485760, maxVideo = 52428800,
            mimes = "image/jpeg,image/png,image/gif,image/webp,video/mp4,audio/mpeg", byUrl = true, bytes = true,
            upload = false, alt = false, deletable = false, chunk = 0 }, m)
        assert.are.equal("sendText", core.provider_info("telegram").followUp)
    end)

    it("a photo by URL is sendPhoto with the URL and the text as its caption", function()
        local r = assert(tg("publish", { userAction = { title = "Hi", linkBack = "https://g.example/1" },
            media = { item(1, "image", "image/png", "https://cdn.example/a.png") } }))
        assert.are.equal(TG .. "sendPhoto", r.url)
        assert.are.equal("POST", r.method)
        assert.are.equal("application/json", r.headers["Content-Type"])
        assert.are.same({ chat_id = "5", photo = "https://cdn.example/a.png", caption = "Hi\n\nhttps://g.example/1" },
            core.json_decode(r.body))
    end)

    it("a photo's bytes are a multipart upload, byte for byte", function()
        local r = assert(tg("publish", { userAction = { title = "Hi" }, media = { item(1, "image", "image/png") } },
            { PNG }))
        assert.are.equal(TG .. "sendPhoto", r.url)
        local b = boundary_of(r)
        assert.are.equal(multipart(b, { { "chat_id", "5" }, { "caption", "Hi" },
            { "photo", "item1.png", "image/png", PNG } }), r.body)
        -- the same call renders the same bytes
        assert.are.equal(r.body, assert(tg("publish", { userAction = { title = "Hi" },
            media = { item(1, "image", "image/png") } }, { PNG })).body)
    end)

    it("a video, an mp3 and a GIF alone go by their own methods", function()
        local cases = {
            { item(1, "video", "video/mp4"), MP4, "sendVideo", "video", "item1.mp4" },
            { item(1, "audio", "audio/mpeg"), MP3, "sendAudio", "audio", "item1.mp3" },
            { item(1, "gif", "image/gif"), "GIF89a\1\0\1\0", "sendAnimation", "animation", "item1.gif" },
        }
        for _, c in ipairs(cases) do
            local r = assert(tg("publish", { userAction = { title = "T" }, media = { c[1] } }, { c[2] }))
            assert.are.equal(TG .. c[3], r.url)
            assert.are.equal(multipart(boundary_of(r), { { "chat_id", "5" }, { "caption", "T" },
                { c[4], c[5], c[1].mime, c[2] } }), r.body)
        end
        local r = assert(tg("publish", { userAction = { title = "T" },
            media = { item(1, "video", "video/mp4", "https://cdn.example/v.mp4") } }))
        assert.are.equal(TG .. "sendVideo", r.url)
        assert.are.same({ chat_id = "5", video = "https://cdn.example/v.mp4", caption = "T" }, core.json_decode(r.body))
    end)

    it("an album by URL is sendMediaGroup JSON, the caption on the first item", function()
        local r = assert(tg("publish", { userAction = { title = "T" }, media = {
            item(1, "image", "image/jpeg", "https://cdn.example/1.jpg"),
            item(2, "video", "video/mp4", "https://cdn.example/2.mp4"),
            item(3, "gif", "image/gif", "https://cdn.example/3.gif") } }))
        assert.are.equal(TG .. "sendMediaGroup", r.url)
        assert.are.same({ chat_id = "5", media = {
            { type = "photo", media = "https://cdn.example/1.jpg", caption = "T" },
            { type = "video", media = "https://cdn.example/2.mp4" },
            { type = "photo", media = "https://cdn.example/3.gif" } } }, core.json_decode(r.body))
    end)

    it("an album with bytes attaches them as parts the media JSON names (attach://)", function()
        local r = assert(tg("publish", { userAction = { title = "T" }, media = {
            item(1, "image", "image/png"), item(2, "image", "image/jpeg", "https://cdn.example/2.jpg"),
            item(3, "image", "image/jpeg") } }, { PNG, false, JPG }))
        assert.are.equal(TG .. "sendMediaGroup", r.url)
        local media = '[{"caption":"T","media":"attach://file1","type":"photo"},'
            .. '{"media":"https://cdn.example/2.jpg","type":"photo"},{"media":"attach://file3","type":"photo"}]'
        assert.are.equal(multipart(boundary_of(r), { { "chat_id", "5" }, { "media", media },
            { "file1", "item1.png", "image/png", PNG }, { "file3", "item3.jpg", "image/jpeg", JPG } }), r.body)
    end)

    it("an audio album is audio only", function()
        local r = assert(tg("publish", { userAction = { title = "T" }, media = {
            item(1, "audio", "audio/mpeg"), item(2, "audio", "audio/mpeg") } }, { MP3, MP3 .. "2" }))
        assert.matches('{"media":"attach://file2","type":"audio"}', r.body, 1, true)
        local _, msg, _, res = tg("publish", { userAction = { title = "T" }, media = {
            item(1, "audio", "audio/mpeg"), item(2, "image", "image/png") } }, { MP3, PNG })
        assert.are.equal("content_invalid", res.category)
        assert.matches("audio cannot share an album", msg, 1, true)
    end)

    it("a text of 1024 characters is the caption; of 1025 the media go bare and the text follows", function()
        local fits = string.rep("\208\175", 1024) -- 1024 code points, 2048 bytes
        local r = assert(tg("publish", { userAction = { userMessage = fits },
            media = { item(1, "image", "image/png", "https://cdn.example/a.png") } }))
        assert.are.equal(fits, core.json_decode(r.body).caption)
        local reply = ok_reply(photo_msg(77, "AgAD-x"))
        local input = { userAction = { userMessage = fits },
            media = { item(1, "image", "image/png", "https://cdn.example/a.png") } }
        local res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, 200, {}, reply, TS)
        assert.is_true(res.ok)
        assert.is_nil(res.data) -- no follow-up: the caption carried the text
        assert.are.equal("5:77", res.postID)
        assert.are.same({ "AgAD-x" }, res.mediaIDs)

        local long = fits .. "!"
        input.userAction.userMessage = long
        r = assert(tg("publish", input))
        assert.are.same({ chat_id = "5", photo = "https://cdn.example/a.png" }, core.json_decode(r.body))
        res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, 200, {}, reply, TS)
        assert.is_true(res.ok)
        assert.are.same({ mediaPostID = "5:77" }, res.data) -- the follow-up runs
        -- the follow-up: the whole text as a message of its own
        r = assert(tg("sendText", input, nil, res.data))
        assert.are.equal(TG .. "sendMessage", r.url)
        assert.are.same({ chat_id = "5", text = long }, core.json_decode(r.body))
        res = core.provider_parse("telegram", "sendText", input, TG_APP, TG_USER, 200, {},
            ok_reply({ message_id = 78, chat = { id = 5 }, text = long }), TS)
        assert.is_true(res.ok)
        assert.is_nil(res.data)
        assert.are.equal("5:78", res.postID)
        -- a failed follow-up says the media are out already
        res = core.provider_parse("telegram", "sendText", input, TG_APP, TG_USER, 429, {},
            core.json_encode({ ok = false, error_code = 429, description = "Too Many Requests: retry after 3",
                parameters = { retry_after = 3 } }), TS)
        assert.is_false(res.ok)
        assert.are.equal("rate_limited", res.category)
        assert.matches("^the media were posted without their text; the text message failed: HTTP 429", res.errorDetails)
    end)

    it("counts text and caption in UTF-16 code units, as Telegram does (an emoji past the BMP is 2)", function()
        assert.are.equal("utf16", core.provider_info("telegram").text.counter)
        local EMOJI = "\240\159\152\128"
        local photo = { item(1, "image", "image/png", "https://cdn.example/a.png") }
        local r = assert(tg("publish", { userAction = { title = EMOJI:rep(512) }, media = photo }))
        assert.are.equal(EMOJI:rep(512), core.json_decode(r.body).caption)
        local input = { userAction = { title = EMOJI:rep(511) .. "abc" }, media = photo } -- 1022 + 3
        r = assert(tg("publish", input))
        assert.is_nil(core.json_decode(r.body).caption)
        local res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, 200, {},
            ok_reply(photo_msg(4, "f")), TS)
        assert.is_table(res.data)
        r = assert(tg("publish", { userAction = { title = EMOJI:rep(2049) } }))
        assert.are.equal(EMOJI:rep(2047) .. "\226\128\166", core.json_decode(r.body).text) -- 4094 + 1
    end)

    it("a text over 4096 is cut for the message that follows; media without text take no caption", function()
        local input = { userAction = { userMessage = string.rep("a", 5000) },
            media = { item(1, "image", "image/png", "https://cdn.example/a.png") } }
        local r = assert(tg("sendText", input, nil, { mediaPostID = "5:1" }))
        local text = core.json_decode(r.body).text
        assert.are.equal(4096, select(2, text:gsub("[^\128-\191]", "")))
        assert.are.equal("\226\128\166", text:sub(-3))
        r = assert(tg("publish", { userAction = {}, media = { item(1, "image", "image/png") } }, { PNG }))
        assert.are.equal(multipart(boundary_of(r), { { "chat_id", "5" }, { "photo", "item1.png", "image/png", PNG } }),
            r.body)
        local res = core.provider_parse("telegram", "publish", { userAction = {}, media = { item(1, "image") } },
            TG_APP, TG_USER, 200, {}, ok_reply(photo_msg(3, "f")), TS)
        assert.is_nil(res.data)
    end)

    it("a text-only publish is sendMessage and runs no follow-up", function()
        local input = { userAction = { userMessage = string.rep("b", 2000) } }
        local r = assert(tg("publish", input))
        assert.are.equal(TG .. "sendMessage", r.url)
        local res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, 200, {},
            ok_reply({ message_id = 9, chat = { id = 5 } }), TS)
        assert.is_nil(res.data)
        assert.are.equal("5:9", res.postID)
    end)

    it("refuses what Telegram would, naming the item and the limit", function()
        local many = {}
        for i = 1, 11 do many[i] = item(i, "image", "image/png", "https://cdn.example/" .. i .. ".png") end
        local cases = {
            { { media = many }, nil, "11 media items; an album (sendMediaGroup) takes at most 10" },
            { { media = { item(1, "image", "image/png") } }, { string.rep("x", 10485761) },
              "mediaItems[1] is 10485761 bytes; a photo upload takes at most 10485760" },
            { { media = { item(1, "image"), item(2, "gif", "image/gif") } }, { PNG, string.rep("g", 10485761) },
              "mediaItems[2] is 10485761 bytes; a photo upload takes at most 10485760" },
            { { media = { item(1, "video", "video/mp4") } }, { string.rep("v", 52428801) },
              "mediaItems[1] is 52428801 bytes; a video upload takes at most 52428800" },
            { { media = { item(1, "image", "image/png") } }, nil, "mediaItems[1] has neither bytes nor an http(s) URL" },
            { { media = { item(1, "image", "image/png", "ftp://x.example/a.png") } }, nil,
              "mediaItems[1] has neither bytes nor an http(s) URL" },
            { { media = { item(1, "flash") } }, { "x" }, "mediaItems[1] is of kind 'flash'" },
        }
        for _, c in ipairs(cases) do
            c[1].userAction = { title = "T" }
            local r, msg, _, res = tg("publish", c[1], c[2])
            assert.is_nil(r)
            assert.are.equal("content_invalid", res.category, c[3])
            assert.matches(c[3], msg, 1, true)
        end
    end)

    it("parses an album's reply: the first message is the post, every file id in order", function()
        local input = { userAction = { title = "T" }, media = { item(1, "image"), item(2, "video") } }
        local reply = ok_reply({ photo_msg(10, "AgAD-a"),
            { message_id = 11, chat = { id = 5 }, video = { file_id = "BAAD-b" } } })
        local res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, 200, {}, reply, TS)
        assert.is_true(res.ok)
        assert.are.equal("5:10", res.postID)
        assert.are.same({ "AgAD-a", "BAAD-b" }, res.mediaIDs)
        assert.is_nil(res.data)
    end)

    it("classifies Telegram's media errors", function()
        local input = { userAction = { title = "T" }, media = { item(1, "image", nil, "https://x.example/a.png") } }
        for _, c in ipairs({
            { 400, "Bad Request: message caption is too long", "content_invalid" },
            { 400, "Bad Request: wrong file identifier/HTTP URL specified", "content_invalid" },
            { 413, "Request Entity Too Large", "content_invalid" },
        }) do
            local res = core.provider_parse("telegram", "publish", input, TG_APP, TG_USER, c[1], {},
                core.json_encode({ ok = false, error_code = c[1], description = c[2] }), TS)
            assert.is_false(res.ok)
            assert.are.equal(c[3], res.category, c[2])
            assert.matches(c[2], res.errorDetails, 1, true)
        end
    end)
end)

describe("weibo media", function()
    local UA = { title = "Level 7", linkBack = "https://game.example/l7" }

    it("says what it takes in provider_info: one picture, sent as bytes", function()
        local m = core.provider_info("sina").media
        assert.are.same({ images = 1, videos = 0, audio = false, maxImage = 5242879, maxVideo = 5242879,
            mimes = "image/jpeg,image/png,image/gif", byUrl = false, bytes = false, upload = false, alt = false,
            deletable = false, chunk = 0 }, m)
    end)

    it("a picture is share.json multipart with the part pic, byte for byte", function()
        local r = assert(wb({ userAction = UA, media = { item(1, "image", "image/jpeg") } }, { JPG }))
        assert.are.equal("https://api.weibo.com/2/statuses/share.json", r.url)
        assert.are.equal("POST", r.method)
        assert.are.equal(multipart(boundary_of(r), { { "access_token", "at" },
            { "status", "Level 7 https://game.example/l7" }, { "rip", "1.2.3.4" },
            { "pic", "pic.jpg", "image/jpeg", JPG } }), r.body)
        r = assert(wb({ userAction = UA, media = { item(1, "gif", "image/gif") } }, { "GIF89a" }))
        assert.matches('name="pic"; filename="pic.gif"\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n', r.body, 1, true)
    end)

    it("without a picture the body stays a form", function()
        local r = assert(wb({ userAction = UA }))
        assert.are.equal("application/x-www-form-urlencoded", r.headers["Content-Type"])
        assert.are.equal("access_token=at&rip=1.2.3.4&status=Level%207%20https%3A%2F%2Fgame.example%2Fl7", r.body)
    end)

    it("refuses what Weibo cannot take, naming the item and the limit", function()
        local cases = {
            { { item(1, "image", "image/png"), item(2, "image", "image/png") }, { PNG, PNG },
              "2 media items; Weibo takes one picture" },
            { { item(1, "image", "image/png", "https://cdn.example/a.png") }, nil,
              "mediaItems[1] has no bytes" },
            { { item(1, "image", "image/jpeg") }, { string.rep("j", 5242880) },
              "mediaItems[1] is 5242880 bytes; a picture must be under 5242880" },
            { { item(1, "image", "image/webp") }, { "RIFF" }, "mediaItems[1] is image/webp; Weibo takes JPEG, PNG or GIF" },
            { { item(1, "video", "video/mp4") }, { MP4 }, "mediaItems[1]: Weibo takes a picture, not a video" },
        }
        for _, c in ipairs(cases) do
            local r, msg, _, res = wb({ userAction = UA, media = c[1] }, c[2])
            assert.is_nil(r)
            assert.are.equal("content_invalid", res.category, c[3])
            assert.matches(c[3], msg, 1, true)
        end
        -- the safe-domain rule holds with a picture too
        local _, msg = wb({ userAction = { title = "T", linkBack = "https://other.example/" },
            media = { item(1, "image", "image/png") } }, { PNG })
        assert.matches("safe domain", msg, 1, true)
    end)

    it("parses the reply: the status id, the picture's id; 20006 and 20005 are content_invalid", function()
        local input = { userAction = UA, media = { item(1, "image", "image/jpeg") } }
        local res = core.provider_parse("sina", "publish", input, WB_APP, WB_USER, 200, {},
            core.json_encode({ id = 1, idstr = "4000000000001", pic_ids = { "abc123" } }), TS)
        assert.is_true(res.ok)
        assert.are.equal("4000000000001", res.postID)
        assert.are.same({ "abc123" }, res.mediaIDs)
        for _, c in ipairs({ { 20006, "image size too large" }, { 20005, "unsupported image type" } }) do
            res = core.provider_parse("sina", "publish", input, WB_APP, WB_USER, 400, {},
                core.json_encode({ error = c[2], error_code = c[1], request = "/2/statuses/share.json" }), TS)
            assert.are.equal("content_invalid", res.category)
            assert.matches(tostring(c[1]), res.errorDetails, 1, true)
            assert.matches(c[2], res.errorDetails, 1, true)
        end
    end)
end)
