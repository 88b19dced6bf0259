-- Adversarial rows against connections (issue 13) and the outbox and its
-- command (issue 14): hostile callers, callbacks, networks and stores. Each
-- row names the hostile input and the named error it must get; nothing is
-- sent to a network (a recording transport).
local H = require("spec.helper")
local socialize = require("socialize")

local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local n = 0
local function db()
    n = n + 1
    return "sqlite:" .. H.tmpdir .. "/attack-connect-" .. os.time() .. "-" .. math.random(1, 1e9) .. "-" .. n .. ".db"
end

local function recorder(replies)
    local rec = { sent = {} }
    rec.transport = function(req)
        rec.sent[#rec.sent + 1] = req
        return table.remove(replies or {}, 1) or { status = 500, headers = {}, body = "no" }
    end
    return rec
end

local function client(rec, url)
    return socialize.new {
        backend = "direct", transport = rec.transport, retry = false,
        providers = { twitter = { clientId = "cid", clientSecret = "CLIENTSECRET" },
                      facebook = { appId = "1", appSecret = "FBSECRET" } },
        store = { url = url or db(), keys = { KEY } },
    }
end

describe("attack: NUL bytes in connect parameters and callbacks", function()
    local ROWS = {
        { "connect UID", "connect", { UID = "u\0b", provider = "twitter", redirectURI = "https://a/cb" }, "UID" },
        { "connect redirectURI", "connect", { UID = "u", provider = "twitter", redirectURI = "https://a/\0" },
          "redirectURI" },
        { "getUserInfo UID", "getUserInfo", { UID = "u\0" }, "UID" },
        { "removeConnection UID", "removeConnection", { UID = "u\0" }, "UID" },
        { "selectPage UID", "selectPage", { UID = "u\0", provider = "facebook", pageId = "1" }, "UID" },
        { "callback state (string)", "finishConnect", "state=a%00b&code=x", "state" },
        { "callback state (table)", "finishConnect", { state = "a\0b", code = "x" }, "state" },
        { "callback oauth_token", "finishConnect", { oauth_token = "a\0", oauth_verifier = "v" }, "oauth_token" },
        { "callback denied", "finishConnect", "denied=a%00", "denied" },
    }
    for _, r in ipairs(ROWS) do
        it(r[1] .. " answers 400006 naming " .. r[4] .. ", raises nothing, sends nothing", function()
            local rec = recorder()
            local c = client(rec)
            local ok, res, err = pcall(c[r[2]], c, r[3])
            assert.is_true(ok, tostring(res))
            assert.is_nil(res)
            assert.equal(400006, err.errorCode)
            assert.truthy(tostring(err.errorDetails):find(r[4], 1, true), err.errorDetails)
            assert.equal(0, #rec.sent)
        end)
    end
end)

describe("attack: a token endpoint echoing the request in its error", function()
    local function reply(status, body)
        return { status = status, headers = { ["content-type"] = "application/json" }, body = body }
    end
    local TOKENS = reply(200, '{"access_token":"ACCESS-TOKEN-1","refresh_token":"REFRESH-TOKEN-1","expires_in":7200,'
        .. '"scope":"tweet.write","token_type":"bearer"}')
    local function echo(extra)
        return reply(400, '{"error":"invalid_request","error_description":"client CLIENTSECRET code CODE-abcdef '
            .. 'refresh REFRESH-TOKEN-1 access ACCESS-TOKEN-1 ' .. (extra or "") .. '"}')
    end
    local function clean(s, list)
        for _, secret in ipairs(list or { "CLIENTSECRET", "CODE-abcdef" }) do
            assert.is_nil(tostring(s):find(secret, 1, true), secret .. " in: " .. tostring(s))
        end
    end

    it("finishConnect's error shows neither the client secret nor the code", function()
        local c = client(recorder({ echo() }))
        local s = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = "https://app/cb", scopes = "tweet.write" })
        local id, err = c:finishConnect("state=" .. s.state .. "&code=CODE-abcdef")
        assert.is_nil(id)
        assert.matches("invalid_request", err.errorDetails, 1, true)
        clean(err.errorDetails)
    end)

    it("a refresh's error shows neither the refresh token nor the access token", function()
        local now = 1000000
        local queue = { TOKENS, reply(200, '{"data":{"id":"123","username":"bob"}}') }
        local rec = recorder(queue)
        local c = socialize.new {
            backend = "direct", transport = rec.transport, retry = false, clock = function() return now end,
            providers = { twitter = { clientId = "cid", clientSecret = "CLIENTSECRET" } },
            store = { url = db(), keys = { KEY } },
        }
        local s = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = "https://app/cb", scopes = "tweet.write" })
        assert(c:finishConnect("state=" .. s.state .. "&code=CODE-abcdef"))
        now = now + 8000
        queue[1] = echo("invalid_grant")
        local r, err = c:publishUserAction { UID = "u1", userAction = { title = "t" }, enabledProviders = "twitter" }
        local res = r or err
        assert.matches("invalid_request", res.errorDetails, 1, true)
        local list = { "CLIENTSECRET", "REFRESH-TOKEN-1", "ACCESS-TOKEN-1" }
        clean(res.errorDetails, list)
        for _, e in ipairs(res.providerErrorCodes or {}) do clean(e.errorDetails, list) end
    end)
