-- Media on X and LinkedIn at the core level (docs/media.md): each upload
-- step's request byte for byte, the parse of each reply (the next step's
-- state, polling, done, classified failures), the limits, and the posts
-- that carry the uploaded media.
require("spec.helper")
local core = require("socialize.core")

local TS, NONCE, NOW = 1700000000, "n1", 1700000000
local X_APP = { consumerKey = "ck", consumerSecret = "cs" }
local X_USER = { token = "t", tokenSecret = "ts" }
local LI_USER = { accessToken = "li-token", personId = "abc" }
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3" .. ("\0\1\2\255"):rep(8)
local CHUNK = 4194304

local function req(p, action, input, app, user, step, blobs, nonce)
    return core.provider_request(p, action, input or {}, app or {}, user or {}, TS, nonce or NONCE, nil, step, blobs)
end

local function parse(p, action, status, body, step, headers)
    return core.provider_parse(p, action, {}, {}, {}, status, headers or {}, body, NOW, step)
end

local function boundary(r)
    local b = r.headers["Content-Type"]:match("^multipart/form%-data; boundary=(socialize%-%x+)$")
    assert.is_truthy(b, r.headers["Content-Type"])
    return b
end

local function field(b, name, value)
    return "--" .. b .. '\r\nContent-Disposition: form-data; name="' .. name .. '"\r\n\r\n' .. value .. "\r\n"
end

local function file(b, name, mime, bytes)
    return "--" .. b .. '\r\nContent-Disposition: form-data; name="' .. name .. '"; filename="media"\r\n' ..
        "Content-Type: " .. mime .. "\r\n\r\n" .. bytes .. "\r\n"
end

