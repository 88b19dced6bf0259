-- Issue 10, "Wire fidelity" items 4 to 8: what each network's own documentation
-- says about the requests we emit and the replies we read.
--   4. X daily caps (x-user-limit-24hour-*, x-app-limit-24hour-*) and 402 credits
--   5. Telegram's "group chat was upgraded to a supergroup" (migrate_to_chat_id)
--   6. Weibo refuses #topic# tags, not a '#' inside a URL
--   7. LinkedIn article title fallback; little-text escaping everywhere
--   8. Tumblr share intent: content carries the URL of a link post
-- Rows go through core.provider_request / core.provider_parse (the requests of
-- items 6 and 7 are request vectors in spec/vectors/providers/); the sandbox
-- (spec/fakes/sandbox.py) checks the same formats end to end.
local H = require("spec.helper")
local core = require("socialize.core")
local socialize = require("socialize")

local TS, NONCE, NOW = 1700000000, "n1", 1700000000

local function build(provider, action, input, app, user, setup)
    return core.provider_request(provider, action, input, app or {}, user or {}, TS, NONCE, setup)
end

local function parse(provider, status, headers, body, action)
    return core.provider_parse(provider, action or "publish", {}, {}, {}, status, headers or {}, body, NOW)
end

local X429 = '{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}'

describe("X daily caps and credits (item 4) #unit", function()
    it("a 24-hour user cap sets retryAfter from x-user-limit-24hour-reset, scope account", function()
        local r = parse("twitter", 429, {
            ["x-rate-limit-limit"] = "100", ["x-rate-limit-remaining"] = "97", ["x-rate-limit-reset"] = tostring(NOW + 900),
            ["x-user-limit-24hour-limit"] = "17", ["x-user-limit-24hour-remaining"] = "0",
            ["x-user-limit-24hour-reset"] = tostring(NOW + 40000),
        }, X429)
        assert.are.equal("rate_limited", r.category)
        assert.are.equal(400125, r.errorCode)
        assert.are.equal(40000, r.retryAfter)
        assert.are.equal("account", r.scope)
    end)

    it("a 24-hour app cap sets retryAfter from x-app-limit-24hour-reset, scope app", function()
        local r = parse("twitter", 429, {
            ["x-rate-limit-remaining"] = "50", ["x-rate-limit-reset"] = tostring(NOW + 900),
            ["x-user-limit-24hour-remaining"] = "12", ["x-user-limit-24hour-reset"] = tostring(NOW + 80000),
            ["x-app-limit-24hour-limit"] = "1667", ["x-app-limit-24hour-remaining"] = "0",
            ["x-app-limit-24hour-reset"] = tostring(NOW + 50000),
        }, X429)
        assert.are.equal("rate_limited", r.category)
        assert.are.equal(50000, r.retryAfter)
        assert.are.equal("app", r.scope)
    end)

    it("when several windows are exhausted the longest wait wins, with its scope", function()
        local r = parse("twitter", 429, {
            ["x-rate-limit-remaining"] = "0", ["x-rate-limit-reset"] = tostring(NOW + 900),
            ["x-user-limit-24hour-remaining"] = "0", ["x-user-limit-24hour-reset"] = tostring(NOW + 70000),
            ["x-app-limit-24hour-remaining"] = "0", ["x-app-limit-24hour-reset"] = tostring(NOW + 30000),
        }, X429)
        assert.are.equal(70000, r.retryAfter)
        assert.are.equal("account", r.scope)
        r = parse("twitter", 429, {
            ["x-rate-limit-remaining"] = "0", ["x-rate-limit-reset"] = tostring(NOW + 900),
            ["x-user-limit-24hour-remaining"] = "0", ["x-user-limit-24hour-reset"] = tostring(NOW + 30000),
            ["x-app-limit-24hour-remaining"] = "0", ["x-app-limit-24hour-reset"] = tostring(NOW + 70000),
        }, X429)
        assert.are.equal(70000, r.retryAfter)
        assert.are.equal("app", r.scope)
        -- the 15-minute window alone, exhausted: as before
        r = parse("twitter", 429, {
            ["x-rate-limit-remaining"] = "0", ["x-rate-limit-reset"] = tostring(NOW + 900),
            ["x-app-limit-24hour-remaining"] = "900", ["x-app-limit-24hour-reset"] = tostring(NOW + 70000),
        }, X429)
        assert.are.equal(900, r.retryAfter)
        assert.are.equal("account", r.scope)
    end)

    it("a daily reset alone (no remaining header) is used; hostile values are saturated or ignored", function()
        local r = parse("twitter", 429, { ["x-user-limit-24hour-reset"] = tostring(NOW + 3600) }, X429)
        assert.are.equal(3600, r.retryAfter)
        assert.are.equal("account", r.scope)
        r = parse("twitter", 429, { ["x-app-limit-24hour-reset"] = "99999999999999999999999",
            ["x-app-limit-24hour-remaining"] = "0" }, X429)
        assert.are.equal(31622400, r.retryAfter) -- SZ_MAX_RETRY_AFTER
        assert.are.equal("app", r.scope)
        r = parse("twitter", 429, { ["x-app-limit-24hour-reset"] = "soon", ["x-app-limit-24hour-remaining"] = "0",
            ["x-rate-limit-reset"] = tostring(NOW + 60), ["x-rate-limit-remaining"] = "0" }, X429)
        assert.are.equal(60, r.retryAfter)
        assert.are.equal("account", r.scope)
        r = parse("twitter", 429, { ["x-user-limit-24hour-reset"] = tostring(NOW - 50),
            ["x-user-limit-24hour-remaining"] = "0" }, X429)
        assert.are.equal(0, r.retryAfter) -- a reset in the past: now
    end)

    it("a 402 (credits exhausted) is quota_exhausted with 400124, scope app, not transient", function()
        local r = parse("twitter", 402, {}, '{"title":"CreditsDepleted","detail":"Your enrolled account [1] does not have any '
            .. 'credits to fulfill this request.","type":"https://api.twitter.com/2/problems/credits"}')
        assert.is_false(r.ok)
        assert.are.equal("quota_exhausted", r.category)
        assert.are.equal(400124, r.errorCode)
        assert.are.equal(core.category_code("quota_exhausted"), r.errorCode)
        assert.are.equal("app", r.scope)
        assert.are.equal(402, r.providerStatus)
        assert.matches("^HTTP 402", r.errorDetails)
        assert.matches("credits", r.errorDetails)
        -- also with a body that is not JSON
        r = parse("twitter", 402, {}, "Payment Required")
        assert.are.equal("quota_exhausted", r.category)
    end)
end)