end)

describe("attack: a queued call's params are stored in clear", function()
    local path
    local function queued_client()
        path = H.tmpdir .. "/attack-outbox-" .. os.time() .. "-" .. math.random(1, 1e9) .. ".db"
        return socialize.new {
            backend = "direct", transport = recorder().transport, retry = false,
            providers = { mastodon = {} },
            store = { url = "sqlite:" .. path, keys = { KEY } },
            connections = function() return { mastodon = { accessToken = "MASTO-TOKEN", instance = "https://m.example" } } end,
        }
    end
    local function file() local f = assert(io.open(path, "rb")) local s = f:read("*a") f:close() return s end
    for _, k in ipairs({ "secret", "password", "accessToken", "refreshToken", "appPassword", "connections" }) do
        it("params." .. k .. " is refused (400006 naming it), nothing is queued", function()
            local c = queued_client()
            local p = { UID = "u", userAction = { title = "t" } }
            p[k] = k == "connections" and { mastodon = { accessToken = "PER-CALL-TOKEN" } } or "PER-CALL-TOKEN"
            local r, err = c:publishUserAction(p, { deliver = "queued" })
            assert.is_nil(r)
            assert.equal(400006, err.errorCode)
            assert.matches("params." .. k, err.errorDetails, 1, true)
            assert.is_nil(err.errorDetails:find("PER-CALL-TOKEN", 1, true))
            local list = assert(c:jobs { limit = 10 })
            assert.equal(0, #list.jobs)
            assert.is_nil(file():find("PER-CALL-TOKEN", 1, true))
        end)
    end
end)

describe("attack: a refresh slower than its lease", function()
    it("with config.timeout = 60 another process cannot take the lease 31 s into the refresh", function()
        local store = require("socialize.store")
        local url = db()
        local now = 1000000
        local taken
        local queue = {
            { status = 200, headers = {}, body = '{"access_token":"ACCESS-TOKEN-1","refresh_token":"REFRESH-TOKEN-1",'
                .. '"expires_in":7200,"scope":"tweet.write","token_type":"bearer"}' },
            { status = 200, headers = {}, body = '{"data":{"id":"123","username":"bob"}}' },
        }
        local refreshing = false
        local function transport(req)
            if refreshing and req.url:find("token", 1, true) then
                -- another process, 31 s later (the request may take up to the 60 s timeout)
                local other = assert(store.open(url, { keys = { KEY } }))
                taken = { other:lock("u1", "twitter", store.now_ms() + 31000, 30000) }
                other:close()
                return { status = 503, headers = {}, body = "busy" }
            end
            return table.remove(queue, 1) or { status = 500, headers = {}, body = "no" }
        end
        local c = socialize.new {
            backend = "direct", transport = transport, retry = false, timeout = 60, clock = function() return now end,
            providers = { twitter = { clientId = "cid", clientSecret = "CLIENTSECRET" } },
            store = { url = url, keys = { KEY } },
        }
        local s = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = "https://app/cb", scopes = "tweet.write" })
        assert(c:finishConnect("state=" .. s.state .. "&code=CODE-abcdef"))
        now = now + 8000
        refreshing = true
        c:publishUserAction { UID = "u1", userAction = { title = "t" }, enabledProviders = "twitter" }
        assert.truthy(taken, "no refresh was sent")
        assert.is_nil(taken[1], "the lease was taken over while the refresh token was on its way")
        assert.equal("lock_busy", taken[3])
    end)
end)

