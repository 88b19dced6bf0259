-- The front of the library (issue 9 items 2, 3, 4, 11, 12, 13): NUL bytes
-- and values with no JSON form are refused with 400006 naming the field and
-- nothing is sent; recipients are checked; numeric recipients reach the
-- network; non-table connection entries fail their provider; config typos
-- raise; a bare Mastodon host is accepted; every credential of a call is
-- scrubbed, in every encoding, from results, errors, logs and onError.
local H = require("spec.helper")
local socialize = require("socialize")
local core = require("socialize.core")

local SECRET = H.SECRET

-- Replies of the networks for the requests the spy sees.
local function network_reply(req)
    local url = req.url
    if url:find("/api/v2/instance", 1, true) then
        return { status = 200, headers = {}, body = '{"configuration":{"statuses":{"max_characters":500}}}' }
    end
    if url:find("/sendMessage", 1, true) then
        return { status = 200, headers = {}, body = '{"ok":true,"result":{"message_id":7,"chat":{"id":5}}}' }
    end
    return { status = 200, headers = {}, body = '{"id":"42","errorCode":0,"statusCode":200}' }
end

local function gigya(extra)
    local spy = H.spy()
    local cfg = { apiKey = H.API_KEY, secret = SECRET, url = "http://127.0.0.1:9", transport = spy.transport }
    for k, v in pairs(extra or {}) do
        if v == H.NONE then cfg[k] = nil else cfg[k] = v end
    end
    return socialize.new(cfg), spy
end

local DEFAULT_CONN = {
    facebook = { accessToken = "fb-page-token-1", pageId = "1647395831" },
    telegram = { chatId = "-100777" },
}

local function direct(conn, providers, extra)
    local spy = H.spy(network_reply)
    local cfg = {
        backend = "direct", transport = spy.transport,
        providers = providers or { telegram = { botToken = "123456:bot-token" }, facebook = { appSecret = "fb-app-secret" } },
        connections = { u = conn or DEFAULT_CONN },
    }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg), spy
end

local function run(c, method, params, mode)
    if mode ~= "async" then return c[method](c, params) end
    local got
    c[method](c, params, function(r, e) got = { r, e } end)
    for _ = 1, 100 do
        if got then break end
        c:poll(5)
    end
    assert(got, "the asynchronous call did not finish")
    return got[1], got[2]
end

local function nest(n)
    local t = { title = "deep" }
    local root = t
    for _ = 1, n do t.a = {} t = t.a end
    return root
end

local function cycle()
    local t = { title = "c" }
    t.self = t
    return t
end

-- Encode failures of a table parameter: value -> the words of the error.
local BAD_TABLES = {
    { "invalid UTF-8", function() return { title = "ok", description = "\255\254" } end, "not valid UTF-8" },
    { "a cycle", cycle, "nested too deeply" },
    { "depth 100", function() return nest(100) end, "nested too deeply" },
    { "a function", function() return { title = "t", x = print } end, "no JSON form" },
    { "a coroutine", function() return { title = "t", x = coroutine.create(function() end) } end, "no JSON form" },
    { "userdata", function() return { title = "t", x = io.stdout } end, "no JSON form" },
    { "NaN", function() return { title = "t", x = 0 / 0 } end, "NaN or infinite" },
    { "inf", function() return { title = "t", x = math.huge } end, "NaN or infinite" },
    { "mixed keys", function() return { "a", title = "t" } end, "mixes array and object keys" },
}

