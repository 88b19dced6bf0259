-- Adversarial rows found after issue 9 ("Hardening"): each row names its
-- class, the hostile input, the named error it must get, and proves that
-- nothing was sent (a recording transport that never touches a network).
local socialize = require("socialize")

local SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="

-- A transport that records every request and answers like the networks would.
local function recorder()
    local rec = { sent = {} }
    rec.transport = function(req)
        rec.sent[#rec.sent + 1] = req
        if req.url:find("createSession", 1, true) then
            return { status = 200, headers = {},
                     body = '{"accessJwt":"jwt-' .. #rec.sent .. '","refreshJwt":"r","did":"did:plc:x","handle":"h"}' }
        end
        return { status = 200, headers = {}, body = '{"id":"1","uri":"at://did:plc:x/p/1","cid":"c"}' }
    end
    return rec
end

local function direct(rec, conn)
    return socialize.new {
        backend = "direct", transport = rec.transport, retry = false,
        providers = { facebook = { appSecret = "fb-app-secret" }, telegram = { botToken = "123:bot" }, bluesky = {} },
        connections = { u = conn },
    }
end

local function gigya(rec)
    return socialize.new { apiKey = "k", secret = SECRET, url = "http://127.0.0.1:9", transport = rec.transport,
                           retry = false }
end

local FB = { accessToken = "fb-page-token", pageId = "1647395831" }
local function fb(extra)
    local t = {}
    for k, v in pairs(FB) do t[k] = v end
    for k, v in pairs(extra or {}) do t[k] = v end
    return { facebook = t }
end

-- Hostile metatables on parameter tables.
local function raising(mm)
    return function() return setmetatable({ title = "t" }, { [mm] = function() error("hostile " .. mm) end }) end
end
local function yielding()
    return setmetatable({}, { __pairs = function(t) return function() coroutine.yield("x") end, t, nil end })
end

local ROWS = {}
local function row(r) ROWS[#ROWS + 1] = r end

-- 1. A Facebook pageId is a path segment of the URL: only a numeric Page id.
for _, pid in ipairs({ "1/../../me?x=", "..", ".", "1?fields=x", "1#", "1%2F..", "1\\x", "me", "1 2", "-1" }) do
    row { class = "path injection", name = "facebook pageId " .. ("%q"):format(pid), backend = direct,
          conn = fb({ pageId = pid }), method = "publishUserAction",
          params = { UID = "u", userAction = { title = "t" }, enabledProviders = "facebook" },
          code = 400006, text = "pageId must be a numeric Page id" }
end

-- 2. graphParams cannot replace the connection's credentials.
for _, k in ipairs({ "access_token", "appsecret_proof" }) do
    for _, m in ipairs({ "GET", "POST" }) do
        row { class = "forged credentials", name = "graphParams." .. k .. " (" .. m .. ")", backend = direct,
              conn = fb(), method = "facebookGraphOperation",
              params = { UID = "u", graphPath = "/me/feed", method = m, graphParams = { [k] = "other", a = "b" } },
              code = 400006, text = "graphParams." .. k }
    end
end

-- 3. graphPath: percent-encoded dot segments and backslashes.
for _, gp in ipairs({ "/%2e%2e/%2e%2e/x", "/me/%2E%2E/feed", "/me%2ffeed", "/me\\feed" }) do
    row { class = "path injection", name = "graphPath " .. ("%q"):format(gp), backend = direct, conn = fb(),
          method = "facebookGraphOperation", params = { UID = "u", graphPath = gp, graphParams = { a = "b" } },
          code = 400006, text = "graphPath must be a path" }
end

-- 4. Parameter tables whose metatable raises or yields: 400006, both
-- backends, blocking and asynchronous.
-- Lua 5.1 and LuaJIT have no __pairs: there the raw contents are read, so
-- the __pairs rows exist only where pairs() honours it.
local HAS_PAIRS_MM = not pcall(pairs, setmetatable({}, { __pairs = function() error("x") end }))
local HOSTILE = { { "__index raises", raising("__index") } }
if HAS_PAIRS_MM then
    HOSTILE[#HOSTILE + 1] = { "__pairs raises", raising("__pairs") }
    HOSTILE[#HOSTILE + 1] = { "__pairs yields", yielding }
end
for _, b in ipairs(HOSTILE) do
    for _, mode in ipairs({ "sync", "async" }) do
        -- a yield inside an asynchronous call is a host function yielding
        -- (documented: 500001, through the callback); blocking: 400006
        local code, text = 400006, "params could not be read"
        if mode == "async" and b[1]:find("yields") then code, text = 500001, "yielded" end
        row { class = "encode", name = "direct " .. mode .. ": userAction " .. b[1], backend = direct,
              conn = { telegram = { chatId = "5" } }, method = "publishUserAction", mode = mode,
              params = function() return { UID = "u", userAction = b[2](), enabledProviders = "telegram" } end,
              code = code, text = text }
        row { class = "encode", name = "gigya " .. mode .. ": userAction " .. b[1], backend = gigya,
              method = "publishUserAction", mode = mode,
              params = function() return { UID = "u", userAction = b[2]() } end,
              code = code, text = text }
    end
end

local function run(r)
    local rec = recorder()
    local c = r.backend(rec, r.conn)
    local params = type(r.params) == "function" and r.params() or r.params
    local res, err
    if r.mode == "async" then
        local calls = 0
        c[r.method](c, params, function(a, b) calls = calls + 1 res, err = a, b end)
        for _ = 1, 100 do if c:poll(0) == 0 then break end end
        assert.are.equal(1, calls)
    else
        res, err = c[r.method](c, params)
    end
    c:close()
    return res, err, rec.sent
end

describe("attack rows", function()
    for _, r in ipairs(ROWS) do
        it(r.class .. ": " .. r.name .. " answers " .. r.code .. " and sends nothing", function()
            local res, err, sent = run(r)
            assert.is_nil(res)
            assert.is_table(err)
            assert.are.equal(r.code, err.errorCode)
            local msg = tostring(err.errorMessage) .. " " .. tostring(err.errorDetails)
            assert.truthy(msg:find(r.text, 1, true), msg)
            assert.are.equal(0, #sent)
        end)
    end
end)

describe("attack: Bluesky sessions", function()
    local function post(c, uid)
        return c:publishUserAction { UID = uid, userAction = { title = "t" }, enabledProviders = "bluesky" }
    end

    it("a session is never sent to another connection's pds", function()
        local rec = recorder()
        local c = socialize.new {
            backend = "direct", transport = rec.transport, retry = false, providers = { bluesky = {} },
            connections = {
                a = { bluesky = { identifier = "alice.example", appPassword = "right", pds = "https://pds.example" } },
                b = { bluesky = { identifier = "alice.example", appPassword = "right", pds = "https://evil.example" } },
            },
        }
        assert.truthy(post(c, "a"))
        assert.truthy(post(c, "b"))
        c:close()
        for _, req in ipairs(rec.sent) do
            if req.url:find("evil.example", 1, true) then
                assert.are_not.equal("Bearer jwt-1", req.headers.Authorization)
            end
        end
        assert.truthy(rec.sent[3].url:find("^https://evil%.example/xrpc/com%.atproto%.server%.createSession"))
    end)

    it("a connection with another app password does not borrow the cached session", function()
        local rec = recorder()
        local c = socialize.new {
            backend = "direct", transport = rec.transport, retry = false, providers = { bluesky = {} },
            connections = {
                a = { bluesky = { identifier = "alice.example", appPassword = "right", pds = "https://pds.example" } },
                b = { bluesky = { identifier = "alice.example", appPassword = "wrong", pds = "https://pds.example" } },
            },
        }
        assert.truthy(post(c, "a"))
        post(c, "b")
        c:close()
        assert.are.equal(4, #rec.sent)
        assert.truthy(rec.sent[3].url:find("createSession", 1, true))
        assert.truthy(rec.sent[3].body:find('"password":"wrong"', 1, true))
    end)

    it("the same account still reuses its session", function()
        local rec = recorder()
        local conn = { bluesky = { identifier = "alice.example", appPassword = "right", pds = "https://pds.example" } }
        local c = socialize.new { backend = "direct", transport = rec.transport, retry = false,
                                  providers = { bluesky = {} }, connections = { a = conn, b = conn } }
        assert.truthy(post(c, "a"))
        assert.truthy(post(c, "b"))
        c:close()
        assert.are.equal(3, #rec.sent)
    end)
end)

describe("attack: Authorization values quoted by a transport error", function()
    -- a transport whose error message quotes the whole request, headers included
    local function quoting(req)
        if req.url:find("createSession", 1, true) then
            return { status = 200, headers = {},
                     body = '{"accessJwt":"jwt-session-value","refreshJwt":"r-value","did":"did:plc:x"}' }
        end
        local h = {}
        for k, v in pairs(req.headers or {}) do h[#h + 1] = k .. ": " .. v end
        table.sort(h)
        return nil, "connect failed for " .. req.url .. " with " .. table.concat(h, "; "), "connect"
    end
    for _, mode in ipairs({ "sync", "sync+log", "async" }) do
        it("never shows them (" .. mode .. ")", function()
            local logs, auth = {}, {}
            local c = socialize.new {
                backend = "direct", retry = false,
                transport = function(req)
                    for k, v in pairs(req.headers or {}) do
                        if k:lower() == "authorization" then auth[#auth + 1] = v end
                    end
                    return quoting(req)
                end,
                log = mode == "sync+log" and function(e) logs[#logs + 1] = require("socialize.core").json_encode(e) end or nil,
                providers = { twitter = { consumerKey = "ck-public", consumerSecret = "cs-secret-value" },
                              bluesky = { baseUrl = "https://bsky.example" } },
                connections = { u = { twitter = { token = "tw-token-value", tokenSecret = "tw-token-secret", userId = "1" },
                                      bluesky = { identifier = "id.example", appPassword = "app-pass-value" } } },
            }
            local params = { UID = "u", userAction = { title = "t" }, enabledProviders = "twitter,bluesky" }
            local res, err
            if mode == "async" then
                c:publishUserAction(params, function(a, b) res, err = a, b end)
                for _ = 1, 100 do if c:poll(0) == 0 then break end end
            else
                res, err = c:publishUserAction(params)
            end
            c:close()
            assert.is_nil(res)
            local shown = require("socialize.core").json_encode(err) .. tostring(err) .. table.concat(logs, "\n")
            assert.truthy(shown:find("connect failed", 1, true))
            assert.are.equal(2, #auth)
            for _, v in ipairs(auth) do
                assert.falsy(shown:find(v, 1, true), v)
                local sig = v:match('oauth_signature="([^"]*)"')
                if sig then assert.falsy(shown:find(sig, 1, true), sig) end
            end
            assert.falsy(shown:find("jwt-session-value", 1, true))
        end)
    end
end)
