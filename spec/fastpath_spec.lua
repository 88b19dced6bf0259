-- The one-C-call path of a blocking Gigya call (issue 15: socialize.curl's
-- s:gigya through core.capi, taken by socialize.engine's ctx.fast on the
-- built-in curl transport without config.log) against the general path (the
-- Lua request table, taken here because config.log is set): the same request
-- bytes on the wire, the same answers, the same errors.
local H = require("spec.helper")
local socialize = require("socialize")

local G, F

-- A client on the fake Gigya (or url); fast: the one-C-call path (counted),
-- else the general one (a config.log that logs nothing takes it).
local T0 = os.time() -- one signing time for both clients: the same bytes
local function client(fast, extra)
    local k = 0
    local cfg = { apiKey = H.API_KEY, secret = H.SECRET, url = G.http, timeout = 20, retry = false,
                  clock = function() return T0 end, nonce = function() k = k + 1 return "fixed-nonce-" .. k end }
    if not fast then cfg.log = function() end end
    for key, v in pairs(extra or {}) do
        if v == H.NONE then cfg[key] = nil else cfg[key] = v end
    end
    local c = socialize.new(cfg)
    local t = c._engine._transport
    local counter = { n = 0 }
    if fast then
        assert.is_function(t.gigya, "the built-in curl transport offers the one-C-call path")
        local g = t.gigya
        t.gigya = function(...) counter.n = counter.n + 1 return g(...) end
    end
    return c, counter
end

