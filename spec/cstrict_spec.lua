-- Strict C layer (issue 9 items 2, 5, 6, 7): NUL bytes are never cut
-- short, validators answer false for bad timestamps, numbers from a network
-- saturate, and every binding function checks its argument types before it
-- allocates (the valgrind pass of .ci/memcheck runs this file too: the
-- wrong-type rows below then prove that those raises leak nothing).
local socialize = require("socialize")
local core = require("socialize.core")

local SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="
local TS = "1700000000"
local NOW = 1700000000
local Z = "\0"

local function sig_of(msg) return assert(core.hmac_sha1(SECRET, msg)) end
local USIG = sig_of(TS .. "_u1")
local FSIG = sig_of(TS .. "_f1_u1")
local BODY = '{"events":[]}'
local WSIG = sig_of(BODY)

describe("validators with a NUL byte answer false (no truncated comparison)", function()
    it("the untouched arguments validate (the rows below differ only by the NUL)", function()
        assert.is_true(socialize.validateUserSignature("u1", TS, SECRET, USIG))
        assert.is_true(socialize.validateFriendSignature("u1", TS, "f1", SECRET, FSIG))
        assert.is_true(socialize.validateWebhookSignature(BODY, SECRET, WSIG))
    end)
    local rows = {
        { "user UID suffix", function() return socialize.validateUserSignature("u1" .. Z .. "admin", TS, SECRET, USIG) end },
        { "user UID NUL only suffix", function() return socialize.validateUserSignature("u1" .. Z, TS, SECRET, USIG) end },
        { "user timestamp suffix", function() return socialize.validateUserSignature("u1", TS .. Z .. "9", SECRET, USIG) end },
        { "user secret suffix", function() return socialize.validateUserSignature("u1", TS, SECRET .. Z .. "x", USIG) end },
        { "user signature suffix", function() return socialize.validateUserSignature("u1", TS, SECRET, USIG .. Z .. "junk") end },
        { "user UID with window", function() return socialize.validateUserSignature("u1" .. Z, TS, SECRET, USIG, 1e12) end },
        { "friend UID suffix", function() return socialize.validateFriendSignature("u1" .. Z .. "x", TS, "f1", SECRET, FSIG) end },
        { "friend timestamp suffix", function() return socialize.validateFriendSignature("u1", TS .. Z, "f1", SECRET, FSIG) end },
        { "friend friendUID suffix", function() return socialize.validateFriendSignature("u1", TS, "f1" .. Z .. "x", SECRET, FSIG) end },
        { "friend secret suffix", function() return socialize.validateFriendSignature("u1", TS, "f1", SECRET .. Z, FSIG) end },
        { "friend signature suffix", function() return socialize.validateFriendSignature("u1", TS, "f1", SECRET, FSIG .. Z) end },
        { "webhook secret suffix", function() return socialize.validateWebhookSignature(BODY, SECRET .. Z .. "x", WSIG) end },
        { "webhook header suffix", function() return socialize.validateWebhookSignature(BODY, SECRET, WSIG .. Z .. "x") end },
        { "webhook body cut at NUL", function() return socialize.validateWebhookSignature(BODY .. Z .. "tail", SECRET, WSIG) end },
        { "core.validate_user NUL secret", function() return core.validate_user("u1", TS, SECRET .. Z, USIG, nil, NOW) end },
        { "core.validate_friend NUL friendUID", function() return core.validate_friend("u1", TS, "f1" .. Z, SECRET, FSIG, nil, NOW) end },
        { "core.validate_webhook NUL header", function() return core.validate_webhook(BODY, SECRET, WSIG .. Z) end },
    }
    for _, row in ipairs(rows) do
        it(row[1], function() assert.is_false(row[2]()) end)
    end
    it("a body that holds NUL is signed by its length", function()
        local body = "a" .. Z .. "b"
        assert.is_true(socialize.validateWebhookSignature(body, SECRET, sig_of(body)))
        assert.is_false(socialize.validateWebhookSignature("a", SECRET, sig_of(body)))
    end)
end)

