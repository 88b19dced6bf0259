-- Issue 12, attacked: what a hostile network (or CDN) answers in the media
-- flows must not loop, reset a bound, or carry a request elsewhere.
require("spec.helper")
local core = require("socialize.core")

local NOW = 1700000000
local PNG = "\137PNG\r\n\26\n\0\0\0\13IHDR\0\0\0\2\0\0\0\3" .. ("\0\1\2\255"):rep(8)

local function parse(p, status, body, step, headers)
    return core.provider_parse(p, "upload", {}, {}, {}, status, headers or {}, body, NOW, step)
end

describe("X: a hostile media reply #unit", function()
    it("a metadata reply that says processing again ends the item (no status poll whose count starts over)", function()
        local it_ = { index = 1, kind = "gif", mime = "image/gif", size = 10, alt = "a" }
        local res = parse("twitter", 200, '{"data":{"processing_info":{"state":"pending","check_after_secs":5}}}',
            { item = it_, step = { phase = "metadata", id = "77" } })
        assert.is_true(res.ok)
        assert.are.same({ media = { id = "77" } }, res.data)
    end)
end)
