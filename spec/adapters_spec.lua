-- Provider adapters (C core): the exact request each network gets, byte for
-- byte, and every documented error reply classified. The expected OAuth 1.0a
-- signatures and appsecret_proof were computed independently with Python's
-- hmac (see the comments); the formats follow shared/reference/providers.md.
local H = require("spec.helper")
local core = require("socialize.core")

local TS, NONCE, NOW = 1700000000, "n1", 1700000000
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3",
             userMessage = "Beat it (finally) #win @home", description = "Cleared in 4:12" }

local function build(provider, action, input, app, user, setup)
    return core.provider_request(provider, action, input, app or {}, user or {}, TS, NONCE, setup)
end

local function header_lines(req)
    local hs = {}
    for k, v in pairs(req.headers) do hs[#hs + 1] = k .. ": " .. v end
    table.sort(hs)
    return hs
end

describe("adapter requests, byte for byte", function()
    it("twitter publish: POST /2/tweets, OAuth 1.0a user context, only title and linkBack, place id", function()
        local r = assert(build("twitter", "publish", { userAction = UA, userLocation = { placeID = "df51dec6f4ee2b2c" } },
            { consumerKey = "ck", consumerSecret = "cs" }, { token = "t", tokenSecret = "ts" }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://api.x.com/2/tweets", r.url)
        -- python3: RFC 5849 HMAC-SHA1 over POST&https%3A%2F%2Fapi.x.com%2F2%2Ftweets&oauth_* = rctG6fQIthpOcfILXilAkjmnfvA=
        assert.are.same({
            'Authorization: OAuth oauth_consumer_key="ck", oauth_nonce="n1", oauth_signature="rctG6fQIthpOcfILXilAkjmnfvA%3D", '
                .. 'oauth_signature_method="HMAC-SHA1", oauth_timestamp="1700000000", oauth_token="t", oauth_version="1.0"',
            "Content-Type: application/json",
        }, header_lines(r))
        assert.are.equal('{"geo":{"place_id":"df51dec6f4ee2b2c"},"text":"Level 3 done https://game.example/l3"}', r.body)
    end)

    it("twitter with an OAuth 2.0 user token", function()
        local r = assert(build("twitter", "publish", { userAction = UA }, {}, { bearerToken = "B1" }))
        assert.are.same({ "Authorization: Bearer B1", "Content-Type: application/json" }, header_lines(r))
        assert.are.equal('{"text":"Level 3 done https://game.example/l3"}', r.body)
    end)

    it("twitter sendNotification: a DM to a numeric user id", function()
        local r = assert(build("twitter", "notify", { body = "Join me https://game.example", recipient = "2244994945" },
            { consumerKey = "ck", consumerSecret = "cs" }, { token = "t", tokenSecret = "ts" }))
        assert.are.equal("https://api.x.com/2/dm_conversations/with/2244994945/messages", r.url)
        assert.matches('oauth_signature="SvJ16v198BDPhLv0UPH6CI9LwNo%%3D"', r.headers.Authorization) -- python3
        assert.are.equal('{"text":"Join me https://game.example"}', r.body)
        local no, _, _, res = build("twitter", "notify", { body = "x", recipient = "@handle" }, {}, { bearerToken = "B" })
        assert.is_nil(no)
        assert.are.equal("content_invalid", res.category)
    end)

    it("twitter counts every URL as 23 and weighs CJK and emoji 2, cutting the title, never the URL", function()
        local long = string.rep("界", 200) -- weight 400
        local r = assert(build("twitter", "publish", { userAction = { title = long, linkBack = "https://example.com/"
            .. string.rep("x", 100) } }, {}, { bearerToken = "B" }))
        local text = core.json_decode(r.body).text
        assert.matches(" https://example.com/" .. string.rep("x", 100) .. "$", text)
        -- 280 = title + "…"(2) + space(1) + URL(23)  ->  title of 127 CJK (254)
        local title = text:match("^(.-)… ")
        assert.are.equal(127 * 3, #title)
        local emoji = string.rep("😀", 150) -- weight 300
        r = assert(build("twitter", "status", { status = string.rep("😀", 140) }, {}, { bearerToken = "B" }))
        assert.truthy(r)
        local no, _, _, res = build("twitter", "status", { status = emoji }, {}, { bearerToken = "B" })
        assert.is_nil(no)
        assert.are.equal("content_invalid", res.category)
        assert.matches("counts 300 of 280", res.errorDetails)
        -- a ZWJ family counts once (2), as an emoji sequence
        r = assert(build("twitter", "status", { status = string.rep("👨‍👩‍👧", 140) }, {}, { bearerToken = "B" }))
        assert.truthy(r)
    end)

    it("facebook publish: Page feed, Graph version as data, appsecret_proof, title and description in message", function()
        local r = assert(build("facebook", "publish", { userAction = UA }, { appSecret = "fb-app-secret" },
            { accessToken = "fb-page-token", pageId = "1647395831" }))
        assert.are.equal("https://graph.facebook.com/v26.0/1647395831/feed", r.url)
        -- python3: hmac.new(b"fb-app-secret", b"fb-page-token", sha256).hexdigest()
        assert.are.equal("access_token=fb-page-token"
            .. "&appsecret_proof=646b0d0081186d938cdb1475fcf27a372388f7f72a745eb2d95e2c61cc1c4e13"
            .. "&link=https%3A%2F%2Fgame.example%2Fl3"
            .. "&message=Beat%20it%20%28finally%29%20%23win%20%40home%0A%0ALevel%203%20done%0A%0ACleared%20in%204%3A12",
            r.body)
        assert.are.equal("application/x-www-form-urlencoded", r.headers["Content-Type"])
        r = assert(build("facebook", "publish", { userAction = UA }, { version = "v25.0" },
            { accessToken = "t", pageId = "1" }))
        assert.are.equal("https://graph.facebook.com/v25.0/1/feed", r.url)
        assert.not_matches("appsecret_proof", r.body)
    end)

    it("facebookGraphOperation passes graphPath, method and graphParams through", function()
        local r = assert(build("facebook", "graph", { graphPath = "/me/feed", method = "POST",
            graphParams = { message = "hi", n = 1 } }, { appSecret = "fb-app-secret" }, { accessToken = "fb-page-token" }))
        assert.are.equal("POST", r.method)
        assert.are.equal("https://graph.facebook.com/v26.0/me/feed", r.url)
        assert.are.equal("access_token=fb-page-token&appsecret_proof=646b0d0081186d938cdb1475fcf27a372388f7f72a745eb2d95e2c61cc1c4e13"
            .. "&message=hi&n=1", r.body)
        r = assert(build("facebook", "graph", { graphPath = "/me", graphParams = { fields = "id,name" } }, {}, { accessToken = "tok" }))
        assert.are.equal("GET", r.method)
        assert.are.equal("https://graph.facebook.com/v26.0/me?access_token=tok&fields=id%2Cname", r.url)
        assert.is_nil(r.body)
        r = assert(build("facebook", "graph", { graphPath = "/123", method = "DELETE" }, {}, { accessToken = "tok" }))
        assert.are.equal("DELETE", r.method)
        local no, _, _, res = build("facebook", "graph", { graphPath = "/../x" }, {}, { accessToken = "tok" })
        assert.is_nil(no)
        assert.are.equal("content_invalid", res.category)
    end)

    it("linkedin publish: /rest/posts with version headers, little-text escaping, an article", function()
        local r = assert(build("linkedin", "publish", { userAction = UA }, {}, { accessToken = "li-token", personId = "abc123" }))
        assert.are.equal("https://api.linkedin.com/rest/posts", r.url)
        assert.are.same({ "Authorization: Bearer li-token", "Content-Type: application/json",
                          "LinkedIn-Version: 202605", "X-Restli-Protocol-Version: 2.0.0" }, header_lines(r))
        assert.are.equal('{"author":"urn:li:person:abc123","commentary":"Beat it \\\\(finally\\\\) #win \\\\@home",'
            .. '"content":{"article":{"description":"Cleared in 4:12","source":"https://game.example/l3","title":"Level 3 done"}},'
            .. '"distribution":{"feedDistribution":"MAIN_FEED","targetEntities":[],"thirdPartyDistributionChannels":[]},'
            .. '"isReshareDisabledByAuthor":false,"lifecycleState":"PUBLISHED","visibility":"PUBLIC"}', r.body)
        -- every reserved character of little text, inside URLs and words too (spec/wire_spec.lua)
        r = assert(build("linkedin", "status", { status = [[a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p # https://x.example/a_b(c)]] },
            {}, { accessToken = "t", author = "urn:li:organization:42" }))
        local c = core.json_decode(r.body).commentary
        assert.are.equal([[a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\#m\*n\_o\~p \# https://x.example/a\_b\(c\)]], c)
        assert.are.equal("urn:li:organization:42", core.json_decode(r.body).author)
        local no, _, _, res = build("linkedin", "notify", { body = "x" }, {}, { accessToken = "t", personId = "p" })
        assert.is_nil(no)
        assert.are.equal("unsupported", res.category)
    end)

    it("vkontakte publish: wall.post with a pinned version, guid, one link attachment, location", function()
        local r = assert(build("vkontakte", "publish", { userAction = UA, userLocation = { latitude = 55.75, longitude = 37.62 } },
            {}, { accessToken = "vk-token", userId = 1001 }))
        assert.are.equal("https://api.vk.com/method/wall.post", r.url)
        assert.are.equal("access_token=vk-token&attachments=https%3A%2F%2Fgame.example%2Fl3"
            .. "&guid=" .. r.body:match("guid=(%x+)")
            .. "&lat=55.75&long=37.62"
            .. "&message=Beat%20it%20%28finally%29%20%23win%20%40home%0A%0ALevel%203%20done%0A%0ACleared%20in%204%3A12"
            .. "&owner_id=1001&v=5.199", r.body)
        assert.are.equal(32, #r.body:match("guid=(%x+)"))
        -- the guid is the same for the same content and owner, different otherwise
        local again = assert(build("vkontakte", "publish", { userLocation = { longitude = 37.62, latitude = 55.75 }, userAction = UA },
            {}, { accessToken = "vk-token", userId = 1001 }))
        assert.are.equal(r.body:match("guid=(%x+)"), again.body:match("guid=(%x+)"))
        local other = assert(build("vkontakte", "publish", { userAction = UA }, {}, { accessToken = "vk-token", userId = 1002 }))
        assert.are_not.equal(r.body:match("guid=(%x+)"), other.body:match("guid=(%x+)"))
    end)

    it("sina publish: share.json with a safe-domain URL and rip", function()
        local r = assert(build("sina", "publish", { userAction = UA, rip = "203.0.113.7" }, { safeDomain = "game.example" },
            { accessToken = "wb-token" }))
        assert.are.equal("https://api.weibo.com/2/statuses/share.json", r.url)
        assert.are.equal("access_token=wb-token&rip=203.0.113.7"
            .. "&status=Beat%20it%20%28finally%29%20%23win%20%40home%20Level%203%20done%20https%3A%2F%2Fgame.example%2Fl3", r.body)
        local no, _, _, res = build("sina", "publish", { userAction = { title = "t", linkBack = "https://other.example/" }, rip = "1.2.3.4" },
            { safeDomain = "game.example" }, { accessToken = "t" })
        assert.is_nil(no)
        assert.are.equal("content_invalid", res.category)
        assert.matches("safe domain game.example", res.errorDetails)
        no, _, _, res = build("sina", "publish", { userAction = UA }, { safeDomain = "game.example" }, { accessToken = "t" })
        assert.matches("rip", res.errorDetails)
        -- 140 汉字, half-width counting half
        r = assert(build("sina", "publish", { userAction = { title = string.rep("中", 200), linkBack = "https://game.example/x" },
            rip = "1.2.3.4" }, { safeDomain = "game.example" }, { accessToken = "t" }))
        local status = r.body:match("status=([^&]+)")
        assert.truthy(status)
    end)

    it("mastodon: limits from the instance, Idempotency-Key header, URL counted 23", function()
        local r = assert(build("mastodon", "instance", {}, {}, { instance = "https://mastodon.example/" }))
        assert.are.equal("GET", r.method)
        assert.are.equal("https://mastodon.example/api/v2/instance", r.url)
        r = assert(build("mastodon", "publish", { userAction = UA },
            {}, { accessToken = "md-token", instance = "https://mastodon.example" },
            { maxCharacters = 500, charactersReservedPerUrl = 23 }))
        assert.are.equal("https://mastodon.example/api/v1/statuses", r.url)
        assert.are.equal("Bearer md-token", r.headers.Authorization)
        assert.matches("^%x+$", r.headers["Idempotency-Key"])
        assert.are.equal(64, #r.headers["Idempotency-Key"])
        assert.are.equal('{"status":"Beat it (finally) #win @home\\n\\nLevel 3 done\\n\\nhttps://game.example/l3","visibility":"public"}', r.body)
        -- a small instance limit cuts the text, not the (23-weighted) URL: 34 + "…" + 2 + 23 = 60
        r = assert(build("mastodon", "publish", { userAction = { title = string.rep("a", 100), linkBack = "https://x.example.org/"
            .. string.rep("p", 80) } },
            {}, { accessToken = "md-token", instance = "https://m.example" }, { maxCharacters = 60, charactersReservedPerUrl = 23 }))
        local text = core.json_decode(r.body).status
        assert.are.equal(string.rep("a", 34) .. "…\n\nhttps://x.example.org/" .. string.rep("p", 80), text)
    end)

    it("bluesky: createSession, then createRecord with link facets in UTF-8 byte offsets and a link card", function()
        local r = assert(build("bluesky", "session", {}, {}, { identifier = "demo.bsky.social", appPassword = "pw" }))
        assert.are.equal("https://bsky.social/xrpc/com.atproto.server.createSession", r.url)
        assert.are.equal('{"identifier":"demo.bsky.social","password":"pw"}', r.body)
        r = assert(build("bluesky", "publish", { userAction = { title = "Niveau 3 réussi 🚀", linkBack = "https://game.example/l3",
            description = "d" } }, {}, { identifier = "x" }, { accessJwt = "acc", did = "did:plc:abc" }))
        assert.are.equal("Bearer acc", r.headers.Authorization)
        local body = core.json_decode(r.body)
        assert.are.equal("did:plc:abc", body.repo)
        assert.are.equal("app.bsky.feed.post", body.collection)
        local rec = body.record
        assert.are.equal("2023-11-14T22:13:20.000Z", rec.createdAt)
        assert.are.equal("Niveau 3 réussi 🚀\n\nhttps://game.example/l3", rec.text)
        local f = rec.facets[1]
        -- "Niveau 3 réussi " is 17 bytes (é is 2), the rocket 4, two newlines 2
        assert.are.equal(23, f.index.byteStart)
        assert.are.equal(46, f.index.byteEnd)
        assert.are.equal("https://game.example/l3", rec.text:sub(f.index.byteStart + 1, f.index.byteEnd))
        assert.are.equal("app.bsky.richtext.facet#link", f.features[1]["$type"])
        assert.are.same({ uri = "https://game.example/l3", title = "Niveau 3 réussi 🚀", description = "d" }, rec.embed.external)
        local no, _, _, res = build("bluesky", "publish", { userAction = UA }, {}, {})
        assert.is_nil(no)
        assert.are.equal("not_connected", res.category)
    end)

    it("telegram: sendMessage with the bot token in the path", function()
        local r = assert(build("telegram", "publish", { userAction = UA }, { botToken = "123:abc" }, { chatId = "-100777" }))
        assert.are.equal("https://api.telegram.org/bot123:abc/sendMessage", r.url)
        assert.are.equal('{"chat_id":"-100777","text":"Beat it (finally) #win @home\\n\\nLevel 3 done\\n\\nCleared in 4:12'
            .. '\\n\\nhttps://game.example/l3"}', r.body)
        r = assert(build("telegram", "notify", { body = "hello", recipient = "42" }, { botToken = "123:abc" }, {}))
        assert.are.equal('{"chat_id":"42","text":"hello"}', r.body)
    end)

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

    it("reports missing credentials as not_connected, naming the field", function()
        local cases = {
            { "facebook", {}, { pageId = "1" }, "accessToken" },
            { "facebook", {}, { accessToken = "t" }, "pageId" },
            { "twitter", {}, { token = "t" }, "tokenSecret" },
            { "linkedin", {}, { accessToken = "t" }, "personId" },
            { "vkontakte", {}, { accessToken = "t" }, "ownerId or userId" },
            { "sina", {}, { accessToken = "t" }, "safeDomain" },
            { "mastodon", {}, { accessToken = "t" }, "instance" },
            { "telegram", {}, { chatId = "1" }, "botToken" },
        }
        for _, c in ipairs(cases) do
            local r, _, _, res = build(c[1], "publish", { userAction = UA, rip = "1.1.1.1" }, c[2], c[3])
            assert.is_nil(r, c[1])
            assert.are.equal("not_connected", res.category, c[1])
            assert.are.equal(400106, res.errorCode)
            assert.matches(c[4], res.errorDetails, 1, true)
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