describe("validator timestamps that are not whole Unix seconds answer false, never raise", function()
    local nan = 0 / 0
    local sig15 = sig_of("1_u1")
    local rows = {
        { "NaN", nan }, { "1.5", 1.5 }, { "inf", math.huge }, { "-inf", -math.huge },
        { "negative", -1 }, { "beyond 2^53", 2 ^ 60 },
    }
    for _, row in ipairs(rows) do
        it("user: " .. row[1], function()
            local ok, v = pcall(socialize.validateUserSignature, "u1", row[2], SECRET, sig15)
            assert.is_true(ok, tostring(v))
            assert.is_false(v)
        end)
        it("friend: " .. row[1], function()
            local ok, v = pcall(socialize.validateFriendSignature, "u1", row[2], "f1", SECRET, sig15)
            assert.is_true(ok, tostring(v))
            assert.is_false(v)
        end)
    end
    it("a whole number timestamp still validates", function()
        assert.is_true(socialize.validateUserSignature("u1", 1700000000, SECRET, USIG))
    end)
    it("a NaN window or now answers false in the binding", function()
        assert.is_false(core.validate_user("u1", TS, SECRET, USIG, 0 / 0, NOW))
        assert.is_false(core.validate_user("u1", TS, SECRET, USIG, 10, 0 / 0))
        assert.is_false(core.validate_user("u1", "-999999999999999999", SECRET, sig_of("-999999999999999999_u1"), 10, 2 ^ 63))
    end)
end)

describe("binding entry points refuse a NUL byte in a credential, URL or name (400006, nothing built)", function()
    local function opts(k, v)
        local o = { method = "socialize.setStatus", apiDomain = "127.0.0.1", url = "http://127.0.0.1:9",
                    auth = "signed", apiKey = "k", secret = SECRET, timestamp = 1700000000, nonce = "n1" }
        o[k] = v
        return o
    end
    for _, k in ipairs({ "apiKey", "secret", "url", "userKey", "nonce", "method", "apiDomain", "sdk", "auth" }) do
        it("build_request " .. k, function()
            local v = opts(k, nil)[k] or "x"
            local r, msg, code = core.build_request(opts(k, v .. Z .. ".evil"), { status = "hi" })
            assert.is_nil(r)
            assert.are.equal(400006, code)
            assert.matches(k, msg, 1, true)
            assert.matches("NUL", msg, 1, true)
        end)
    end
    it("build_request accessToken (oauth2) and privateKey (jwt)", function()
        local o = opts("auth", "oauth2"); o.accessToken = "tok" .. Z .. "x"
        local r, msg, code = core.build_request(o, {})
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("accessToken", msg, 1, true)
        o = opts("auth", "jwt"); o.privateKey = "-----BEGIN" .. Z
        r, msg, code = core.build_request(o, {})
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("privateKey", msg, 1, true)
    end)
    it("build_request: a parameter name with NUL", function()
        local r, _, code = core.build_request(opts("x", nil), { ["status" .. Z .. "x"] = "hi" })
        assert.is_nil(r); assert.are.equal(400006, code)
    end)
    it("base_string url and httpMethod", function()
        local r, msg, code = core.base_string("POST", "http://127.0.0.1:9" .. Z .. ".evil/x", {})
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("url", msg, 1, true)
        r, msg, code = core.base_string("POST" .. Z, "http://127.0.0.1:9/x", {})
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("httpMethod", msg, 1, true)
    end)
    it("hmac_sha1 secret", function()
        local r, msg, code = core.hmac_sha1(SECRET .. Z .. "x", "m")
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("secret", msg, 1, true)
    end)
    local prow = {
        { "telegram botToken", "telegram", { status = "hi" }, { botToken = "1:b" .. Z .. "evil" }, { chatId = "5" }, "botToken" },
        { "facebook accessToken", "facebook", { status = "hi" }, {}, { accessToken = "a" .. Z .. "b", pageId = "1" }, "accessToken" },
        { "twitter consumerSecret", "twitter", { status = "hi" }, { consumerKey = "k", consumerSecret = "s" .. Z },
          { token = "t", tokenSecret = "s" }, "consumerSecret" },
        { "mastodon instance URL", "mastodon", { status = "hi" }, {}, { instance = "http://127.0.0.1:9" .. Z .. ".evil", accessToken = "a" }, "instance" },
        { "linkedin post text", "linkedin", { status = "hi" .. Z .. "there" }, {}, { accessToken = "a", personId = "p" }, "status" },
        { "vkontakte ownerId", "vkontakte", { status = "hi" }, {}, { accessToken = "a", ownerId = "1" .. Z }, "ownerId" },
    }
    for _, row in ipairs(prow) do
        it("provider_request " .. row[1], function()
            local req, msg, code, res = core.provider_request(row[2], "status", row[3], row[4], row[5], 1700000000, "n1")
            assert.is_nil(req)
            assert.are.equal(400006, res.errorCode)
            assert.are.equal(res.errorCode, code) -- nil, message, code, result
            assert.are.equal(res.errorDetails, msg)
            assert.is_false(res.ok)
            assert.matches(row[6], res.errorDetails, 1, true)
        end)
    end
    it("provider_request provider, action and nonce names", function()
        local r, msg, code = core.provider_request("twitter" .. Z .. "x", "status", {}, {}, {}, 0, "n")
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("provider", msg, 1, true)
        r, msg, code = core.provider_request("twitter", "status" .. Z, {}, {}, {}, 0, "n")
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("action", msg, 1, true)
        r, msg, code = core.provider_request("twitter", "status", {}, {}, {}, 0, "n" .. Z)
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("nonce", msg, 1, true)
    end)
    it("provider_parse ignores a reply header that holds NUL (never a cut value)", function()
        local r = core.provider_parse("twitter", "status", {}, {}, {}, 429,
            { ["x-rate-limit-reset"] = "1700000900" .. Z .. "99" }, '{"title":"Too Many Requests"}', NOW)
        assert.is_nil(r.retryAfter)
        r = core.provider_parse("twitter", "status", {}, {}, {}, 429,
            { ["x-rate-limit-reset"] = "1700000900" }, '{"title":"Too Many Requests"}', NOW)
        assert.are.equal(900, r.retryAfter)
    end)
    it("bookmark_url url, instance and title", function()
        local r = core.bookmark_url("twitter", "https://game.example/" .. Z .. "x")
        assert.is_false(r.ok); assert.are.equal(400006, r.errorCode); assert.matches("url", r.errorDetails, 1, true)
        r = core.bookmark_url("mastodon", "https://game.example/", nil, nil, nil, "https://m.example" .. Z .. ".evil")
        assert.is_false(r.ok); assert.matches("instance", r.errorDetails, 1, true)
        r = core.bookmark_url("twitter", "https://game.example/", "t" .. Z)
        assert.is_false(r.ok); assert.matches("title", r.errorDetails, 1, true)
    end)
    it("oauth1 consumerSecret and category_code", function()
        local r, msg, code = core.oauth1("POST", "https://127.0.0.1/x", "ck", "cs" .. Z .. "x", "t", "ts", 1, "n")
        assert.is_nil(r); assert.are.equal(400006, code); assert.matches("consumerSecret", msg, 1, true)
        assert.are.equal(core.category_code("no such category"), core.category_code("rate_limited" .. Z .. "x"))
    end)
end)

