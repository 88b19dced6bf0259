-- Media on X and LinkedIn end to end: a client publishes mediaItems (bytes
-- given as data + mimeType, or src URLs on the sandbox's media host) and the
-- sandbox's X and LinkedIn check each upload step with their own code
-- (multipart parsed byte for byte, contiguous chunks adding up to
-- total_bytes, processing states, media usable only once uploaded) and
-- record what they assembled (sha256, size), compared here with the bytes
-- sent, hashed by sha256sum.
local H = require("spec.helper")
local socialize = require("socialize")

local sb, providers

local function client(conns, extra)
    local v = H.virtual()
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns,
                  timeout = 20, now = v.now, sleep = v.sleep, clock = v.clock }
    for k, x in pairs(extra or {}) do cfg[k] = x end
    return socialize.new(cfg), v
end

local function only(names, tokens)
    local all, c = H.sandbox_connection(sb, tokens), {}
    for _, n in ipairs(names) do c[n] = all[n] end
    return { u1 = c }
end

-- the sandbox's records, fetched once until the next reset (a 4 MB segment's
-- record is 4 MB: fetching them for each look would take seconds)
local recorded
local function requests(network, path)
    local out = {}
    recorded = recorded or H.requests(sb)
    for _, r in ipairs(recorded) do
        if r.network == network and (not path or r.path:find(path, 1, true)) then out[#out + 1] = r end
    end
    return out
end

-- a provider's entry; a call whose only provider failed answers nil, err
local function entry(res, p, err)
    if not res then return err and err.providerErrorCodes and entry(err, p) or err end
    for _, e in ipairs(res.providerErrorCodes or {}) do
        if e.provider == p then return e end
    end
end

local n = 0
local function sha256(bytes)
    n = n + 1
    local f = H.tmpdir .. "/media-" .. n
    H.write(f, bytes)
    local p = assert(io.popen("sha256sum '" .. f .. "'"))
    local out = p:read("*l"):match("^(%x+)")
    p:close()
    os.remove(f)
    return out
end

-- a PNG of 2x3 pixels (its header is what X and LinkedIn sniff), and a
-- video whose every 4 KB block starts with its own number (a slice sent from
-- the wrong place or twice changes the file's sha256)
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3\8\2\0\0\0" .. ("pixels"):rep(50)
local FILL = ("0123456789abcdef"):rep(256):sub(1, 4088)
local function video(size)
    local t = { "\0\0\0\24ftypmp42\0\0\0\0mp42isom" }
    for i = 1, math.ceil(size / 4096) do t[#t + 1] = string.format("%08x", i) .. FILL end
    return table.concat(t):sub(1, size)
end

describe("X and LinkedIn media end to end #fakes", function()
    H.use_sandbox(function(s, p) sb, providers = s, p end)
    before_each(function() recorded = nil end)

    it("an image with alt text reaches X and LinkedIn, byte for byte", function()
        local c = client(only({ "twitter", "linkedin" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = { userMessage = "Level 7!",
            mediaItems = { { type = "image", data = PNG, mimeType = "image/png", alt = "The boss, defeated" } } } }
        assert.is_nil(err)
        local tw, li = entry(res, "twitter"), entry(res, "linkedin")
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        assert.are.equal(0, li.errorCode, li.errorDetails)
        local want = sha256(PNG)
        -- X: one upload, the alt text, the tweet with that media id
        local up = requests("twitter", "/2/media/upload")
        assert.are.equal(1, #up)
        assert.are.equal(want, up[1].media_sha256)
        assert.are.equal(#PNG, up[1].media_size)
        local meta = requests("twitter", "/2/media/metadata")
        assert.are.equal(1, #meta)
        local tweet = requests("twitter", "/2/tweets")[1]
        assert.are.same({ { id = tw.mediaIDs[1], sha256 = want, size = #PNG, alt = "The boss, defeated",
                            category = "tweet_image" } }, tweet.media)
        -- LinkedIn: initializeUpload, the PUT, the post naming the image with its alt text
        local put = requests("linkedin", "/dms-uploads/")
        assert.are.equal(1, #put)
        assert.are.equal("PUT", put[1].method)
        assert.are.equal(want, put[1].media_sha256)
        assert.are.equal("Bearer li-token", put[1].headers.authorization)
        local post = requests("linkedin", "/rest/posts")[1]
        assert.are.same({ { id = li.mediaIDs[1], sha256 = want, alt = "The boss, defeated" } }, post.images)
        assert.matches("^urn:li:image:", li.mediaIDs[1])
    end)

    it("a video goes to X in 4 MB chunks, each its own slice, polled until processed", function()
        local bytes = video(2 * 4194304 + 1000)
        local c = client(only({ "twitter" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = { userMessage = "Replay",
            mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } } }
        assert.is_nil(err)
        local tw = entry(res, "twitter")
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        local segs = requests("twitter", "/append")
        assert.are.equal(3, #segs)
        for i, r in ipairs(segs) do
            assert.are.equal(i - 1, r.segment_index)
            assert.are.equal(i < 3 and 4194304 or 1000, r.segment_size)
            assert.is_true(r.size < 4194304 + 400) -- one slice per request, never the whole file
        end
        local fin = requests("twitter", "/finalize")[1]
        assert.are.equal(sha256(bytes), fin.media_sha256)
        local polls = 0
        for _, r in ipairs(requests("twitter", "/2/media/upload")) do
            if r.method == "GET" then
                polls = polls + 1
                assert.are.equal("command=STATUS&media_id=" .. tw.mediaIDs[1], r.query)
            end
        end
        assert.are.equal(2, polls) -- in_progress, then succeeded (signed with their query: the fake checks)
        assert.are.equal(0, #requests("twitter", "/2/media/metadata"))
        assert.are.equal("tweet_video", requests("twitter", "/2/tweets")[1].media[1].category)
    end)

    it("src URLs are fetched from the media host: a GIF goes to X chunked as tweet_gif", function()
        local c = client(only({ "twitter", "linkedin" }))
        local res = c:publishUserAction { UID = "u1", userAction = { title = "Dance",
            mediaItems = { { type = "image", src = sb.url("media") .. "/img/anim.gif", alt = "dance" } } } }
        local tw, li = entry(res, "twitter"), entry(res, "linkedin")
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        assert.are.equal(0, li.errorCode, li.errorDetails)
        local tweet = requests("twitter", "/2/tweets")[1]
        assert.are.equal("tweet_gif", tweet.media[1].category)
        assert.are.equal("dance", tweet.media[1].alt)
        assert.are.equal(requests("linkedin", "/dms-uploads/")[1].media_sha256, tweet.media[1].sha256)
    end)

    it("four images on X; several on LinkedIn as multiImage with the link in the text", function()
        local items = {}
        for i = 1, 4 do items[i] = { type = "image", src = sb.url("media") .. "/img/" .. (i + 1) .. "x2.png" } end
        local c = client(only({ "twitter", "linkedin" }))
        local res = c:publishUserAction { UID = "u1", userAction = { title = "Album", linkBack = "https://game.example/a",
            mediaItems = items } }
        local tw, li = entry(res, "twitter"), entry(res, "linkedin")
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        assert.are.equal(0, li.errorCode, li.errorDetails)
        assert.are.equal(4, #tw.mediaIDs)
        assert.are.equal(4, #requests("twitter", "/2/tweets")[1].media)
        local post = requests("linkedin", "/rest/posts")[1]
        assert.are.equal(4, #post.images)
        assert.matches("https://game.example/a", post.body, 1, true)
    end)

    it("processing that fails names the item; one that never ends stops at the deadline", function()
        local bytes = video(5000)
        local c = client(only({ "twitter" }, { twitter = "tw-mediafail" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = { userMessage = "x",
            mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } } }
        local tw = entry(res, "twitter", err)
        assert.are.equal("content_invalid", tw.category)
        assert.matches("mediaItems[1]", tw.errorDetails, 1, true)
        assert.matches("Unsupported video format", tw.errorDetails, 1, true)
        assert.are.equal(0, #requests("twitter", "/2/tweets"))
        H.reset(sb)
        recorded = nil
        c = client(only({ "twitter" }, { twitter = "tw-mediaslow" }), { timeout = 30 })
        res, err = c:publishUserAction { UID = "u1", userAction = { userMessage = "x",
            mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } } }
        tw = entry(res, "twitter", err)
        assert.are_not.equal(0, tw.errorCode)
        assert.matches("mediaItems[1]", tw.errorDetails, 1, true)
        assert.are.equal(0, #requests("twitter", "/2/tweets"))
        local polls = 0
        for _, r in ipairs(requests("twitter", "/2/media/upload")) do
            if r.method == "GET" then polls = polls + 1 end
        end
        assert.is_true(polls >= 2 and polls <= 60, tostring(polls))
        assert.matches("still processing", tw.errorDetails, 1, true)
    end)

    it("an expired LinkedIn upload URL: the upload starts again once, then the post goes", function()
        local c = client(only({ "linkedin" }, { linkedin = "li-uploadexpiredonce" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = { userMessage = "x",
            mediaItems = { { type = "image", data = PNG, mimeType = "image/png" } } } }
        local li = entry(res, "linkedin", err)
        assert.are.equal(0, li.errorCode, li.errorDetails)
        assert.are.equal(2, #requests("linkedin", "/rest/images")) -- initialized twice
        assert.are.equal(2, #requests("linkedin", "/dms-uploads/")) -- 403, then 201
        assert.are.equal(li.mediaIDs[1], requests("linkedin", "/rest/posts")[1].images[1].id)
    end)

    it("an expired LinkedIn upload URL, again: the item fails, nothing is posted; X posts anyway", function()
        local c = client(only({ "twitter", "linkedin" }, { linkedin = "li-uploadexpired" }))
        local res = c:publishUserAction { UID = "u1", userAction = { userMessage = "x",
            mediaItems = { { type = "image", data = PNG, mimeType = "image/png" } } } }
        local tw, li = entry(res, "twitter"), entry(res, "linkedin")
        assert.are.equal(0, tw.errorCode)
        assert.are.equal("transient", li.category)
        assert.matches("mediaItems[1]", li.errorDetails, 1, true)
        assert.matches("upload URL", li.errorDetails, 1, true)
        assert.are.equal(0, #requests("linkedin", "/rest/posts"))
    end)

    it("a video goes to LinkedIn in the parts its instructions give, finalized with their ETags, polled", function()
        local bytes = video(2 * 4194304 + 77)
        local c = client(only({ "linkedin" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = { title = "Replay", linkBack = "https://game.example/r",
            mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } } }
        local li = entry(res, "linkedin", err)
        assert.are.equal(0, li.errorCode, li.errorDetails)
        assert.matches("^urn:li:video:", li.mediaIDs[1])
        local parts = requests("linkedin", "/dms-uploads/")
        assert.are.equal(3, #parts)
        for i, r in ipairs(parts) do
            assert.are.equal("PUT", r.method)
            assert.are.equal(i - 1, r.part)
            assert.are.equal(i < 3 and 4194304 or 77, r.size) -- each request only its part
        end
        local fin = requests("linkedin", "/rest/videos")
        assert.are.equal(sha256(bytes), fin[2].media_sha256) -- [1] initializeUpload, [2] finalizeUpload, then GETs
        assert.are.equal(2, #fin - 2) -- PROCESSING, then AVAILABLE
        local post = requests("linkedin", "/rest/posts")[1]
        assert.are.equal(li.mediaIDs[1], post.images[1].id)
        assert.are.equal(sha256(bytes), post.images[1].sha256)
        assert.matches("https://game.example/r", post.body, 1, true) -- in the commentary: no article beside a video
        -- a video LinkedIn cannot process: the item named, nothing posted
        H.reset(sb)
        recorded = nil
        c = client(only({ "linkedin" }, { linkedin = "li-mediafail" }))
        res, err = c:publishUserAction { UID = "u1", userAction = { title = "Replay",
            mediaItems = { { type = "video", data = video(5000), mimeType = "video/mp4" } } } }
        li = entry(res, "linkedin", err)
        assert.are.equal("content_invalid", li.category)
        assert.matches("linkedin: mediaItems[1]: ", li.errorDetails, 1, true)
        assert.matches("could not be transcoded", li.errorDetails, 1, true)
        assert.are.equal(0, #requests("linkedin", "/rest/posts"))
    end)

    it("the sandboxes refuse a post naming media not uploaded, or not processed yet", function()
        local core = require("socialize.core")
        local http = require("socialize.curl").new { timeout = 10 }
        local conn = H.sandbox_connection(sb)
        local function send(p, action, input, step, blobs)
            local req = assert(core.provider_request(p, action, input, providers[p], conn[p], os.time(), core.random_hex(8),
                nil, step, blobs))
            return assert(http:request(req))
        end
        -- X: an unknown id; then a video initialized and appended but never finalized
        local r = send("twitter", "publish", { userAction = { title = "t" }, media = { { index = 1, kind = "image", id = "999" } } })
        assert.are.equal(400, r.status)
        assert.matches("Your media IDs are invalid", r.body, 1, true)
        local bytes = video(100)
        local it = { index = 1, kind = "video", mime = "video/mp4", size = #bytes }
        r = send("twitter", "upload", {}, { item = it }, { bytes })
        local id = core.json_decode(r.body).data.id
        r = send("twitter", "upload", {}, { item = it, step = { phase = "append", id = id, segment = 0 } }, { bytes })
        assert.are.equal(204, r.status)
        r = send("twitter", "publish", { userAction = { title = "t" }, media = { { index = 1, kind = "video", id = id } } })
        assert.are.equal(400, r.status)
        assert.matches("not processed: initialized", r.body, 1, true)
        -- a segment sent twice, and a finalize before the bytes add up
        r = send("twitter", "upload", {}, { item = it, step = { phase = "append", id = id, segment = 0 } }, { bytes })
        assert.matches("segment 0 twice", r.body, 1, true)
        r = send("twitter", "upload", {}, { item = it }, { bytes })
        local id2 = core.json_decode(r.body).data.id
        r = send("twitter", "upload", {}, { item = it, step = { phase = "finalize", id = id2 } }, { bytes })
        assert.are.equal(400, r.status)
        assert.matches("total_bytes was 100, 0 bytes were appended", r.body, 1, true)
        -- LinkedIn: an image initialized but never PUT
        r = send("linkedin", "upload", {}, { item = { index = 1, kind = "image", mime = "image/png", size = #PNG } }, { PNG })
        local urn = core.json_decode(r.body).value.image
        r = send("linkedin", "publish", { userAction = { title = "t" }, media = { { index = 1, kind = "image", id = urn } } })
        assert.are.equal(422, r.status)
        assert.matches("is not an available image", r.body, 1, true)
        http:close()
    end)

    it("LinkedIn: with a link the image is the article's thumbnail", function()
        local c = client(only({ "linkedin" }))
        local res = c:publishUserAction { UID = "u1", userAction = { title = "Level 9", linkBack = "https://game.example/9",
            description = "Cleared", mediaItems = { { type = "image", data = PNG, mimeType = "image/png" } } } }
        local li = entry(res, "linkedin")
        assert.are.equal(0, li.errorCode, li.errorDetails)
        local post = requests("linkedin", "/rest/posts")[1]
        assert.matches('"thumbnail":"' .. li.mediaIDs[1], post.body, 1, true)
        assert.are.equal(li.mediaIDs[1], post.images[1].id)
    end)

    it("a 5xx on one X append is retried (an upload step is safe to repeat): the video goes with the tweet", function()
        local bytes = video(4194304 + 10)
        local ua = { userMessage = "x", mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } }
        local c = client(only({ "twitter" }, { twitter = "tw-media5xx" }))
        local res, err = c:publishUserAction { UID = "u1", userAction = ua }
        local tw = entry(res, "twitter", err)
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        assert.are.equal(3, #requests("twitter", "/append")) -- segment 0 twice (503, then taken), segment 1
        local tweet = requests("twitter", "/2/tweets")[1]
        assert.matches('"media_ids":["' .. tw.mediaIDs[1] .. '"]', tweet.body, 1, true)
    end)

    it("without retries a 5xx on one X append fails the item, named; with partial = allow the post goes on without it", function()
        local bytes = video(4194304 + 10)
        local ua = { userMessage = "x", mediaItems = { { type = "video", data = bytes, mimeType = "video/mp4" } } }
        local c = client(only({ "twitter" }, { twitter = "tw-media5xx" }), { retry = false })
        local res, err = c:publishUserAction { UID = "u1", userAction = ua }
        local tw = entry(res, "twitter", err)
        assert.are.equal("transient", tw.category)
        assert.matches("twitter: mediaItems[1]: HTTP 503", tw.errorDetails, 1, true)
        local paths = {}
        for _, r in ipairs(requests("twitter")) do paths[#paths + 1] = r.method .. " " .. r.path end
        assert.are.equal(1, #requests("twitter", "/append"), table.concat(paths, ", "))
        assert.are.equal(0, #requests("twitter", "/2/tweets"))
        H.reset(sb)
        recorded = nil
        c = client(only({ "twitter" }, { twitter = "tw-media5xx" }), { retry = false, media = { partial = "allow" } })
        res, err = c:publishUserAction { UID = "u1", userAction = ua }
        tw = entry(res, "twitter", err)
        assert.are.equal(0, tw.errorCode, tw.errorDetails)
        assert.are.equal(1, tw.mediaFailed[1].index)
        local tweet = requests("twitter", "/2/tweets")[1]
        assert.are.equal('{"text":"x"}', tweet.body)
    end)
end)
