-- Media on Facebook Pages and Threads (docs/media.md), at the core level:
-- the upload, publish, unmedia and follow-up requests byte for byte, each
-- step's parse, the limits and the refusals (#unit); then the same steps
-- driven against the sandbox (#fakes), whose fakes check what they receive
-- with their own code (spec/fakes/networks/facebook.py, threads.py): the
-- multipart body, the URL given, attached_media ids, carousel children and
-- the container status polls.
local H = require("spec.helper")
local core = require("socialize.core")

local TS = 1700000000
local FB_APP = { baseUrl = "https://graph.example" }
local FB_USER = { accessToken = "tok", pageId = "123" }
local TH_APP = { baseUrl = "https://threads.example" }
local TH_USER = { accessToken = "tok", userId = "1789" }
local PNG = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\2\0\0\0\3\8\6\0\0\0" .. ("\0"):rep(40)

local function ua(items)
    return { userAction = { title = "Level 7!", linkBack = "https://game.example/p/1", mediaItems = items } }
end

local function with_media(items, media)
    local i = ua(items)
    i.media = media
    return i
end

local function req(...)
    local r, msg, code, res = core.provider_request(...)
    return r, res or msg
end

local function form(body)
    local t = {}
    for k, v in body:gmatch("([^&=]+)=([^&]*)") do
        t[k:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)] =
            v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    end
    return t
end

local function parse(provider, action, input, app, user, status, body, st)
    return core.provider_parse(provider, action, input, app, user, status, {}, body, TS, st)
end

local SRC1, SRC2 = "https://cdn.game.example/a.png", "https://cdn.game.example/b.mp4"

