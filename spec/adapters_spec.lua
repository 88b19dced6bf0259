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
        local no, res = build("twitter", "notify", { body = "x", recipient = "@handle" }, {}, { bearerToken = "B" })
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
        local no, res = build("twitter", "status", { status = emoji }, {}, { bearerToken = "B" })
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
        local no, res = build("facebook", "graph", { graphPath = "/../x" }, {}, { accessToken = "tok" })
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
        local no, res = build("linkedin", "notify", { body = "x" }, {}, { accessToken = "t", personId = "p" })
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
        local no, res = build("sina", "publish", { userAction = { title = "t", linkBack = "https://other.example/" }, rip = "1.2.3.4" },
            { safeDomain = "game.example" }, { accessToken = "t" })
        assert.is_nil(no)
        assert.are.equal("content_invalid", res.category)
        assert.matches("safe domain game.example", res.errorDetails)
        no, res = build("sina", "publish", { userAction = UA }, { safeDomain = "game.example" }, { accessToken = "t" })
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
        local no, res = build("bluesky", "publish", { userAction = UA }, {}, {})
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
                local r, res = build(p, a, { userAction = UA, status = "s", body = "b" }, {}, { accessToken = "t" })
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
            local r, res = build(c[1], "publish", { userAction = UA, rip = "1.1.1.1" }, c[2], c[3])
            assert.is_nil(r, c[1])
            assert.are.equal("not_connected", res.category, c[1])
            assert.are.equal(400106, res.errorCode)
            assert.matches(c[4], res.errorDetails, 1, true)
        end
    end)

    it("refuses unknown providers and actions as errors, not results", function()
        local r, code, msg = build("myspace", "publish", {}, {}, {})
        assert.is_nil(r)
        assert.are.equal(400006, code)
        assert.matches("myspace", msg)
        r, code = build("twitter", "dance", {}, {}, {})
        assert.are.equal(400006, code)
    end)
end)