describe("numbers read from a network saturate (retryAfter in [0, 31622400])", function()
    local CAP = 31622400
    local function parse(provider, status, headers, body, now)
        return core.provider_parse(provider, "publish", {}, {}, {}, status, headers, body, now or NOW)
    end
    local hostile = { "-9223372036854775808", "9223372036854775807", "99999999999999999999999",
                      "-5", "+5", " 1700000900 ", "1e400", "abc", "" }
    for _, v in ipairs(hostile) do
        it("X x-rate-limit-reset '" .. v .. "'", function()
            local r = parse("twitter", 429, { ["x-rate-limit-reset"] = v }, '{"title":"Too Many Requests"}')
            assert.are.equal("rate_limited", r.category)
            assert.is_true(r.retryAfter == nil or (r.retryAfter >= 0 and r.retryAfter <= CAP))
            if v == " 1700000900 " then assert.are.equal(900, r.retryAfter) end
            if v == "9223372036854775807" then assert.are.equal(CAP, r.retryAfter) end
        end)
        it("Bluesky ratelimit-reset '" .. v .. "'", function()
            local r = parse("bluesky", 429, { ["ratelimit-reset"] = v }, '{"error":"RateLimitExceeded"}')
            assert.are.equal("rate_limited", r.category)
            assert.is_true(r.retryAfter == nil or (r.retryAfter >= 0 and r.retryAfter <= CAP))
        end)
    end
    it("Facebook estimated_time_to_regain_access INT64_MAX minutes", function()
        local r = parse("facebook", 400, { ["x-business-use-case-usage"] =
            '{"1":[{"estimated_time_to_regain_access":9223372036854775807}]}' },
            '{"error":{"code":80001,"message":"too many"}}')
        assert.are.equal("rate_limited", r.category)
        assert.are.equal(CAP, r.retryAfter)
    end)
    it("Telegram retry_after INT64_MIN and error_code beyond int", function()
        local r = parse("telegram", 429, {}, '{"ok":false,"error_code":9223372036854775807,' ..
            '"parameters":{"retry_after":-9223372036854775808}}')
        assert.is_false(r.ok)
        assert.are.equal(0, r.retryAfter)
    end)
    it("Mastodon x-ratelimit-reset with out-of-range fields, and LinkedIn with now = -2^62", function()
        local r = parse("mastodon", 429, { ["x-ratelimit-reset"] = "2147483647-99-99T99:99:99Z" }, '{"error":"slow"}')
        assert.is_nil(r.retryAfter)
        r = parse("linkedin", 429, {}, '{"message":"slow"}', -2 ^ 62)
        assert.is_true(r.retryAfter > 0 and r.retryAfter <= 86400)
    end)
    it("a Mastodon instance's INT64_MAX limits keep the network defaults", function()
        local req = core.provider_request("mastodon", "status",
            { status = "hi https://game.example/x" }, {},
            { instance = "https://m.example", accessToken = "a" }, 1700000000, "n1",
            { maxCharacters = 9223372036854775807, charactersReservedPerUrl = 9223372036854775807 })
        assert.is_table(req)
        assert.matches("hi https://game.example/x", req.body, 1, true)
    end)
    it("Sina error_code as a huge string", function()
        local r = parse("sina", 400, {}, '{"error_code":"99999999999999999999999","error":"x"}')
        assert.is_false(r.ok)
    end)
end)