describe("facebook media #unit", function()
    it("says what it takes: photos by URL or bytes, each uploaded, deletable; no video", function()
        local m = core.provider_info("facebook").media
        assert.are.same({ images = 10, videos = 0, audio = false, maxImage = 4194304, maxVideo = 0,
            mimes = "image/jpeg,image/png,image/gif,image/webp", byUrl = true, bytes = true, upload = true,
            alt = true, deletable = true, chunk = 0 }, m)
        assert.is_nil(core.provider_info("facebook").carries)
    end)

    it("uploads a photo by URL, unpublished, with its alt text", function()
        local r = assert(req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n1", nil,
            { item = { index = 1, kind = "image", url = SRC1, alt = "The boss, defeated" } }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://graph.example/v26.0/123/photos", r.url)
        assert.are.equal("access_token=tok&alt_text_custom=The%20boss%2C%20defeated&published=false"
            .. "&url=https%3A%2F%2Fcdn.game.example%2Fa.png", r.body)
    end)

    it("uploads the caller's bytes as a multipart source, byte for byte", function()
        local r = assert(req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n1", nil,
            { item = { index = 2, kind = "image", mime = "image/png" } }, { "", PNG }))
        local ct = r.headers["Content-Type"]
        local b = ct:match("^multipart/form%-data; boundary=(socialize%-%x+)$")
        assert.is_string(b)
        assert.are.equal(table.concat {
            "--", b, "\r\nContent-Disposition: form-data; name=\"access_token\"\r\n\r\ntok\r\n",
            "--", b, "\r\nContent-Disposition: form-data; name=\"published\"\r\n\r\nfalse\r\n",
            "--", b, "\r\nContent-Disposition: form-data; name=\"source\"; filename=\"photo.png\"\r\n",
            "Content-Type: image/png\r\n\r\n", PNG, "\r\n",
            "--", b, "--\r\n" }, r.body)
        -- the same call renders the same bytes; another nonce, another boundary
        local again = assert(req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n1", nil,
            { item = { index = 2, kind = "image", mime = "image/png" } }, { "", PNG }))
        assert.are.equal(r.body, again.body)
        local other = assert(req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n2", nil,
            { item = { index = 2, kind = "image", mime = "image/png" } }, { "", PNG }))
        assert.are_not.equal(ct, other.headers["Content-Type"])
    end)

    it("refuses a video, an item with neither bytes nor URL, naming the item", function()
        local r, res = req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n", nil,
            { item = { index = 3, kind = "video", url = SRC2 } })
        assert.is_nil(r)
        assert.are.equal("unsupported", res.category)
        assert.are.equal("facebook: a video is not posted to a Page (photos only)", res.errorDetails)
        r, res = req("facebook", "upload", ua(), FB_APP, FB_USER, TS, "n", nil,
            { item = { index = 1, kind = "image", url = "ftp://x.example/a.png" } })
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.are.equal("facebook: the item has no bytes and no http(s) URL", res.errorDetails)
    end)

    it("reads an upload reply: the photo id is the item's media, a 5xx is transient", function()
        local st = { item = { index = 1, kind = "image", url = SRC1 } }
        local r = parse("facebook", "upload", ua(), FB_APP, FB_USER, 200, '{"id":"555"}', st)
        assert.is_true(r.ok)
        assert.are.same({ media = { id = "555" } }, r.data)
        r = parse("facebook", "upload", ua(), FB_APP, FB_USER, 200, '{"id":"55/5"}', st)
        assert.are.equal("transient", r.category)
        r = parse("facebook", "upload", ua(), FB_APP, FB_USER, 500,
            '{"error":{"message":"unexpected","type":"OAuthException","code":2,"is_transient":true}}', st)
        assert.is_false(r.ok)
        assert.are.equal("transient", r.category)
    end)

    it("posts one feed post attaching the photos in item order, the link in the message", function()
        local r = assert(req("facebook", "publish", with_media(nil, {
            { index = 1, kind = "image", id = "555" }, { index = 2, kind = "image", id = "556" } }),
            FB_APP, FB_USER, TS, "n"))
        assert.are.equal("https://graph.example/v26.0/123/feed", r.url)
        assert.are.equal("access_token=tok&attached_media[0]=%7B%22media_fbid%22%3A%22555%22%7D"
            .. "&attached_media[1]=%7B%22media_fbid%22%3A%22556%22%7D"
            .. "&message=Level%207%21%0A%0Ahttps%3A%2F%2Fgame.example%2Fp%2F1", r.body)
        -- one photo takes the same path: an unpublished upload, attached
        r = assert(req("facebook", "publish", with_media(nil, { { index = 1, kind = "image", id = "555" } }),
            FB_APP, FB_USER, TS, "n"))
        assert.are.same({ access_token = "tok", ["attached_media[0]"] = '{"media_fbid":"555"}',
            message = "Level 7!\n\nhttps://game.example/p/1" }, form(r.body))
        -- without media the link stays a link (its preview)
        r = assert(req("facebook", "publish", ua(), FB_APP, FB_USER, TS, "n"))
        assert.are.same({ access_token = "tok", message = "Level 7!", link = "https://game.example/p/1" }, form(r.body))
    end)

    it("refuses more than 10 photos and a photo that was not uploaded", function()
        local media = {}
        for i = 1, 11 do media[i] = { index = i, kind = "image", id = tostring(500 + i) } end
        local r, res = req("facebook", "publish", with_media(nil, media), FB_APP, FB_USER, TS, "n")
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        assert.matches("11 photos: at most 10 per post", res.errorDetails, 1, true)
        r, res = req("facebook", "publish", with_media(nil, { { index = 1, kind = "image", id = "555" },
            { index = 2, kind = "image", url = SRC1 } }), FB_APP, FB_USER, TS, "n")
        assert.is_nil(r)
        assert.matches("mediaItems[2]: not uploaded", res.errorDetails, 1, true)
    end)

    it("deletes an unused photo (unmedia), its id checked", function()
        local r = assert(req("facebook", "unmedia", ua(), FB_APP, FB_USER, TS, "n", nil, { media = { id = "555" } }))
        assert.are.equal("DELETE", r.method)
        assert.are.equal("https://graph.example/v26.0/555?access_token=tok", r.url)
        assert.is_nil(r.body)
        local res = parse("facebook", "unmedia", ua(), FB_APP, FB_USER, 200, '{"success":true}', { media = { id = "555" } })
        assert.is_true(res.ok)
        assert.are.equal("555", res.postID)
        local _, why = req("facebook", "unmedia", ua(), FB_APP, FB_USER, TS, "n", nil, { media = { id = "../me" } })
        assert.are.equal("content_invalid", why.category)
        -- an appsecret_proof goes along wherever the app has a secret
        r = assert(req("facebook", "unmedia", ua(), { baseUrl = FB_APP.baseUrl, appSecret = "s" }, FB_USER, TS, "n",
            nil, { media = { id = "555" } }))
        assert.matches("^https://graph.example/v26.0/555%?access_token=tok&appsecret_proof=%x+$", r.url)
    end)
end)

