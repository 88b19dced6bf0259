-- Issue 12, item 1 against the sandbox: Bluesky's and VK's media steps, each
-- request built by the core and sent by the curl transport, each reply parsed
-- by the core, the fakes (spec/fakes/networks/bluesky.py, vkontakte.py)
-- checking the wire with their own code: uploadBlob's raw bytes and the
-- record's blob refs against the lexicons; VK's multipart `photo`, the
-- {server, photo, hash} handed to saveWallPhoto, the attachments of wall.post.
local H = require("spec.helper")
local core = require("socialize.core")

local sb, providers, T
local seq = 0

local function send(r)
    local res, msg = T:request({ method = r.method, url = r.url, headers = r.headers, body = r.body, timeout = 10 })
    assert(res, msg)
    return res
end

local function get(url)
    return send({ method = "GET", url = url, headers = {} })
end

-- one call: build, send, parse; the refusal when nothing was sent
local function call(p, action, input, user, setup, step, blobs)
    seq = seq + 1
    local r, _, _, refusal = core.provider_request(p, action, input, providers[p], user, os.time(), "nonce-" .. seq,
        setup, step, blobs)
    if not r then return refusal end
    local res = send(r)
    return core.provider_parse(p, action, input, providers[p], user, res.status, res.headers, res.body, os.time(),
        step), r
end

-- the upload steps of one item until its media (bounded)
local function upload(p, user, setup, item, blobs)
    local step = { item = item }
    for _ = 1, 8 do
        local res = call(p, "upload", {}, user, setup, step, blobs)
        if not res.ok then return res end
        if res.data.media then return res, res.data.media end
        step = { item = item, step = res.data }
    end
    error("more than 8 upload steps")
end

local function merged(item, media)
    local out = {}
    for k, v in pairs(item) do out[k] = v end
    for k, v in pairs(media) do out[k] = v end
    return out
end