-- What may differ between two answers to the same request: the server's callId, time, post IDs
-- and user signature (signed at its clock's second), and the milliseconds libcurl's messages quote.
local function same_answer(a, b)
    local function strip(v)
        if type(v) == "string" then return (v:gsub("after %d+ ms", "after N ms")) end -- libcurl's timing
        if type(v) ~= "table" then return v end
        local o = {}
        for k, x in pairs(v) do
            if k ~= "callId" and k ~= "time" and k ~= "signatureTimestamp" and k ~= "UIDSignature" then
                o[k] = strip(x)
            end
            if k == "providerPostIDs" then o[k] = true end -- the fake's are random
        end
        return o
    end
    assert.same(strip(a), strip(b))
end

-- The request the fake received for one call through c (the fake reset before).
local function sent(c, method, params)
    H.reset(G)
    local res, err = c:call(method, params)
    local reqs = H.requests(G)
    return reqs, res, err
end

local UA = '{"title":"A title","description":"d\\u00e9j\\u00e0 vu","linkBack":"https://example.com/a?b=c&d=e",'
    .. '"mediaItems":[{"type":"image","src":"https://example.com/i.png","href":"https://example.com/"}]}'

describe("one C call from the parameters to the reply #fakes", function()
    setup(function()
        G = H.start_gigya()
        F = H.start_faults()
    end)
    teardown(function() H.stop_all() end)

    it("is taken by a blocking call on the built-in curl transport", function()
        local c, n = client(true)
        assert(c:publishUserAction { UID = "user_123", userAction = UA })
        assert(c:setStatus { UID = "user_123", status = "s" })
        assert.equal(2, n.n)
    end)

    it("takes core.capi only: any other value passed as capi is refused unread, nothing sent", function()
        local core, curl = require("socialize.core"), require("socialize.curl")
        local s = curl.new { timeout = 5 }
        local opts = {}
        for k, v in pairs(client(true)._engine:context().options) do opts[k] = v end
        opts.method, opts.timestamp, opts.nonce = "socialize.setStatus", os.time(), "capi-nonce"
        local params = { UID = "user_123", status = "s" }
        -- light userdata a caller can reach: each points at something else
        -- (the nonce generator's 16 bytes, the FFI table, an upvalue) or at nothing
        local ffi_api, _, nonce_state = core.ffi()
        local others = { core.null, ffi_api, nonce_state, {}, "capi", 1, true, io.stdout, s, print,
            setmetatable({}, { __index = function() return 0 end }) }
        if debug.upvalueid then
            others[#others + 1] = debug.upvalueid(core.publish_plain, 1) -- a C closure's upvalue slot
            local up = 1
            others[#others + 1] = debug.upvalueid(function() return up end, 1)
        end
        H.reset(G)
        for i, v in ipairs(others) do
            assert.is_false(curl.capi_ok(v), "#" .. i)
            local ok, err = pcall(s.gigya, s, v, opts, params, 5)
            assert.is_false(ok, "#" .. i)
            assert.matches("not socialize.core's C interface", err, 1, true)
        end
        assert.is_false(curl.capi_ok())
        assert.equal(0, #H.requests(G))
        -- the registry entry the transport reads behind, replaced: refused too
        local reg = debug.getregistry and debug.getregistry()
        if reg then
            local saved = reg["socialize.core.capi"]
            assert.equal(core.capi, saved)
            reg["socialize.core.capi"] = nonce_state
            local refused = not curl.capi_ok(core.capi)
            reg["socialize.core.capi"] = saved
            assert.is_true(refused)
        end
        assert.is_true(curl.capi_ok(core.capi))
        -- options whose __index closes the session while the core reads them: nothing sent
        local s2 = curl.new { timeout = 5 }
        local closing = setmetatable({}, { __index = function(_, k)
            if k == "sdk" then s2:close() end
            return opts[k]
        end })
        local ok2, err2 = pcall(s2.gigya, s2, core.capi, closing, params, 5)
        assert.is_false(ok2)
        assert.matches("session is closed", err2, 1, true)
        assert.equal(0, #H.requests(G))
        local res = assert(s:gigya(core.capi, opts, params, 5))
        assert.equal(0, res.errorCode)
        assert.equal(1, #H.requests(G))
        s:close()
    end)

    it("is not offered with config.log, nor on a host's transport", function()
        local c = client(false)
        assert.is_nil(c._engine:context().fast)
        local h = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = G.http,
            transport = function() return { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200}' } end }
        assert.is_nil(h._engine._transport.gigya)
        assert.is_nil(h._engine:context().fast)
        assert(h:setStatus { UID = "user_123", status = "s" })
    end)

    for _, case in ipairs({
        { "socialize.publishUserAction", { UID = "user_123", userAction = UA, cid = "c1", shortURLs = "never" } },
        { "socialize.publishUserAction", { UID = "user_123", userAction = assert(require("socialize.core").json_decode(UA)) } },
        { "socialize.setStatus", { UID = "user_123", status = "caf\195\169 & <b>+%20</b>", enabledProviders = "facebook,twitter" } },
        { "socialize.getUserInfo", { UID = "user_123" } },
    }) do
        it("sends the same bytes and answers the same: " .. case[1], function()
            local fast, n = client(true)
            local slow = client(false)
            local r1, res1, err1 = sent(fast, case[1], case[2])
            local r2, res2, err2 = sent(slow, case[1], case[2])
            assert.equal(1, n.n)
            assert.equal(1, #r1)
            assert.equal(1, #r2)
            assert.equal(r2[1].path, r1[1].path)
            assert.equal(r2[1].body, r1[1].body)
            assert.truthy(r1[1].body:find("&sig=", 1, true))
            local h1, h2 = r1[1].headers, r2[1].headers
            for _, k in ipairs({ "content-type", "user-agent", "content-length", "authorization", "expect" }) do
                assert.equal(h2[k], h1[k], k)
            end
            same_answer(res2, res1)
            same_answer(err2, err1)
        end)
    end

    -- the other auth modes (an Authorization header, a token), over HTTPS
    for _, auth in ipairs({ "jwt", "oauth2", "secret" }) do
        it("sends the same bytes and answers the same with auth " .. auth, function()
            local extra = { url = G.https, cafile = G.ca }
            if auth == "jwt" then
                extra.userKey, extra.privateKey, extra.secret = H.JWT_USER_KEY, H.read(H.key("jwt.pem")), H.NONE
            elseif auth == "oauth2" then
                extra.accessToken, extra.secret = H.TOKEN, H.NONE
            else
                extra.auth = "secret"
            end
            local fast, n = client(true, extra)
            local slow = client(false, extra)
            assert.equal(auth, fast.auth)
            local r1, res1, err1 = sent(fast, "socialize.getUserInfo", { UID = "user_123" })
            local r2, res2, err2 = sent(slow, "socialize.getUserInfo", { UID = "user_123" })
            assert.equal(1, n.n)
            assert.is_nil(err1)
            assert.equal(r2[1].body, r1[1].body)
            assert.equal(r2[1].headers.authorization, r1[1].headers.authorization)
            assert.equal(r2[1].scheme, r1[1].scheme)
            same_answer(res2, res1)
            same_answer(err2, err1)
        end)
    end

    it("answers the server's error as the general path does", function()
        local fast, n = client(true, { apiKey = "3_unknown" })
        local slow = client(false, { apiKey = "3_unknown" })
        local _, res1, err1 = sent(fast, "socialize.setStatus", { UID = "user_123", status = "s" })
        local _, res2, err2 = sent(slow, "socialize.setStatus", { UID = "user_123", status = "s" })
        assert.equal(1, n.n)
        assert.is_nil(res1)
        assert.equal(400093, err1.errorCode)
        assert.is_nil(res2)
        same_answer(err2, err1)
    end)

    it("learns the clock from Date and retries an expired request", function()
        local function skewed(fast)
            H.reset(G)
            H.configure(G, { skew = 3600 })
            local c, n = client(fast, { clock = H.NONE, nonce = H.NONE })
            local res, err = c:setStatus { UID = "user_123", status = "s" }
            local reqs = H.requests(G)
            H.configure(G, { skew = 0 })
            return res, err, c.clock_offset, #reqs, n.n
        end
        local res1, err1, off1, k1, n1 = skewed(true)
        local res2, err2, off2, k2 = skewed(false)
        assert.is_nil(err1)
        assert.is_nil(err2)
        same_answer(res2, res1)
        assert.equal(2, k1)
        assert.equal(2, k2)
        assert.equal(2, n1)
        assert.is_true(math.abs(off1 - 3600) <= 2, tostring(off1))
        assert.is_true(math.abs(off2 - 3600) <= 2, tostring(off2))
    end)

    -- transport errors (their messages redacted alike) and replies that do not read
    for _, fault in ipairs({ "drop", "reset", "truncated", "badjson", "utf8", "html", "e500", "e503", "redirect",
                             "empty", "huge" }) do
        it("fails as the general path does: " .. fault, function()
            local extra = { url = F.http .. "/" .. fault, maxReplyBytes = 1024 * 1024 }
            local fast, n = client(true, extra)
            local slow = client(false, extra)
            local res1, err1 = fast:setStatus { UID = "user_123", status = "s" }
            local res2, err2 = slow:setStatus { UID = "user_123", status = "s" }
            assert.equal(1, n.n)
            assert.is_nil(res1)
            assert.is_nil(res2)
            assert.truthy(err1.errorCode ~= 0)
            same_answer(err2, err1)
        end)
    end

    it("fails as the general path does when nothing listens", function()
        local extra = { url = "http://127.0.0.1:1" }
        local fast, n = client(true, extra)
        local slow = client(false, extra)
        local _, err1 = fast:setStatus { UID = "user_123", status = "s" }
        local _, err2 = slow:setStatus { UID = "user_123", status = "s" }
        assert.equal(1, n.n)
        assert.equal("connect", err1.transportKind)
        same_answer(err2, err1)
    end)

    it("refuses bad parameters as the general path does, nothing sent", function()
        for _, params in ipairs({
            { UID = "user_123", userAction = '{"title":' },
            { UID = "user_123", userAction = true },
            { UID = "u\0x", userAction = UA },
            { userAction = UA, cid = { 1 } },
        }) do
            local fast, n = client(true)
            local slow = client(false)
            local r1, res1, err1 = sent(fast, "socialize.publishUserAction", params)
            local r2, res2, err2 = sent(slow, "socialize.publishUserAction", params)
            assert.is_nil(res1)
            assert.is_nil(res2)
            assert.equal(0, #r1, require("socialize.core").json_encode(err1))
            assert.equal(0, #r2)
            assert.equal(0, n.n)
            same_answer(err2, err1)
        end
    end)

    -- one client, two coroutines: a host clock or nonce that yields must not let
    -- one call's request take the other's method (the options are the client's)
    local can_yield = _VERSION ~= "Lua 5.1" or type(jit) == "table"
    for _, hook in ipairs(can_yield and { "clock", "nonce" } or {}) do
        it("keeps each call's method when the host's " .. hook .. " yields", function()
            for nth = 1, 4 do -- the hook's nth call in A yields (the first ones may be the engine's)
                local A, calls = nil, 0
                local function maybe_yield()
                    if coroutine.running() == A then
                        calls = calls + 1
                        if calls == nth then coroutine.yield() end
                    end
                end
                local k = 0
                local fast, n = client(true, {
                    clock = function() if hook == "clock" then maybe_yield() end return T0 end,
                    nonce = function() if hook == "nonce" then maybe_yield() end k = k + 1 return "y-nonce-" .. k end })
                H.reset(G)
                A = coroutine.create(function() return fast:setStatus { UID = "alice", status = "from A" } end)
                assert.is_true((coroutine.resume(A)))
                local B = coroutine.create(function() return fast:call("socialize.getUserInfo", { UID = "bob" }) end)
                assert.is_true((coroutine.resume(B)))
                if coroutine.status(A) == "suspended" then assert.is_true((coroutine.resume(A))) end
                assert.equal(2, n.n, "nth " .. nth)
                local reqs = H.requests(G)
                assert.equal(2, #reqs, "nth " .. nth)
                for _, r in ipairs(reqs) do
                    local text = (r.path or "") .. " " .. (r.body or "")
                    assert.equal(text:find("UID=alice", 1, true) ~= nil,
                                 text:find("socialize.setStatus", 1, true) ~= nil, "nth " .. nth .. ": " .. text)
                end
            end
        end)
    end

    it("sends nothing after the deadline, as the general path", function()
        local t = 0
        local extra = { now = function() return t end, sleep = function(s) t = t + s end, deadline = 1 }
        local fast, n = client(true, extra)
        local eng = fast._engine
        local ctx = eng:context()
        t = 5 -- the deadline has passed
        local reply, err = ctx.fast(ctx.options, { UID = "user_123", status = "s" })
        assert.is_nil(reply)
        assert.is_nil(err)
        assert.equal(0, n.n)
    end)
end)
