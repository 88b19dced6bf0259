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

describe("LinkedIn: hostile upload instructions #unit", function()
    local function ins(n, url)
        local t = {}
        for i = 0, n - 1 do
            t[#t + 1] = string.format('{"uploadUrl":"%s","firstByte":%d,"lastByte":%d}', url, i, i)
        end
        return '{"value":{"video":"urn:li:video:1","uploadInstructions":[' .. table.concat(t, ",") .. ']}}'
    end
    it("more parts than the front's 300 steps per item can send are refused at once, not after 290 uploads", function()
        local it_ = { index = 1, kind = "video", mime = "video/mp4", size = 201 }
        local res = parse("linkedin", 200, ins(201, "https://www.linkedin.com/u"), { item = it_ })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
        it_.size = 200
        res = parse("linkedin", 200, ins(200, "https://www.linkedin.com/u"), { item = it_ })
        assert.is_true(res.ok)
        assert.are.equal(200, #res.data.parts)
    end)
    it("a part URL over 4096 bytes is refused (the state carried through every step stays small)", function()
        local it_ = { index = 1, kind = "video", mime = "video/mp4", size = 2 }
        local long = "https://www.linkedin.com/" .. ("a"):rep(4100)
        local res = parse("linkedin", 200, ins(2, long), { item = it_ })
        assert.is_false(res.ok)
        assert.are.equal("transient", res.category)
    end)
end)