describe("threads media #unit", function()
    local ONE = { { type = "image", src = SRC1 } }
    local TWO = { { type = "image", src = SRC1 }, { type = "video", src = SRC2 } }

    it("says what it takes: images and videos by public URL only, 20 per carousel", function()
        local m = core.provider_info("threads").media
        assert.are.same({ images = 20, videos = 20, audio = false, maxImage = 8388608, maxVideo = 1073741824,
            mimes = "image/jpeg,image/png,video/mp4,video/quicktime", byUrl = true, bytes = false, upload = true,
            alt = true, deletable = false, chunk = 0 }, m)
    end)

    it("makes a lone item's container the post's own: IMAGE with the text (link in it) and alt_text", function()
        local r = assert(req("threads", "upload", ua(ONE), TH_APP, TH_USER, TS, "n", nil,
            { item = { index = 1, kind = "image", url = SRC1, alt = "Boss" } }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://threads.example/v1.0/1789/threads", r.url)
        assert.are.equal("access_token=tok&alt_text=Boss&image_url=https%3A%2F%2Fcdn.game.example%2Fa.png"
            .. "&media_type=IMAGE&text=Level%207%21%0A%0Ahttps%3A%2F%2Fgame.example%2Fp%2F1", r.body)
    end)

    it("makes each of several a carousel item: no text, is_carousel_item=true", function()
        local r = assert(req("threads", "upload", ua(TWO), TH_APP, TH_USER, TS, "n", nil,
            { item = { index = 2, kind = "video", url = SRC2 } }))
        assert.are.equal("access_token=tok&is_carousel_item=true&media_type=VIDEO"
            .. "&video_url=https%3A%2F%2Fcdn.game.example%2Fb.mp4", r.body)
        -- an item with bytes only does not count: Threads cannot take it
        r = assert(req("threads", "upload", ua({ { type = "image", src = SRC1 }, { type = "image" } }), TH_APP,
            TH_USER, TS, "n", nil, { item = { index = 1, kind = "image", url = SRC1 } }))
        assert.is_nil(form(r.body).is_carousel_item)
    end)

    it("refuses bytes-only items and audio, naming the item", function()
        local r, res = req("threads", "upload", ua(ONE), TH_APP, TH_USER, TS, "n", nil,
            { item = { index = 2, kind = "image", mime = "image/png" } }, { "", PNG })
        assert.is_nil(r)
        assert.are.equal("content_invalid", res.category)
        -- in the upload step the front names the item; in the publish step the core does
        assert.are.equal("threads: Threads takes media by public http(s) URL only (a src), not bytes", res.errorDetails)
        r, res = req("threads", "publish", with_media(ONE, { { index = 1, kind = "image", mime = "image/png" } }),
            TH_APP, TH_USER, TS, "n", nil, nil, { PNG })
        assert.is_nil(r)
        assert.matches("mediaItems[1]: Threads takes media by public http(s) URL only", res.errorDetails, 1, true)
        r, res = req("threads", "upload", ua(ONE), TH_APP, TH_USER, TS, "n", nil,
            { item = { index = 1, kind = "audio", url = "https://cdn.game.example/a.mp3" } })
        assert.is_nil(r)
        assert.are.equal("unsupported", res.category)
    end)

    it("polls the container's status, then reads each status", function()
        local st = { item = { index = 2, kind = "video", url = SRC2 } }
        local r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200, '{"id":"17800001"}', st)
        assert.is_true(r.ok)
        assert.are.same({ container = "17800001", polls = 0, carousel = true, wait = 10 }, r.data)
        st.step = r.data
        local q = assert(req("threads", "upload", ua(TWO), TH_APP, TH_USER, TS, "n", nil, st))
        assert.are.equal("GET", q.method)
        assert.are.equal("https://threads.example/v1.0/17800001?access_token=tok&fields=status%2Cerror_message", q.url)
        r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200, '{"id":"17800001","status":"IN_PROGRESS"}', st)
        assert.are.same({ container = "17800001", polls = 1, carousel = true, wait = 10 }, r.data)
        r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200, '{"id":"17800001","status":"FINISHED"}', st)
        assert.are.same({ media = { id = "17800001", carousel = true } }, r.data)
        r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200,
            '{"status":"ERROR","error_message":"MEDIA_DOWNLOAD_FAILED"}', st)
        assert.are.equal("content_invalid", r.category)
        assert.are.equal("threads: Threads could not process it (container status ERROR: MEDIA_DOWNLOAD_FAILED)",
            r.errorDetails)
        r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200, '{"status":"EXPIRED"}', st)
        assert.are.equal("content_invalid", r.category)
        assert.are.equal("threads: the container expired before it was published", r.errorDetails)
        r = parse("threads", "upload", ua(TWO), TH_APP, TH_USER, 200, '{"status":"MAYBE"}', st)
        assert.are.equal("transient", r.category)
        -- an image's first poll comes sooner
        r = parse("threads", "upload", ua(ONE), TH_APP, TH_USER, 200, '{"id":"17800002"}',
            { item = { index = 1, kind = "image", url = SRC1 } })
        assert.are.same({ container = "17800002", polls = 0, carousel = false, wait = 1 }, r.data)
    end)

    it("stops polling at 30 (the limit), whatever the state says", function()
        local st = { item = { index = 1, kind = "video", url = SRC2 }, step = { container = "17800001", polls = 28 } }
        local r = parse("threads", "upload", ua(ONE), TH_APP, TH_USER, 200, '{"status":"IN_PROGRESS"}', st)
        assert.is_true(r.ok)
        assert.are.equal(29, r.data.polls)
        st.step.polls = 29
        r = parse("threads", "upload", ua(ONE), TH_APP, TH_USER, 200, '{"status":"IN_PROGRESS"}', st)
        assert.are.equal("transient", r.category)
        assert.are.equal("threads: still IN_PROGRESS after 30 status polls (the limit)", r.errorDetails)
        st.step.polls = -5 -- a forged count cannot poll forever
        r = parse("threads", "upload", ua(ONE), TH_APP, TH_USER, 200, '{"status":"IN_PROGRESS"}', st)
        assert.are.equal("transient", r.category)
        st.step = { container = "1/2", polls = 0 }
        local q, why = req("threads", "upload", ua(ONE), TH_APP, TH_USER, TS, "n", nil, st)
        assert.is_nil(q)
        assert.are.equal("content_invalid", why.category)
    end)

    it("publishes a lone ready container directly: no follow-up (no data)", function()
        local input = with_media(ONE, { { index = 1, kind = "image", url = SRC1, id = "17800001", carousel = false } })
        local r = assert(req("threads", "publish", input, TH_APP, TH_USER, TS, "n"))
        assert.are.equal("https://threads.example/v1.0/1789/threads_publish", r.url)
        assert.are.equal("access_token=tok&creation_id=17800001", r.body)
        local res = parse("threads", "publish", input, TH_APP, TH_USER, 200, '{"id":"18000001"}')
        assert.is_true(res.ok)
        assert.are.equal("18000001", res.postID)
        assert.is_nil(res.data)
    end)

    it("makes the CAROUSEL container of several items, published by the follow-up", function()
        local input = with_media(TWO, { { index = 1, kind = "image", url = SRC1, id = "17800001", carousel = true },
            { index = 2, kind = "video", url = SRC2, id = "17800002", carousel = true } })
        local r = assert(req("threads", "publish", input, TH_APP, TH_USER, TS, "n"))
        assert.are.equal("https://threads.example/v1.0/1789/threads", r.url)
        assert.are.equal("access_token=tok&children=17800001%2C17800002&media_type=CAROUSEL"
            .. "&text=Level%207%21%0A%0Ahttps%3A%2F%2Fgame.example%2Fp%2F1", r.body)
        local res = parse("threads", "publish", input, TH_APP, TH_USER, 200, '{"id":"17800003"}')
        assert.is_true(res.ok)
        assert.are.same({ creationId = "17800003" }, res.data)
        local f = assert(req("threads", "publishContainer", input, TH_APP, TH_USER, TS, "n", res.data))
        assert.are.equal("access_token=tok&creation_id=17800003", f.body)
    end)

    it("posts a carousel item left alone through a new container from its URL", function()
        local input = with_media(TWO, { { index = 2, kind = "video", url = SRC2, id = "17800002", carousel = true } })
        local r = assert(req("threads", "publish", input, TH_APP, TH_USER, TS, "n"))
        assert.are.equal("access_token=tok&media_type=VIDEO&text=Level%207%21%0A%0Ahttps%3A%2F%2Fgame.example%2Fp%2F1"
            .. "&video_url=https%3A%2F%2Fcdn.game.example%2Fb.mp4", r.body)
        assert.are.same({ creationId = "17800009" },
            parse("threads", "publish", input, TH_APP, TH_USER, 200, '{"id":"17800009"}').data)
    end)

    it("refuses more than 20 items and an item that is not a carousel item", function()
        local media = {}
        for i = 1, 21 do media[i] = { index = i, kind = "image", url = SRC1, id = tostring(17800000 + i), carousel = true } end
        local r, res = req("threads", "publish", with_media(TWO, media), TH_APP, TH_USER, TS, "n")
        assert.is_nil(r)
        assert.are.equal("threads: 21 media items: at most 20 per post (a carousel)", res.errorDetails)
        r, res = req("threads", "publish", with_media(TWO, { { index = 1, kind = "image", url = SRC1, id = "1", carousel = true },
            { index = 2, kind = "image", url = SRC1, id = "2", carousel = false } }), TH_APP, TH_USER, TS, "n")
        assert.is_nil(r)
        assert.matches("mediaItems[2]: not uploaded as a carousel item", res.errorDetails, 1, true)
    end)

    it("posts media alone: no text in the container, none needed", function()
        local only = { userAction = { mediaItems = ONE } }
        local r = assert(req("threads", "upload", only, TH_APP, TH_USER, TS, "n", nil,
            { item = { index = 1, kind = "image", url = SRC1 } }))
        assert.are.equal("access_token=tok&image_url=https%3A%2F%2Fcdn.game.example%2Fa.png&media_type=IMAGE", r.body)
        only.media = { { index = 1, kind = "image", url = SRC1, id = "17800001", carousel = true } }
        r = assert(req("threads", "publish", only, TH_APP, TH_USER, TS, "n"))
        assert.are.equal("access_token=tok&image_url=https%3A%2F%2Fcdn.game.example%2Fa.png&media_type=IMAGE", r.body)
        r = assert(req("facebook", "publish", only, FB_APP, FB_USER, TS, "n"))
        assert.are.equal("access_token=tok&attached_media[0]=%7B%22media_fbid%22%3A%2217800001%22%7D", r.body)
    end)

    it("keeps a text post as it was: TEXT with link_attachment", function()
        local r = assert(req("threads", "publish", ua(), TH_APP, TH_USER, TS, "n"))
        assert.are.same({ access_token = "tok", media_type = "TEXT", text = "Level 7!",
            link_attachment = "https://game.example/p/1" }, form(r.body))
    end)
