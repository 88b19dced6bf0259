-- What a direct call redacts (issue 15, target 5; docs/api.md "Redaction"):
-- the credentials of the networks the call sends to, in every encoding, from
-- its result, its errors and the log hook, whatever a network's reply or a
-- transport error echoes; a token of one network of the call echoed by
-- another of the call; a session replaced during the call; a lookup error
-- scrubbed of the client's secrets; and a call that succeeds makes no list.
local socialize = require("socialize")
local core = require("socialize.core")
local policy = require("socialize.policy")

-- credentials with the bytes each encoding changes: / + = space é "
local TOKENS = {
    twitter = "tw/tok+en=1 \195\169",
    facebook = "EAAB/pg+tok=en \195\169\"2",
    linkedin = "li/tok+en=3 \195\169",
}
local PROVIDERS = {
    twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer/secret+4" },
    facebook = { appSecret = "fb-app/secret+5" },
    telegram = { botToken = "123456:bot-tok_en-6" },
}
local function connections()
    return { u = {
        twitter = { token = TOKENS.twitter, tokenSecret = "tw-token/secret+7", userId = "2244994945" },
        facebook = { accessToken = TOKENS.facebook, pageId = "1647395831" },
        linkedin = { accessToken = TOKENS.linkedin, personId = "abc123" },
        telegram = { chatId = "-100777" },
    } }
end
-- every credential value of a network (its config's and its connection's)
local SECRETS = {
    twitter = { TOKENS.twitter, "tw-token/secret+7", "tw-consumer/secret+4" },
    facebook = { TOKENS.facebook, "fb-app/secret+5" },
    linkedin = { TOKENS.linkedin },
    telegram = { "123456:bot-tok_en-6" },
}
local UA = { title = "hello", linkBack = "https://game.example/" }

-- A reply each network's parser reads as an error naming `text`.
local function error_reply(provider, text)
    local body
    if provider == "facebook" then
        body = core.json_encode({ error = { message = text, type = "OAuthException", code = 100 } })
    elseif provider == "telegram" then
        body = core.json_encode({ ok = false, error_code = 400, description = "Bad Request: " .. text })
    elseif provider == "twitter" then
        body = core.json_encode({ errors = { { message = text, code = 44 } } })
    else
        body = core.json_encode({ message = text, status = 400 })
    end
    return { status = 400, headers = { ["content-type"] = "application/json" }, body = body }
end

