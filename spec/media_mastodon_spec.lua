-- Mastodon media at the core level (csrc/core/net/mastodon.c, docs/media.md):
-- the upload step's requests byte for byte (POST /api/v2/media multipart,
-- GET /api/v1/media/:id polls), each reply's parse (200 at once, 202 then
-- 206 polls then 200, 422 processing failed, bounded polls), the status's
-- media_ids[], the instance's limits from the setup state, DELETE of an
-- unused upload, and the Idempotency-Key that ignores media ids.
local core = require("socialize.core")

local TS, NONCE, NOW = 1700000000, "n1", 1700000000
local U = { accessToken = "md-token", instance = "https://m.example" }
-- a PNG header (2x3) and some bytes, with CR, LF and NUL inside
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3\8\2\0\0\0\r\n--x\0end"
local MP4 = "\0\0\0\24ftypmp42\0\0\0\0mp42isom" .. string.rep("v", 64)

local function item(over)
    local t = { index = 1, kind = "image", mime = "image/png", size = #PNG, alt = "The boss, defeated" }
    for k, v in pairs(over or {}) do t[k] = v end
    return t
end

local function upload(step, blobs, setup, user)
    return core.provider_request("mastodon", "upload", {}, {}, user or U, TS, NONCE, setup, step, blobs or { PNG })
end

local function parse(action, status, body, step, headers)
    return core.provider_parse("mastodon", action, {}, {}, U, status, headers or {}, body, NOW, step)
end

local function publish(input, blobs, setup)
    return core.provider_request("mastodon", "publish", input, {}, U, TS, NONCE, setup, nil, blobs)
end

-- the multipart/form-data body the upload must send, rendered here on its own
local function multipart(boundary, parts)
    local out = {}
    for _, p in ipairs(parts) do
        out[#out + 1] = "--" .. boundary .. "\r\n"
        if p.filename then
            out[#out + 1] = 'Content-Disposition: form-data; name="' .. p.name .. '"; filename="' .. p.filename
                .. '"\r\nContent-Type: ' .. p.type .. "\r\n\r\n" .. p.value .. "\r\n"
        else
            out[#out + 1] = 'Content-Disposition: form-data; name="' .. p.name .. '"\r\n\r\n' .. p.value .. "\r\n"
        end
    end
    out[#out + 1] = "--" .. boundary .. "--\r\n"
    return table.concat(out)
end

local function boundary_of(r)
    local b = r.headers["Content-Type"]:match("^multipart/form%-data; boundary=(socialize%-%x+)$")
    assert.is_not_nil(b, r.headers["Content-Type"])
    assert.are.equal(34, #b)
    return b
end

describe("mastodon media: the upload request", function()
    it("POSTs /api/v2/media: the alt text as description, then the file part with its type and a name", function()
        local r = upload({ item = item() })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://m.example/api/v2/media", r.url)
        assert.are.equal("Bearer md-token", r.headers.Authorization)
        local b = boundary_of(r)
        assert.are.equal(multipart(b, {
            { name = "description", value = "The boss, defeated" },
            { name = "file", filename = "media1.png", type = "image/png", value = PNG },
        }), r.body)
        -- the same call renders the same bytes; another nonce another boundary
        assert.are.equal(r.body, upload({ item = item() }).body)
        local r2 = core.provider_request("mastodon", "upload", {}, {}, U, TS, "n2", nil, { item = item() }, { PNG })
        assert.are_not.equal(b, boundary_of(r2))
    end)

    it("sends no description without alt text, and names the file after the item and its type", function()
        local r = upload({ item = item({ index = 2, alt = "", kind = "video", mime = "video/mp4", size = #MP4 }) },
            { "", MP4 })
        assert.are.equal(multipart(boundary_of(r), {
            { name = "file", filename = "media2.mp4", type = "video/mp4", value = MP4 },
        }), r.body)
        r = upload({ item = item({ alt = "x", mime = "image/jpeg" }) })
        assert.matches('filename="media1.jpg"\r\nContent-Type: image/jpeg\r\n', r.body, 1, true)
    end)

    it("a quote or CR in the alt text stays in the value; a mime with a control character is not sent", function()
        local r = upload({ item = item({ alt = 'say "hi"\r\nthere' }) })
        assert.matches('name="description"\r\n\r\nsay "hi"\r\nthere\r\n', r.body, 1, true)
        r = upload({ item = item({ mime = "image/png\r\nX-Evil: 1" }) })
        assert.matches("Content-Type: application/octet-stream\r\n\r\n", r.body, 1, true)
        assert.is_nil(r.body:find("X-Evil", 1, true))
    end)

    it("refuses an item without bytes: Mastodon takes uploads only", function()
        local r, _, _, res = upload({ item = item({ url = "https://cdn.example/a.png" }) }, {})
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.matches("mediaItems%[1%] has no bytes", res.errorDetails)
    end)

    it("refuses an image over 16 MB or the instance's own limits, naming the item and the limit", function()
        local big = string.rep("\0", 16777217)
        local r, _, _, res = upload({ item = item({ size = #big }) }, { big })
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.are.equal("mastodon: mediaItems[1] is 16777217 bytes, over the instance's limit of 16777216 bytes "
            .. "for an image", res.errorDetails)
        r, _, _, res = upload({ item = item() }, { PNG }, { imageSizeLimit = 10 })
        assert.matches("over the instance's limit of 10 bytes for an image", res.errorDetails, 1, true)
        r, _, _, res = upload({ item = item({ kind = "video", mime = "video/mp4" }) }, { MP4 }, { videoSizeLimit = 50 })
        assert.matches("is " .. #MP4 .. " bytes, over the instance's limit of 50 bytes for a video or audio", res.errorDetails, 1, true)
        -- an instance's limit that is not a positive integer is ignored
        assert.is_not_nil(upload({ item = item() }, { PNG }, { imageSizeLimit = -1 }))
        assert.is_not_nil(upload({ item = item() }, { PNG }, { imageSizeLimit = "10" }))
    end)

    it("refuses alt text over Mastodon's 1500 characters (counted as characters, not bytes)", function()
        local ok1 = upload({ item = item({ alt = string.rep("\195\169", 1500) }) })
        assert.is_not_nil(ok1)
        local r, _, _, res = upload({ item = item({ alt = string.rep("a", 1501) }) })
        assert.is_nil(r)
        assert.are.equal("mastodon: mediaItems[1]: the alt text counts 1501 characters of 1500 allowed", res.errorDetails)
    end)

    it("needs the access token", function()
        local r, _, _, res = upload({ item = item() }, { PNG }, nil, { instance = "https://m.example" })
        assert.is_nil(r)
        assert.are.equal("not_connected", res.category)
        assert.matches("write:media", res.errorDetails, 1, true)
    end)
end)

describe("mastodon media: the upload replies", function()
    local step = { item = item() }

    it("200 with a url: the item is done (small images are processed at once)", function()
        local r = parse("upload", 200, '{"id":"109","type":"image","url":"https://files.m.example/1.png"}', step)
        assert.is_true(r.ok)
        assert.are.same({ media = { id = "109", type = "image", url = "https://files.m.example/1.png" } }, r.data)
    end)

    it("202 with url null: the next step polls that id, a second later", function()
        local r = parse("upload", 202, '{"id":"110","type":"video","url":null}', step)
        assert.is_true(r.ok)
        assert.are.same({ id = "110", polls = 0, wait = 1 }, r.data)
        -- 200 with url null is still processing too
        r = parse("upload", 200, '{"id":"110","type":"video","url":null}', step)
        assert.are.same({ id = "110", polls = 0, wait = 1 }, r.data)
    end)

    it("a poll is GET /api/v1/media/:id; 206 counts the poll and waits longer as they go", function()
        local s = { item = item(), step = { id = "110", polls = 0 } }
        local r = upload(s)
        assert.are.equal("GET", r.method)
        assert.are.equal("https://m.example/api/v1/media/110", r.url)
        assert.is_nil(r.body)
        local waits = {}
        for n = 0, 11 do
            s.step = { id = "110", polls = n }
            local p = parse("upload", 206, '{"id":"110","url":null}', s)
            assert.is_true(p.ok)
            assert.are.equal(n + 1, p.data.polls)
            waits[#waits + 1] = p.data.wait
        end
        assert.are.same({ 1, 1, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5 }, waits)
        s.step = { id = "110", polls = 7 }
        local p = parse("upload", 200, '{"id":"110","type":"video","url":"https://f/v.mp4"}', s)
        assert.are.same({ media = { id = "110", type = "video", url = "https://f/v.mp4" } }, p.data)
    end)

    it("gives up after 60 polls, naming the item: processing did not finish (transient)", function()
        local s = { item = item({ index = 3 }), step = { id = "110", polls = 59 } }
        local p = parse("upload", 206, '{"id":"110","url":null}', s)
        assert.is_false(p.ok)
        assert.are.equal("transient", p.category)
        assert.are.equal("HTTP 206: mediaItems[3]: processing did not finish after 60 polls", p.errorDetails)
        -- a state claiming more polls (or a huge number) is saturated, never wraps
        s.step.polls = 1e15
        assert.are.equal("transient", parse("upload", 206, '{"id":"110","url":null}', s).category)
        s.step.polls = -5
        assert.are.equal(1, parse("upload", 206, '{"id":"110","url":null}', s).data.polls)
    end)

    it("422 on a poll: processing failed, the item named (content_invalid)", function()
        local s = { item = item({ index = 2 }), step = { id = "110", polls = 1 } }
        local p = parse("upload", 422, '{"error":"Error processing thumbnail for uploaded media"}', s)
        assert.is_false(p.ok)
        assert.are.equal("content_invalid", p.category)
        assert.are.equal("HTTP 422: mediaItems[2]: processing failed: Error processing thumbnail for uploaded media",
            p.errorDetails)
    end)

    it("upload failures: classified as any call's, the item named", function()
        local p = parse("upload", 422, '{"error":"Validation failed: File content type is invalid"}', step)
        assert.are.equal("content_invalid", p.category)
        assert.are.equal("HTTP 422: mediaItems[1]: Validation failed: File content type is invalid", p.errorDetails)
        p = parse("upload", 401, '{"error":"The access token is invalid"}', step)
        assert.are.equal("auth_expired", p.category)
        p = parse("upload", 503, '{"error":"Service Unavailable"}', { item = item(), step = { id = "1", polls = 2 } })
        assert.are.equal("transient", p.category)
        assert.matches("mediaItems[1]", p.errorDetails, 1, true)
        p = parse("upload", 429, '{"error":"Too many requests"}', step, { ["X-RateLimit-Reset"] = "2023-11-14T22:18:20.000Z" })
        assert.are.equal("rate_limited", p.category)
        assert.are.equal("account", p.scope)
        assert.are.equal(300, p.retryAfter)
    end)

    it("a success without a usable id, or a poll answering another id, is not taken", function()
        for _, body in ipairs({ '{"url":"https://f/1.png"}', '{"id":"../../statuses","url":null}', '{"id":12,"url":null}',
                                 '{"id":"' .. string.rep("1", 65) .. '","url":null}', "[]" }) do
            local p = parse("upload", 202, body, step)
            assert.is_false(p.ok, body)
            assert.are.equal("transient", p.category)
            assert.matches("mediaItems[1]: the reply has no media id", p.errorDetails, 1, true)
        end
        local p = parse("upload", 200, '{"id":"999","url":"https://f/1.png"}', { item = item(), step = { id = "110" } })
        assert.is_false(p.ok)
        assert.matches("no matching media id", p.errorDetails, 1, true)
    end)

    it("refuses a poll state whose id could leave the path", function()
        for _, id in ipairs({ "../statuses", "1/2", "1?x=2", "", "1 2" }) do
            local r, _, _, res = upload({ item = item(), step = { id = id } })
            assert.is_nil(r, id)
            assert.are.equal("content_invalid", res.category)
        end
    end)
end)

describe("mastodon media: the status", function()
    local function media(n, over)
        local t, blobs = {}, {}
        for i = 1, n do
            t[i] = item({ index = i, id = tostring(200 + i), url = "https://files.m.example/" .. i .. ".png" })
            blobs[i] = PNG
        end
        for k, v in pairs(over or {}) do t[1][k] = v end
        return t, blobs
    end

    it("sends media_ids[] in item order; the text may be empty", function()
        local m, blobs = media(3)
        local r = publish({ userAction = { title = "Level 7" }, media = m }, blobs)
        assert.are.equal("https://m.example/api/v1/statuses", r.url)
        assert.are.same({ status = "Level 7", visibility = "public", media_ids = { "201", "202", "203" } },
            core.json_decode(r.body))
        r = publish({ userAction = {}, media = m }, blobs)
        assert.are.same({ status = "", visibility = "public", media_ids = { "201", "202", "203" } }, core.json_decode(r.body))
    end)

    it("a post without media has no media_ids", function()
        local r = publish({ userAction = { title = "t" } })
        assert.are.equal('{"status":"t","visibility":"public"}', r.body)
    end)

    it("at most 4 items, or the instance's max_media_attachments", function()
        local m, blobs = media(5)
        local r, _, _, res = publish({ userAction = { title = "t" }, media = m }, blobs)
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.are.equal("mastodon: 5 media items, the instance takes at most 4 per post", res.errorDetails)
        assert.is_not_nil(publish({ userAction = { title = "t" }, media = m }, blobs, { maxMediaAttachments = 6 }))
        m, blobs = media(2)
        r, _, _, res = publish({ userAction = { title = "t" }, media = m }, blobs, { maxMediaAttachments = 1 })
        assert.are.equal("mastodon: 2 media items, the instance takes at most 1 per post", res.errorDetails)
    end)

    it("a video or audio goes alone", function()
        local m, blobs = media(2, { kind = "video", mime = "video/mp4" })
        local r, _, _, res = publish({ userAction = { title = "t" }, media = m }, blobs)
        assert.is_nil(r)
        assert.are.equal("mastodon: mediaItems[1] is a video: it goes alone, not with 1 other items", res.errorDetails)
        m, blobs = media(1, { kind = "audio", mime = "audio/mpeg" })
        assert.are.same({ "201" }, core.json_decode(publish({ userAction = { title = "t" }, media = m }, blobs).body).media_ids)
    end)

    it("an item that was not uploaded (no id, or one that could leave the path) is named", function()
        local m, blobs = media(2)
        m[2].id = nil
        local r, _, _, res = publish({ userAction = { title = "t" }, media = m }, blobs)
        assert.is_nil(r)
        assert.are.equal("mastodon: mediaItems[2] was not uploaded (no media id)", res.errorDetails)
        m[2].id = "1,2"
        r, _, _, res = publish({ userAction = { title = "t" }, media = m }, blobs)
        assert.are.equal("mastodon: mediaItems[2] was not uploaded (no media id)", res.errorDetails)
    end)

    it("the Idempotency-Key: the same post with the same media has the same key, whatever their ids", function()
        local function key(m, blobs, ua)
            return publish({ userAction = ua or { title = "t" }, media = m }, blobs).headers["Idempotency-Key"]
        end
        local m, blobs = media(2)
        local k1 = key(m, blobs)
        assert.matches("^%x+$", k1)
        assert.are.equal(64, #k1)
        local m2 = media(2)
        m2[1].id, m2[2].id, m2[1].url = "9001", "9002", "https://files.m.example/other.png"
        assert.are.equal(k1, key(m2, blobs))
        -- other bytes, other alt text, another order or other text: another key
        assert.are_not.equal(k1, key(m, { PNG, PNG .. "x" }))
        local m3 = media(2)
        m3[2].alt = "another"
        assert.are_not.equal(k1, key(m3, blobs))
        assert.are_not.equal(k1, key(m, blobs, { title = "u" }))
        assert.are_not.equal(k1, key(media(1), { PNG }))
    end)
end)

describe("mastodon media: the instance's limits and unused uploads", function()
    it("the setup step keeps the instance's media limits when it says them", function()
        local r = parse("instance", 200, '{"configuration":{"statuses":{"max_characters":500,'
            .. '"characters_reserved_per_url":23,"max_media_attachments":8},"media_attachments":{'
            .. '"image_size_limit":10485760,"video_size_limit":41943040,"supported_mime_types":["image/png"]}}}')
        assert.are.same({ maxCharacters = 500, charactersReservedPerUrl = 23, maxMediaAttachments = 8,
                          imageSizeLimit = 10485760, videoSizeLimit = 41943040 }, r.data)
        r = parse("instance", 200, '{"configuration":{"statuses":{"max_characters":500,"max_media_attachments":"8"},'
            .. '"media_attachments":{"image_size_limit":null}}}')
        assert.are.equal(500, r.data.maxCharacters)
        assert.is_nil(r.data.maxMediaAttachments)
        assert.is_nil(r.data.imageSizeLimit)
        assert.is_nil(r.data.videoSizeLimit)
    end)

    it("DELETE /api/v1/media/:id of an upload the post did not use", function()
        local r = core.provider_request("mastodon", "unmedia", {}, {}, U, TS, NONCE, nil, { media = { id = "201", url = "u" } })
        assert.are.equal("DELETE", r.method)
        assert.are.equal("https://m.example/api/v1/media/201", r.url)
        assert.are.equal("Bearer md-token", r.headers.Authorization)
        local p = parse("unmedia", 200, '{"id":"201"}', { media = { id = "201" } })
        assert.is_true(p.ok)
        assert.are.same({ deleted = "201" }, p.data)
        p = parse("unmedia", 404, '{"error":"Record not found"}', { media = { id = "201" } })
        assert.is_false(p.ok)
        local r2, _, _, res = core.provider_request("mastodon", "unmedia", {}, {}, U, TS, NONCE, nil, { media = { id = "../x" } })
        assert.is_nil(r2)
        assert.are.equal("content_invalid", res.category)
    end)

    it("provider_info says what Mastodon takes", function()
        local i = core.provider_info("mastodon")
        assert.are.same({ images = 4, videos = 1, audio = true, maxImage = 16777216, maxVideo = 103809024, byUrl = false,
                          bytes = false, upload = true, alt = true, deletable = true, chunk = 0 },
            (function() local t = {} for k, v in pairs(i.media) do if v ~= core.null then t[k] = v end end return t end)())
        assert.is_nil(i.carries) -- media are the media struct's; the rest is text.compose's
    end)
end)
