-- The FFI path into the core (socialize.ffi, csrc/lua/lsz_ffi.c): under
-- LuaJIT the Gigya request it builds is core.build_request's, byte for byte,
-- on many inputs; whatever core.build_request refuses, the FFI path does not
-- build (the caller then takes core.build_request: the same code and
-- message); its nonce shares core.nonce's generator. Elsewhere it is off.
local core = require("socialize.core")
local ffi_path = require("socialize.ffi")
local socialize = require("socialize")

local IS_JIT = type(jit) == "table" and pcall(require, "ffi")
local SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="

-- what socialize.gigya's build does: the FFI path, else the C API
local function both(o, p)
    local req = ffi_path.build and ffi_path.build(o, p)
    if req then return req, nil, nil, true end
    local r, msg, code = core.build_request(o, p)
    return r, msg, code, false
end

local function same_request(a, b)
    assert.are.equal(b.method, a.method)
    assert.are.equal(b.url, a.url)
    assert.are.equal(b.body, a.body)
    assert.are.same(b.headers, a.headers)
    assert.are.equal(b.truncated, a.truncated)
    local ka, kb = {}, {}
    for k in pairs(a) do ka[#ka + 1] = k end
    for k in pairs(b) do kb[#kb + 1] = k end
    table.sort(ka)
    table.sort(kb)
    assert.are.same(kb, ka)
end

local function opts(over)
    local o = { method = "socialize.publishUserAction", apiDomain = "us1.gigya.com", apiKey = "3_key",
                secret = SECRET, auth = "signed", timestamp = 1700000000, nonce = "1700000000000_42" }
    for k, v in pairs(over or {}) do o[k] = v end
    return o
end

-- a deterministic generator (the same inputs on every VM and run)
local seed = 12345
local function rnd(n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
end
local PIECES = { "a", "Z", "0", " ", "+", "&", "=", "%", "~", "-", "_", ".", "*", "/", "?", "#", "é", "日本",
                 "😀", "\"", "\\", "'", "<", ">", "\n", "\t", "{\"t\":1}" }
local function rstring(max)
    local t = {}
    for i = 1, rnd(max) - 1 do t[i] = PIECES[rnd(#PIECES)] end
    return table.concat(t)
end

describe("socialize.ffi", function()
    if not IS_JIT then
        it("is off where the FFI is not there (Lua 5.x): the C API builds every request", function()
            assert.is_false(ffi_path.build)
            assert.is_false(ffi_path.nonce)
            assert.is_false(ffi_path.time)
            assert.is_false(ffi_path.now_ms)
        end)
        return
    end

    it("is on under LuaJIT", function()
        assert.are.equal("function", type(ffi_path.build))
        assert.are.equal("function", type(ffi_path.nonce))
        assert.are.equal("function", type(ffi_path.time))
        assert.are.equal("function", type(ffi_path.now_ms))
    end)

    it("builds a publishUserAction byte for byte as core.build_request does", function()
        local o = opts()
        local p = { UID = "user_123", userAction = '{"title":"Level 3 done","linkBack":"https://game.example/l3"}' }
        local a = ffi_path.build(o, p)
        local b = assert(core.build_request(o, p))
        assert.is_table(a)
        same_request(a, b)
        assert.are.equal("POST", a.method)
        assert.are.equal("https://socialize.us1.gigya.com/socialize.publishUserAction", a.url)
        assert.are.equal("application/x-www-form-urlencoded", a.headers["Content-Type"])
        assert.truthy(a.body:find("&sig=", 1, true))
    end)

    it("builds the same request on 600 generated inputs (names, values, options)", function()
        local taken = 0
        for i = 1, 600 do
            local p = {}
            for _ = 1, rnd(12) - 1 do
                local k = rstring(8)
                if k ~= "" then p[k] = rstring(i % 50 == 0 and 3000 or 40) end
            end
            local o = opts({ timestamp = rnd(2000000000), nonce = tostring(rnd(1000000)) .. "_" .. i,
                             method = ({ "socialize.setStatus", "getUserInfo", "socialize.publishUserAction" })[rnd(3)],
                             userKey = i % 3 == 0 and "AUserKey" or nil,
                             url = i % 4 == 0 and "http://127.0.0.1:8080/pre" or nil })
            local r1, m1, c1, via = both(o, p)
            local r2, m2, c2 = core.build_request(o, p)
            if r2 then
                assert.is_true(via, "the FFI path took a request core.build_request builds")
                taken = taken + 1
                same_request(r1, r2)
            else
                assert.is_nil(r1)
                assert.are.equal(m2, m1)
                assert.are.equal(c2, c1)
            end
        end
        assert.is_true(taken > 400, "most generated requests built: " .. taken)
    end)

    it("takes 64 parameters and leaves 65 to the C API, with the same request", function()
        for _, n in ipairs({ 63, 64, 65, 100 }) do
            local p = {}
            for i = 1, n do p["k" .. i] = "v" .. i end
            local o = opts({ method = "socialize.setStatus" })
            local a = ffi_path.build(o, p)
            local b = assert(core.build_request(o, p))
            if n <= 64 then same_request(assert(a), b) else assert.is_nil(a) end
            local r = both(o, p)
            same_request(r, b)
        end
    end)

    it("grows its buffer for a long request, and the next short one is still right", function()
        local o = opts({ method = "socialize.setStatus" })
        for _, len in ipairs({ 10, 5000, 70000, 10 }) do
            local p = { status = string.rep("é&", len) }
            same_request(assert(ffi_path.build(o, p)), assert(core.build_request(o, p)))
        end
    end)

    it("leaves options behind a metatable to the C API (an __index's fresh string is anchored by nothing)", function()
        -- the option pointers went to the C call while only IN held them: an
        -- __index that made a new string and then ran the collector freed
        -- the one before (apiKey came out as another string, or the call was
        -- refused); the C API holds every option on its stack
        local base = opts({ method = "socialize.setStatus" })
        local plain = setmetatable({}, { __index = base })
        assert.is_nil(ffi_path.build(plain, { status = "hi" }))
        for _, bad in ipairs({ 5, true, "opts" }) do -- (core.build_request raises for these, and says why)
            assert.is_nil(ffi_path.build(bad, { status = "hi" }))
        end
        same_request(assert(both(plain, { status = "hi" })), assert(core.build_request(base, { status = "hi" })))
        local n, made = 0, nil
        local o = setmetatable({}, { __index = function(_, k)
            if k == "apiKey" then
                n = n + 1
                made = "3_KEY_" .. string.format("%06d", n)
                return made:lower():upper()
            end
            collectgarbage("collect")
            local keep = {}
            for i = 1, 200 do keep[i] = "3_KEZ_" .. string.format("%06d", i) end
            return base[k]
        end })
        for _ = 1, 50 do
            assert.is_nil(ffi_path.build(o, { status = "hi" }))
            local r = assert(both(o, { status = "hi" }))
            assert.truthy(r.body:find("apiKey=" .. made .. "&", 1, true))
        end
    end)

    it("leaves a request over 1 MiB to the C API: its buffer stays at 1 MiB at most", function()
        local o = opts({ method = "socialize.setStatus" })
        local p = { status = string.rep("a", 1048576) }
        assert.is_nil(ffi_path.build(o, p))
        local a, b = assert(both(o, p)), assert(core.build_request(o, p))
        assert.is_true(a.body == b.body and a.url == b.url, "the same request")
        p = { status = string.rep("a", 1048000) }
        a, b = assert(ffi_path.build(o, p)), assert(core.build_request(o, p))
        assert.is_true(a.body == b.body and a.url == b.url, "the same request")
        assert.is_true(ffi_path.capacity() <= 1048576, "capacity " .. ffi_path.capacity())
        p = { status = "short" }
        same_request(assert(ffi_path.build(o, p)), assert(core.build_request(o, p)))
    end)

    -- every input core.build_request refuses: the FFI path builds nothing
    -- (nil), and the caller's answer is core.build_request's code and message;
    -- what it builds (a NUL in a value, which validate.lua refuses before, is
    -- sent as %00), the same request; [4]: only the C API takes it
    local BAD = {
        { "a NUL in a name", {}, { ["UI\0D"] = "x" } },
        { "a NUL in a value", {}, { UID = "a\0b" } },
        { "invalid UTF-8", {}, { UID = "\255\254" } },
        { "a name that is not a string", {}, { [1] = "x" } },
        { "a number value (taken by the C API)", {}, { limit = 5 }, true },
        { "a boolean value", {}, { enabled = true }, true },
        { "a table value", {}, { userAction = { title = "t" } }, true },
        { "a nested table value with a NUL", {}, { userAction = { ["t\0"] = "t" } } },
        { "sig as a parameter", {}, { sig = "x" } },
        { "nonce as a parameter", {}, { nonce = "x" } },
        { "apiKey as a parameter", {}, { apiKey = "x" } },
        { "format=xml", {}, { format = "xml" } },
        { "a NUL in the secret", { secret = "c2Vj\0cmV0" }, { UID = "u" } },
        { "a NUL in apiKey", { apiKey = "3_\0k" }, { UID = "u" } },
        { "a NUL in the method", { method = "socialize.\0x" }, { UID = "u" } },
        { "a NUL in the nonce", { nonce = "1\0" }, { UID = "u" } },
        { "a NUL in the url", { url = "http://127.0.0.1\0/" }, { UID = "u" } },
        { "a NUL in auth", { auth = "sig\0ned" }, { UID = "u" } },
        { "an unknown auth", { auth = "magic" }, { UID = "u" } },
        { "no apiKey", { apiKey = false }, { UID = "u" } },
        { "no secret", { secret = false }, { UID = "u" } },
        { "a secret that is not Base64", { secret = "not base64!!" }, { UID = "u" } },
        { "no method", { method = false }, { UID = "u" } },
        { "a bad method", { method = "socialize./../x" }, { UID = "u" } },
        { "a bad url", { url = "ftp://x" }, { UID = "u" } },
        { "a number apiKey (taken by the C API)", { apiKey = 12345 }, { UID = "u" }, true },
        { "a string timestamp (taken by the C API)", { timestamp = "1700000000" }, { UID = "u" }, true },
        { "a NaN timestamp", { timestamp = 0 / 0 }, { UID = "u" } },
        { "auth secret (a credential in the body: the C API)", { auth = "secret", url = "https://x.example" }, { UID = "u" }, true },
        { "auth secret over http", { auth = "secret", url = "http://x.example" }, { UID = "u" } },
    }
    for _, case in ipairs(BAD) do
        it("leaves " .. case[1] .. " to core.build_request, with its answer", function()
            local over = {}
            for k, v in pairs(case[2]) do over[k] = v end
            local o = opts(over)
            for k, v in pairs(case[2]) do if v == false then o[k] = nil end end
            local p = case[3]
            local r2, m2, c2 = core.build_request(o, p)
            local r1, m1, c1, via = both(o, p)
            if r2 then -- (one the core builds: the same request, whichever path took it)
                same_request(r1, r2)
                if case[4] then assert.is_false(via) end
            else
                assert.is_nil(ffi_path.build(o, p))
                assert.is_nil(r1)
                assert.are.equal(m2, m1)
                assert.are.equal(c2, c1)
                assert.is_nil(tostring(m1):find("c2VjcmV0", 1, true), "no secret in the message")
            end
        end)
    end

    it("leaves the secret out of its buffer: auth = secret is the C API's", function()
        local o = opts({ auth = "secret", url = "https://x.example" })
        assert.is_nil(ffi_path.build(o, { UID = "u" }))
        local r = assert(core.build_request(o, { UID = "u" }))
        assert.truthy(r.body:find("secret=", 1, true))
    end)

    it("draws nonces from core.nonce's generator: 20,000 alternating, none repeated", function()
        local seen, n = {}, 0
        for i = 1, 20000 do
            local v = (i % 2 == 0) and ffi_path.nonce() or core.nonce()
            assert.truthy(v:match("^%d+_%d+$"), v)
            assert.is_nil(seen[v], "repeated nonce " .. v)
            seen[v] = true
            n = n + 1
        end
        assert.are.equal(20000, n)
    end)

    it("draws other nonces in a forked child than in its parent (an nginx worker forked after a first call)", function()
        -- the generator's state was copied by fork(): every worker drew the
        -- master's sequence, the same nonce in the same millisecond
        local ffi = require("ffi")
        pcall(ffi.cdef, "int fork(void); void _exit(int); int waitpid(int pid, int *status, int options);")
        core.nonce() -- seeded before the fork
        ffi_path.nonce()
        local path = os.tmpname()
        local pid = ffi.C.fork()
        if pid == 0 then
            local f = io.open(path, "w")
            for i = 1, 20 do f:write((((i % 2 == 0) and ffi_path.nonce() or core.nonce()):match("_(%d+)$")), "\n") end
            f:close()
            ffi.C._exit(0)
        end
        assert.is_true(pid > 0)
        local mine = {}
        for i = 1, 20 do mine[(((i % 2 == 0) and ffi_path.nonce() or core.nonce()):match("_(%d+)$"))] = true end
        local st = ffi.new("int[1]")
        assert.are.equal(pid, ffi.C.waitpid(pid, st, 0))
        local f = assert(io.open(path))
        local n, same = 0, 0
        for line in f:lines() do
            n = n + 1
            if mine[line] then same = same + 1 end
        end
        f:close()
        os.remove(path)
        assert.are.equal(20, n)
        assert.are.equal(0, same)
    end)

    it("answers core.now_ms() as now_ms", function()
        local a, t, b = core.now_ms(), ffi_path.now_ms(), core.now_ms()
        assert.are.equal("number", type(t))
        assert.is_true(t >= a and t <= b)
        assert.are.equal(math.floor(t), t)
    end)

    it("answers os.time() as time", function()
        local a, t, b = os.time(), ffi_path.time(), os.time()
        assert.are.equal("number", type(t))
        assert.is_true(t >= a and t <= b)
        assert.are.equal(math.floor(t), t)
    end)
end)

describe("config.ffi", function()
    local function client(ffi, sent)
        return socialize.new { apiKey = "3_key", secret = SECRET, retry = false, ffi = ffi,
            clock = function() return 1700000000 end, nonce = function() return "1700000000000_7" end,
            transport = { request = function(_, req)
                sent[#sent + 1] = req
                return { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200,"callId":"c1"}' }
            end, request_many = function(self, reqs) return { self:request(reqs[1]) } end } }
    end

    it("must be a boolean", function()
        local ok, err = pcall(socialize.new, { apiKey = "3_key", secret = SECRET, ffi = "yes" })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("config.ffi must be a boolean", 1, true))
    end)

    it("on and off send the same requests and give the same errors", function()
        local on, off = {}, {}
        local con, coff = client(nil, on), client(false, off)
        local calls = {
            { "publishUserAction", { UID = "user_123", userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } } },
            { "publishUserAction", { UID = "ü ser", userAction = '{"title":"t","description":"d &= %"}', enabledProviders = "facebook,twitter" } },
            { "setStatus", { UID = "u1", status = "hello + world" } },
            { "call", "socialize.getUserInfo", { UID = "u1", limit = 5, flag = true } },
            { "publishUserAction", { UID = "u\0x", userAction = { title = "t" } } },
            { "publishUserAction", { UID = "u1", userAction = { title = "\255" } } },
            { "publishUserAction", { UID = "u1" } },
        }
        for _, c in ipairs(calls) do
            local r1, e1, r2, e2
            if c[1] == "call" then
                r1, e1 = con:call(c[2], c[3])
                r2, e2 = coff:call(c[2], c[3])
            else
                r1, e1 = con[c[1]](con, c[2])
                r2, e2 = coff[c[1]](coff, c[2])
            end
            assert.are.equal(r2 == nil, r1 == nil)
            if e2 then
                assert.are.equal(e2.errorCode, e1.errorCode)
                assert.are.equal(e2.errorMessage, e1.errorMessage)
                assert.are.equal(e2.errorDetails, e1.errorDetails)
            end
        end
        assert.are.equal(4, #on)
        assert.are.equal(#off, #on)
        for i = 1, #on do same_request(on[i], off[i]) end
    end)

    -- one client, two coroutines (an OpenResty worker's requests): a host
    -- clock or nonce that yields must not let one call's request take the
    -- other's method (the Gigya options are the client's, filled per call);
    -- Lua 5.1 cannot yield across the call's pcall (the hook's call fails)
    local can_yield = _VERSION ~= "Lua 5.1" or type(jit) == "table"
    for _, ffi in ipairs(can_yield and { true, false } or {}) do
        for _, hook in ipairs({ "clock", "nonce" }) do
            it("keeps each call's method when the host's " .. hook .. " yields (ffi = " .. tostring(ffi) .. ")", function()
                for nth = 1, 4 do
                    local sent, A, n = {}, nil, 0
                    local function maybe_yield()
                        if coroutine.running() == A then
                            n = n + 1
                            if n == nth then coroutine.yield() end
                        end
                    end
                    local c = socialize.new { apiKey = "3_key", secret = SECRET, retry = false, ffi = ffi,
                        clock = function() if hook == "clock" then maybe_yield() end return 1700000000 end,
                        nonce = function() if hook == "nonce" then maybe_yield() end return "1700000000000_7" end,
                        transport = function(req)
                            sent[#sent + 1] = req
                            return { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200}' }
                        end }
                    A = coroutine.create(function() return c:setStatus { UID = "alice", status = "from A" } end)
                    assert.is_true((coroutine.resume(A)))
                    local B = coroutine.create(function() return c:call("socialize.getUserInfo", { UID = "bob" }) end)
                    assert.is_true((coroutine.resume(B)))
                    if coroutine.status(A) == "suspended" then assert.is_true((coroutine.resume(A))) end
                    assert.are.equal(2, #sent, "nth " .. nth)
                    for _, r in ipairs(sent) do
                        local alice = r.body:find("UID=alice", 1, true) ~= nil
                        assert.are.equal(alice, r.url:find("socialize.setStatus", 1, true) ~= nil,
                                         "nth " .. nth .. ": " .. r.url .. " " .. r.body:sub(1, 30))
                    end
                end
            end)
        end
    end
end)