-- { provider, action, status, headers, body, category, providerCode or nil, retryAfter or nil }
local ERRORS = {
    { "twitter", "publish", 401, {}, '{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}', "auth_expired" },
    { "twitter", "publish", 403, {}, '{"title":"Client Forbidden","detail":"not enrolled","type":"https://api.x.com/2/problems/client-forbidden","reason":"client-not-enrolled","status":403}', "permission_missing", "https://api.x.com/2/problems/client-forbidden" },
    { "twitter", "publish", 403, {}, '{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}', "duplicate" },
    { "twitter", "publish", 429, { ["x-rate-limit-reset"] = tostring(NOW + 900), ["x-rate-limit-remaining"] = "0" }, '{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}', "rate_limited", nil, 900 },
    { "twitter", "publish", 429, {}, '{"title":"UsageCapExceeded","detail":"Usage cap exceeded","type":"https://api.x.com/2/problems/usage-capped","status":429}', "quota_exhausted" },
    { "twitter", "publish", 400, {}, '{"errors":[{"message":"Tweet needs to be a bit shorter","code":186}]}', "content_invalid" },
    { "twitter", "publish", 503, {}, '{"title":"Service Unavailable","status":503}', "transient" },
    { "twitter", "publish", 502, {}, "<html>bad gateway</html>", "transient" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}', "auth_expired", "190/463" },
    { "facebook", "publish", 403, {}, '{"error":{"message":"(#200) Requires pages_manage_posts permission","type":"OAuthException","code":200}}', "permission_missing", "200" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"(#10) Permission denied","type":"OAuthException","code":10}}', "permission_missing" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"(#506) Duplicate status message","type":"OAuthException","code":506}}', "duplicate", "506" },
    { "facebook", "publish", 400, { ["x-business-use-case-usage"] = '{"1234":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":12}]}' }, '{"error":{"message":"Page request limit reached","code":32}}', "rate_limited", "32", 720 },
    { "facebook", "publish", 400, {}, '{"error":{"message":"Application request limit reached","code":4}}', "rate_limited" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"User request limit reached","code":17}}', "rate_limited" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"There have been too many calls to this Page account","code":80001}}', "rate_limited" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"Temporarily blocked for policies violations","code":368}}', "policy_blocked" },
    { "facebook", "publish", 400, {}, '{"error":{"message":"Error Posting Link","code":1609005}}', "content_invalid" },
    { "facebook", "publish", 500, {}, '{"error":{"message":"An unknown error occurred","code":1}}', "transient" },
    { "linkedin", "publish", 401, {}, '{"status":401,"serviceErrorCode":65600,"code":"EXPIRED_ACCESS_TOKEN","message":"The token used in the request has expired"}', "auth_expired", "65600" },
    { "linkedin", "publish", 401, {}, '{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"The token used in the request has been revoked by the user"}', "auth_expired", "65601" },
    { "linkedin", "publish", 403, {}, '{"serviceErrorCode":100,"code":"ACCESS_DENIED","message":"Not enough permissions to access: POST /rest/posts"}', "permission_missing", "100" },
    { "linkedin", "publish", 422, {}, '{"errorDetailType":"com.linkedin.common.error.BadRequest","message":"Invalid commentary","errorDetails":{"inputErrors":[{"code":"INVALID_VALUE"}]},"status":422}', "content_invalid" },
    { "linkedin", "publish", 429, {}, '{"status":429,"message":"Resource level throttle APPLICATION DAY limit"}', "rate_limited", nil, 86400 - NOW % 86400 },
    { "linkedin", "publish", 426, {}, '{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20240401 is not active"}', "unsupported" },
    { "linkedin", "publish", 500, {}, '{"status":500,"message":"Internal Server Error"}', "transient" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":5,"error_msg":"User authorization failed: invalid access_token (4).","request_params":[]}}', "auth_expired", "5" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":15,"error_msg":"Access denied","error_subcode":1133}}', "permission_missing", "15" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":214,"error_msg":"Access to adding post denied"}}', "permission_missing" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":6,"error_msg":"Too many requests per second"}}', "rate_limited", "6" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":9,"error_msg":"Flood control"}}', "rate_limited" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":29,"error_msg":"Rate limit reached"}}', "rate_limited" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":14,"error_msg":"Captcha needed","captcha_sid":"1","captcha_img":"https://x"}}', "policy_blocked" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":17,"error_msg":"Validation required","redirect_uri":"https://x"}}', "policy_blocked" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":222,"error_msg":"Hyperlinks are forbidden"}}', "content_invalid" },
    { "vkontakte", "publish", 200, {}, '{"error":{"error_code":100,"error_msg":"One of the parameters specified was missing or invalid"}}', "content_invalid" },
    { "vkontakte", "publish", 502, {}, "<html>502 Bad Gateway</html>", "transient" },
    { "sina", "publish", 403, {}, '{"error":"expired_token","error_code":21327,"request":"/2/statuses/share.json"}', "auth_expired", "21327" },
    { "sina", "publish", 403, {}, '{"error":"invalid_access_token","error_code":21332,"request":"/2/statuses/share.json"}', "auth_expired" },
    { "sina", "publish", 403, {}, '{"error":"Insufficient app permissions!","error_code":10014}', "permission_missing" },
    { "sina", "publish", 400, {}, '{"error":"repeat content!","error_code":20019,"request":"/2/statuses/share.json"}', "duplicate", "20019" },
    { "sina", "publish", 400, {}, '{"error":"User requests out of rate limit!","error_code":10023}', "rate_limited" },
    { "sina", "publish", 400, {}, '{"error":"IP requests out of rate limit!","error_code":"10022"}', "rate_limited", "10022" },
    { "sina", "publish", 400, {}, '{"error":"Text too long, please input text less than 140 characters!","error_code":20012}', "content_invalid" },
    { "sina", "publish", 400, {}, '{"error":"need captcha","error_code":20031}', "policy_blocked" },
    { "mastodon", "publish", 401, {}, '{"error":"The access token is invalid"}', "auth_expired" },
    { "mastodon", "publish", 403, {}, '{"error":"This action is outside the authorized scopes"}', "permission_missing" },
    { "mastodon", "publish", 422, {}, '{"error":"Validation failed: Text character limit of 500 exceeded"}', "content_invalid" },
    { "mastodon", "publish", 429, { ["x-ratelimit-reset"] = "2023-11-14T22:18:20.000Z" }, '{"error":"Too many requests"}', "rate_limited", nil, 300 },
    { "mastodon", "publish", 503, {}, '{"error":"Service Unavailable"}', "transient" },
    { "bluesky", "publish", 400, {}, '{"error":"ExpiredToken","message":"Token has expired"}', "auth_expired", "ExpiredToken" },
    { "bluesky", "publish", 400, {}, '{"error":"InvalidToken","message":"Bad token"}', "auth_expired" },
    { "bluesky", "session", 401, {}, '{"error":"AuthenticationRequired","message":"Invalid identifier or password"}', "auth_expired" },
    { "bluesky", "session", 429, { ["ratelimit-reset"] = tostring(NOW + 300), ["ratelimit-policy"] = "30;w=300" }, '{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}', "rate_limited", "RateLimitExceeded", 300 },
    { "bluesky", "publish", 400, {}, '{"error":"InvalidRequest","message":"Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"}', "content_invalid" },
    { "telegram", "publish", 401, {}, '{"ok":false,"error_code":401,"description":"Unauthorized"}', "auth_expired", "401" },
    { "telegram", "publish", 403, {}, '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}', "permission_missing" },
    { "telegram", "publish", 400, {}, '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}', "content_invalid" },
    { "telegram", "publish", 429, {}, '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}', "rate_limited", "429", 7 },
}