local function requests(network, path)
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if r.network == network and (not path or r.path == path) then out[#out + 1] = r end
    end
    return out
end

local SHOT, WIDE, BIG

describe("bluesky media through the sandbox #fakes", function()
    local USER, SESS

    H.use_sandbox(function(s, p)
        sb, providers = s, p
        T = require("socialize.transport").curl({ timeout = 10 })
        SHOT = get(sb.url("media") .. "/img/16x8.png").body
        WIDE = get(sb.url("media") .. "/img/120x30.png").body
        BIG = get(sb.url("media") .. "/big.png?bytes=1000149").body
    end)

    before_each(function()
        USER = H.sandbox_connection(sb).bluesky
        local s = call("bluesky", "session", {}, USER)
        assert.is_true(s.ok)
        SESS = s.data
    end)

    local function items()
        local a = core.media_sniff(SHOT)
        local b = core.media_sniff(WIDE)
        return { index = 1, kind = "image", mime = a.mime, size = #SHOT, width = a.width, height = a.height, alt = "Boss" },
            { index = 2, kind = "image", mime = b.mime, size = #WIDE, width = b.width, height = b.height }
    end

    it("uploads two images, posts them as app.bsky.embed.images; the PDS holds the bytes exactly", function()
        local i1, i2 = items()
        local blobs = { SHOT, WIDE }
        local r1, m1 = upload("bluesky", USER, SESS, i1, blobs)
        assert.is_true(r1.ok, r1.errorDetails)
        local r2, m2 = upload("bluesky", USER, SESS, i2, blobs)
        assert.is_true(r2.ok, r2.errorDetails)
        assert.matches("^bafkrei[a-z2-7]+$", m1.id)
        assert.are_not.equal(m1.id, m2.id)
        for _, pair in ipairs({ { m1, SHOT }, { m2, WIDE } }) do
            local back = get(sb.url("bluesky") .. "/xrpc/com.atproto.sync.getBlob?did=" .. SESS.did .. "&cid=" .. pair[1].id)
            assert.are.equal(200, back.status)
            assert.is_true(back.body == pair[2], "getBlob answers other bytes")
        end
        local input = { userAction = { title = "Level 7!", linkBack = "https://game.example/p/1" },
            media = { merged(i1, m1), merged(i2, m2) } }
        local res = call("bluesky", "publish", input, USER, SESS, nil, blobs)
        assert.is_true(res.ok, res.errorDetails)
        assert.matches("^at://did:plc:", res.postID)
        local rec = core.json_decode(requests("bluesky", "/xrpc/com.atproto.repo.createRecord")[1].body).record
        assert.are.equal("app.bsky.embed.images", rec.embed["$type"])
        assert.are.same({ width = 16, height = 8 }, rec.embed.images[1].aspectRatio)
        assert.are.same({ width = 120, height = 30 }, rec.embed.images[2].aspectRatio)
        assert.are.equal("Boss", rec.embed.images[1].alt)
        assert.are.equal("", rec.embed.images[2].alt)
        local up = requests("bluesky", "/xrpc/com.atproto.repo.uploadBlob")
        assert.are.equal(2, #up)
        assert.are.equal("image/png", up[1].headers["content-type"])
        assert.matches("^Bearer acc%-", up[1].headers.authorization)
    end)

    it("one image without alt text and a link: the card's thumb, a blob the fake knows", function()
        local i1 = items()
        i1.alt = nil
        local _, m1 = upload("bluesky", USER, SESS, i1, { SHOT })
        local res = call("bluesky", "publish", { userAction = { title = "Level 7!", description = "Beat it",
            linkBack = "https://game.example/p/1" }, media = { merged(i1, m1) } }, USER, SESS, nil, { SHOT })
        assert.is_true(res.ok, res.errorDetails)
        local rec = core.json_decode(requests("bluesky", "/xrpc/com.atproto.repo.createRecord")[1].body).record
        assert.are.equal("app.bsky.embed.external", rec.embed["$type"])
        assert.are.equal(m1.id, rec.embed.external.thumb.ref["$link"])
    end)

    it("the fake refuses a record naming a blob never uploaded, and one over 1,000,000 bytes", function()
        local i1 = items()
        local forged = merged(i1, { id = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq" })
        local res = call("bluesky", "publish", { userAction = { title = "t" }, media = { forged } }, USER, SESS, nil,
            { SHOT })
        assert.is_false(res.ok)
        assert.are.equal("content_invalid", res.category)
        assert.truthy(res.errorDetails:find("Could not find blob", 1, true), res.errorDetails)
        -- the core refuses the big image before sending; sent anyway, the PDS says BlobTooLarge
        assert.are.equal(1000149, #BIG)
        local big = { index = 1, kind = "image", mime = "image/png", size = #BIG }
        local refused = upload("bluesky", USER, SESS, big, { BIG })
        assert.are.equal("content_invalid", refused.category)
        assert.are.equal(0, #requests("bluesky", "/xrpc/com.atproto.repo.uploadBlob"))
        local raw = send({ method = "POST", url = sb.url("bluesky") .. "/xrpc/com.atproto.repo.uploadBlob",
            headers = { ["Content-Type"] = "image/png", Authorization = "Bearer " .. SESS.accessJwt }, body = BIG })
        assert.are.equal(400, raw.status)
        local parsed = core.provider_parse("bluesky", "upload", {}, providers.bluesky, USER, raw.status, raw.headers,
            raw.body, os.time(), { item = big })
        assert.are.equal("content_invalid", parsed.category)
        assert.are.equal("BlobTooLarge", core.json_decode(raw.body).error)
    end)

    it("a type that lies about the bytes, a 5xx from uploadBlob, an expired session", function()
        local i1 = items()
        i1.mime = "image/jpeg"
        local lie = upload("bluesky", USER, SESS, i1, { SHOT })
        assert.are.equal("content_invalid", lie.category)
        local u2 = H.sandbox_connection(sb, { bluesky = "uploadfail.bsky.social" }).bluesky
        local s2 = call("bluesky", "session", {}, u2).data
        local five = upload("bluesky", u2, s2, items(), { SHOT })
        assert.are.equal("transient", five.category)
        H.configure(sb, { expire_bluesky = true })
        local ex = upload("bluesky", USER, SESS, items(), { SHOT })
        assert.are.equal("auth_expired", ex.category)
    end)
end)

describe("vkontakte media through the sandbox #fakes", function()
    H.use_sandbox(function(s, p)
        sb, providers = s, p
        T = require("socialize.transport").curl({ timeout = 10 })
        SHOT = get(sb.url("media") .. "/img/16x8.png").body
        WIDE = get(sb.url("media") .. "/img/120x30.png").body
    end)

    local function user(token, owner)
        local u = H.sandbox_connection(sb, { vkontakte = token }).vkontakte
        if owner then u.ownerId = owner end
        return u
    end

    local I1 = { index = 1, kind = "image", mime = "image/png" }
    local I2 = { index = 2, kind = "image", mime = "image/png" }

    it("three steps per photo, then wall.post with the attachments; VK holds the bytes exactly", function()
        local u = user()
        local blobs = { SHOT, WIDE }
        local r1, m1 = upload("vkontakte", u, nil, I1, blobs)
        assert.is_true(r1.ok, r1.errorDetails)
        local r2, m2 = upload("vkontakte", u, nil, I2, blobs)
        assert.is_true(r2.ok, r2.errorDetails)
        assert.matches("^photo1001_%d+$", m1.id)
        local res = call("vkontakte", "publish", { userAction = { title = "Level 7!", linkBack = "https://game.example/p/1" },
            media = { merged(I1, m1), merged(I2, m2) } }, u)
        assert.is_true(res.ok, res.errorDetails)
        local post = requests("vkontakte", "/method/wall.post")[1]
        assert.truthy(post.body:find("attachments=" .. m1.id .. "%2C" .. m2.id .. "%2Chttps%3A%2F%2Fgame.example%2Fp%2F1&",
            1, true), post.body)
        assert.is_true(get(sb.url("vkontakte") .. "/__photo/" .. m1.id:sub(6)).body == SHOT)
        assert.is_true(get(sb.url("vkontakte") .. "/__photo/" .. m2.id:sub(6)).body == WIDE)
        assert.are.equal(2, #requests("vkontakte", "/method/photos.getWallUploadServer"))
        assert.are.equal(2, #requests("vkontakte", "/method/photos.saveWallPhoto"))
        -- the upload server saw multipart, never the token
        local ups = {}
        for _, r in ipairs(requests("vkontakte")) do
            if r.path:find("^/upload/") then ups[#ups + 1] = r end
        end
        assert.are.equal(2, #ups)
        assert.matches("^multipart/form%-data; boundary=", ups[1].headers["content-type"])
        assert.is_nil(ups[1].body:find("vk-token", 1, true))
        assert.is_nil(ups[1].query:find("vk-token", 1, true))
    end)

    it("a community wall: group_id at each step, photo-<group>_<id>", function()
        local u = user(nil, "-77")
        local r, m = upload("vkontakte", u, nil, I1, { SHOT })
        assert.is_true(r.ok, r.errorDetails)
        assert.matches("^photo%-77_%d+$", m.id)
        assert.truthy(requests("vkontakte", "/method/photos.getWallUploadServer")[1].body:find("group_id=77", 1, true))
        local res = call("vkontakte", "publish", { userAction = { title = "t" }, media = { merged(I1, m) } }, u)
        assert.is_true(res.ok, res.errorDetails)
    end)

    it("an expired upload URL: a new one once, then the item fails", function()
        local r, m = upload("vkontakte", user("vk-uploadexpired"), nil, I1, { SHOT })
        assert.is_true(r.ok, r.errorDetails)
        assert.matches("^photo1001_", m.id)
        assert.are.equal(2, #requests("vkontakte", "/method/photos.getWallUploadServer"))
        H.reset(sb)
        local f = upload("vkontakte", user("vk-uploadexpiredalways"), nil, I1, { SHOT })
        assert.is_false(f.ok)
        assert.are.equal("transient", f.category)
        assert.truthy(f.errorDetails:find("ERR_UPLOAD_EXPIRED", 1, true), f.errorDetails)
        assert.are.equal(2, #requests("vkontakte", "/method/photos.getWallUploadServer"))
    end)

    it("every step's faults are classified: HTTP 200 errors, a 500 from the upload server", function()
        assert.are.equal("auth_expired", upload("vkontakte", user("expired"), nil, I1, { SHOT }).category)
        assert.are.equal("permission_missing", upload("vkontakte", user("noperm"), nil, I1, { SHOT }).category)
        assert.are.equal("transient", upload("vkontakte", user("vk-uploadfail"), nil, I1, { SHOT }).category)
        assert.are.equal("transient", upload("vkontakte", user("vk-savefail"), nil, I1, { SHOT }).category)
        -- bytes that are no image: the upload server's ERR_UPLOAD_BAD_IMAGE
        local bad = upload("vkontakte", user(), nil, I1, { "GIF89a-not-really" .. SHOT })
        assert.are.equal("content_invalid", bad.category)
        -- wall.post naming a photo never saved
        local res = call("vkontakte", "publish", { userAction = { title = "t" },
            media = { merged(I1, { id = "photo1001_999999" }) } }, user())
        assert.are.equal("content_invalid", res.category)
    end)

    it("unmedia deletes a saved photo the post did not use", function()
        local u = user()
        local _, m = upload("vkontakte", u, nil, I1, { SHOT })
        local res = call("vkontakte", "unmedia", {}, u, nil, { media = m })
        assert.is_true(res.ok, res.errorDetails)
        assert.are.equal(404, get(sb.url("vkontakte") .. "/__photo/" .. m.id:sub(6)).status)
        local post = call("vkontakte", "publish", { userAction = { title = "t" }, media = { merged(I1, m) } }, u)
        assert.are.equal("content_invalid", post.category)
    end)
end)

describe("bluesky and vkontakte media through a client #fakes", function()
    local socialize = require("socialize")
    local MEDIA

    H.use_sandbox(function(s, p)
        sb, providers = s, p
        T = require("socialize.transport").curl({ timeout = 10 })
        MEDIA = sb.url("media")
        SHOT = get(MEDIA .. "/img/16x8.png").body
        WIDE = get(MEDIA .. "/img/120x30.png").body
    end)

    local function client(tokens, extra)
        local conn = H.sandbox_connection(sb, tokens)
        local cfg = { backend = "direct", allowPrivateNetworks = true, providers = providers,
            connections = { u1 = { bluesky = conn.bluesky, vkontakte = conn.vkontakte } }, timeout = 5 }
        for k, v in pairs(extra or {}) do cfg[k] = v end
        return socialize.new(cfg)
    end

    local function entry(res, provider)
        for _, e in ipairs(res.providerErrorCodes or {}) do
            if e.provider == provider then return e end
        end
    end

    -- the result, or the error when every provider failed (it lists them the same way)
    local function publish(c, ua, providers_list)
        local res, err = c:publishUserAction { UID = "u1", userAction = ua,
            enabledProviders = providers_list or "bluesky,vkontakte" }
        return res or err, err
    end

    it("a src and bytes reach both networks; mediaIDs; the networks hold the bytes exactly", function()
        local res, err = publish(client(), { title = "Level 7!", linkBack = "https://game.example/p/1",
            mediaItems = { { type = "image", src = MEDIA .. "/img/16x8.png", alt = "The boss" },
                { type = "image", data = WIDE, mimeType = "image/png" } } })
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode, core.json_encode(res))
        local bs, vk = entry(res, "bluesky"), entry(res, "vkontakte")
        assert.are.equal(2, #bs.mediaIDs)
        assert.matches("^bafkrei[a-z2-7]+$", bs.mediaIDs[1])
        assert.are.equal(2, #vk.mediaIDs)
        assert.matches("^photo1001_%d+$", vk.mediaIDs[1])
        local rec = core.json_decode(requests("bluesky", "/xrpc/com.atproto.repo.createRecord")[1].body).record
        assert.are.same({ width = 16, height = 8 }, rec.embed.images[1].aspectRatio)
        assert.are.same({ width = 120, height = 30 }, rec.embed.images[2].aspectRatio)
        assert.are.equal("The boss", rec.embed.images[1].alt)
        assert.are.equal("", rec.embed.images[2].alt)
        for i, want in ipairs({ SHOT, WIDE }) do
            local back = requests("bluesky", "/xrpc/com.atproto.repo.uploadBlob")[i]
            assert.are.equal("image/png", back.headers["content-type"])
            assert.are.equal(#want, tonumber(back.headers["content-length"]))
            assert.is_true(get(sb.url("vkontakte") .. "/__photo/" .. vk.mediaIDs[i]:sub(6)).body == want)
        end
        local repo = core.json_decode(requests("bluesky", "/xrpc/com.atproto.repo.createRecord")[1].body).repo
        for i, want in ipairs({ SHOT, WIDE }) do
            local back = get(sb.url("bluesky") .. "/xrpc/com.atproto.sync.getBlob?did=" .. repo .. "&cid=" .. bs.mediaIDs[i])
            assert.is_true(back.body == want, "getBlob " .. i)
        end
        local post = requests("vkontakte", "/method/wall.post")[1]
        assert.truthy(post.body:find("attachments=" .. vk.mediaIDs[1] .. "%2C" .. vk.mediaIDs[2] .. "%2Chttps", 1, true),
            post.body)
    end)

    it("bluesky: one image without alt text and a link is the link card's thumb", function()
        local res = publish(client(), { title = "Level 7!", description = "Beat it", linkBack = "https://game.example/p/1",
            mediaItems = { { type = "image", src = MEDIA .. "/img/16x8.png" } } }, "bluesky")
        assert.are.equal(0, res.errorCode, core.json_encode(res))
        local rec = core.json_decode(requests("bluesky", "/xrpc/com.atproto.repo.createRecord")[1].body).record
        assert.are.equal("app.bsky.embed.external", rec.embed["$type"])
        assert.are.equal(entry(res, "bluesky").mediaIDs[1], rec.embed.external.thumb.ref["$link"])
        assert.are.equal("Beat it", rec.embed.external.description)
    end)

    it("bluesky: 5 images and an image over 1,000,000 bytes fail naming the limit; nothing uploaded", function()
        local five = {}
        for i = 1, 5 do five[i] = { type = "image", data = SHOT, mimeType = "image/png" } end
        local res = publish(client(), { title = "t", mediaItems = five }, "bluesky")
        assert.are_not.equal(0, res.errorCode)
        local e = entry(res, "bluesky")
        assert.truthy(tostring(e.errorDetails):find("at most 4", 1, true), e.errorDetails)
        local big = publish(client(), { title = "t", mediaItems = { { type = "image",
            src = MEDIA .. "/big.png?bytes=1000001" } } }, "bluesky")
        local b = entry(big, "bluesky")
        assert.are.equal(400006, b.errorCode)
        assert.truthy(tostring(b.errorDetails):find("mediaItems[1]", 1, true), b.errorDetails)
        assert.truthy(tostring(b.errorDetails):find("1000000", 1, true), b.errorDetails)
        assert.are.equal(0, #requests("bluesky", "/xrpc/com.atproto.repo.uploadBlob"))
        assert.are.equal(0, #requests("bluesky", "/xrpc/com.atproto.repo.createRecord"))
    end)

    it("vkontakte: an expired upload URL is replaced once; a post that fails deletes its photos", function()
        local res = publish(client({ vkontakte = "vk-uploadexpired" }), { title = "t",
            mediaItems = { { type = "image", data = SHOT, mimeType = "image/png" } } }, "vkontakte")
        assert.are.equal(0, res.errorCode, core.json_encode(res))
        assert.are.equal(2, #requests("vkontakte", "/method/photos.getWallUploadServer"))
        H.reset(sb)
        local f = publish(client({ vkontakte = "vk-wallfail" }), { title = "t",
            mediaItems = { { type = "image", data = SHOT, mimeType = "image/png" },
                { type = "image", data = WIDE, mimeType = "image/png" } } }, "vkontakte")
        local e = entry(f, "vkontakte")
        assert.are.equal("permission_missing", e.category)
        local del = requests("vkontakte", "/method/photos.delete")
        assert.are.equal(2, #del)
        local saved = requests("vkontakte", "/method/photos.saveWallPhoto")
        assert.are.equal(2, #saved)
        for i = 1, 2 do
            local id = del[i].body:match("photo_id=(%d+)")
            assert.are.equal(404, get(sb.url("vkontakte") .. "/__photo/1001_" .. id).status)
        end
    end)

    it("vkontakte: an upload URL on a private address is refused by the guard, nothing sent there", function()
        local c = client({ vkontakte = "vk-uploadprivate" }, { allowPrivateNetworks = false })
        local res = publish(c, { title = "t", mediaItems = { { type = "image", data = SHOT, mimeType = "image/png" } } },
            "vkontakte")
        local e = entry(res, "vkontakte")
        assert.are.equal(400006, e.errorCode, core.json_encode(res))
        assert.truthy(tostring(e.errorDetails):find("mediaItems[1]", 1, true), e.errorDetails)
        assert.truthy(tostring(e.errorDetails):find("private-network guard", 1, true), e.errorDetails)
        assert.are.equal(1, #requests("vkontakte", "/method/photos.getWallUploadServer"))
        assert.are.equal(0, #requests("vkontakte", "/method/wall.post"))
    end)

    it("preview: the media each would upload and what is dropped, nothing sent", function()
        local out = client():preview { UID = "u1", enabledProviders = "bluesky,vkontakte", userAction = {
            title = "t", subtitle = "s", linkBack = "https://game.example/",
            mediaItems = { { type = "image", data = SHOT, mimeType = "image/png", alt = "a" } } } }
        local got = {}
        for _, p in ipairs(out.previews) do got[p.provider] = p end
        assert.are.equal(1, #got.bluesky.media)
        assert.are.equal(16, got.bluesky.media[1].width)
        assert.are.same({ "subtitle" }, got.bluesky.dropped)
        assert.are.equal(1, #got.vkontakte.media)
        assert.are.equal(0, #H.requests(sb))
    end)
end)