describe("attack: values the store refuses are the caller's error (400006), not the server's", function()
    local BIG = ("a"):rep(100000)
    local ROWS = {
        { "callback state not UTF-8", "finishConnect", "state=%ff%fe&code=x", "state" },
        { "callback state of 100 kB", "finishConnect", { state = BIG, code = "x" }, "state" },
        { "callback oauth_token not UTF-8", "finishConnect", "oauth_token=%c0%80&oauth_verifier=v", "state" },
        { "connect UID not UTF-8", "connect", { UID = "\255u", provider = "twitter", redirectURI = "https://a/cb" }, "UID" },
        { "connect UID of 100 kB", "connect", { UID = BIG, provider = "twitter", redirectURI = "https://a/cb" }, "UID" },
        { "getUserInfo UID not UTF-8", "getUserInfo", { UID = "\192\128" }, "UID" },
        { "removeConnection UID of 100 kB", "removeConnection", { UID = BIG }, "UID" },
    }
    for _, r in ipairs(ROWS) do
        it(r[1] .. " answers 400006 naming " .. r[4] .. ", sends nothing", function()
            local rec = recorder()
            local c = client(rec)
            local ok, res, err = pcall(c[r[2]], c, r[3])
            assert.is_true(ok, tostring(res))
            assert.is_nil(res)
            assert.equal(400006, err.errorCode, err.errorDetails)
            assert.truthy(tostring(err.errorDetails):find(r[4], 1, true), err.errorDetails)
            assert.is_true(#err.errorDetails < 300)
            assert.equal(0, #rec.sent)
        end)
    end
end)

describe("attack: a session login echoing the app password in its error", function()
    it("connect's error does not show the app password", function()
        local rec = recorder({ { status = 401, headers = { ["content-type"] = "application/json" },
            body = '{"error":"AuthenticationRequired","message":"bad password APPPASS-1234-abcd for alice.test"}' } })
        local c = socialize.new {
            backend = "direct", transport = rec.transport, retry = false, providers = { bluesky = {} },
            store = { url = db(), keys = { KEY } },
        }
        local r, err = c:connect { UID = "u", provider = "bluesky", identifier = "alice.test",
                                   appPassword = "APPPASS-1234-abcd" }
        assert.is_nil(r)
        assert.equal(1, #rec.sent)
        assert.matches("AuthenticationRequired", err.errorDetails, 1, true)
        assert.is_nil(err.errorDetails:find("APPPASS-1234-abcd", 1, true), err.errorDetails)
    end)
end)

describe("attack: a PostgreSQL URL libpq cannot use", function()
    local store = require("socialize.store")
    local URLS = {
        "postgresql://u:SECRETPW%zz@127.0.0.1:1/db",
        "postgresql://u:SECRETPW@[::1/db",
        "postgresql://u:pw@127.0.0.1:1/db?password=SECRETPW%zz",
        "postgresql://u:SECRET@PW@127.0.0.1:1/db",
    }
    for _, url in ipairs(URLS) do
        it("never shows its password: " .. url:gsub("SECRET", "S..."), function()
            local s, err, name = store.open(url, { plaintext = true })
            assert.is_nil(s)
            assert.matches("postgresql", err, 1, true)
            assert.is_string(name)
            assert.is_nil(err:find("SECRET", 1, true), err)
            assert.is_nil(err:find("PW", 1, true), err)
        end)
    end
end)

describe("attack: the command's scrubber and the store URL's password", function()
    it("secrets_of counts the password of config.store's PostgreSQL URL (string or table)", function()
        local cli = require("socialize.cli")
        for _, store in ipairs({ "postgresql://app:S3cret%40pw@db.example/socialize",
                                 { url = "postgres://app:S3cret%40pw@db.example/socialize" } }) do
            local list = cli.secrets_of({ backend = "direct", store = store }, {})
            local text = require("socialize.policy").scrub("a S3cret@pw b S3cret%40pw c", list)
            assert.equal("a [redacted] b [redacted] c", text)
        end
    end)
end)

describe("attack: client:jobs filters", function()
    local ROWS = {
        { "status with a NUL byte", { status = "queued\0" }, "status" },
        { "status that is no job status", { status = "queued' OR 1=1 --" }, "status" },
        { "UID of 100 kB", { UID = ("u"):rep(100000) }, "UID" },
        { "UID not UTF-8", { UID = "\255" }, "UID" },
    }
    for _, r in ipairs(ROWS) do
        it(r[1] .. " answers 400006 naming " .. r[3], function()
            local c = client(recorder())
            local ok, res, err = pcall(c.jobs, c, r[2])
            assert.is_true(ok, tostring(res))
            assert.is_nil(res)
            assert.equal(400006, err.errorCode, err.errorDetails)
            assert.truthy(err.errorDetails:find(r[3], 1, true), err.errorDetails)
        end)
    end
    it("each documented status is accepted", function()
        local c = client(recorder())
        for _, s in ipairs({ "queued", "active", "unconfirmed", "sent", "partial", "dead", "cancelled" }) do
            local res, err = c:jobs { status = s }
            assert.truthy(res, err and err.errorDetails)
            assert.equal(0, #res.jobs)
        end
    end)
end)

describe("attack: a jobID the store refuses", function()
    it("client:job with a jobID that is not UTF-8 answers 400006 naming jobID", function()
        local c = client(recorder())
        local res, err = c:job("\255\254")
        assert.is_nil(res)
        assert.equal(400006, err.errorCode, err.errorDetails)
        assert.matches("jobID", err.errorDetails, 1, true)
    end)
end)