local USERS = { vkontakte = { userId = 1001 } }

describe("adapter replies", function()
    for i, e in ipairs(ERRORS) do
        it(string.format("#%d %s %d -> %s", i, e[1], e[3], e[6]), function()
            local r = core.provider_parse(e[1], e[2], { userAction = UA }, {}, USERS[e[1]] or {}, e[3], e[4], e[5], NOW)
            assert.is_false(r.ok)
            assert.are.equal(e[6], r.category)
            assert.are.equal(core.category_code(e[6]), r.errorCode)
            assert.are.equal(e[1], r.provider)
            assert.is_string(r.errorDetails)
            assert.matches("^HTTP " .. e[3], r.errorDetails)
            if e[7] then assert.are.equal(e[7], r.providerCode) end
            if e[8] then assert.are.equal(e[8], r.retryAfter) else assert.is_nil(r.retryAfter) end
        end)
    end

    it("covers every live network with its documented errors", function()
        local seen = {}
        for _, e in ipairs(ERRORS) do seen[e[1]] = (seen[e[1]] or 0) + 1 end
        for _, p in ipairs({ "twitter", "facebook", "linkedin", "vkontakte", "sina", "mastodon", "bluesky", "telegram" }) do
            assert.is_true((seen[p] or 0) >= 4, p)
        end
    end)

    it("finds each post ID where its network puts it", function()
        local function ok(p, a, status, headers, body, user)
            local r = core.provider_parse(p, a, {}, {}, user or {}, status, headers, body, NOW)
            assert.is_true(r.ok, p .. ": " .. tostring(r.errorDetails))
            return r
        end
        assert.are.equal("1346889436626259968", ok("twitter", "publish", 201, {}, '{"data":{"id":"1346889436626259968","text":"t"}}').postID)
        assert.are.equal("1582", ok("twitter", "notify", 201, {}, '{"data":{"dm_conversation_id":"1-2","dm_event_id":"1582"}}').postID)
        assert.are.equal("1647395831_130068550371568", ok("facebook", "publish", 200, {}, '{"id":"1647395831_130068550371568"}').postID)
        assert.are.equal("urn:li:share:7141", ok("linkedin", "publish", 201, { ["x-restli-id"] = "urn:li:share:7141" }, "").postID)
        assert.are.equal("1001_12345", ok("vkontakte", "publish", 200, {}, '{"response":{"post_id":12345}}', { userId = 1001 }).postID)
        assert.are.equal("-42_7", ok("vkontakte", "publish", 200, {}, '{"response":{"post_id":7}}', { ownerId = -42 }).postID)
        assert.are.equal("4000000000000001", ok("sina", "publish", 200, {}, '{"id":4000000000000001,"idstr":"4000000000000001"}').postID)
        assert.are.equal("1100", ok("mastodon", "publish", 200, {}, '{"id":"1100","url":"https://m/@u/1100"}').postID)
        assert.are.equal("at://did:plc:a/app.bsky.feed.post/3k", ok("bluesky", "publish", 200, {}, '{"uri":"at://did:plc:a/app.bsky.feed.post/3k","cid":"bafy"}').postID)
        assert.are.equal("-100777:55", ok("telegram", "publish", 200, {}, '{"ok":true,"result":{"message_id":55,"chat":{"id":-100777}}}').postID)
        local s = ok("bluesky", "session", 200, {}, '{"accessJwt":"a","refreshJwt":"r","did":"did:plc:x","handle":"h"}')
        assert.are.same({ accessJwt = "a", refreshJwt = "r", did = "did:plc:x" }, s.data)
        local m = ok("mastodon", "instance", 200, {}, '{"configuration":{"statuses":{"max_characters":5000,"characters_reserved_per_url":23}}}')
        assert.are.same({ maxCharacters = 5000, charactersReservedPerUrl = 23 }, m.data)
    end)

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
