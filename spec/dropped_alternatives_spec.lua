-- A compose group with alternatives ("title|userMessage": the first one
-- present is posted) carries only that one: the others the caller gave are
-- not posted, so a result lists them in `dropped` (docs/media.md: nothing
-- the caller gave is dropped silently), unless the network carries them
-- elsewhere (`carries`).
local media = require("socialize.media")
local core = require("socialize.core")

describe("media plan: compose alternatives #unit", function()
    local x = { name = "x1", text = { compose = "title|userMessage;linkBack" }, media = {} }
    it("the alternative not posted is dropped", function()
        local plan = media.plan(x, {}, { title = "T", userMessage = "M", linkBack = "https://g.example/" })
        assert.are.same({ "userMessage" }, plan.dropped)
    end)
    it("the first present alternative is the one posted", function()
        local plan = media.plan(x, {}, { userMessage = "M" })
        assert.are.same({}, plan.dropped)
        plan = media.plan(x, {}, { title = "", userMessage = "M" })
        assert.are.same({}, plan.dropped)
    end)
    it("a field the network carries elsewhere is not dropped", function()
        local li = { name = "x2", text = { compose = "userMessage|title;content.article=linkBack" },
                     carries = "title:content.article.title", media = {} }
        local plan = media.plan(li, {}, { title = "T", userMessage = "M", linkBack = "https://g.example/" })
        assert.are.same({}, plan.dropped)
    end)
    it("a network without a compose spec (discontinued: core.null) plans without raising", function()
        local plan = media.plan(core.provider_info("renren"), {}, { title = "T", userMessage = "M" })
        assert.are.same({}, plan.dropped)
    end)
    it("X: a title and a userMessage, the userMessage is dropped (what provider_text posts)", function()
        local ua = { title = "T", userMessage = "M", linkBack = "https://g.example/x" }
        local text = core.provider_text("twitter", "publish", { userAction = ua }).text
        assert.is_nil(text:find("M", 1, true))
        assert.are.same({ "userMessage" }, media.plan(core.provider_info("twitter"), {}, ua).dropped)
    end)
end)
