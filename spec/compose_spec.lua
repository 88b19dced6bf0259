-- The generic text step (csrc/core/sz_compose.c) as each network's
-- descriptor drives it: text.compose says which UserAction fields make the
-- text and where the link goes; a publish is cut to the limit, a status is
-- refused when over; sendNotification is refused by the engine where the
-- descriptor says it is not offered.
local core = require("socialize.core")

local TS, NONCE = 1700000000, "n1"
local CONN = {
    twitter = { app = { consumerKey = "ck", consumerSecret = "cs" }, user = { token = "t", tokenSecret = "ts" } },
    facebook = { user = { accessToken = "at", pageId = "9" } },
    linkedin = { user = { accessToken = "at", personId = "p1" } },
    vkontakte = { user = { accessToken = "at", ownerId = "7" } },
    mastodon = { user = { accessToken = "at", instance = "https://m.example" } },
    bluesky = { user = { identifier = "i", appPassword = "p" }, setup = { accessJwt = "a", did = "did:plc:x" } },
    telegram = { app = { botToken = "1:b" }, user = { chatId = "5" } },
    threads = { user = { accessToken = "at", userId = "1789" } },
    sina = { app = { safeDomain = "game.example" }, user = { accessToken = "at", ip = "1.2.3.4" } },
}

local function build(p, action, input)
    local c = CONN[p]
    return core.provider_request(p, action, input, c.app or {}, c.user or {}, TS, NONCE, c.setup)
end

-- the composed text as the request carries it
local function posted(p, r)
    if r.body:sub(1, 1) == "{" then
        local b = core.json_decode(r.body)
        if p == "bluesky" then return b.record.text end
        return b.text or b.status or b.commentary
    end
    local q = {}
    for k, v in r.body:gmatch("([^&=]+)=([^&]*)") do
        q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    end
    return q.message or q.text or q.status, q
end

local function utf8_len(s)
    local _, n = s:gsub("[^\128-\191]", "")
    return n
end

