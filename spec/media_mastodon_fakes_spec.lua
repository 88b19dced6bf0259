-- Mastodon media against the sandbox (spec/fakes/networks/mastodon.py), driven
-- at the core level: each request built by core.provider_request, sent over
-- libcurl, its reply classified by core.provider_parse. The fake parses the
-- multipart body with its own code and keeps the file's bytes, so what it
-- received is compared here byte for byte (GET /__uploads/<id>).
local H = require("spec.helper")
local core = require("socialize.core")
local transport = require("socialize.transport")
local socialize = require("socialize")

local TS, NOW = 1700000000, 1700000000

local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

describe("mastodon media through the sandbox", function()
    local sb, base, T
    local nonce = 0

    setup(function()
        sb = H.start_sandbox()
        base = sb.url("mastodon")
        T = transport.curl({ timeout = 10 })
    end)
    teardown(function()
        if T then T.close() end
        H.stop_all()
    end)

    local function user(token) return { accessToken = token or "md-token", instance = base } end

    local function send(req)
        local res, msg = T:request(req)
        assert(res, msg)
        return res
    end

    local function get(path)
        local res = send({ method = "GET", url = base .. path, headers = {} })
        return res.status, res.body
    end

    local function file(name)
        local status, body = get("/__media/" .. name)
        assert.are.equal(200, status)
        return body
    end

    local function info(t)
        local status, body = get("/__uploads/" .. t.id)
        return status == 200 and core.json_decode(body) or nil
    end

    local function item(index, bytes, over)
        local s = core.media_sniff(bytes)
        local t = { index = index, kind = s.kind, mime = s.mime, size = #bytes, width = s.width, height = s.height }
        for k, v in pairs(over or {}) do t[k] = v end
        return t
    end

    -- the upload steps of one item until it is done or fails: the last parse
    -- result and the replies' statuses
    local function upload(u, it, blobs)
        local step, statuses = { item = it }, {}
        for _ = 1, 100 do
            nonce = nonce + 1
            local req, _, _, res = core.provider_request("mastodon", "upload", {}, {}, u, TS, "n" .. nonce, nil, step, blobs)
            if not req then return res, statuses end
            local r = send(req)
            statuses[#statuses + 1] = r.status
            local p = core.provider_parse("mastodon", "upload", {}, {}, u, r.status, r.headers, r.body, NOW, step)
            if not p.ok or p.data.media then return p, statuses end
            step = { item = it, step = p.data }
        end
        error("more than 100 upload steps")
    end

    local function publish(u, input, blobs)
        nonce = nonce + 1
        local req, _, _, res = core.provider_request("mastodon", "publish", input, {}, u, TS, "n" .. nonce, nil, nil, blobs)
        if not req then return res end
        local r = send(req)
        return core.provider_parse("mastodon", "publish", input, {}, u, r.status, r.headers, r.body, NOW), r
    end

    local function media_item(it, p)
        local m = {}
        for k, v in pairs(it) do m[k] = v end
        for k, v in pairs(p.data.media) do m[k] = v end
        return m
    end

    it("a small image is processed at once: 200, and the fake received its bytes, name, type and alt", function()
        local png = file("shot.png")
        local it = item(1, png, { alt = "The boss, \"defeated\"" })
        local p, statuses = upload(user(), it, { png })
        assert.is_true(p.ok, p.errorDetails)
        assert.are.same({ 200 }, statuses)
        assert.matches("^%d+$", p.data.media.id)
        local got = info(p.data.media)
        assert.are.equal(hex(png), got.hex)
        assert.are.equal(#png, got.size)
        assert.are.equal("media1.png", got.filename)
        assert.are.equal("image/png", got.content_type)
        assert.are.equal("The boss, \"defeated\"", got.description)
    end)

    it("a larger image: 202, one 206 poll, then 200; the status carries media_ids and attaches them", function()
        local big, png = file("big.png"), file("shot.png")
        local p1, st1 = upload(user(), item(1, big, { alt = "big" }), { big, png })
        assert.is_true(p1.ok, p1.errorDetails)
        assert.are.same({ 202, 206, 200 }, st1)
        local p2 = upload(user(), item(2, png), { big, png })
        local input = { userAction = { title = "Level 7" },
                        media = { media_item(item(1, big, { alt = "big" }), p1), media_item(item(2, png), p2) } }
        local r, raw = publish(user(), input, { big, png })
        assert.is_true(r.ok, r.errorDetails)
        local status = core.json_decode(raw.body)
        assert.are.equal(2, #status.media_attachments)
        assert.are.equal(p1.data.media.id, status.media_attachments[1].id)
        assert.are.equal(p2.data.media.id, status.media_attachments[2].id)
        assert.are.equal(r.postID, info(p1.data.media).status_id)
        -- attached media are no longer the account's to poll or delete
        assert.are.equal(404, send({ method = "GET", url = base .. "/api/v1/media/" .. p1.data.media.id,
                                     headers = { Authorization = "Bearer md-token" } }).status)

        -- a retry of the same post with the same media: new uploads, new ids,
        -- the same Idempotency-Key, so the instance answers the first status
        local q1 = upload(user(), item(1, big, { alt = "big" }), { big, png })
        local q2 = upload(user(), item(2, png), { big, png })
        assert.are_not.equal(p1.data.media.id, q1.data.media.id)
        local input2 = { userAction = { title = "Level 7" },
                         media = { media_item(item(1, big, { alt = "big" }), q1), media_item(item(2, png), q2) } }
        local r2 = publish(user(), input2, { big, png })
        assert.is_true(r2.ok)
        assert.are.equal(r.postID, r2.postID)
        -- and the unused uploads of that retry are deleted
        for _, q in ipairs({ q1, q2 }) do
            local req = core.provider_request("mastodon", "unmedia", {}, {}, user(), TS, "u", nil, { media = q.data.media })
            local res = send(req)
            local d = core.provider_parse("mastodon", "unmedia", {}, {}, user(), res.status, res.headers, res.body, NOW,
                { media = q.data.media })
            assert.is_true(d.ok, d.errorDetails)
            assert.is_nil(info(q.data.media))
        end
    end)

    it("a video: 202 then polls; it goes alone", function()
        local mp4 = file("clip.mp4")
        local p, statuses = upload(user(), item(1, mp4), { mp4 })
        assert.is_true(p.ok, p.errorDetails)
        assert.are.same({ 202, 206, 200 }, statuses)
        assert.are.equal("video", p.data.media.type)
        assert.are.equal(hex(mp4), info(p.data.media).hex)
        local r = publish(user(), { userAction = {}, media = { media_item(item(1, mp4), p) } }, { mp4 })
        assert.is_true(r.ok, r.errorDetails)
    end)

    it("processing that fails: 422 on the poll, the item named", function()
        local big = file("big.png")
        local p, statuses = upload(user("md-mediafail"), item(2, big), { "", big })
        assert.is_false(p.ok)
        assert.are.same({ 202, 422 }, statuses)
        assert.are.equal("content_invalid", p.category)
        assert.are.equal("HTTP 422: mediaItems[2]: processing failed: Error processing thumbnail for uploaded media",
            p.errorDetails)
    end)

    it("processing that never ends: the polls stop at 60, a transient failure naming the item", function()
        local png = file("shot.png")
        local p, statuses = upload(user("md-mediaslow"), item(1, png), { png })
        assert.is_false(p.ok)
        assert.are.equal(61, #statuses) -- the upload and 60 polls
        assert.are.equal("transient", p.category)
        assert.are.equal("HTTP 206: mediaItems[1]: processing did not finish after 60 polls", p.errorDetails)
    end)

    it("the fake refuses what the real server refuses: unknown or unprocessed media ids, a type that lies", function()
        local png, big = file("shot.png"), file("big.png")
        local r = publish(user(), { userAction = { title = "t" }, media = { item(1, png, { id = "999" }) } }, { png })
        assert.is_false(r.ok)
        assert.are.equal("content_invalid", r.category)
        assert.are.equal("HTTP 422: Media 999 not found or already attached to another post", r.errorDetails)
        -- uploaded (202) but never polled: still processing
        nonce = nonce + 1
        local req = core.provider_request("mastodon", "upload", {}, {}, user(), TS, "n" .. nonce, nil, { item = item(1, big) }, { big })
        local res = send(req)
        assert.are.equal(202, res.status)
        local id = core.json_decode(res.body).id
        r = publish(user(), { userAction = { title = "t2" }, media = { item(1, big, { id = id }) } }, { big })
        assert.are.equal("HTTP 422: Cannot attach files that have not finished processing. Try again in a moment!",
            r.errorDetails)
        -- a file part whose bytes are not the type it says
        req = core.provider_request("mastodon", "upload", {}, {}, user(), TS, "nx", nil,
            { item = item(1, png, { mime = "image/jpeg" }) }, { png })
        local p = core.provider_parse("mastodon", "upload", {}, {}, user(), send(req).status, {}, "", NOW, { item = item(1, png) })
        assert.are.equal("content_invalid", p.category)
    end)

    it("the fake's multipart parser is strict: LF line ends, a missing closing boundary, two files", function()
        local png = file("shot.png")
        local req = core.provider_request("mastodon", "upload", {}, {}, user(), TS, "nm", nil, { item = item(1, png) }, { png })
        local good = req.body
        local function try(body)
            return send({ method = "POST", url = req.url, headers = req.headers, body = body })
        end
        assert.are.equal(200, try(good).status)
        assert.are.equal(422, try((good:gsub("\r\n", "\n"))).status)
        assert.are.equal(422, try(good:sub(1, -3)).status)
        local b = req.headers["Content-Type"]:match("boundary=(.*)$")
        local twice = good:sub(1, #good - #b - 6) .. good -- the part, then the whole body again
        local res = try(twice)
        assert.are.equal(422, res.status)
        assert.matches("one file", res.body, 1, true)
    end)

    it("DELETE of an unattached upload; an attached one is refused", function()
        local png = file("shot.png")
        local p = upload(user(), item(1, png), { png })
        local res = send({ method = "DELETE", url = base .. "/api/v1/media/" .. p.data.media.id,
                           headers = { Authorization = "Bearer md-token" } })
        assert.are.equal(200, res.status)
        assert.are.equal(404, (get("/__uploads/" .. p.data.media.id)))
        p = upload(user(), item(1, png), { png })
        assert.is_true(publish(user(), { userAction = { title = "attached" }, media = { media_item(item(1, png), p) } },
            { png }).ok)
        res = send({ method = "DELETE", url = base .. "/api/v1/media/" .. p.data.media.id,
                     headers = { Authorization = "Bearer md-token" } })
        assert.are.equal(422, res.status)
    end)
end)

-- End to end: publishUserAction through a client (the direct backend, the
-- front's media pipeline: fetch, upload loop with waits on a virtual clock,
-- cleanup), against the same fake.
describe("mastodon media through a client", function()
    local sb, v

    H.use_sandbox(function(s) sb = s end)

    local function client(token, extra)
        v = H.virtual()
        local cfg = { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
                      connections = { u1 = { mastodon = { accessToken = token or "md-token",
                                                          instance = sb.url("mastodon") } } },
                      timeout = 5, now = v.now, sleep = v.sleep, clock = v.clock }
        for k, x in pairs(extra or {}) do cfg[k] = x end
        return socialize.new(cfg)
    end

    -- the provider's entry (a failed call answers nil, err with the same entries),
    -- its postID from providerPostIDs
    local function entry(res, err)
        local r = res or err
        assert.is_not_nil(r)
        local e = r.providerErrorCodes[1]
        e.postID = r.providerPostIDs and r.providerPostIDs.mastodon
        return e
    end

    -- the fake's requests: "METHOD path" in order
    local function trail()
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "mastodon" then out[#out + 1] = r.method .. " " .. r.path end
        end
        return out
    end

    local function upload_info(id)
        local res = assert(transport.curl({ timeout = 5 }):request({ method = "GET", headers = {},
            url = sb.url("mastodon") .. "/__uploads/" .. id }))
        return res.status == 200 and core.json_decode(res.body) or nil
    end

    local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3\8\2\0\0\0" .. ("\1\2\3\4"):rep(20)

    it("data + mimeType and a src URL: uploaded, polled, posted with media_ids in item order", function()
        local src = sb.url("media") .. "/big.png?bytes=5000" -- over the fake's 1024 bytes: processed later
        local res = client():publishUserAction({ UID = "u1", userAction = { title = "Level 7!", mediaItems = {
            { type = "image", data = PNG, mimeType = "image/png", alt = "small" },
            { type = "image", src = src, alt = "from the CDN" } } } })
        local e = entry(res)
        assert.is_true(e.errorCode == 0, e.errorDetails)
        assert.are.equal(2, #e.mediaIDs)
        local id2, sent = e.mediaIDs[2], trail()
        assert.are.same({ "GET /api/v2/instance", "POST /api/v2/media", "POST /api/v2/media",
                          "GET /api/v1/media/" .. id2, "GET /api/v1/media/" .. id2, "POST /api/v1/statuses" }, sent)
        local small, fetched = upload_info(e.mediaIDs[1]), upload_info(e.mediaIDs[2])
        assert.are.equal(hex(PNG), small.hex)
        assert.are.equal("small", small.description)
        assert.are.equal("media1.png", small.filename)
        assert.are.equal("from the CDN", fetched.description)
        assert.are.equal("media2.png", fetched.filename)
        assert.are.equal(e.postID, small.status_id)
        assert.are.equal(e.postID, fetched.status_id)
        -- the fetched file is the CDN's, byte for byte
        local cdn = assert(transport.curl({ timeout = 5 }):request({ method = "GET", url = src, headers = {} }))
        assert.are.equal(hex(cdn.body), fetched.hex)
        -- the waits of the polls ran on the client's clock: 1 s each
        assert.are.same({ 1, 1 }, v.sleeps)
    end)

    it("a video alone; the same post again (new uploads, new ids) gets the same status", function()
        local c = client()
        local ua = { title = "Run", mediaItems = { { type = "video", src = sb.url("media") .. "/video.mp4?bytes=5000" } } }
        local e1 = entry(c:publishUserAction({ UID = "u1", userAction = ua }))
        assert.is_true(e1.errorCode == 0, e1.errorDetails)
        assert.are.equal("video", upload_info(e1.mediaIDs[1]).type)
        local e2 = entry(c:publishUserAction({ UID = "u1", userAction = ua }))
        assert.is_true(e2.errorCode == 0, e2.errorDetails)
        assert.are_not.equal(e1.mediaIDs[1], e2.mediaIDs[1])
        assert.are.equal(e1.postID, e2.postID)
    end)

    it("processing fails: the provider fails naming the item once, and nothing is posted", function()
        local res, err = client("md-mediafail"):publishUserAction({ UID = "u1", userAction = { title = "T", mediaItems = {
            { type = "image", data = PNG, mimeType = "image/png" },
            { type = "image", src = sb.url("media") .. "/img/64x48.png" } } } })
        local e = entry(res, err)
        assert.are_not.equal(0, e.errorCode)
        assert.are.equal("mastodon: HTTP 422: mediaItems[1]: processing failed: Error processing thumbnail for "
            .. "uploaded media", e.errorDetails)
        for _, t in ipairs(trail()) do assert.is_nil(t:find("statuses", 1, true), t) end
    end)

    it("the status is refused after the uploads: they are deleted", function()
        local res, err = client("md-postfail"):publishUserAction({ UID = "u1", userAction = { title = "T", mediaItems = {
            { type = "image", data = PNG, mimeType = "image/png" },
            { type = "image", data = PNG .. "x", mimeType = "image/png" } } } })
        local e = entry(res, err)
        assert.are.equal(400006, e.errorCode)
        local t, deleted = trail(), {}
        for _, x in ipairs(t) do
            local id = x:match("^DELETE /api/v1/media/(%d+)$")
            if id then deleted[#deleted + 1] = id end
        end
        assert.are.equal(2, #deleted, table.concat(t, ", "))
        for _, id in ipairs(deleted) do assert.is_nil(upload_info(id)) end
    end)

    it("processing that never ends: bounded by the polls, or by the call's deadline", function()
        local item = { { type = "image", data = PNG, mimeType = "image/png" } }
        local e = entry(client("md-mediaslow", { deadline = 3600 }):publishUserAction({ UID = "u1",
            userAction = { title = "T", mediaItems = item } }))
        assert.are.equal("mastodon: HTTP 206: mediaItems[1]: processing did not finish after 60 polls", e.errorDetails)
        assert.are.equal(60, #v.sleeps)
        H.reset(sb)
        e = entry(client("md-mediaslow"):publishUserAction({ UID = "u1", userAction = { title = "T", mediaItems = item } }))
        assert.truthy(e.errorDetails:find("mediaItems[1]: still processing when the call's deadline came", 1, true),
            e.errorDetails)
    end)

    it("five images: refused before anything is sent, naming the limit", function()
        local items = {}
        for i = 1, 5 do items[i] = { type = "image", data = PNG, mimeType = "image/png" } end
        local e = entry(client():publishUserAction({ UID = "u1", userAction = { title = "T", mediaItems = items } }))
        assert.are_not.equal(0, e.errorCode)
        assert.truthy(e.errorDetails:find("at most 4", 1, true), e.errorDetails)
        for _, t in ipairs(trail()) do assert.is_nil(t:find("media", 1, true), t) end
    end)
end)