describe("every binding function checks argument types before allocating (raises cleanly)", function()
    local T = {}
    local rows = {
        { "url_encode", function() return core.url_encode({}) end },
        { "base_string table params", function() return core.base_string("POST", "http://127.0.0.1/", "x") end },
        { "base_string url", function() return core.base_string("POST", {}, {}) end },
        { "hmac_sha1", function() return core.hmac_sha1(SECRET, {}) end },
        { "validate_user now", function() return core.validate_user("u", TS, SECRET, USIG, nil, "x") end },
        { "validate_user window", function() return core.validate_user("u", TS, SECRET, USIG, {}, NOW) end },
        { "validate_friend", function() return core.validate_friend("u", TS, "f", SECRET, {}, nil, NOW) end },
        { "validate_webhook", function() return core.validate_webhook(BODY, SECRET, {}) end },
        { "consttime_equal", function() return core.consttime_equal("a", {}) end },
        { "json_encode name", function() return core.json_encode({ a = 1 }, {}) end },
        { "json_decode", function() return core.json_decode({}) end },
        { "param_string name", function() return core.param_string({ a = 1 }, {}) end },
        { "build_request opts", function() return core.build_request("x", {}) end },
        { "build_request params", function() return core.build_request({}, "x") end },
        { "parse_response status", function() return core.parse_response("{}", {}) end },
        { "strerror", function() return core.strerror({}) end },
        { "http_reason", function() return core.http_reason({}) end },
        { "random_hex range", function() return core.random_hex(2 ^ 32 + 5) end },
        { "sleep", function() return core.sleep({}) end },
        { "provider_request input", function() return core.provider_request("twitter", "publish", "x", {}, {}) end },
        { "provider_request app", function() return core.provider_request("twitter", "publish", { status = "a" }, "not-a-table") end },
        { "provider_request user", function() return core.provider_request("twitter", "publish", { status = "a" }, {}, 5) end },
        { "provider_request provider", function() return core.provider_request(T, "publish", {}) end },
        { "provider_parse app", function() return core.provider_parse("twitter", "publish", { a = 1 }, "x", {}, 200, {}, "", NOW) end },
        { "provider_parse headers", function() return core.provider_parse("twitter", "publish", { a = 1 }, {}, {}, 200, "h", "", NOW) end },
        { "provider_parse now", function() return core.provider_parse("twitter", "publish", { a = 1 }, {}, {}, 200, {}, "", "x") end },
        { "bookmark_url", function() return core.bookmark_url("twitter", {}) end },
        { "category_code", function() return core.category_code({}) end },
        { "oauth1", function() return core.oauth1("POST", "https://h/", "ck", "cs", "t", "ts", "x", "n") end },
    }
    for _, row in ipairs(rows) do
        it(row[1], function()
            for _ = 1, 20 do -- repeated: a leak here shows in the valgrind pass
                local ok, err = pcall(row[2])
                assert.is_false(ok)
                assert.matches("bad argument", tostring(err), 1, true)
            end
        end)
    end
end)