describe("composing per descriptor", function()
    it("every live network states its compose spec and where the link goes", function()
        for _, name in ipairs(core.provider_names()) do
            local info = core.provider_info(name)
            if not info.discontinued then
                assert.is_string(info.text.compose, name)
                assert.matches("^[%a|,]+;?[%w_.]*=?l?i?n?k?B?a?c?k?$", info.text.compose, name)
            end
        end
    end)

    it("the fields come in the spec's order, the link in the text or in its own field", function()
        local ua = { title = "T", userMessage = "M", description = "D", linkBack = "https://game.example/l" }
        local want = {
            twitter = "T https://game.example/l",           -- title|userMessage;linkBack
            mastodon = "M\n\nT\n\nhttps://game.example/l",   -- userMessage,title;linkBack
            telegram = "M\n\nT\n\nD\n\nhttps://game.example/l",
            facebook = "M\n\nT\n\nD",                        -- link=linkBack
            vkontakte = "M\n\nT\n\nD",                       -- attachments=linkBack
            threads = "M\n\nT",                              -- link_attachment=linkBack
            linkedin = "M",                                  -- userMessage|title; the link is the article
        }
        for p, text in pairs(want) do
            local r = assert(build(p, "publish", { userAction = ua }))
            local got, form = posted(p, r)
            assert.are.equal(text, got, p)
            if form and p ~= "threads" then
                assert.are.equal("https://game.example/l", form[p == "facebook" and "link" or "attachments"], p)
            end
        end
    end)

    it("an empty title falls back to the userMessage on X (title|userMessage)", function()
        local r = assert(build("twitter", "publish", { userAction = { title = "", userMessage = "Hi" } }))
        assert.are.equal('{"text":"Hi"}', r.body)
    end)

    it("a publish over the limit is cut with an ellipsis on every network, the link kept", function()
        local long = string.rep("word ", 14000) -- 70,000 characters: over every limit
        for _, p in ipairs({ "twitter", "facebook", "vkontakte", "linkedin", "mastodon", "telegram", "threads", "bluesky" }) do
            local r, msg = build(p, "publish", { userAction = { userMessage = long, title = long,
                linkBack = "https://game.example/l" } })
            assert.is_table(r, p .. ": " .. tostring(msg))
            local text = posted(p, r)
            if p == "linkedin" then text = core.json_decode(r.body).commentary end
            assert.is_true(utf8_len(text) <= core.provider_info(p).text.max, p)
            assert.truthy(text:find("\226\128\166", 1, true), p .. ": an ellipsis")
        end
    end)

    it("a status over the limit is refused, not cut", function()
        for _, p in ipairs({ "twitter", "facebook", "linkedin", "mastodon", "telegram", "threads", "bluesky" }) do
            local max = core.provider_info(p).text.max
            local r, _, _, res = build(p, "status", { status = string.rep("a", max + 1) })
            assert.is_nil(r, p)
            assert.are.equal("content_invalid", res.category, p)
            assert.matches("text counts", res.errorDetails, 1, true)
            assert.is_table(build(p, "status", { status = string.rep("a", max) }), p .. " at the limit")
        end
    end)

    it("sendNotification is refused by the engine where the descriptor says so, before any credential", function()
        for _, name in ipairs(core.provider_names()) do
            local info = core.provider_info(name)
            assert.is_table(info.notify, name)
            if not info.notify.offered and not info.discontinued then
                assert.is_string(info.notify.why, name)
                -- no connection at all: still "unsupported", with the descriptor's reason
                local r, _, _, res = core.provider_request(name, "notify", { body = "hi", recipient = "1" }, {}, {}, TS, NONCE)
                assert.is_nil(r, name)
                assert.are.equal("unsupported", res.category, name)
                assert.are.equal(name .. ": " .. info.notify.why, res.errorDetails, name)
            end
        end
        assert.is_true(core.provider_info("twitter").notify.offered)
        assert.is_true(core.provider_info("telegram").notify.offered)
        assert.is_false(core.provider_info("linkedin").notify.offered)
    end)

    it("X direct messages have their own limit (10,000), not the tweet's", function()
        local r = assert(build("twitter", "notify", { body = string.rep("a", 10000), recipient = "12" }))
        assert.are.equal(10000, #core.json_decode(r.body).text)
        local _, _, _, res = build("twitter", "notify", { body = string.rep("a", 10001), recipient = "12" })
        assert.are.equal("content_invalid", res.category)
    end)
end)

describe("the engine's bearer token", function()
    it("is added by the engine for every network whose descriptor names it, never to the setup step", function()
        local seen = 0
        for _, name in ipairs(core.provider_names()) do
            local info = core.provider_info(name)
            if info.bearer then
                seen = seen + 1
                local c = CONN[name]
                local user, setup = {}, {}
                for k, v in pairs(c.user or {}) do user[k] = v end
                for k, v in pairs(c.setup or {}) do setup[k] = v end
                local holder = info.bearer.fromSetup and setup or user
                holder[info.bearer.field] = "TOK-" .. name
                local r = assert(core.provider_request(name, "status", { status = "hi" }, c.app or {}, user, TS,
                    NONCE, setup))
                assert.are.equal("Bearer TOK-" .. name, r.headers.Authorization, name)
                if info.setup then
                    local s = core.provider_request(name, info.setup.action, {}, c.app or {}, user, TS, NONCE)
                    assert.is_nil(s and s.headers.Authorization, name .. ": the setup step carries no bearer")
                end
                -- a token with a line break never reaches a header
                holder[info.bearer.field] = "T\r\nX-Evil: 1"
                local no, _, _, res = core.provider_request(name, "status", { status = "hi" }, c.app or {}, user,
                    TS, NONCE, setup)
                assert.is_nil(no, name)
                assert.are.equal("not_connected", res.category, name)
            end
        end
        assert.is_true(seen >= 3, "mastodon, linkedin, bluesky")
    end)
end)
