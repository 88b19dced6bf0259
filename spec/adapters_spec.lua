-- Provider adapters (C core): what request vectors cannot say. The request
-- each network gets, byte for byte, and its refusals (missing credentials
-- named, path injection, texts at and past each limit) are the `requests` of
-- spec/vectors/providers/<network>.json, derived from the documented formats by
-- spec/vectors/gen_providers.py (independent Python: RFC 5849 signatures,
-- appsecret_proof, percent-encoding); spec/provider_vectors_spec.lua and the C
-- tests walk them.
local H = require("spec.helper")
local core = require("socialize.core")

local TS, NONCE, NOW = 1700000000, "n1", 1700000000
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3",
             userMessage = "Beat it (finally) #win @home", description = "Cleared in 4:12" }

local function build(provider, action, input, app, user, setup)
    return core.provider_request(provider, action, input, app or {}, user or {}, TS, NONCE, setup)
end

describe("adapter requests", function()
    it("renren and yahoo fail at once as discontinued, with no request", function()
        for _, p in ipairs({ "renren", "yahoo" }) do
            for _, a in ipairs({ "publish", "status", "notify" }) do
                local r, _, _, res = build(p, a, { userAction = UA, status = "s", body = "b" }, {}, { accessToken = "t" })
                assert.is_nil(r)
                assert.are.equal("provider_discontinued", res.category)
                assert.are.equal(400096, res.errorCode)
                assert.are.equal(p, res.provider)
            end
        end
    end)

    it("refuses unknown providers and actions as errors, not results", function()
        local r, msg, code = build("myspace", "publish", {}, {}, {})
        assert.is_nil(r)
        assert.are.equal(400006, code)
        assert.matches("myspace", msg)
        r, _, code = build("twitter", "dance", {}, {}, {})
        assert.are.equal(400006, code)
    end)
end)

-- { provider, action, status, headers, body, category, providerCode or nil, retryAfter or nil }
-- Each network's documented error replies and where its post ID is are in
-- spec/vectors/providers/<network>.json (spec/provider_vectors_spec.lua and
-- the C tests walk them).

describe("adapter replies", function()
    it("treats LinkedIn's duplicate as the existing post, recovering its URN", function()
        local r = core.provider_parse("linkedin", "publish", {}, {}, {}, 422, {},
            '{"errorDetailType":"com.linkedin.common.error.BadRequest","message":"ERROR :: /commentary :: Content is a duplicate of urn:li:share:7141138937766391808",'
            .. '"errorDetails":{"inputErrors":[{"description":"Duplicate post is detected","code":"DUPLICATE_POST"}]},"status":422}', NOW)
        assert.is_true(r.ok)
        assert.is_true(r.duplicate)
        assert.are.equal("urn:li:share:7141138937766391808", r.postID)
    end)

    it("treats Weibo's 20032 (published, sync delayed) as success", function()
        local r = core.provider_parse("sina", "publish", {}, {}, {}, 400, {}, '{"error":"Update success, while server slow now","error_code":20032}', NOW)
        assert.is_true(r.ok)
    end)

    it("classifies from parsed codes, never from substrings of the body", function()
        -- a trace id containing "506" or "190" must not make a duplicate or an auth error
        local r = core.provider_parse("facebook", "publish", {}, {}, {}, 500, {},
            '{"error":{"message":"Please retry 190 506","code":2,"fbtrace_id":"A506190"}}', NOW)
        assert.are.equal("transient", r.category)
        assert.are.equal("A506190", r.traceId)
    end)

    it("treats a 2xx reply without a post id as an error", function()
        local r = core.provider_parse("twitter", "publish", {}, {}, {}, 200, {}, '{"meta":{}}', NOW)
        assert.is_false(r.ok)
        r = core.provider_parse("vkontakte", "publish", {}, {}, {}, 200, {}, '{"something":1}', NOW)
        assert.is_false(r.ok)
    end)
end)

describe("categories map to Gigya error codes", function()
    it("as documented in docs/api.md", function()
        local want = {
            auth_expired = 403009, permission_missing = 403023, duplicate = 403024, rate_limited = 400125,
            quota_exhausted = 400124, content_invalid = 400006, policy_blocked = 403037, transient = 500023,
            unsupported = 400096, provider_discontinued = 400096, not_connected = 400106,
        }
        for cat, code in pairs(want) do assert.are.equal(code, core.category_code(cat), cat) end
        local doc = H.read("docs/api.md")
        for cat, code in pairs(want) do
            assert.truthy(doc:find("| `" .. cat .. "` | " .. code, 1, true), cat .. " is not documented")
        end
    end)
end)

describe("share intents (postBookmark)", function()
    it("build each destination's URL with percent-encoded values", function()
        local r = core.bookmark_url("twitter", "https://game.example/l3?a=1&b=2", "Level 3 done", "d")
        assert.are.equal("https://x.com/intent/tweet?text=Level%203%20done&url=https%3A%2F%2Fgame.example%2Fl3%3Fa%3D1%26b%3D2", r.url)
        assert.are.equal("https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fgame.example%2F",
            core.bookmark_url("facebook", "https://game.example/").url)
        assert.are.equal("https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fgame.example%2F",
            core.bookmark_url("linkedin", "https://game.example/").url)
        assert.are.equal("https://t.me/share/url?url=https%3A%2F%2Fg.example%2F&text=T",
            core.bookmark_url("telegram", "https://g.example/", "T").url)
        assert.are.equal("https://bsky.app/intent/compose?text=T%20https%3A%2F%2Fg.example%2F",
            core.bookmark_url("bluesky", "https://g.example/", "T").url)
        assert.are.equal("mailto:?subject=T&body=https%3A%2F%2Fg.example%2F%20D",
            core.bookmark_url("email", "https://g.example/", "T", "D").url)
        assert.are.equal("https://m.example/share?text=T%20https%3A%2F%2Fg.example%2F",
            core.bookmark_url("mastodon", "https://g.example/", "T", nil, nil, "https://m.example/").url)
        for _, d in ipairs(core.bookmark_names()) do
            local b = core.bookmark_url(d, "https://g.example/", "T", "D", "https://g.example/i.png", "https://m.example")
            assert.is_true(b.ok, d)
            assert.matches("^%a+:", b.url)
        end
    end)

    it("fail for dead, unknown or unsafe input", function()
        assert.are.equal("provider_discontinued", core.bookmark_url("pocket", "https://g.example/").category)
        assert.are.equal("unsupported", core.bookmark_url("orkut", "https://g.example/").category)
        assert.are.equal("content_invalid", core.bookmark_url("twitter", "javascript:alert(1)").category)
        assert.are.equal("content_invalid", core.bookmark_url("mastodon", "https://g.example/").category)
    end)
end)
