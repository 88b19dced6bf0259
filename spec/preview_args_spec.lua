-- client:preview's arguments, as for the other calls: nil params is {}, a
-- params that is not a table raises, and a callback (the game-loop habit of
-- every other call) raises instead of being ignored: preview sends nothing
-- and answers at once, so the callback would never run.
local socialize = require("socialize")
local H = require("spec.helper")

describe("client:preview arguments #unit", function()
    local function client()
        return socialize.new({ backend = "direct", transport = H.spy().transport,
            connections = { u1 = { telegram = { chatId = "5" } } },
            providers = { telegram = { botToken = "1:x" } } })
    end
    it("takes nil params as {} (the missing UID is named)", function()
        local res, err = client():preview()
        assert.is_nil(res)
        assert.are.equal(400002, err.errorCode)
        assert.truthy(tostring(err):find("UID", 1, true))
    end)
    it("raises for params that are not a table, like the other calls", function()
        local c = client()
        assert.has_error(function() c:preview("x") end, "bad argument #1 to 'preview' (table expected, got string)")
    end)
    it("raises for a callback instead of ignoring it", function()
        local c = client()
        local ok, msg = pcall(c.preview, c, { UID = "u1", userAction = { title = "T" } }, function() end)
        assert.is_false(ok)
        assert.truthy(msg:find("bad argument #2 to 'preview'", 1, true))
        assert.truthy(msg:find("no callback", 1, true))
    end)
    it("still answers without a callback", function()
        local res = assert(client():preview({ UID = "u1", userAction = { title = "T" } }))
        assert.are.equal("telegram", res.previews[1].provider)
    end)
end)

-- An item a call would refuse (bytes that are no media file, an image over
-- the network's limit): with media.partial = "fail" (the default) the post
-- is refused, so the preview's entry says so, as docs/api.md promises; with
-- "allow" only the item says why (the post would go without it).
describe("client:preview of an item the call would refuse #unit", function()
    local HTML = "<!doctype html><html><body>not an image</body></html>"
    local function client(partial)
        return socialize.new({ backend = "direct", transport = H.spy().transport,
            media = partial and { partial = partial } or nil,
            connections = { u1 = { mastodon = { accessToken = "t", instance = "https://m.example" } } } })
    end
    local params = { UID = "u1", userAction = { title = "T",
        mediaItems = { { type = "image", data = HTML, mimeType = "image/png" } } } }
    it("partial = fail: the entry has errorCode 400006 and the item's reason", function()
        local res = assert(client():preview(params))
        local e = res.previews[1]
        assert.are.equal("mastodon", e.provider)
        assert.truthy(e.media[1].errorDetails)
        assert.are.equal(400006, e.errorCode)
        assert.are.equal(e.media[1].errorDetails, e.errorDetails)
    end)
    it("partial = allow: only the item says why", function()
        local res = assert(client("allow"):preview(params))
        local e = res.previews[1]
        assert.truthy(e.media[1].errorDetails)
        assert.is_nil(e.errorCode)
    end)
end)