describe("Telegram supergroup migration (item 5) #unit", function()
    local UPGRADED = '{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a '
        .. 'supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}'

    it("reports migrate_to_chat_id as migrateToChatId (a string) and in errorDetails", function()
        local r = parse("telegram", 400, {}, UPGRADED)
        assert.is_false(r.ok)
        assert.are.equal("content_invalid", r.category)
        assert.are.equal(400006, r.errorCode)
        assert.are.equal("-1001234567890", r.migrateToChatId)
        assert.matches("^HTTP 400, code 400: Bad Request: group chat was upgraded", r.errorDetails)
        assert.truthy(r.errorDetails:find("migrate_to_chat_id -1001234567890", 1, true), r.errorDetails)
    end)

    it("ignores a migrate_to_chat_id that is not an integer", function()
        for _, v in ipairs({ '"-100abc"', '{"id":1}', '1.5', 'null', 'true' }) do
            local r = parse("telegram", 400, {}, '{"ok":false,"error_code":400,"description":"Bad Request: group chat '
                .. 'was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":' .. v .. '}}')
            assert.are.equal("content_invalid", r.category)
            assert.is_nil(r.migrateToChatId, v)
            assert.is_nil(r.errorDetails:find("migrate_to_chat_id", 1, true), v)
        end
    end)
end)

-- Weibo #topic# (item 6): a '#' in a URL fragment is published, a #topic# pair
-- refused: request vectors in spec/vectors/providers/sina.json.

