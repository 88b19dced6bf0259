-- Mastodon media against the sandbox (spec/fakes/networks/mastodon.py), driven
-- at the core level: each request built by core.provider_request, sent over
-- libcurl, its reply classified by core.provider_parse. The fake parses the
-- multipart body with its own code and keeps the file's bytes, so what it
-- received is compared here byte for byte (GET /__uploads/<id>).
local H = require("spec.helper")
local core = require("socialize.core")
local transport = require("socialize.transport")

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