end)

-- ---- against the sandbox: the steps as the front runs them ---------------

local sb, T
local nonce = 0

local function send(r)
    local res, msg = T:request { method = r.method, url = r.url, headers = r.headers, body = r.body, timeout = 5 }
    assert(res, msg)
    return res
end

-- one step: build, send, parse (a refusal is returned as the result)
local function step(provider, action, input, app, user, setup, st, blobs)
    nonce = nonce + 1
    local r, res = req(provider, action, input, app, user, TS, "nonce-" .. nonce, setup, st, blobs)
    if not r then return assert(type(res) == "table" and res, res) end
    local out = send(r)
    return core.provider_parse(provider, action, input, app, user, out.status, out.headers, out.body, TS, st), r
end

-- the upload steps of one item until it is done or failed; returns the
-- result and the number of steps
local function upload(provider, input, app, user, item, blobs)
    local st, n = { item = item }, 0
    while true do
        local r = step(provider, "upload", input, app, user, nil, st, blobs)
        n = n + 1
        if not r.ok or r.data.media then return r, n end
        assert(n < 100, "unbounded upload loop")
        st = { item = item, step = r.data }
    end
end

local function photos() return H.control({ http = sb.url("facebook") }, "/__photos") end
local function containers() return H.control({ http = sb.url("threads") }, "/__containers") end