describe("LinkedIn little text and article title (item 7) #unit", function()
    local USER = { accessToken = "li-token", personId = "abc123" }

    local function commentary(s)
        local r = assert(build("linkedin", "status", { status = s }, {}, USER))
        return core.json_decode(r.body).commentary
    end

    it("every reserved character is escaped, alone and inside a word", function()
        local reserved = [[\|{}@[]()<>#*_~]]
        for i = 1, #reserved do
            local c = reserved:sub(i, i)
            assert.are.equal("x \\" .. c .. " y", commentary("x " .. c .. " y"), c)
            assert.are.equal("a\\" .. c .. "b", commentary("a" .. c .. "b"), c)
        end
    end)
end)

-- The little-text spec's own examples, URLs with reserved characters, hashtags
-- only at a word start, and the article's title fallback (title, subtitle, the
-- link's host) are request vectors in spec/vectors/providers/linkedin.json.

describe("Tumblr share intent (item 8) #unit", function()
    it("a link post's content carries the URL", function()
        local r = core.bookmark_url("tumblr", "https://game.example/l3?a=1", "Level 3", "Cleared")
        assert.is_true(r.ok)
        local q = {}
        for k, v in r.url:gmatch("[?&]([^=&]+)=([^&]*)") do q[k] = v end
        assert.are.equal("link", q.posttype)
        assert.are.equal("https%3A%2F%2Fgame.example%2Fl3%3Fa%3D1", q.content)
        assert.are.equal("https%3A%2F%2Fgame.example%2Fl3%3Fa%3D1", q.canonicalUrl)
        assert.are.equal("Level%203", q.title)
        assert.are.equal("Cleared", q.caption)
        assert.matches("^https://www%.tumblr%.com/widgets/share/tool%?", r.url)
    end)
end)

describe("wire fidelity end to end (sandbox) #fakes", function()
    local sb, providers

    local function client(conns)
        return socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers,
                               connections = conns, timeout = 5 }
    end

    local function one(network, tokens, ua)
        local conn = H.sandbox_connection(sb, tokens)
        local c = client({ u1 = { [network] = conn[network] } })
        local res, err = c:publishUserAction { UID = "u1", userAction = ua }
        local r = res or err
        return r.providerErrorCodes[1], res, err
    end

    local function sent(network)
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == network then out[#out + 1] = r end
        end
        return out
    end

    setup(function()
        sb = H.start_sandbox()
        providers = H.sandbox_providers(sb)
    end)
    teardown(function()
        H.stop_all()
    end)
    before_each(function()
        H.reset(sb)
    end)

    it("X: a daily user cap reports its reset and scope; a 402 is quota_exhausted", function()
        local e = one("twitter", { twitter = "tw-daily" }, { title = "T", linkBack = "https://game.example/l3" })
        assert.are.equal("rate_limited", e.category)
        assert.is_true(e.retryAfter > 3600, tostring(e.retryAfter)) -- the daily reset, not the 15-minute one
        e = one("twitter", { twitter = "tw-credits" }, { title = "T", linkBack = "https://game.example/l3" })
        assert.are.equal("quota_exhausted", e.category)
        assert.are.equal(400124, e.errorCode)
        assert.are.equal(2, #sent("twitter")) -- neither is retried
    end)

    it("Telegram: an upgraded group answers with the new chat id for the caller to store", function()
        local e = one("telegram", { telegram = "-100upgraded" }, { title = "T", linkBack = "https://game.example/l3" })
        assert.are.equal("content_invalid", e.category)
        assert.are.equal("-1009876543210", e.migrateToChatId)
        assert.truthy(e.errorDetails:find("migrate_to_chat_id -1009876543210", 1, true), e.errorDetails)
    end)

    it("Weibo: a URL fragment next to a hashtag is published", function()
        local e, res = one("sina", nil, { userMessage = "Beat it #win", linkBack = "https://game.example/l3#top" })
        assert.are.equal(0, e.errorCode, tostring(e.errorDetails))
        assert.matches("^%d+$", res.providerPostIDs.sina)
        assert.truthy(sent("sina")[1].body:find("%23top", 1, true))
    end)

    it("LinkedIn: reserved characters in text and URL, no title: accepted whole by the sandbox's little-text check", function()
        local e, res = one("linkedin", nil, { userMessage = "Beat it (finally) #win @home_team",
            linkBack = "https://game.example/l3_(x)#top" })
        assert.are.equal(0, e.errorCode, tostring(e.errorDetails))
        assert.matches("^urn:li:share:%d+$", res.providerPostIDs.linkedin)
        local body = core.json_decode(sent("linkedin")[1].body)
        assert.are.equal([[Beat it \(finally\) #win \@home\_team]], body.commentary)
        assert.are.equal("game.example", body.content.article.title)
    end)
end)