-- Every string the caller could see: the result, the error, the log events.
local function shown(res, err, events)
    local parts = {}
    local function collect(v, depth)
        if type(v) == "string" then parts[#parts + 1] = v
        elseif type(v) == "table" and depth < 6 then
            for k, x in pairs(v) do collect(k, depth + 1) collect(x, depth + 1) end
        end
    end
    collect(res, 0)
    collect(err, 0)
    collect(events or {}, 0)
    return table.concat(parts, "\n")
end

local function assert_none(text, values)
    for _, v in ipairs(values) do
        for _, e in ipairs(policy.encodings_of(v)) do
            assert.is_nil(text:find(e, 1, true), "shown: " .. e .. "\n" .. text)
        end
    end
end

describe("redaction of a direct call: the networks it sends to #unit", function()
    it("a token of a network of the call, echoed by another network of the call, in every encoding", function()
        -- Facebook's token goes in the body (no Authorization header carries it)
        local encs = policy.encodings_of(TOKENS.facebook)
        assert.are.equal(11, #encs) -- raw, 4 percent forms, 6 JSON forms (no control byte: a header refuses one)
        for _, enc in ipairs(encs) do
            local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
                connections = connections(),
                transport = function(req)
                    if req.provider == "linkedin" then return error_reply("linkedin", "echo " .. enc .. " end") end
                    return { status = 200, headers = {}, body = '{"id":"1647395831_42"}' }
                end }
            local res, err = c:publishUserAction { UID = "u", userAction = UA, enabledProviders = "facebook,linkedin" }
            assert.is_nil(err)
            assert.are.equal("1647395831_42", res.providerPostIDs.facebook)
            assert.are.equal("linkedin", res.providerErrorCodes[2].provider)
            assert.are.equal("HTTP 400: echo [redacted] end", res.providerErrorCodes[2].errorDetails)
            assert_none(shown(res, err), { TOKENS.facebook })
        end
    end)

    for _, others in ipairs({ "", ",linkedin,twitter,telegram" }) do
        it("a network's echo of its own token in every encoding" .. (others == "" and " (alone)" or " (with three others)"),
            function()
            for _, enc in ipairs(policy.encodings_of(TOKENS.facebook)) do
                local events = {}
                local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
                    connections = connections(), log = function(ev) events[#events + 1] = ev end,
                    transport = function(req) return error_reply(req.provider, "bad token <" .. enc .. ">") end }
                local res, err = c:publishUserAction { UID = "u", userAction = UA,
                    enabledProviders = "facebook" .. others }
                assert.is_nil(res)
                assert.are.equal("HTTP 400, code 100: bad token <[redacted]>", err.providerErrorCodes[1].errorDetails)
                assert.are.equal("facebook: HTTP 400, code 100: bad token <[redacted]>", err.errorDetails)
                assert_none(shown(res, err, events), SECRETS.facebook)
            end
        end)
    end

    -- a transport that quotes everything it was given: the URL, the
    -- Authorization header and the body (a token in a form, in JSON, a bot
    -- token in the path, an OAuth 1.0a header)
    local function quoting(req)
        local auth = ""
        for k, v in pairs(req.headers or {}) do
            if k:lower() == "authorization" then auth = v end
        end
        return nil, "failed " .. req.method .. " " .. req.url .. " [" .. auth .. "] " .. tostring(req.body), "connect"
    end

    for _, set in ipairs({ "facebook", "twitter", "telegram", "linkedin", "twitter,facebook,linkedin,telegram" }) do
        it("the log hook and the result never see a credential: " .. set, function()
            local events = {}
            local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
                connections = connections(), log = function(ev) events[#events + 1] = ev end, transport = quoting }
            local res, err = c:publishUserAction { UID = "u", userAction = UA, enabledProviders = set }
            assert.is_nil(res)
            local n = 0
            for _ in set:gmatch("[^,]+") do n = n + 1 end
            assert.are.equal(n, #err.providerErrorCodes)
            local requests, responses = 0, 0
            for _, ev in ipairs(events) do
                if ev.event == "request" then requests = requests + 1 end
                if ev.event == "response" then
                    responses = responses + 1
                    assert.truthy(ev.error:find("[redacted]", 1, true), ev.error) -- the quote was there, scrubbed
                end
            end
            assert.are.equal(n, requests)
            assert.are.equal(n, responses)
            local text = shown(res, err, events)
            for prov in set:gmatch("[^,]+") do assert_none(text, SECRETS[prov]) end
            assert.is_nil(text:find("oauth_signature=\"", 1, true), text) -- an OAuth 1.0a header: redacted whole
        end)
    end

    it("a session the call's requests carried stays redacted after a new one replaced it", function()
        local jwt1, jwt2 = "eyJhbGciOi.first/sess+ion", "eyJhbGciOi.second/sess+ion"
        local events, logins = {}, 0
        local c = socialize.new { backend = "direct", retry = false,
            providers = { bluesky = { baseUrl = "http://127.0.0.1:9" } },
            connections = { u = { bluesky = { identifier = "me.example", appPassword = "app-pass-9" } } },
            log = function(ev) events[#events + 1] = ev end,
            transport = function(req)
                if req.url:find("createSession", 1, true) then
                    logins = logins + 1
                    return { status = 200, headers = {}, body = core.json_encode({
                        accessJwt = logins == 1 and jwt1 or jwt2, refreshJwt = "refresh-jwt-" .. logins,
                        did = "did:plc:abc", handle = "me.example" }) }
                end
                if req.url:find("refreshSession", 1, true) then
                    return { status = 400, headers = {}, body = '{"error":"ExpiredToken","message":"expired"}' }
                end
                -- the post: refused as expired with the first session, then an echo of both
                local auth = req.headers.Authorization or req.headers.authorization or ""
                if auth:find(jwt1, 1, true) then
                    return { status = 400, headers = {}, body = '{"error":"ExpiredToken","message":"Token has expired"}' }
                end
                return { status = 400, headers = {}, body = core.json_encode({ error = "InvalidRequest",
                    message = "was " .. jwt1 .. " now " .. jwt2 }) }
            end }
        local res, err = c:setStatus { UID = "u", status = "hi" }
        -- the post refused with the first session, its refresh refused, a new
        -- login, the post again with the second: its reply echoes both
        assert.is_nil(res)
        assert.are.equal(2, logins)
        assert.are.equal("HTTP 400, code InvalidRequest: was [redacted] now [redacted]",
            err.providerErrorCodes[1].errorDetails)
        local kinds = {}
        for _, ev in ipairs(events) do kinds[#kinds + 1] = ev.event end
        assert.are.same({ "request", "response", "request", "response", "session_refresh", "request", "response",
            "request", "response", "request", "response" }, kinds)
        assert_none(shown(res, err, events), { jwt1, jwt2, "refresh-jwt-1", "refresh-jwt-2", "app-pass-9" })
    end)

    it("a connection lookup's error shows none of the client's secrets", function()
        local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
            connections = function() return nil, "lookup refused bot " .. PROVIDERS.telegram.botToken end,
            transport = function() error("nothing is sent") end }
        local res, err = c:publishUserAction { UID = "u", userAction = UA, enabledProviders = "facebook" }
        assert.is_nil(res)
        assert.are.equal(400106, err.errorCode) -- not connected
        assert.are.equal("Not connected: no connections for UID u (lookup refused bot [redacted])", err.errorDetails)
    end)

    it("a network's echo cut by the core's limit inside the token: no start of it shown", function()
        -- the core keeps a network's message to 400 bytes: the token's first
        -- bytes at its end, in each encoding
        for _, enc in ipairs(policy.encodings_of(TOKENS.facebook)) do
            for _, keep in ipairs({ 4, 9, #enc - 1 }) do
                local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
                    connections = connections(),
                    transport = function() return error_reply("facebook", string.rep("p", 400 - keep) .. enc) end }
                local _, err = c:publishUserAction { UID = "u", userAction = UA, enabledProviders = "facebook" }
                local d = err.providerErrorCodes[1].errorDetails
                assert.are.equal("HTTP 400, code 100: " .. string.rep("p", 400 - keep) .. "[redacted]", d)
            end
        end
        -- a text ending in fewer than 4 bytes of one, or in its start not at the end, stays
        local list = policy.secrets({}, { secret = "abcdefgh" })
        assert.are.equal("x abc", policy.scrub("x abc", list))
        assert.are.equal("x abcdef y", policy.scrub("x abcdef y", list))
        assert.are.equal("x [redacted]", policy.scrub("x abcd", list))
        assert.are.equal("[redacted] [redacted]", policy.scrub("abcdefgh abcdefg", list))
    end)

    it("a refused connection holding a NUL byte never stands for another user's two tokens (the list's memo)", function()
        -- user a's one value "X\0Y" and user b's two values X and Y: the
        -- memo of a's list is not b's (X, in a body, is echoed alone)
        local X, Y = "fbtokenXXXX", "litokenYYYY"
        local c = socialize.new { backend = "direct", retry = false, providers = { facebook = { appSecret = "fb-app/secret+5" } },
            connections = {
                a = { facebook = { accessToken = X .. "\0" .. Y, pageId = "1647395831" } },
                b = { facebook = { accessToken = X, pageId = "1647395831" }, linkedin = { accessToken = Y, personId = "abc123" } },
            },
            transport = function(req)
                if req.provider == "facebook" then return error_reply("facebook", "bad token " .. X) end
                return { status = 201, headers = { ["x-restli-id"] = "urn:li:share:1" }, body = "" }
            end }
        local _, e1 = c:publishUserAction { UID = "a", userAction = UA, enabledProviders = "facebook,linkedin" }
        assert.are.equal("facebook: connection facebook.accessToken contains a NUL byte", e1.errorDetails)
        local res, err = c:publishUserAction { UID = "b", userAction = UA, enabledProviders = "facebook,linkedin" }
        assert.is_nil(err)
        assert.are.equal("HTTP 400, code 100: bad token [redacted]", res.providerErrorCodes[1].errorDetails)
        assert_none(shown(res, err), { X, Y })
    end)
end)

describe("redaction of a direct call: made only when needed #unit", function()
    local function ok_reply(req)
        if req.provider == "linkedin" then
            return { status = 201, headers = { ["x-restli-id"] = "urn:li:share:1" }, body = "" }
        end
        return { status = 200, headers = {}, body = '{"id":"1647395831_42"}' }
    end

    local function counting(fn)
        local orig, n = policy.auth_secrets, 0
        policy.auth_secrets = function(...) n = n + 1 return orig(...) end
        local ok, e = pcall(fn)
        policy.auth_secrets = orig
        assert(ok, e)
        return n
    end

    it("a call that succeeds makes no list; one with config.log makes one per round", function()
        local c = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
            connections = connections(), transport = ok_reply }
        local n = counting(function()
            local res = assert(c:publishUserAction { UID = "u", userAction = UA, enabledProviders = "facebook,linkedin" })
            assert.are.equal("1647395831_42", res.providerPostIDs.facebook)
        end)
        assert.are.equal(0, n)
        local events = {}
        local cl = socialize.new { backend = "direct", retry = false, providers = PROVIDERS,
            connections = connections(), transport = ok_reply, log = function(ev) events[#events + 1] = ev end }
        n = counting(function()
            assert(cl:publishUserAction { UID = "u", userAction = UA, enabledProviders = "facebook,linkedin" })
        end)
        assert.are.equal(1, n) -- one round of two requests
        assert.are.equal(4, #events)
    end)
end)

describe("redaction of the connections' own requests #unit", function()
    local H = require("spec.helper")
    local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    local n = 0
    local function db()
        n = n + 1
        return "sqlite:" .. H.tmpdir .. "/redact-scope-" .. os.time() .. "-" .. math.random(1, 1e9) .. "-" .. n .. ".db"
    end
    -- a transport that quotes the whole request in its error
    local function quoting(req)
        local h = {}
        for k, v in pairs(req.headers or {}) do h[#h + 1] = k .. ": " .. v end
        table.sort(h)
        return nil, "failed " .. req.url .. " [" .. table.concat(h, "; ") .. "] " .. tostring(req.body), "connect"
    end

    it("a stored connection's refresh: the refresh token and the client secret, quoted by a transport error", function()
        local events = {}
        local c = socialize.new { backend = "direct", retry = false, transport = quoting,
            providers = { twitter = { clientId = "cid", clientSecret = "CLIENT/secret+1" } },
            store = { url = db(), keys = { KEY } }, log = function(ev) events[#events + 1] = ev end }
        local st = assert(c:store())
        assert(st:put_connection({ UID = "u", provider = "twitter", account = "2244994945",
            secrets = { accessToken = "AT/old+token-1", refreshToken = "RT/refresh+token-2" },
            expiresAt = os.time() - 10 }))
        local res, err = c:publishUserAction { UID = "u", userAction = UA, enabledProviders = "twitter" }
        assert.is_nil(res)
        local d = err.providerErrorCodes[1].errorDetails
        assert.truthy(d:find("the token expired and its refresh failed: ", 1, true), d)
        assert.truthy(d:find("[redacted]", 1, true), d) -- the body was quoted, its token scrubbed
        local text = shown(res, err, events)
        assert.truthy(text:find("failed ", 1, true), text)
        assert_none(text, { "RT/refresh+token-2", "AT/old+token-1", "CLIENT/secret+1" })
    end)

    it("a credentials login (connect): the app password quoted by a transport error", function()
        local events = {}
        local c = socialize.new { backend = "direct", retry = false, transport = quoting,
            providers = { bluesky = { baseUrl = "http://127.0.0.1:9" } },
            store = { url = db(), keys = { KEY } }, log = function(ev) events[#events + 1] = ev end }
        local r, err = c:connect { UID = "u", provider = "bluesky", identifier = "alice.test",
                                   appPassword = "app/pass+word-9" }
        assert.is_nil(r)
        assert.truthy(err.errorDetails:find("failed ", 1, true), err.errorDetails)
        assert.truthy(err.errorDetails:find("[redacted]", 1, true), err.errorDetails)
        assert_none(shown(r, err, events), { "app/pass+word-9" })
    end)
end)