describe("facebook and threads media against the sandbox #fakes", function()
    local fb_app, th_app, th_user
    H.use_sandbox(function(s)
        sb = s
        fb_app = { appSecret = "fb-app-secret", baseUrl = sb.url("facebook") }
        th_app = sb.ports.demo.threads.provider
        th_user = sb.ports.demo.threads.connection
        T = require("socialize.transport").curl { timeout = 5 }
    end)

    local function fb_user(token) return { accessToken = token or "fb-page-token", pageId = "1647395831" } end

    it("facebook: a URL and bytes uploaded unpublished, attached to one post", function()
        local items = { { type = "image", src = SRC1 }, { type = "image" } }
        local a = upload("facebook", ua(items), fb_app, fb_user(), { index = 1, kind = "image", url = SRC1, alt = "Boss" })
        local b = upload("facebook", ua(items), fb_app, fb_user(), { index = 2, kind = "image", mime = "image/png" },
            { "", PNG })
        assert.is_true(a.ok and b.ok)
        local ida, idb = a.data.media.id, b.data.media.id
        local got = photos()
        assert.are.same({ page = "1647395831", published = false, alt = "Boss", url = SRC1 },
            { page = got[ida].page, published = got[ida].published, alt = got[ida].alt, url = got[ida].url })
        -- the fake parsed the multipart body: the bytes it kept are ours
        assert.are.equal(#PNG, got[idb].size)
        assert.are.equal("image/png", got[idb].sniffed)
        assert.are.equal("image/png", got[idb].contentType)
        assert.are.equal("photo.png", got[idb].filename)
        local input = with_media(items, { { index = 1, kind = "image", id = ida }, { index = 2, kind = "image", id = idb } })
        local post = step("facebook", "publish", input, fb_app, fb_user())
        assert.is_true(post.ok)
        assert.matches("^1647395831_%d+$", post.postID)
        got = photos()
        assert.are.equal(post.postID, got[ida].attached_to)
        assert.are.equal(post.postID, got[idb].attached_to)
        -- attached once: the same ids cannot make a second post
        local again = step("facebook", "publish", input, fb_app, fb_user())
        assert.are.equal("content_invalid", again.category)
        assert.matches("attached_media%[0%] has an invalid media_fbid", again.errorDetails)
    end)

    it("facebook: an id that is no unpublished photo of the Page is refused by the network", function()
        local post = step("facebook", "publish", with_media(nil, { { index = 1, kind = "image", id = "424242" } }),
            fb_app, fb_user())
        assert.is_false(post.ok)
        assert.are.equal("content_invalid", post.category)
    end)

    it("facebook: a 5xx on the photo upload is transient; nothing stored", function()
        local r, n = upload("facebook", ua(), fb_app, fb_user("fb-mediafail"), { index = 1, kind = "image", url = SRC1 })
        assert.are.equal(1, n)
        assert.is_false(r.ok)
        assert.are.equal("transient", r.category)
        assert.are.same({}, photos())
    end)

    it("facebook: a failed post leaves photos that unmedia deletes", function()
        local r = upload("facebook", ua(), fb_app, fb_user("fb-postfail"), { index = 1, kind = "image", url = SRC1 })
        local id = r.data.media.id
        local post = step("facebook", "publish", with_media(nil, { { index = 1, kind = "image", id = id } }),
            fb_app, fb_user("fb-postfail"))
        assert.are.equal("transient", post.category)
        assert.is_table(photos()[id])
        local del = step("facebook", "unmedia", ua(), fb_app, fb_user("fb-postfail"), nil, { media = { id = id } })
        assert.is_true(del.ok)
        assert.is_nil(photos()[id])
        del = step("facebook", "unmedia", ua(), fb_app, fb_user("fb-postfail"), nil, { media = { id = id } })
        assert.is_false(del.ok)
    end)

    local function th(token)
        return { accessToken = token or th_user.accessToken, userId = th_user.userId }
    end

    it("threads: one image: its container polled FINISHED, then published directly", function()
        local items = { { type = "image", src = SRC1 } }
        local r, n = upload("threads", ua(items), th_app, th(), { index = 1, kind = "image", url = SRC1, alt = "Boss" })
        assert.is_true(r.ok)
        assert.are.equal(2, n) -- create, one status poll
        local cid = r.data.media.id
        local c = containers()[cid]
        assert.are.same({ "IMAGE", SRC1, "Boss", "Level 7!\n\nhttps://game.example/p/1", false },
            { c.type, c.url, c.alt, c.text, c.carousel_item })
        local post = step("threads", "publish", with_media(items, { { index = 1, kind = "image", url = SRC1,
            id = cid, carousel = r.data.media.carousel } }), th_app, th())
        assert.is_true(post.ok)
        assert.matches("^18%d+$", post.postID)
        assert.is_nil(post.data)
        assert.is_true(containers()[cid].published)
    end)

    it("threads: one video waits for processing: IN_PROGRESS, then FINISHED", function()
        local items = { { type = "video", src = SRC2 } }
        local st, waits = { item = { index = 1, kind = "video", url = SRC2 } }, {}
        local r
        repeat
            r = step("threads", "upload", ua(items), th_app, th(), nil, st)
            assert.is_true(r.ok)
            if not r.data.media then
                waits[#waits + 1] = r.data.wait
                st = { item = st.item, step = r.data }
            end
        until r.data.media
        assert.are.same({ 10, 10 }, waits) -- after the create, after the IN_PROGRESS poll
        assert.are.equal(2, containers()[r.data.media.id].polls)
        local post = step("threads", "publish", with_media(items, { { index = 1, kind = "video", url = SRC2,
            id = r.data.media.id, carousel = false } }), th_app, th())
        assert.is_true(post.ok)
    end)

    it("threads: several make a carousel, published by the follow-up", function()
        local items = { { type = "image", src = SRC1 }, { type = "video", src = SRC2 } }
        local a = upload("threads", ua(items), th_app, th(), { index = 1, kind = "image", url = SRC1 })
        local b = upload("threads", ua(items), th_app, th(), { index = 2, kind = "video", url = SRC2 })
        assert.is_true(a.ok and b.ok and a.data.media.carousel and b.data.media.carousel)
        local input = with_media(items, { { index = 1, kind = "image", url = SRC1, id = a.data.media.id, carousel = true },
            { index = 2, kind = "video", url = SRC2, id = b.data.media.id, carousel = true } })
        local create = step("threads", "publish", input, th_app, th())
        assert.is_true(create.ok)
        local cs = containers()
        local car = cs[create.data.creationId]
        assert.are.same({ a.data.media.id, b.data.media.id }, car.children)
        assert.are.equal("CAROUSEL", car.type)
        assert.are.equal(SRC2, cs[b.data.media.id].url)
        assert.is_nil(cs[b.data.media.id].text)
        local post = step("threads", "publishContainer", input, th_app, th(), create.data)
        assert.is_true(post.ok)
        assert.matches("^18%d+$", post.postID)
        -- a carousel item is never published alone: the network says so
        local alone = step("threads", "publishContainer", input, th_app, th(), { creationId = a.data.media.id })
        assert.is_false(alone.ok)
    end)

    it("threads: processing fails (mediafail): content_invalid naming the item, nothing published", function()
        local r, n = upload("threads", ua({ { type = "image", src = SRC1 } }), th_app, th("th-mediafail"),
            { index = 1, kind = "image", url = SRC1 })
        assert.are.equal(2, n)
        assert.are.equal("content_invalid", r.category)
        assert.matches("threads: Threads could not process it (container status ERROR: MEDIA_DOWNLOAD_FAILED",
            r.errorDetails, 1, true)
    end)

    it("threads: processing never ends (mediaslow): the polls stop at the limit", function()
        local r, n = upload("threads", ua({ { type = "video", src = SRC2 } }), th_app, th("th-mediaslow"),
            { index = 1, kind = "video", url = SRC2 })
        assert.are.equal(31, n) -- the create and 30 polls
        assert.are.equal("transient", r.category)
        assert.matches("still IN_PROGRESS after 30 status polls", r.errorDetails, 1, true)
        -- publishing it anyway: the network refuses a container not FINISHED
        local cid
        for id, c in pairs(containers()) do if c.type == "VIDEO" then cid = id end end
        local post = step("threads", "publish", with_media(nil, { { index = 1, kind = "video", url = SRC2, id = cid } }),
            th_app, th("th-mediaslow"))
        assert.is_false(post.ok)
    end)
end)

-- ---- end to end through a client: the front's media pipeline ------------

describe("facebook and threads media through a client #fakes", function()
    local socialize = require("socialize")
    local providers, M, v

    H.use_sandbox(function(s, p)
        sb, providers = s, p
        providers.threads = sb.ports.demo.threads.provider
        M = sb.url("media")
    end)

    local function client(conn, extra)
        v = H.virtual()
        local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers, timeout = 60,
            now = v.now, sleep = v.sleep, connections = { u1 = conn } }
        for k, x in pairs(extra or {}) do cfg[k] = x end
        return socialize.new(cfg)
    end
    local function fb(token) return { facebook = { accessToken = token or "fb-page-token", pageId = "1647395831" } } end
    local function th(token)
        local c = sb.ports.demo.threads.connection
        return { threads = { accessToken = token or c.accessToken, userId = c.userId } }
    end
    local function entry(res, name)
        for _, e in ipairs(res.providerErrorCodes or {}) do if e.provider == name then return e end end
    end
    local function sent(network)
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == network and r.path:sub(1, 3) ~= "/__" then -- not the tests' own reads
                out[#out + 1] = r.method .. " " .. r.path:gsub("%d%d%d%d+", "N")
            end
        end
        return out
    end

    it("facebook: a src sent as its URL and bytes as multipart, attached to one post", function()
        local src = M .. "/img/4x3.png"
        local res, err = client(fb()):publishUserAction { UID = "u1", userAction = { title = "Level 7!",
            linkBack = "https://game.example/p/1", mediaItems = { { type = "image", src = src, alt = "Boss" },
            { type = "image", data = PNG, mimeType = "image/png" } } } }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        local e = entry(res, "facebook")
        assert.are.equal(2, #e.mediaIDs)
        local ph = photos()
        assert.are.equal(src, ph[e.mediaIDs[1]].url)
        assert.are.equal("Boss", ph[e.mediaIDs[1]].alt)
        assert.are.equal(#PNG, ph[e.mediaIDs[2]].size)
        assert.are.equal(res.providerPostIDs.facebook, ph[e.mediaIDs[1]].attached_to)
        assert.are.equal(res.providerPostIDs.facebook, ph[e.mediaIDs[2]].attached_to)
        -- nothing was downloaded: Facebook fetches the URL itself
        assert.are.same({}, sent("media"))
        assert.are.same({ "POST /v26.0/N/photos", "POST /v26.0/N/photos", "POST /v26.0/N/feed" }, sent("facebook"))
    end)

    it("facebook: a failed post deletes the photos it uploaded", function()
        local res, err = client(fb("fb-postfail")):publishUserAction { UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", src = M .. "/img/4x3.png" }, { type = "image", src = M .. "/img/anim.gif" } } } }
        res = res or err
        assert.are.equal("transient", entry(res, "facebook").category)
        assert.are.same({}, photos())
        assert.are.same({ "POST /v26.0/N/photos", "POST /v26.0/N/photos", "POST /v26.0/N/feed",
            "DELETE /v26.0/N", "DELETE /v26.0/N" }, sent("facebook"))
    end)

    it("facebook: a 5xx on the photo upload fails the provider naming the item; no post", function()
        local res, err = client(fb("fb-mediafail"), { retry = { attempts = 1 } }):publishUserAction { UID = "u1",
            userAction = { title = "T", mediaItems = { { type = "image", src = M .. "/img/4x3.png" } } } }
        res = res or err
        local e = entry(res, "facebook")
        assert.are.equal("transient", e.category)
        assert.matches("facebook: mediaItems[1]: ", e.errorDetails, 1, true)
        for _, r in ipairs(sent("facebook")) do assert.are_not.equal("POST /v26.0/N/feed", r) end
    end)

    it("threads: one image: its container with the text, polled, published directly", function()
        local src = M .. "/img/photo.jpg"
        local res, err = client(th()):publishUserAction { UID = "u1", userAction = { title = "Level 7!",
            linkBack = "https://game.example/p/1", mediaItems = { { type = "image", src = src, alt = "Boss" } } } }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        assert.matches("^18%d+$", res.providerPostIDs.threads)
        local id = entry(res, "threads").mediaIDs[1]
        local c = containers()[id]
        assert.are.same({ "IMAGE", src, "Boss", "Level 7!\n\nhttps://game.example/p/1", true },
            { c.type, c.url, c.alt, c.text, c.published })
        assert.are.same({ "POST /v1.0/N/threads", "GET /v1.0/N", "POST /v1.0/N/threads_publish" }, sent("threads"))
        assert.are.same({}, sent("media"))
        assert.are.same({ 1 }, v.sleeps)
    end)

    it("threads: two videos make a carousel; their processing is waited for", function()
        local res, err = client(th()):publishUserAction { UID = "u1", userAction = { title = "Level 7!",
            mediaItems = { { type = "video", src = M .. "/video.mp4?bytes=4096" },
                { type = "video", src = M .. "/video.mp4?bytes=8192" } } } }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        local ids = entry(res, "threads").mediaIDs
        local cs = containers()
        local car
        for _, c in pairs(cs) do if c.type == "CAROUSEL" then car = c end end
        assert.are.same(ids, car.children)
        assert.is_true(car.published)
        assert.are.equal("Level 7!", car.text)
        assert.are.same({ 10, 10, 10, 10 }, v.sleeps) -- per video: after the create, after IN_PROGRESS
        assert.are.same({ "POST /v1.0/N/threads", "GET /v1.0/N", "GET /v1.0/N", "POST /v1.0/N/threads", "GET /v1.0/N",
            "GET /v1.0/N", "POST /v1.0/N/threads", "POST /v1.0/N/threads_publish" }, sent("threads"))
    end)

    it("threads: an item given as bytes is refused naming it; nothing is sent", function()
        local res, err = client(th()):publishUserAction { UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", data = PNG, mimeType = "image/png" } } } }
        res = res or err
        local e = entry(res, "threads")
        assert.are.equal("content_invalid", e.category)
        assert.matches("mediaItems[1]", e.errorDetails, 1, true)
        assert.matches("URL only", e.errorDetails, 1, true)
        assert.are.same({}, sent("threads"))
    end)

    it("threads: processing fails: content_invalid with the network's reason, nothing published", function()
        local res, err = client(th("th-mediafail")):publishUserAction { UID = "u1", userAction = { title = "T",
            mediaItems = { { type = "image", src = M .. "/img/photo.jpg" } } } }
        res = res or err
        local e = entry(res, "threads")
        assert.are.equal("content_invalid", e.category)
        assert.matches("threads: mediaItems[1]: Threads could not process it (container status ERROR: "
            .. "MEDIA_DOWNLOAD_FAILED", e.errorDetails, 1, true)
        assert.are.same({ "POST /v1.0/N/threads", "GET /v1.0/N" }, sent("threads"))
    end)

    it("threads: processing never ends: the polls stop at 30, nothing published", function()
        local res, err = client(th("th-mediaslow"), { timeout = 1000 }):publishUserAction { UID = "u1",
            userAction = { title = "T", mediaItems = { { type = "video", src = M .. "/video.mp4?bytes=4096" } } } }
        res = res or err
        local e = entry(res, "threads")
        assert.are.equal("transient", e.category)
        assert.matches("still IN_PROGRESS after 30 status polls", e.errorDetails, 1, true)
        local r = sent("threads")
        assert.are.equal(31, #r)
        assert.are_not.equal("POST /v1.0/N/threads_publish", r[#r])
    end)
end)
