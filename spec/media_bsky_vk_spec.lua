-- Issue 12, item 1: media for Bluesky (com.atproto.repo.uploadBlob, then the
-- record's embed) and VK (photos.getWallUploadServer -> the upload server ->
-- photos.saveWallPhoto -> wall.post attachments; photos.delete), at the core
-- level: each step's request byte for byte, each reply's parse, the limits.
local core = require("socialize.core")

local TS, NONCE = 1700000000, "n1"
local CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

-- a PNG's first bytes (16 x 8), then bytes a text path would mangle
local function png(extra)
    return "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\16\0\0\0\8\8\2\0\0\0" .. "\0\r\n\255--x\0" .. (extra or "")
end

local function req(provider, action, input, user, setup, step, blobs)
    return core.provider_request(provider, action, input, {}, user, TS, NONCE, setup, step, blobs)
end

local function parse(provider, action, user, status, body, step, input)
    return core.provider_parse(provider, action, input or {}, {}, user, status, {}, body, TS, step)
end

local function boundary_of(r)
    return (r.headers["Content-Type"] or ""):match("^multipart/form%-data; boundary=(socialize%-%x+)$")
end

describe("bluesky media", function()
    local USER = { identifier = "gamer.bsky.social" }
    local SESS = { accessJwt = "acc-1", did = "did:plc:abc" }
    local BYTES = png()
    local ITEM = { index = 1, kind = "image", mime = "image/png", size = #BYTES, width = 16, height = 8 }

    local function blob(link, mime, size)
        return { ["$type"] = "blob", ref = { ["$link"] = link }, mimeType = mime, size = size }
    end

    it("says what it takes: 4 images of at most 1,000,000 bytes, uploaded, with alt text", function()
        local m = core.provider_info("bluesky").media
        assert.are.equal(4, m.images)
        assert.are.equal(0, m.videos)
        assert.are.equal(1000000, m.maxImage)
        assert.is_true(m.upload)
        assert.is_true(m.alt)
        assert.is_false(m.deletable)
        assert.is_false(m.byUrl)
        assert.are.equal("description:link card (not with images)", core.provider_info("bluesky").carries)
    end)

    it("uploads the raw bytes to uploadBlob with the item's type and the session's bearer", function()
        local r = assert(req("bluesky", "upload", {}, USER, SESS, { item = ITEM }, { BYTES }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://bsky.social/xrpc/com.atproto.repo.uploadBlob", r.url)
        assert.are.equal("image/png", r.headers["Content-Type"])
        assert.are.equal("Bearer acc-1", r.headers.Authorization)
        assert.are.equal(BYTES, r.body)
        local p = assert(req("bluesky", "upload", {}, { identifier = "x", pds = "https://pds.example" }, SESS,
            { item = ITEM }, { BYTES }))
        assert.are.equal("https://pds.example/xrpc/com.atproto.repo.uploadBlob", p.url)
    end)

    it("refuses an image over 1,000,000 bytes, naming the item and the limit", function()
        local big = png(string.rep("a", 1000000))
        local item = { index = 2, kind = "image", mime = "image/png", size = #big }
        local r, msg, _, res = req("bluesky", "upload", {}, USER, SESS, { item = item }, { "", big })
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.truthy(msg:find("mediaItems[2]", 1, true), msg)
        assert.truthy(msg:find("1000000", 1, true), msg)
        -- exactly the limit is taken
        local edge = png(string.rep("a", 1000000 - #png()))
        assert.are.equal(1000000, #edge)
        assert(req("bluesky", "upload", {}, USER, SESS, { item = item }, { "", edge }))
    end)

    it("refuses an upload without a session, a video, an item without bytes or an image type", function()
        local _, _, _, res = req("bluesky", "upload", {}, USER, nil, { item = ITEM }, { BYTES })
        assert.are.equal("not_connected", res.category)
        local _, m2, _, r2 = req("bluesky", "upload", {}, USER, SESS,
            { item = { index = 1, kind = "video", mime = "video/mp4" } }, { BYTES })
        assert.are.equal("content_invalid", r2.category)
        assert.truthy(m2:find("mediaItems[1] is video", 1, true), m2)
        local _, _, _, r3 = req("bluesky", "upload", {}, USER, SESS, { item = ITEM }, {})
        assert.are.equal("content_invalid", r3.category)
        local _, m4, _, r4 = req("bluesky", "upload", {}, USER, SESS,
            { item = { index = 1, kind = "image", mime = "text/html" } }, { BYTES })
        assert.are.equal("content_invalid", r4.category)
        assert.truthy(m4:find("no image type", 1, true), m4)
    end)

    it("parses uploadBlob's blob ref into the item's media", function()
        local body = core.json_encode({ blob = blob(CID, "image/png", #BYTES) })
        local res = parse("bluesky", "upload", USER, 200, body, { item = ITEM })
        assert.is_true(res.ok)
        assert.are.same({ id = CID, blob = blob(CID, "image/png", #BYTES) }, res.data.media)
        for _, bad in ipairs({ "{}", '{"blob":{"ref":{"$link":"x y"},"mimeType":"image/png","size":3}}',
            '{"blob":{"ref":{"$link":"' .. CID .. '"},"mimeType":"image/png","size":0}}',
            '{"blob":{"ref":{"$link":"' .. CID .. '"},"mimeType":"text/html","size":3}}', "not json" }) do
            local f = parse("bluesky", "upload", USER, 200, bad, { item = ITEM })
            assert.is_false(f.ok, bad)
            assert.are.equal("transient", f.category, bad)
        end
        local tl = parse("bluesky", "upload", USER, 400,
            '{"error":"BlobTooLarge","message":"This file is too large. It is 1.2MB but the maximum size is 1MB."}',
            { item = ITEM })
        assert.are.equal("content_invalid", tl.category)
        local ex = parse("bluesky", "upload", USER, 400, '{"error":"ExpiredToken","message":"Token has expired"}',
            { item = ITEM })
        assert.are.equal("auth_expired", ex.category)
        local five = parse("bluesky", "upload", USER, 502, "<html>bad gateway</html>", { item = ITEM })
        assert.are.equal("transient", five.category)
    end)

    local function publish(ua, media, blobs)
        local r, msg, _, res = req("bluesky", "publish", { userAction = ua, media = media }, USER, SESS, nil, blobs)
        if not r then return nil, msg, res end
        return core.json_decode(r.body), r
    end

    it("embeds images: blob refs, alt always present, aspectRatio when known; the link stays a facet", function()
        local media = {
            { index = 1, kind = "image", mime = "image/png", size = 40, width = 1200, height = 675, alt = "The boss",
              id = CID, blob = blob(CID, "image/png", 40) },
            { index = 2, kind = "image", mime = "image/jpeg", size = 7, id = "bafkreiaaaaaaaaaa" },
        }
        local b = assert(publish({ title = "Level 7!", linkBack = "https://game.example/p/1" }, media))
        local rec = b.record
        assert.are.equal("Level 7!\n\nhttps://game.example/p/1", rec.text)
        assert.are.equal("app.bsky.richtext.facet#link", rec.facets[1].features[1]["$type"])
        assert.are.same({ ["$type"] = "app.bsky.embed.images", images = {
            { image = blob(CID, "image/png", 40), alt = "The boss", aspectRatio = { width = 1200, height = 675 } },
            { image = blob("bafkreiaaaaaaaaaa", "image/jpeg", 7), alt = "" },
        } }, rec.embed)
    end)

    it("one image without alt text and a link: the link card with that image as its thumb", function()
        local media = { { index = 1, kind = "image", mime = "image/png", size = 40, width = 16, height = 8, id = CID,
            blob = blob(CID, "image/png", 40) } }
        local b = assert(publish({ title = "Level 7!", description = "Beat the boss", linkBack = "https://game.example/p/1" },
            media))
        assert.are.same({ ["$type"] = "app.bsky.embed.external", external = {
            uri = "https://game.example/p/1", title = "Level 7!", description = "Beat the boss",
            thumb = blob(CID, "image/png", 40) } }, b.record.embed)
        -- with alt text the image is the post's content: images, the alt kept
        media[1].alt = "A boss"
        local c = assert(publish({ title = "Level 7!", linkBack = "https://game.example/p/1" }, media))
        assert.are.equal("app.bsky.embed.images", c.record.embed["$type"])
        assert.are.equal("A boss", c.record.embed.images[1].alt)
        -- no link: images
        media[1].alt = nil
        local d = assert(publish({ title = "Level 7!" }, media))
        assert.are.equal("app.bsky.embed.images", d.record.embed["$type"])
        -- a link alone: the card without a thumb, as before
        local e = assert(publish({ title = "Level 7!", linkBack = "https://game.example/p/1" }, nil))
        assert.are.same({ uri = "https://game.example/p/1", title = "Level 7!", description = "" }, e.record.embed.external)
    end)

    it("posts images with no text at all", function()
        local b = assert(publish({}, { { index = 1, kind = "image", mime = "image/png", size = 4, id = CID } }))
        assert.are.equal("", b.record.text)
        assert.are.equal(CID, b.record.embed.images[1].image.ref["$link"])
    end)

    it("refuses 5 images, an item never uploaded and a blob ref that is not a CID", function()
        local five = {}
        for i = 1, 5 do five[i] = { index = i, kind = "image", mime = "image/png", size = 4, id = CID } end
        local _, msg, res = publish({ title = "t" }, five)
        assert.are.equal("content_invalid", res.category)
        assert.truthy(msg:find("at most 4 images", 1, true), msg)
        local _, m2, r2 = publish({ title = "t" }, { { index = 1, kind = "image", mime = "image/png", size = 4, id = CID },
            { index = 2, kind = "image", mime = "image/png", size = 4 } })
        assert.are.equal("content_invalid", r2.category)
        assert.truthy(m2:find("mediaItems[2] was not uploaded", 1, true), m2)
        local _, m3 = publish({ title = "t" }, { { index = 1, kind = "image", mime = "image/png", size = 4,
            id = "x\"}, \"evil\": {" } })
        assert.truthy(m3:find("mediaItems[1] was not uploaded", 1, true), m3)
    end)
end)

describe("vkontakte media", function()
    local USER = { accessToken = "vk-tok", userId = "1" }
    local GROUP = { accessToken = "vk-tok", ownerId = "-77" }
    local BYTES = png()
    local ITEM = { index = 1, kind = "image", mime = "image/png", size = #BYTES }
    local UPLOAD = "https://pu.vk.com/c123/ss/upload.php?act=do_add&mid=1&aid=-14&gid=0&hash=ab&rhash=cd&api=1&wallphoto=1"

    it("says what it takes: photos (jpeg, png, gif) uploaded, deletable", function()
        local m = core.provider_info("vkontakte").media
        assert.are.equal(10, m.images)
        assert.are.equal(0, m.videos)
        assert.are.equal(52428800, m.maxImage)
        assert.are.equal("image/jpeg,image/png,image/gif", m.mimes)
        assert.is_true(m.upload)
        assert.is_true(m.deletable)
    end)

    it("step 1: photos.getWallUploadServer (group_id for a community wall)", function()
        local r = assert(req("vkontakte", "upload", {}, USER, nil, { item = ITEM }, { BYTES }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.vk.com/method/photos.getWallUploadServer", r.url)
        assert.are.equal("access_token=vk-tok&v=5.199", r.body)
        local g = assert(req("vkontakte", "upload", {}, GROUP, nil, { item = ITEM }, { BYTES }))
        assert.are.equal("access_token=vk-tok&group_id=77&v=5.199", g.body)
        local res = parse("vkontakte", "upload", USER, 200,
            core.json_encode({ response = { upload_url = UPLOAD, album_id = -14, user_id = 1 } }), { item = ITEM })
        assert.is_true(res.ok)
        assert.are.same({ stage = "upload", uploadUrl = UPLOAD, restarts = 0 }, res.data)
    end)

    it("step 1's errors: HTTP 200 with an error object, an upload_url that is not http(s)", function()
        local function e(code) return core.json_encode({ error = { error_code = code, error_msg = "m" } }) end
        assert.are.equal("auth_expired", parse("vkontakte", "upload", USER, 200, e(5), { item = ITEM }).category)
        assert.are.equal("permission_missing", parse("vkontakte", "upload", USER, 200, e(15), { item = ITEM }).category)
        assert.are.equal("rate_limited", parse("vkontakte", "upload", USER, 200, e(6), { item = ITEM }).category)
        for _, u in ipairs({ "javascript:alert(1)", "file:///etc/passwd", "https://pu.vk.com/a b", "" }) do
            local res = parse("vkontakte", "upload", USER, 200, core.json_encode({ response = { upload_url = u } }),
                { item = ITEM })
            assert.is_false(res.ok, u)
            assert.are.equal("transient", res.category, u)
        end
    end)

    it("step 2: the photo as multipart `photo` to the upload URL, byte for byte, no token", function()
        local st = { item = ITEM, step = { stage = "upload", uploadUrl = UPLOAD, restarts = 0 } }
        local r = assert(req("vkontakte", "upload", {}, USER, nil, st, { BYTES }))
        assert.are.equal("POST", r.method)
        assert.are.equal(UPLOAD, r.url)
        local b = assert(boundary_of(r))
        assert.are.equal("--" .. b .. "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"photo.png\"\r\n"
            .. "Content-Type: image/png\r\n\r\n" .. BYTES .. "\r\n--" .. b .. "--\r\n", r.body)
        assert.is_nil(r.body:find("vk-tok", 1, true))
        -- the same call renders the same bytes
        assert.are.equal(r.body, assert(req("vkontakte", "upload", {}, USER, nil, st, { BYTES })).body)
        -- an upload URL that is not http(s) is refused before anything is sent
        for _, u in ipairs({ "file:///etc/passwd", "gopher://x/", "https://a b/" }) do
            local _, msg, _, res = req("vkontakte", "upload", {}, USER, nil,
                { item = ITEM, step = { stage = "upload", uploadUrl = u } }, { BYTES })
            assert.are.equal("content_invalid", res.category, u)
            assert.truthy(msg:find("mediaItems[1]", 1, true), msg)
        end
    end)

    it("step 2's reply: {server, photo, hash}; a bad image; an expired URL restarts once; a 5xx", function()
        local st = { item = ITEM, step = { stage = "upload", uploadUrl = UPLOAD, restarts = 0 } }
        local ok = parse("vkontakte", "upload", USER, 200,
            '{"server":812345,"photo":"[{\\"photo\\":\\"a1b2:z\\",\\"sizes\\":[]}]","hash":"f00d"}', st)
        assert.is_true(ok.ok)
        assert.are.same({ stage = "save", server = 812345, photo = '[{"photo":"a1b2:z","sizes":[]}]', hash = "f00d" },
            ok.data)
        local bad = parse("vkontakte", "upload", USER, 200,
            '{"error":"ERR_UPLOAD_BAD_IMAGE_SIZE: image is too small"}', st)
        assert.are.equal("content_invalid", bad.category)
        for _, reply in ipairs({ { 200, '{"server":1,"photo":"[]","hash":"x"}' },
            { 200, '{"error":"ERR_UPLOAD_EXPIRED: upload url has expired"}' }, { 403, '{"error":"forbidden"}' } }) do
            local again = parse("vkontakte", "upload", USER, reply[1], reply[2], st)
            assert.is_true(again.ok, reply[2])
            assert.are.same({ restarts = 1 }, again.data)
            local twice = parse("vkontakte", "upload", USER, reply[1], reply[2],
                { item = ITEM, step = { stage = "upload", uploadUrl = UPLOAD, restarts = 1 } })
            assert.is_false(twice.ok, reply[2])
            assert.are.equal("transient", twice.category)
        end
        assert.are.equal("transient", parse("vkontakte", "upload", USER, 502, "<html>", st).category)
        assert.are.equal("transient", parse("vkontakte", "upload", USER, 503, '{"error":"x"}', st).category)
        -- a restart asks for a new upload server, carrying the count
        local r = assert(req("vkontakte", "upload", {}, USER, nil, { item = ITEM, step = { restarts = 1 } }, { BYTES }))
        assert.are.equal("https://api.vk.com/method/photos.getWallUploadServer", r.url)
        local again = parse("vkontakte", "upload", USER, 200, core.json_encode({ response = { upload_url = UPLOAD } }),
            { item = ITEM, step = { restarts = 1 } })
        assert.are.same({ stage = "upload", uploadUrl = UPLOAD, restarts = 1 }, again.data)
    end)

    it("step 3: photos.saveWallPhoto with user_id or group_id; its reply is the attachment id", function()
        local save = { stage = "save", server = 812345, photo = '[{"photo":"a1b2:z"}]', hash = "f00d" }
        local r = assert(req("vkontakte", "upload", {}, USER, nil, { item = ITEM, step = save }, { BYTES }))
        assert.are.equal("https://api.vk.com/method/photos.saveWallPhoto", r.url)
        assert.are.equal("access_token=vk-tok&hash=f00d&photo=%5B%7B%22photo%22%3A%22a1b2%3Az%22%7D%5D"
            .. "&server=812345&user_id=1&v=5.199", r.body)
        local g = assert(req("vkontakte", "upload", {}, GROUP, nil, { item = ITEM, step = save }, { BYTES }))
        assert.truthy(g.body:find("&group_id=77&", 1, true), g.body)
        assert.is_nil(g.body:find("user_id", 1, true))
        local res = parse("vkontakte", "upload", USER, 200,
            '{"response":[{"id":457239017,"album_id":-14,"owner_id":1,"sizes":[]}]}', { item = ITEM, step = save })
        assert.is_true(res.ok)
        assert.are.same({ media = { id = "photo1_457239017" } }, res.data)
        local gr = parse("vkontakte", "upload", GROUP, 200, '{"response":[{"id":5,"owner_id":-77}]}',
            { item = ITEM, step = save })
        assert.are.equal("photo-77_5", gr.data.media.id)
        assert.are.equal("content_invalid", parse("vkontakte", "upload", USER, 200,
            '{"error":{"error_code":100,"error_msg":"One of the parameters specified was missing or invalid"}}',
            { item = ITEM, step = save }).category)
        assert.are.equal("transient", parse("vkontakte", "upload", USER, 200, '{"response":[]}',
            { item = ITEM, step = save }).category)
        -- a state without server, photo and hash is refused
        local _, _, _, bad = req("vkontakte", "upload", {}, USER, nil,
            { item = ITEM, step = { stage = "save", server = "1&x=2", photo = "p", hash = "h" } }, { BYTES })
        assert.are.equal("content_invalid", bad.category)
    end)

    it("wall.post names the photos in attachments, the link last", function()
        local media = { { index = 1, kind = "image", id = "photo1_457" }, { index = 2, kind = "image", id = "photo-77_5" } }
        local r = assert(req("vkontakte", "publish", { userAction = { title = "Level 7!", linkBack = "https://game.example/p/1" },
            media = media }, USER))
        assert.truthy(r.body:find("^access_token=vk%-tok&attachments=photo1_457%%2Cphoto%-77_5%%2Chttps%%3A%%2F%%2Fgame"
            .. "%.example%%2Fp%%2F1&guid=%x+&message=Level%%207%%21&owner_id=1&v=5%.199$"), r.body)
        assert.truthy(r.body:find("message=Level%207%21", 1, true), r.body)
        -- photos only: no message
        local p = assert(req("vkontakte", "publish", { userAction = {}, media = { media[1] } }, USER))
        assert.is_nil(p.body:find("message=", 1, true))
        assert.truthy(p.body:find("attachments=photo1_457&", 1, true), p.body)
    end)

    it("refuses an item never uploaded, an id that is not a photo's, 10 photos and a link", function()
        local function pub(media, ua)
            local _, msg, _, res = req("vkontakte", "publish", { userAction = ua or { title = "t" }, media = media }, USER)
            return msg, res
        end
        for _, id in ipairs({ false, "photo1_2,wall1_1", "photo1_", "photo_2", "video1_2", "photo1_-2" }) do
            local msg, res = pub({ { index = 1, kind = "image", id = id or nil } })
            assert.are.equal("content_invalid", res.category, tostring(id))
            assert.truthy(msg:find("mediaItems[1] was not uploaded", 1, true), msg)
        end
        local ten = {}
        for i = 1, 10 do ten[i] = { index = i, kind = "image", id = "photo1_" .. i } end
        assert(req("vkontakte", "publish", { userAction = { title = "t" }, media = ten }, USER))
        local msg, res = pub(ten, { title = "t", linkBack = "https://game.example/" })
        assert.are.equal("content_invalid", res.category)
        assert.truthy(msg:find("at most 10 attachments", 1, true), msg)
    end)

    it("unmedia: photos.delete of a saved photo; its reply 1", function()
        local r = assert(req("vkontakte", "unmedia", {}, GROUP, nil, { media = { id = "photo-77_5" } }))
        assert.are.equal("https://api.vk.com/method/photos.delete", r.url)
        assert.are.equal("access_token=vk-tok&owner_id=-77&photo_id=5&v=5.199", r.body)
        local del = parse("vkontakte", "unmedia", GROUP, 200, '{"response":1}', { media = { id = "photo-77_5" } })
        assert.is_true(del.ok)
        assert.are.equal("photo-77_5", del.postID)
        assert.are.equal("permission_missing", parse("vkontakte", "unmedia", GROUP, 200,
            '{"error":{"error_code":15,"error_msg":"Access denied"}}', { media = { id = "photo-77_5" } }).category)
        local _, _, _, bad = req("vkontakte", "unmedia", {}, GROUP, nil, { media = { id = "wall-77_5" } })
        assert.are.equal("content_invalid", bad.category)
    end)
end)