local function item(t)
    local it = { index = 1, kind = "image", mime = "image/png", size = #PNG }
    for k, v in pairs(t or {}) do it[k] = v end
    return it
end

describe("X media #unit", function()
    it("says what it takes", function()
        local m = core.provider_info("twitter").media
        assert.are.equal(4, m.images)
        assert.are.equal(1, m.videos)
        assert.are.equal(false, m.audio)
        assert.are.equal(5242880, m.maxImage)
        assert.are.equal(536870912, m.maxVideo)
        assert.are.equal(CHUNK, m.chunk)
        assert.is_true(m.upload and m.alt)
        assert.is_false(m.byUrl or m.deletable)
        assert.are.equal("", core.provider_info("twitter").carries)
    end)

    it("uploads an image in one multipart POST, the same bytes for the same call", function()
        local r = req("twitter", "upload", {}, X_APP, X_USER, { item = item() }, { PNG })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.x.com/2/media/upload", r.url)
        local b = boundary(r)
        assert.are.equal(field(b, "media_category", "tweet_image") .. file(b, "media", "image/png", PNG) ..
            "--" .. b .. "--\r\n", r.body)
        assert.matches('^OAuth oauth_consumer_key="ck", oauth_nonce="n1", oauth_signature="', r.headers.Authorization)
        local again = req("twitter", "upload", {}, X_APP, X_USER, { item = item() }, { PNG })
        assert.are.equal(r.body, again.body)
        assert.are_not.equal(b, boundary(req("twitter", "upload", {}, X_APP, X_USER, { item = item() }, { PNG }, "n2")))
        -- the reply: the item is done (no alt text)
        local res = parse("twitter", "upload", 200, '{"data":{"id":"1880028106020515840","media_key":"3_1880028106020515840","size":58}}',
            { item = item() })
        assert.is_true(res.ok)
        assert.are.same({ media = { id = "1880028106020515840" } }, res.data)
    end)

    it("a bearer token authenticates uploads as it does tweets", function()
        local r = req("twitter", "upload", {}, {}, { bearerToken = "bt" }, { item = item() }, { PNG })
        assert.are.equal("Bearer bt", r.headers.Authorization)
    end)

    it("sends alt text by POST /2/media/metadata after the upload", function()
        local it = item({ alt = "The boss, defeated" })
        local res = parse("twitter", "upload", 200, '{"data":{"id":"77"}}', { item = it })
        assert.are.same({ phase = "metadata", id = "77" }, res.data)
        local r = req("twitter", "upload", {}, X_APP, X_USER, { item = it, step = res.data }, { PNG })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.x.com/2/media/metadata", r.url)
        assert.are.equal('{"id":"77","metadata":{"alt_text":{"text":"The boss, defeated"}}}', r.body)
        assert.are.equal("application/json", r.headers["Content-Type"])
        res = parse("twitter", "upload", 200, '{"data":{"associated_metadata":{}}}', { item = it, step = res.data })
        assert.are.same({ media = { id = "77" } }, res.data)
        -- X keeps 1000 characters of alt text: cut on a character, never inside one
        local long = ("é"):rep(1200)
        r = req("twitter", "upload", {}, X_APP, X_USER, { item = item({ alt = long }), step = { phase = "metadata", id = "77" } }, { PNG })
        assert.are.equal('{"id":"77","metadata":{"alt_text":{"text":"' .. ("é"):rep(1000) .. '"}}}', r.body)
    end)

    it("uploads a video in chunks: initialize, append (each its own slice), finalize, STATUS polls", function()
        local video = ("A"):rep(CHUNK) .. ("B"):rep(CHUNK) .. "0123456789"
        local it = { index = 1, kind = "video", mime = "video/mp4", size = #video, alt = "ignored on video" }
        local r = req("twitter", "upload", {}, X_APP, X_USER, { item = it }, { video })
        assert.are.equal("https://api.x.com/2/media/upload/initialize", r.url)
        assert.are.equal('{"media_category":"tweet_video","media_type":"video/mp4","total_bytes":8388618}', r.body)
        local res = parse("twitter", "upload", 200, '{"data":{"id":"1912","media_key":"7_1912","expires_after_secs":86400}}',
            { item = it })
        assert.are.same({ phase = "append", id = "1912", segment = 0 }, res.data)
        local state, slices = res.data, { ("A"):rep(CHUNK), ("B"):rep(CHUNK), "0123456789" }
        for seg = 0, 2 do
            r = req("twitter", "upload", {}, X_APP, X_USER, { item = it, step = state }, { video })
            assert.are.equal("POST", r.method)
            assert.are.equal("https://api.x.com/2/media/upload/1912/append", r.url)
            local b = boundary(r)
            assert.are.equal(field(b, "segment_index", tostring(seg)) ..
                file(b, "media", "application/octet-stream", slices[seg + 1]) .. "--" .. b .. "--\r\n", r.body)
            -- X answers an append with no body (or a small one)
            res = parse("twitter", "upload", 204, "", { item = it, step = state })
            assert.is_true(res.ok)
            state = res.data
        end
        assert.are.same({ phase = "finalize", id = "1912" }, state)
        r = req("twitter", "upload", {}, X_APP, X_USER, { item = it, step = state }, { video })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.x.com/2/media/upload/1912/finalize", r.url)
        assert.is_nil(r.body)
        res = parse("twitter", "upload", 200,
            '{"data":{"id":"1912","media_key":"7_1912","processing_info":{"state":"pending","check_after_secs":5}}}',
            { item = it, step = state })
        assert.are.same({ phase = "status", id = "1912", polls = 0, wait = 5 }, res.data)
        state = res.data
        r = req("twitter", "upload", {}, X_APP, X_USER, { item = it, step = state }, { video })
        assert.are.equal("GET", r.method)
        assert.are.equal("https://api.x.com/2/media/upload?command=STATUS&media_id=1912", r.url)
        -- the query is signed (RFC 5849 3.4.1.3): not the signature of the bare path
        local bare = core.oauth1("GET", "https://api.x.com/2/media/upload", "ck", "cs", "t", "ts", TS, NONCE)
        assert.are_not.equal(bare, r.headers.Authorization)
        res = parse("twitter", "upload", 200,
            '{"data":{"id":"1912","processing_info":{"state":"in_progress","check_after_secs":600,"progress_percent":40}}}',
            { item = it, step = state })
        assert.are.same({ phase = "status", id = "1912", polls = 1, wait = 60 }, res.data) -- a wait is at most 60 s
        res = parse("twitter", "upload", 200, '{"data":{"id":"1912","processing_info":{"state":"succeeded","progress_percent":100}}}',
            { item = it, step = res.data })
        assert.are.same({ media = { id = "1912" } }, res.data) -- no alt text step for a video
    end)

    it("a GIF goes chunked as tweet_gif, and its alt text follows", function()
        local gif = "GIF89a\2\0\3\0" .. ("g"):rep(100)
        local it = { index = 2, kind = "gif", mime = "image/gif", size = #gif, alt = "dance" }
        local r = req("twitter", "upload", {}, X_APP, X_USER, { item = it }, { "", gif })
        assert.are.equal('{"media_category":"tweet_gif","media_type":"image/gif","total_bytes":110}', r.body)
        local res = parse("twitter", "upload", 200, '{"data":{"id":"5"}}', { item = it, step = { phase = "append", id = "5", segment = 0 } })
        assert.are.same({ phase = "finalize", id = "5" }, res.data)
        res = parse("twitter", "upload", 200, '{"data":{"id":"5","processing_info":{"state":"succeeded"}}}',
            { item = it, step = res.data })
        assert.are.same({ phase = "metadata", id = "5" }, res.data)
    end)

    it("processing that fails is content_invalid with X's message; a processing that never ends stops", function()
        local it = { index = 1, kind = "video", mime = "video/mp4", size = 10 }
        local res = parse("twitter", "upload", 200,
            '{"data":{"id":"9","processing_info":{"state":"failed","error":{"code":1,"name":"InvalidMedia","message":"Invalid or Unsupported media"}}}}',
            { item = it, step = { phase = "status", id = "9", polls = 3 } })
        assert.is_false(res.ok)
        assert.are.equal("content_invalid", res.category)
        assert.matches("Invalid or Unsupported media", res.errorDetails)
        res = parse("twitter", "upload", 200, '{"data":{"id":"9","processing_info":{"state":"in_progress","check_after_secs":1}}}',
            { item = it, step = { phase = "status", id = "9", polls = 59 } })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
        -- numbers in a state are the caller's: huge ones saturate
        res = parse("twitter", "upload", 200, '{"data":{"id":"9","processing_info":{"state":"pending"}}}',
            { item = it, step = { phase = "status", id = "9", polls = 9007199254740992 } })
        assert.are.equal("transient", res.category)
        res = parse("twitter", "upload", 204, "", { item = it, step = { phase = "append", id = "9", segment = 9007199254740992 } })
        assert.are.same({ phase = "finalize", id = "9" }, res.data)
        res = parse("twitter", "upload", 200, '{"data":{"id":"9","processing_info":{"state":"exploded"}}}',
            { item = it, step = { phase = "status", id = "9", polls = 1 } })
        assert.are.equal("transient", res.category)
        -- a reply without a media id, or a non-numeric one (it goes into a path)
        assert.are.equal("transient", parse("twitter", "upload", 200, '{"data":{}}', { item = item() }).category)
        assert.are.equal("transient", parse("twitter", "upload", 200, '{"data":{"id":"../x"}}', { item = item() }).category)
        -- an HTTP failure is classified as any call's
        res = parse("twitter", "upload", 400, '{"title":"Invalid Request","detail":"bad media","type":"about:blank","status":400}',
            { item = item() })
        assert.are.equal("content_invalid", res.category)
        res = parse("twitter", "upload", 503, '{"title":"Service Unavailable","type":"about:blank","status":503}',
            { item = it, step = { phase = "append", id = "9", segment = 0 } })
        assert.are.equal("transient", res.category)
    end)

    it("refuses what cannot be uploaded, naming the item", function()
        local function refused(step, blobs, word, cat)
            local r, _, _, res = req("twitter", "upload", {}, X_APP, X_USER, step, blobs)
            assert.is_nil(r)
            assert.are.equal(cat or "content_invalid", res.category)
            assert.matches(word, res.errorDetails, 1, true)
        end
        refused({ item = item({ kind = "audio", mime = "audio/mpeg" }) }, { "ID3abc" }, "mediaItems[1]", "unsupported")
        refused({ item = item({ url = "https://cdn.example/a.png" }) }, {}, "has none")
        refused({ item = { index = 1, kind = "video", mime = "video/mp4", size = 99 } }, { "0123456789" }, "size 99")
        local big = ("G"):rep(15728641)
        refused({ item = { index = 3, kind = "gif", mime = "image/gif", size = #big } }, { "", "", big }, "mediaItems[3]: a GIF is at most 15728640")
        refused({ item = { index = 1, kind = "video", size = 10 }, step = { phase = "append", id = "1", segment = 1 } },
            { "0123456789" }, "past the end")
        refused({ item = { index = 1, kind = "video", size = 10 }, step = { phase = "append", id = "1", segment = 9007199254740992 } },
            { "0123456789" }, "segment 9007199254740992 is past the end")
        refused({ item = item(), step = { phase = "status", id = "1/../2" } }, { PNG }, "no media id")
        refused({ item = item(), step = { phase = "dance", id = "1" } }, { PNG }, "unknown upload phase")
    end)

    it("puts the media ids on the post; the text may be empty", function()
        local media = { { index = 1, kind = "image", id = "11" }, { index = 2, kind = "image", id = "12" } }
        local r = req("twitter", "publish", { userAction = { title = "Level 7!" }, media = media }, X_APP, X_USER)
        assert.are.equal('{"media":{"media_ids":["11","12"]},"text":"Level 7!"}', r.body)
        r = req("twitter", "publish", { userAction = {}, media = { { index = 1, kind = "video", id = "13" } } }, X_APP, X_USER)
        assert.are.equal('{"media":{"media_ids":["13"]}}', r.body)
        local function refused(m, word)
            local q, _, _, res = req("twitter", "publish", { userAction = { title = "t" }, media = m }, X_APP, X_USER)
            assert.is_nil(q)
            assert.are.equal("content_invalid", res.category)
            assert.matches(word, res.errorDetails, 1, true)
        end
        local five = {}
        for i = 1, 5 do five[i] = { index = i, kind = "image", id = tostring(i) } end
        refused(five, "mediaItems[5]: X takes up to 4 images (5 items)")
        refused({ { index = 1, kind = "image", id = "1" }, { index = 2, kind = "gif", id = "2" } }, "mediaItems[2]: X takes one GIF or video alone")
        refused({ { index = 1, kind = "video", id = "1" }, { index = 2, kind = "video", id = "2" } }, "mediaItems[1]: X takes one GIF or video alone")
        refused({ { index = 1, kind = "image" } }, "mediaItems[1] was not uploaded")
        refused({ { index = 1, kind = "image", id = "1 OR 2" } }, "mediaItems[1] was not uploaded")
    end)
end)

describe("LinkedIn media #unit", function()
    local INIT = '{"value":{"uploadUrlExpiresAt":1650567510704,"uploadUrl":"https://www.linkedin.com/dms-uploads/C4E10AQ/uploaded-image/0?ca=vector_ads&cn=uploads&m=AQ&app=1953784&sync=0&v=beta&ut=2H","image":"urn:li:image:C4E10AQFoyyAjHPMQuQ"}}'

    it("says what it takes", function()
        local info = core.provider_info("linkedin")
        assert.are.equal(20, info.media.images)
        assert.are.equal(1, info.media.videos)
        assert.are.equal(524288000, info.media.maxVideo)
        assert.are.equal("image/jpeg,image/png,image/gif,video/mp4", info.media.mimes)
        assert.is_true(info.media.upload and info.media.alt)
        assert.matches("^title:.*,description:", info.carries)
    end)

    it("initializes the upload, PUTs the bytes to the uploadUrl, and answers the image URN", function()
        local it = item({ alt = "shot" })
        local r = req("linkedin", "upload", {}, {}, LI_USER, { item = it }, { PNG })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.linkedin.com/rest/images?action=initializeUpload", r.url)
        assert.are.equal('{"initializeUploadRequest":{"owner":"urn:li:person:abc"}}', r.body)
        assert.are.equal("202605", r.headers["LinkedIn-Version"])
        assert.are.equal("2.0.0", r.headers["X-Restli-Protocol-Version"])
        assert.are.equal("Bearer li-token", r.headers.Authorization)
        local res = parse("linkedin", "upload", 200, INIT, { item = it })
        assert.are.equal("put", res.data.phase)
        assert.are.equal("urn:li:image:C4E10AQFoyyAjHPMQuQ", res.data.image)
        r = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = res.data }, { PNG })
        assert.are.equal("PUT", r.method)
        assert.are.equal(res.data.uploadUrl, r.url)
        assert.are.equal(PNG, r.body)
        assert.are.equal("application/octet-stream", r.headers["Content-Type"])
        assert.are.equal("Bearer li-token", r.headers.Authorization)
        local done = parse("linkedin", "upload", 201, "", { item = it, step = res.data })
        assert.are.same({ media = { id = "urn:li:image:C4E10AQFoyyAjHPMQuQ" } }, done.data)
        -- an organization posts as itself
        r = req("linkedin", "upload", {}, {}, { accessToken = "t", author = "urn:li:organization:5" }, { item = it }, { PNG })
        assert.are.equal('{"initializeUploadRequest":{"owner":"urn:li:organization:5"}}', r.body)
    end)

    it("a refused or expired upload URL, a reply without one, an image too large", function()
        local it = item()
        local st = { phase = "put", uploadUrl = "https://www.linkedin.com/dms-uploads/x", image = "urn:li:image:1" }
        -- a refused (expired) upload URL: the item's upload starts again, once
        local res = parse("linkedin", "upload", 403, "", { item = it, step = st })
        assert.is_true(res.ok)
        assert.are.same({ restarted = true }, res.data)
        local r0 = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = res.data }, { PNG })
        assert.are.equal("https://api.linkedin.com/rest/images?action=initializeUpload", r0.url)
        res = parse("linkedin", "upload", 200, INIT, { item = it, step = res.data })
        assert.is_true(res.data.restarted)
        res = parse("linkedin", "upload", 403, "", { item = it, step = res.data })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
        assert.matches("upload URL was refused (expired?), again", res.errorDetails, 1, true)
        assert.are.equal("transient", parse("linkedin", "upload", 200, '{"value":{"image":"urn:li:image:1"}}', { item = it }).category)
        assert.are.equal("transient", parse("linkedin", "upload", 200, '{"value":{"uploadUrl":"https://www.linkedin.com/u","image":"urn:li:share:1"}}', { item = it }).category)
        for _, u in ipairs({ "https://evil.example/dms-uploads/x", "http://www.linkedin.com/u", "https://www.linkedin.com.evil.example/u",
                             "https://user@www.linkedin.com/u", "ftp://www.linkedin.com/u", "https://www.linkedin.com/a b",
                             "https://notlinkedin.com/u" }) do
            local r, _, _, why = req("linkedin", "upload", {}, {}, LI_USER,
                { item = it, step = { phase = "put", uploadUrl = u, image = "urn:li:image:1" } }, { PNG })
            assert.is_nil(r, u)
            assert.matches("mediaItems[1]: the upload URL", why.errorDetails, 1, true)
        end
        -- the API's own host (a sandbox, app.baseUrl) is LinkedIn too
        local r = req("linkedin", "upload", {}, { baseUrl = "http://127.0.0.1:8123" }, LI_USER,
            { item = it, step = { phase = "put", uploadUrl = "http://127.0.0.1:8123/dms-uploads/1", image = "urn:li:image:1" } }, { PNG })
        assert.are.equal("http://127.0.0.1:8123/dms-uploads/1", r.url)
        local _, _, _, why = req("linkedin", "upload", {}, { baseUrl = "http://127.0.0.1:8123" }, LI_USER,
            { item = it, step = { phase = "put", uploadUrl = "http://127.0.0.1:8124/dms-uploads/1", image = "urn:li:image:1" } }, { PNG })
        assert.are.equal("content_invalid", why.category)
        _, _, _, why = req("linkedin", "upload", {}, {}, LI_USER, { item = item({ width = 7000, height = 6000 }) }, { PNG })
        assert.matches("mediaItems[1]: 7000x6000 is not under 36152320 pixels", why.errorDetails, 1, true)
        _, _, _, why = req("linkedin", "upload", {}, {}, LI_USER, { item = item({ width = 9007199254740992, height = 9007199254740992 }) }, { PNG })
        assert.matches("is not under 36152320 pixels", why.errorDetails, 1, true)
        assert.are.equal("content_invalid", parse("linkedin", "upload", 201, "", { item = it, step = { phase = "put", uploadUrl = "https://www.linkedin.com/u" } }).category)
        _, _, _, why = req("linkedin", "upload", {}, {}, LI_USER, { item = item({ kind = "audio", mime = "audio/mpeg" }) }, { "ID3" })
        assert.are.equal("unsupported", why.category)
    end)

    local function post(ua, media)
        local r = req("linkedin", "publish", { userAction = ua, media = media }, {}, LI_USER)
        return core.json_decode(r.body), r
    end

    it("one image goes in content.media with its alt text; several in content.multiImage", function()
        local b = post({ userMessage = "GG" }, { { index = 1, kind = "image", id = "urn:li:image:A", alt = "boss" } })
        assert.are.same({ media = { id = "urn:li:image:A", altText = "boss" } }, b.content)
        assert.are.equal("GG", b.commentary)
        b = post({}, { { index = 1, kind = "image", id = "urn:li:image:A" } })
        assert.are.same({ media = { id = "urn:li:image:A" } }, b.content)
        assert.are.equal("", b.commentary)
        b = post({ userMessage = "GG" }, { { index = 1, kind = "image", id = "urn:li:image:A", alt = "one" },
                                         { index = 2, kind = "gif", id = "urn:li:image:B" } })
        assert.are.same({ multiImage = { images = { { id = "urn:li:image:A", altText = "one" }, { id = "urn:li:image:B" } } } }, b.content)
    end)

    it("with a link the image is the article's thumbnail; with several images the link goes in the text", function()
        local ua = { title = "Level 7", description = "Cleared", linkBack = "https://game.example/p_1" }
        local b = post(ua, { { index = 1, kind = "image", id = "urn:li:image:A", alt = "x" } })
        assert.are.same({ article = { source = "https://game.example/p_1", title = "Level 7", description = "Cleared",
                                      thumbnail = "urn:li:image:A", thumbnailAltText = "x" } }, b.content)
        b = post(ua, { { index = 1, kind = "image", id = "urn:li:image:A" }, { index = 2, kind = "image", id = "urn:li:image:B" } })
        assert.are.equal("Level 7 https://game.example/p\\_1", b.commentary)
        assert.is_nil(b.content.article)
        assert.are.equal(2, #b.content.multiImage.images)
    end)

    it("a video: initializeUpload, each part PUT (its slice), finalizeUpload with the ETags, status polls", function()
        local bytes = "\0\0\0\24ftypmp42" .. "0123456789abcdef"
        local it = { index = 1, kind = "video", mime = "video/mp4", size = #bytes }
        local r = req("linkedin", "upload", {}, {}, LI_USER, { item = it }, { bytes })
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.linkedin.com/rest/videos?action=initializeUpload", r.url)
        assert.are.equal('{"initializeUploadRequest":{"fileSizeBytes":28,"owner":"urn:li:person:abc","uploadCaptions":false,"uploadThumbnail":false}}', r.body)
        assert.are.equal("202605", r.headers["LinkedIn-Version"])
        local init = '{"value":{"uploadUrlsExpireAt":1643329380775,"video":"urn:li:video:C5505AQH","uploadInstructions":[' ..
            '{"uploadUrl":"https://www.linkedin.com/dms-uploads/a/1","firstByte":0,"lastByte":11},' ..
            '{"uploadUrl":"https://www.linkedin.com/dms-uploads/a/2","firstByte":12,"lastByte":27}],"uploadToken":"tk"}}'
        local res = parse("linkedin", "upload", 200, init, { item = it })
        assert.are.same({ phase = "put", video = "urn:li:video:C5505AQH", token = "tk", part = 0, etags = {}, restarted = false,
            parts = { { 0, 11, "https://www.linkedin.com/dms-uploads/a/1" }, { 12, 27, "https://www.linkedin.com/dms-uploads/a/2" } } }, res.data)
        local st = res.data
        r = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = st }, { bytes })
        assert.are.equal("PUT", r.method)
        assert.are.equal("https://www.linkedin.com/dms-uploads/a/1", r.url)
        assert.are.equal(bytes:sub(1, 12), r.body)
        assert.is_nil(r.headers["LinkedIn-Version"])
        assert.are.equal("transient", parse("linkedin", "upload", 200, "", { item = it, step = st }).category) -- no ETag
        res = parse("linkedin", "upload", 200, "", { item = it, step = st }, { ETag = "/ambry-video/1" })
        assert.are.equal(1, res.data.part)
        assert.are.same({ "/ambry-video/1" }, res.data.etags)
        st = res.data
        r = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = st }, { bytes })
        assert.are.equal("https://www.linkedin.com/dms-uploads/a/2", r.url)
        assert.are.equal(bytes:sub(13), r.body)
        res = parse("linkedin", "upload", 200, "", { item = it, step = st }, { etag = "/ambry-video/2" })
        assert.are.same({ phase = "finalize", video = "urn:li:video:C5505AQH", token = "tk", restarted = false,
                          etags = { "/ambry-video/1", "/ambry-video/2" } }, res.data)
        r = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = res.data }, { bytes })
        assert.are.equal("https://api.linkedin.com/rest/videos?action=finalizeUpload", r.url)
        assert.are.equal('{"finalizeUploadRequest":{"uploadToken":"tk","uploadedPartIds":["/ambry-video/1","/ambry-video/2"],"video":"urn:li:video:C5505AQH"}}', r.body)
        res = parse("linkedin", "upload", 200, "", { item = it, step = res.data })
        assert.are.same({ phase = "status", video = "urn:li:video:C5505AQH", polls = 0 }, res.data)
        r = req("linkedin", "upload", {}, {}, LI_USER, { item = it, step = res.data }, { bytes })
        assert.are.equal("GET", r.method)
        assert.are.equal("https://api.linkedin.com/rest/videos/urn%3Ali%3Avideo%3AC5505AQH", r.url)
        assert.are.equal("2.0.0", r.headers["X-Restli-Protocol-Version"])
        st = res.data
        res = parse("linkedin", "upload", 200, '{"id":"urn:li:video:C5505AQH","status":"PROCESSING"}', { item = it, step = st })
        assert.are.same({ phase = "status", video = "urn:li:video:C5505AQH", polls = 1, wait = 10 }, res.data)
        res = parse("linkedin", "upload", 200, '{"id":"urn:li:video:C5505AQH","status":"AVAILABLE"}', { item = it, step = res.data })
        assert.are.same({ media = { id = "urn:li:video:C5505AQH" } }, res.data)
        res = parse("linkedin", "upload", 200, '{"status":"PROCESSING_FAILED","processingFailureReason":"Video is too short"}', { item = it, step = st })
        assert.are.equal("content_invalid", res.category)
        assert.matches("Video is too short", res.errorDetails, 1, true)
        res = parse("linkedin", "upload", 200, '{"status":"PROCESSING"}', { item = it, step = { phase = "status", video = "urn:li:video:1", polls = 59 } })
        assert.are.equal("transient", res.category)
    end)

    it("video upload instructions must cover the bytes in order; a part's URL and range are checked", function()
        local it = { index = 2, kind = "video", mime = "video/mp4", size = 28 }
        for _, ins in ipairs({ '[]', '[{"uploadUrl":"https://www.linkedin.com/u","firstByte":0,"lastByte":26}]',
                               '[{"uploadUrl":"https://www.linkedin.com/u","firstByte":1,"lastByte":27}]',
                               '[{"uploadUrl":"https://www.linkedin.com/u","firstByte":0,"lastByte":28}]',
                               '[{"uploadUrl":"https://www.linkedin.com/u","firstByte":0,"lastByte":9},{"uploadUrl":"https://www.linkedin.com/u","firstByte":9,"lastByte":27}]' }) do
            local res = parse("linkedin", "upload", 200, '{"value":{"video":"urn:li:video:1","uploadInstructions":' .. ins .. '}}', { item = it })
            assert.are.equal("transient", res.category, ins)
        end
        local bytes = ("v"):rep(28)
        for _, part in ipairs({ { 0, 27, "https://evil.example/u" }, { 0, 28, "https://www.linkedin.com/u" }, { 5, 2, "https://www.linkedin.com/u" } }) do
            local r, _, _, why = req("linkedin", "upload", {}, {}, LI_USER,
                { item = it, step = { phase = "put", video = "urn:li:video:1", parts = { part }, part = 0, etags = {} } }, { "", bytes })
            assert.is_nil(r)
            assert.matches("mediaItems[2]: upload part 0 is refused", why.errorDetails, 1, true)
        end
    end)

    it("a video post: content.media with the video URN; a link goes in the text", function()
        local b = post({ title = "Replay", linkBack = "https://game.example/r" }, { { index = 1, kind = "video", id = "urn:li:video:V", alt = "no alt on a video" } })
        assert.are.same({ media = { id = "urn:li:video:V" } }, b.content)
        assert.are.equal("Replay https://game.example/r", b.commentary)
        local r, _, _, res = req("linkedin", "publish", { userAction = { title = "t" },
            media = { { index = 1, kind = "video", id = "urn:li:image:V" } } }, {}, LI_USER)
        assert.is_nil(r)
        assert.matches("mediaItems[1] was not uploaded", res.errorDetails, 1, true)
    end)

    it("refuses media that were not uploaded and more than 20 images", function()
        local r, _, _, res = req("linkedin", "publish", { userAction = { title = "t" }, media = { { index = 1, kind = "image" } } }, {}, LI_USER)
        assert.is_nil(r)
        assert.matches("mediaItems[1] was not uploaded", res.errorDetails, 1, true)
        local many = {}
        for i = 1, 21 do many[i] = { index = i, kind = "image", id = "urn:li:image:" .. i } end
        r, _, _, res = req("linkedin", "publish", { userAction = { title = "t" }, media = many }, {}, LI_USER)
        assert.is_nil(r)
        assert.matches("at most 20 images", res.errorDetails, 1, true)
    end)
end)