local rows = {}
local function row(r) rows[#rows + 1] = r end

-- 1. NUL in the client config: new() accepts, every call answers 400006.
for _, f in ipairs({ "apiKey", "secret", "userKey", "apiDomain", "url", "dataCenter", "sdk", "cafile" }) do
    local vals = { apiKey = "k\0evil", secret = SECRET .. "\0x", userKey = "AK\0y", apiDomain = "eu1.gigya.com\0.evil",
                   url = "http://127.0.0.1:9\0.evil", dataCenter = "eu1\0x", sdk = "s\0x", cafile = "/tmp/x\0y" }
    row { "config." .. f .. " with NUL", function() return gigya({ [f] = vals[f] }) end, "getUserInfo", { UID = "u" },
          400006, "config." .. f .. " contains a NUL byte" }
end
row { "config.accessToken with NUL (oauth2)", function() return gigya({ accessToken = "tok\0en", auth = "oauth2" }) end,
      "getUserInfo", {}, 400006, "config.accessToken contains a NUL byte" }
row { "config.apiKey with NUL, async", function() return gigya({ apiKey = "k\0evil" }) end, "getUserInfo",
      { UID = "u" }, 400006, "config.apiKey contains a NUL byte", mode = "async" }
row { "config.secret with NUL, direct backend", function()
          return direct(nil, nil, { secret = SECRET .. "\0x" }) end, "setStatus", { UID = "u", status = "hi" },
      400006, "config.secret contains a NUL byte" }

-- 2. NUL in request parameters, both backends.
for _, r in ipairs({
    { "getUserInfo", { UID = "u\0evil" }, "UID" },
    { "setStatus", { UID = "u", status = "hi\0there" }, "status" },
    { "setStatus", { UID = "u", status = "hi", cid = "c\0d" }, "cid" },
    { "publishUserAction", { UID = "u", userAction = { title = "a\0b" } }, "userAction.title" },
    { "publishUserAction", { UID = "u", userAction = { title = "a", linkBack = "http://127.0.0.1/\0x" } }, "userAction.linkBack" },
    { "sendNotification", { UID = "u", recipients = "r1", body = "b\0c", subject = "s" }, "body" },
    { "sendNotification", { UID = "u", recipients = "r1", body = "b", subject = "s\0t" }, "subject" },
    { "facebookGraphOperation", { UID = "u", graphPath = "/me\0/x" }, "graphPath" },
}) do
    row { "gigya: NUL in " .. r[3], gigya, r[1], r[2], 400006, r[3] .. " contains a NUL byte" }
end
for _, r in ipairs({
    { "setStatus", { UID = "u\0x", status = "hi" }, "UID" },
    { "setStatus", { UID = "u", status = "hi\0there" }, "status" },
    { "publishUserAction", { UID = "u", userAction = { title = "a", description = "d\0" } }, "userAction.description" },
    { "sendNotification", { UID = "u", recipients = "r1\0r2", body = "b", enabledProviders = "telegram" }, "recipients" },
}) do
    row { "direct: NUL in " .. r[3], direct, r[1], r[2], 400006, r[3] .. " contains a NUL byte" }
end

-- 3. NUL in a provider config or a connection credential: that provider
-- fails with 400006 naming the field, the others are delivered.
row { "direct: NUL in providers.telegram.botToken", function()
          return direct(nil, { telegram = { botToken = "123:ab\0c" }, facebook = { appSecret = "fb-app-secret" } }) end,
      "setStatus", { UID = "u", status = "hi" }, 0, nil, sent = 1,
      check = function(res)
          local e = res.providerErrorCodes
          assert.are.equal("telegram", e[2].provider)
          assert.are.equal(400006, e[2].errorCode)
          assert.truthy(e[2].errorDetails:find("providers.telegram.botToken contains a NUL byte", 1, true))
          assert.are.equal(0, e[1].errorCode)
      end }
row { "direct: NUL in connection facebook.accessToken", function()
          return direct({ facebook = { accessToken = "tok\0en", pageId = "1" }, telegram = { chatId = "5" } }) end,
      "setStatus", { UID = "u", status = "hi" }, 0, nil, sent = 1,
      check = function(res)
          local e = res.providerErrorCodes
          assert.are.equal(400006, e[1].errorCode)
          assert.truthy(e[1].errorDetails:find("facebook.accessToken contains a NUL byte", 1, true))
      end }
row { "direct: NUL in connection mastodon.instance only", function()
          return direct({ mastodon = { accessToken = "md-token", instance = "https://m.example\0.evil" } }) end,
      "setStatus", { UID = "u", status = "hi" }, 400006, "mastodon.instance contains a NUL byte" }

-- 4. Encode failures x parameter x mode.
for _, b in ipairs(BAD_TABLES) do
    row { "direct sync: userAction with " .. b[1], direct, "publishUserAction",
          function() return { UID = "u", userAction = b[2]() } end, 400006, b[3], pname = "userAction" }
    row { "direct async: graphParams with " .. b[1], direct, "facebookGraphOperation",
          function() return { UID = "u", graphPath = "/me/feed", method = "POST", graphParams = b[2]() } end,
          400006, b[3], pname = "graphParams", mode = "async" }
end
for _, b in ipairs({ BAD_TABLES[1], BAD_TABLES[2], BAD_TABLES[4] }) do
    row { "direct async: userAction with " .. b[1], direct, "publishUserAction",
          function() return { UID = "u", userAction = b[2]() } end, 400006, b[3], pname = "userAction", mode = "async" }
    row { "direct sync: twitterUserAction with " .. b[1], direct, "publishUserAction",
          function() return { UID = "u", userAction = { title = "t" }, twitterUserAction = b[2]() } end,
          400006, b[3], pname = "twitterUserAction" }
    row { "gigya sync: userAction with " .. b[1], gigya, "publishUserAction",
          function() return { UID = "u", userAction = b[2]() } end, 400006, b[3], pname = "userAction" }
    row { "gigya async: graphParams with " .. b[1], gigya, "facebookGraphOperation",
          function() return { UID = "u", graphPath = "/me", graphParams = b[2]() } end, 400006, b[3],
          pname = "graphParams", mode = "async" }
end

-- 5. recipients, both backends.
local many = {}
for i = 1, 1001 do many[i] = "r" .. i end
for _, r in ipairs({
    { ",", 400006, "recipients has an empty UID at position 1" },
    { " , ", 400006, "recipients has an empty UID at position 1" },
    { "a,,b", 400006, "recipients has an empty UID at position 2" },
    { "a,b,", 400006, "recipients has an empty UID at position 3" },
    { "", 400002, "Missing required parameter: recipients" },
    { table.concat(many, ","), 400006, "recipients has more than 1000 UIDs" },
}) do
    local shown = #r[1] > 20 and "1001 UIDs" or ("'" .. r[1] .. "'")
    row { "gigya: recipients " .. shown, gigya, "sendNotification",
          { UID = "u", recipients = r[1], body = "b", subject = "s" }, r[2], r[3] }
    row { "direct: recipients " .. shown, direct, "sendNotification",
          { UID = "u", recipients = r[1], body = "b", enabledProviders = "telegram" }, r[2], r[3], mode = "async" }
end
row { "gigya: recipients array of 1001", gigya, "sendNotification",
      { UID = "u", recipients = many, body = "b", subject = "s" }, 400006, "recipients has more than 1000 UIDs" }
row { "gigya: recipients ' a , b ' is sent trimmed", gigya, "sendNotification",
      { UID = "u", recipients = " a , b ", body = "b", subject = "s" }, 0, nil, sent = 1,
      check = function(_, _, spy) assert.truthy(spy.calls[1].body:find("recipients=a%2Cb", 1, true)) end }

-- 6. Numeric recipients reach the network as the chat/user id.
row { "direct: numeric recipient 12345 goes to telegram chat 12345", direct, "sendNotification",
      { UID = "u", recipients = "12345", body = "hello", enabledProviders = "telegram" }, 0, nil, sent = 1,
      check = function(res, _, spy)
          assert.truthy(spy.calls[1].body:find('"chat_id":"12345"', 1, true))
          assert.are.equal(0, res.providerErrorCodes[1].errorCode)
      end }

-- 7. Connection entries that are not tables fail that provider as not_connected.
for _, v in ipairs({ { "number", 42 }, { "string", "tok" }, { "boolean", true }, { "false", false },
                     { "function", function() return 42 end } }) do
    row { "direct: telegram entry is a " .. v[1], function()
              return direct({ telegram = v[2], facebook = DEFAULT_CONN.facebook }) end,
          "setStatus", { UID = "u", status = "hi" }, 0, nil, sent = 1,
          check = function(res)
              local t = res.providerErrorCodes[2]
              assert.are.equal("telegram", t.provider)
              assert.are.equal(400106, t.errorCode)
              assert.are.equal("not_connected", t.category)
          end }
end
row { "direct: only entry is a number, async", function() return direct({ telegram = 42 }) end, "setStatus",
      { UID = "u", status = "hi" }, 400106, "telegram: the connection entry is a number", mode = "async" }

-- 8. Mastodon instance forms.
for _, f in ipairs({ "mastodon.social", "mastodon.social/", "MASTODON.social", "https://mastodon.social",
                     "HTTPS://Mastodon.Social/" }) do
    row { "direct: mastodon instance " .. f, function()
              return direct({ mastodon = { accessToken = "md-token", instance = f } }) end,
          "setStatus", { UID = "u", status = "hi" }, 0, nil, sent = 2,
          check = function(_, _, spy)
              assert.are.equal("https://mastodon.social/api/v2/instance", spy.calls[1].url)
              assert.are.equal("https://mastodon.social/api/v1/statuses", spy.calls[2].url)
          end }
end
for _, f in ipairs({ "https://mastodon.social/@me", "mastodon.social/@me" }) do
    row { "direct: mastodon instance " .. f, function()
              return direct({ mastodon = { accessToken = "md-token", instance = f } }) end,
          "setStatus", { UID = "u", status = "hi" }, 400006,
          "mastodon.instance must be the server's address, like mastodon.social or https://mastodon.social" }
end
-- not an http(s) address at all: the private-network guard refuses it first
for _, f in ipairs({ "ftp://mastodon.social", "mastodon social" }) do
    row { "direct: mastodon instance " .. f, function()
              return direct({ mastodon = { accessToken = "md-token", instance = f } }) end,
          "setStatus", { UID = "u", status = "hi" }, 400006, "the connection's instance is refused" }
end

for _, f in ipairs({ "mastodon.social", "MASTODON.social/" }) do
    row { "postBookmark: mastodon instance " .. f, gigya, "postBookmark",
          { providers = "mastodon", url = "https://x.example/a", instance = f }, 0, nil,
          check = function(res)
              assert.are.equal("https://mastodon.social/share?text=https%3A%2F%2Fx.example%2Fa", res.bookmarkURLs.mastodon)
          end }
end
row { "postBookmark: mastodon instance https://mastodon.social/@me", gigya, "postBookmark",
      { providers = "mastodon", url = "https://x.example/a", instance = "https://mastodon.social/@me" }, 400006,
      "mastodon: instance must be the server's address, like mastodon.social or https://mastodon.social" }

describe("front: refused input answers a named error and sends nothing #unit", function()
    for i, r in ipairs(rows) do
        it("#" .. i .. " " .. r[1], function()
            local c, spy = r[2]()
            local params = type(r[4]) == "function" and r[4]() or r[4]
            local res, err = run(c, r[3], params, r.mode)
            if r[5] == 0 then
                assert.is_nil(err and tostring(err))
                assert.truthy(res)
            else
                assert.is_nil(res)
                assert.are.equal(r[5], err.errorCode)
                assert.truthy(tostring(err.errorDetails):find(r[6], 1, true),
                    "details: " .. tostring(err.errorDetails))
                if r.pname then
                    assert.truthy(tostring(err.errorDetails):find("Invalid parameter value: " .. r.pname, 1, true),
                        "details: " .. tostring(err.errorDetails))
                end
            end
            assert.are.equal(r.sent or 0, #spy.calls)
            if r.check then r.check(res, err, spy) end
        end)
    end
end)

-- 9. Config typos raise and list the valid names.
describe("front: config typos #unit", function()
    local cases = {
        { { conections = {} }, "config.conections is not a setting (did you mean connections?); valid: apiKey" },
        { { timout = 5 }, "config.timout is not a setting (did you mean timeout?)" },
        { { apikey = "k" }, "config.apikey is not a setting (did you mean apiKey?)" },
        { { [1] = "x" }, "config.[number key] is not a setting" },
        { { backend = "direct", providers = { mastadon = {} } },
          "config.providers.mastadon is not a network (did you mean mastodon?); valid: twitter, facebook" },
        { { backend = "direct", providers = { twiter = {} } }, "config.providers.twiter is not a network (did you mean twitter?)" },
        { { backend = "direct", providers = { myspace = {} } }, "config.providers.myspace is not a network; valid:" },
    }
    for i, case in ipairs(cases) do
        it("#" .. i .. " " .. case[2]:sub(1, 40), function()
            local ok, e = pcall(socialize.new, case[1])
            assert.is_false(ok)
            assert.truthy(tostring(e):find(case[2], 1, true), tostring(e))
        end)
    end
    it("lists every network of the C core", function()
        local _, e = pcall(socialize.new, { providers = { x = {} } })
        assert.truthy(tostring(e):find(table.concat(core.provider_names(), ", "), 1, true), tostring(e))
    end)
end)

-- (scrubbing helpers)
local function pct(s) return core.url_encode(s) end

local function shown(res, err, events)
    local parts = {}
    for _, t in ipairs({ res or false, err or false }) do
        if t then
            parts[#parts + 1] = tostring(t.errorDetails) .. tostring(t.errorMessage)
            for _, e in ipairs(t.providerErrorCodes or {}) do
                parts[#parts + 1] = tostring(e.errorDetails) .. tostring(e.errorMessage)
            end
        end
    end
    for _, ev in ipairs(events or {}) do
        for k, v in pairs(ev) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
    end
    return table.concat(parts, "\n")
end

-- 10. Every credential of the call, in every encoding in which it is sent
-- or echoed, is scrubbed from results, errors, the log hook and onError.
describe("front: scrubbing #unit", function()
    local PAGE = "EAAB/pg+tok=en \195\169" .. "1"     -- a page token with /, +, =, space and é
    local ENCODINGS = {
        { "raw", PAGE },
        { "percent upper", pct(PAGE) },
        { "percent lower", (pct(PAGE):gsub("%%%x%x", string.lower)) },
        { "form (+ for space)", (pct(PAGE):gsub("%%20", "+")) },
        { "JSON \\/", (PAGE:gsub("/", "\\/")) },
        { "JSON \\u00e9", (PAGE:gsub("\195\169", "\\u00e9")) },
        { "JSON \\/ and \\u00E9", (PAGE:gsub("/", "\\/"):gsub("\195\169", "\\u00E9")) },
    }

    for _, enc in ipairs(ENCODINGS) do
        for _, mode in ipairs({ "sync", "async" }) do
            it("a page token echoed " .. enc[1] .. " by a transport error (" .. mode .. ")", function()
                local events, sent = {}, 0
                local c = socialize.new {
                    backend = "direct", providers = { facebook = { appSecret = "fb-app-secret" } },
                    connections = { u = { facebook = { accessToken = PAGE, pageId = "1647395831" } } },
                    retry = false,
                    log = function(ev) events[#events + 1] = ev end,
                    transport = function() sent = sent + 1 return nil, "upstream said: " .. enc[2], "other" end,
                }
                local res, err = run(c, "setStatus", { UID = "u", status = "hi" }, mode)
                assert.is_nil(res)
                assert.are.equal(500026, err.errorCode)
                assert.are.equal(1, sent)
                local text = shown(res, err, events)
                assert.is_nil(text:find(enc[2], 1, true), text)
                assert.truthy(text:find("upstream said: [redacted]", 1, true), text)
            end)
        end
    end

    it("a transport error quoting the request URL and body with the page token", function()
        local events = {}
        local c = socialize.new {
            backend = "direct", providers = { facebook = { appSecret = "fb-app-secret" } },
            connections = { u = { facebook = { accessToken = PAGE, pageId = "1647395831" } } },
            retry = false,
            log = function(ev) events[#events + 1] = ev end,
            transport = function(req) return nil, "failed " .. req.url .. "?" .. tostring(req.body), "connect" end,
        }
        local res, err = c:setStatus { UID = "u", status = "hi" }
        local text = shown(res, err, events)
        assert.truthy(text:find("access_token=[redacted]", 1, true), text)
        for _, enc in ipairs(ENCODINGS) do assert.is_nil(text:find(enc[2], 1, true), text) end
    end)

    it("gigya auth=secret: a body echo of the secret percent-encoded", function()
        local secret = "c2Vj/+cmV0/+a2V5"
        local events = {}
        local c = socialize.new {
            apiKey = H.API_KEY, secret = secret, userKey = H.USER_KEY, auth = "secret", url = "https://127.0.0.1:9",
            log = function(ev) events[#events + 1] = ev end,
            transport = function(req)
                return { status = 400, headers = {}, body = core.json_encode({ errorCode = 400006, statusCode = 400,
                    errorMessage = "Invalid parameter value",
                    errorDetails = "echo secret=" .. pct(secret) .. " json " .. secret:gsub("/", "\\/") }) }
            end,
        }
        local res, err = c:getUserInfo { UID = "u" }
        assert.is_nil(res)
        local text = shown(res, err, events)
        assert.is_nil(text:find(pct(secret), 1, true), text)
        assert.is_nil(text:find((secret:gsub("/", "\\/")), 1, true), text)
        assert.truthy(text:find("echo secret=[redacted] json [redacted]", 1, true), text)
    end)

    it("a Bluesky session's accessJwt echoed by a transport error, in the log too", function()
        local jwt = "eyJhbGciOi.session/acc+ess"
        local events, n = {}, 0
        local c = socialize.new {
            backend = "direct", retry = false, providers = { bluesky = { baseUrl = "http://127.0.0.1:9" } },
            connections = { u = { bluesky = { identifier = "me.example", appPassword = "app-pass-9" } } },
            log = function(ev) events[#events + 1] = ev end,
            transport = function(req)
                n = n + 1
                if req.url:find("createSession", 1, true) then
                    return { status = 200, headers = {}, body = core.json_encode({ accessJwt = jwt,
                        refreshJwt = "refresh-jwt-1", did = "did:plc:abc", handle = "me.example" }) }
                end
                return nil, "proxy refused Bearer " .. jwt .. " / " .. pct(jwt), "other"
            end,
        }
        local res, err = c:setStatus { UID = "u", status = "hi" }
        assert.is_nil(res)
        assert.are.equal(2, n)
        local text = shown(res, err, events)
        assert.is_nil(text:find(jwt, 1, true), text)
        assert.is_nil(text:find(pct(jwt), 1, true), text)
        assert.truthy(text:find("Bearer [redacted] / [redacted]", 1, true), text)
    end)

    it("onError never shows the secret a callback raised", function()
        local got
        local c = socialize.new {
            apiKey = H.API_KEY, secret = SECRET, url = "http://127.0.0.1:9", transport = H.spy().transport,
            onError = function(msg) got = msg end,
        }
        c:getUserInfo({ UID = "u" }, function() error("oops " .. SECRET .. " " .. pct(SECRET)) end)
        for _ = 1, 10 do if got then break end c:poll(5) end
        assert.truthy(got)
        assert.is_nil(got:find(SECRET, 1, true), got)
        assert.is_nil(got:find(pct(SECRET), 1, true), got)
        assert.truthy(got:find("oops [redacted] [redacted]", 1, true), got)
    end)
end)

-- 11. The validators answer false when a value that cannot hold NUL holds one.
describe("front: validators refuse NUL #unit", function()
    local sec = "c2VjcmV0c2VjcmV0"
    local ts = 1700000000
    local usig = core.hmac_sha1(sec, ts .. "_u1")
    local fsig = core.hmac_sha1(sec, ts .. "_f1_u1")
    local wsig = core.hmac_sha1(sec, "body")
    local cases = {
        { "user: genuine", true, function() return socialize.validateUserSignature("u1", ts, sec, usig) end },
        { "user: UID", false, function() return socialize.validateUserSignature("u1\0x", ts, sec, usig) end },
        { "user: timestamp", false, function() return socialize.validateUserSignature("u1", ts .. "\0", sec, usig) end },
        { "user: secret", false, function() return socialize.validateUserSignature("u1", ts, sec .. "\0x", usig) end },
        { "user: signature", false, function() return socialize.validateUserSignature("u1", ts, sec, usig .. "\0") end },
        { "friend: friendUID", false, function()
            return socialize.validateFriendSignature("u1", ts, "f1\0z", sec, fsig) end },
        { "friend: secret", false, function()
            return socialize.validateFriendSignature("u1", ts, "f1", sec .. "\0", fsig) end },
        { "webhook: secret", false, function() return socialize.validateWebhookSignature("body", sec .. "\0x", wsig) end },
        { "webhook: header", false, function() return socialize.validateWebhookSignature("body", sec, wsig .. "\0") end },
    }
    for _, case in ipairs(cases) do
        it(case[1], function() assert.are.equal(case[2], case[3]()) end)
    end
end)

describe("front: scrubbing, against the sandbox #fakes", function()
    it("the sandbox's Facebook echo of an invalid page token", function()
        local sb = H.start_sandbox()
        local token = "leaky/page+token=1"
        local events = {}
        local c = socialize.new {
            backend = "direct", retry = false, timeout = 10,
            providers = { facebook = { appSecret = "fb-app-secret", baseUrl = sb.url("facebook") } },
            connections = { u = { facebook = { accessToken = token, pageId = "1647395831" } } },
            log = function(ev) events[#events + 1] = ev end,
        }
        local res, err = c:setStatus { UID = "u", status = "hi" }
        assert.is_nil(res)
        assert.are.equal(403009, err.errorCode)
        local text = shown(res, err, events)
        assert.is_nil(text:find(token, 1, true), text)
        assert.is_nil(text:find(pct(token), 1, true), text)
        assert.truthy(text:find("[redacted]", 1, true), text)
    end)

    teardown(function() H.stop_all() end)
end)
