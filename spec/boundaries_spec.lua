-- The Lua-visible contracts of the layers (issue 11, items 7 to 9): one
-- return convention for the C modules (nil, message, code), the named error
-- codes from the core's one table, one casing for options, the transport as
-- a capability table, and a front split around an explicit context whose
-- modules never read each other's private fields. No network but loopback,
-- no real waiting.
local H = require("spec.helper")
local core = require("socialize.core")
local curl = require("socialize.curl")
local socialize = require("socialize")

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."

local function lua_files()
    local p = io.popen("cd '" .. ROOT .. "' && ls lua/*.lua lua/socialize/*.lua")
    local out = {}
    for f in p:read("*a"):gmatch("[^\n]+") do out[#out + 1] = f end
    p:close()
    assert(#out >= 5, "no Lua files found under " .. ROOT .. "/lua")
    return out
end

-- The code of a Lua file with comments and string literals blanked (kept
-- as spaces / empty quotes, so that line numbers stay right).
local function code_only(src)
    local out, i, n = {}, 1, #src
    local function blank(s) return (s:gsub("[^\n]", " ")) end
    while i <= n do
        local c = src:sub(i, i)
        local lq = src:match("^%[(=*)%[", i)
        if src:sub(i, i + 1) == "--" then
            local eq = src:match("^%-%-%[(=*)%[", i)
            local j
            if eq then
                local _, e = src:find("]" .. eq .. "]", i, true)
                j = e or n
            else
                j = (src:find("\n", i, true) or n + 1) - 1
            end
            out[#out + 1] = blank(src:sub(i, j))
            i = j + 1
        elseif lq then
            local _, e = src:find("]" .. lq .. "]", i, true)
            e = e or n
            out[#out + 1] = '""' .. blank(src:sub(i + 2, e))
            i = e + 1
        elseif c == '"' or c == "'" then
            local j = i + 1
            while j <= n and src:sub(j, j) ~= c do
                if src:sub(j, j) == "\\" then j = j + 1 end
                j = j + 1
            end
            out[#out + 1] = c .. blank(src:sub(i + 1, j - 1)) .. c
            i = j + 1
        else
            out[#out + 1] = c
            i = i + 1
        end
    end
    return table.concat(out)
end

local function line_of(src, pos)
    local _, n = src:sub(1, pos):gsub("\n", "")
    return n + 1
end

describe("the front's modules", function()
    -- a module's private fields (a leading underscore) are read through `self`
    -- in the module that owns the object, never as other._field
    local PUBLIC = { _NAME = true, _VERSION = true, _M = true, _G = true, _ENV = true }

    it("no file under lua/ reads another module's private fields", function()
        local bad = {}
        for _, f in ipairs(lua_files()) do
            local raw = assert(H.read(ROOT .. "/" .. f))
            local src = code_only(raw)
            for pos, obj, field in src:gmatch("()([%w_%.%]%)]*)%s*[%.:]%s*(_[%w_]+)") do
                local owner = obj:match("([%w_]+)$") or obj
                if not PUBLIC[field] and not field:match("^__") and owner ~= "self" then
                    bad[#bad + 1] = f .. ":" .. line_of(src, pos) .. ": " .. obj .. "." .. field
                end
            end
            -- by name: other["_field"], rawget(other, "_field")
            for pos, obj, field in raw:gmatch("()([%w_]+)%s*%[%s*[\"'](_[%w_]+)[\"']%s*%]") do
                if obj ~= "self" and not field:match("^__") then
                    bad[#bad + 1] = f .. ":" .. line_of(raw, pos) .. ": " .. obj .. "[\"" .. field .. "\"]"
                end
            end
            for pos, obj, field in raw:gmatch("()rawget%s*%(%s*([%w_]+)%s*,%s*[\"'](_[%w_]+)") do
                if obj ~= "self" then
                    bad[#bad + 1] = f .. ":" .. line_of(raw, pos) .. ": rawget(" .. obj .. ", \"" .. field .. "\")"
                end
            end
        end
        assert.are.same({}, bad)
    end)

    it("the check sees a private field read through another object (it is not vacuous)", function()
        local src = code_only('local x = client._config.url -- self._ok\nlocal y = self._fine\nlocal s = "a._b"\n')
        local hits = {}
        for _, obj, field in src:gmatch("()([%w_%.%]%)]*)%s*[%.:]%s*(_[%w_]+)") do
            if obj:match("([%w_]+)$") ~= "self" then hits[#hits + 1] = obj .. "." .. field end
        end
        assert.are.same({ "client._config" }, hits)
    end)

    it("no Gigya error code is a numeric literal in the code under lua/ (socialize.errors names them)", function()
        local bad = {}
        for _, f in ipairs(lua_files()) do
            local src = code_only(assert(H.read(ROOT .. "/" .. f)))
            for pos, num in src:gmatch("()%f[%w_](%d%d%d%d%d%d)%f[^%w_]") do
                if core.errors and select(2, core.errors())[tonumber(num)] then
                    bad[#bad + 1] = f .. ":" .. line_of(src, pos) .. ": " .. num
                end
            end
        end
        assert.are.same({}, bad)
    end)

    it("names no option in snake_case for the C modules (the client's camelCase goes through)", function()
        for _, f in ipairs(lua_files()) do
            local src = code_only(assert(H.read(ROOT .. "/" .. f)))
            assert.falsy(src:find("connect_timeout", 1, true), f)
            assert.falsy(src:find("max_reply", 1, true), f)
        end
    end)

    it("the split modules are installed by the Makefile's wildcard", function()
        local mk = assert(H.read(ROOT .. "/Makefile"))
        assert.truthy(mk:find("$(wildcard lua/socialize/*.lua)", 1, true))
        for _, m in ipairs({ "config", "engine", "gigya", "async", "client", "direct", "transport" }) do
            assert.truthy(H.read(ROOT .. "/lua/socialize/" .. m .. ".lua"), m)
        end
    end)
end)

describe("socialize.errors", function()
    local names, messages = core.errors()

    it("is the core's table: every name's code has the message sz_strerror gives", function()
        local n = 0
        for name, code in pairs(names) do
            n = n + 1
            assert.are.equal(code, socialize.errors[name], name)
            assert.are.equal(core.strerror(code), messages[code], name)
        end
        for code, msg in pairs(messages) do
            assert.are.equal(msg, core.strerror(code))
        end
        assert.is_true(n >= 50)
        local count = 0
        for _ in pairs(socialize.errors) do count = count + 1 end
        assert.are.equal(n, count)
    end)

    it("names the codes the library produces, as socialize.h's SZ_E_* do", function()
        local E = socialize.errors
        assert.are.equal(400002, E.MISSING_PARAMETER)
        assert.are.equal(400006, E.INVALID_PARAMETER)
        assert.are.equal(400096, E.NOT_SUPPORTED)
        assert.are.equal(400106, E.NOT_CONNECTED)
        assert.are.equal(403002, E.REQUEST_EXPIRED)
        assert.are.equal(403048, E.RATE_LIMIT_EXCEEDED)
        assert.are.equal(500000, E.INTERNAL)
        assert.are.equal(500001, E.GENERAL_SERVER_ERROR)
        assert.are.equal(500026, E.NETWORK_ERROR)
        assert.are.equal(504002, E.REQUEST_TIMEOUT)
        -- the Gigya codes socialize.h names (SZ_E_<NAME> or SZ_GIGYA_<NAME>) are the
        -- table's, under the same name
        local h = assert(H.read(ROOT .. "/csrc/include/socialize.h"))
        local seen = 0
        for prefix, name, code in h:gmatch("#define SZ_(%u+)_([%u_]+)%s+(%d%d%d%d%d%d)%f[^%d]") do
            if prefix == "E" or prefix == "GIGYA" then
                seen = seen + 1
                assert.are.equal(tonumber(code), E[name], "SZ_" .. prefix .. "_" .. name)
            end
        end
        assert.is_true(seen >= 4)
    end)

    it("raises on a name that is not there, and cannot be written to", function()
        assert.has_error(function() return socialize.errors.INVALID_PARAMTER end,
            "socialize.errors.INVALID_PARAMTER is not an error name")
        assert.has_error(function() socialize.errors.MINE = 1 end)
        assert.is_nil(rawget(socialize.errors, "MINE"))
    end)

    it("errors carry the named codes", function()
        local _, err = socialize.new { apiKey = "k", secret = "c2VjcmV0" }:setStatus { status = "x" }
        assert.are.equal(socialize.errors.MISSING_PARAMETER, err.errorCode)
    end)
end)

describe("the C modules' return convention: value | nil, message, code", function()
    local function fails(what, f, code_type)
        local v, msg, code = f()
        assert.is_nil(v, what)
        assert.are.equal("string", type(msg), what)
        assert.are.equal(code_type or "number", type(code), what)
        if (code_type or "number") == "number" then
            assert.truthy(select(2, core.errors())[code], what .. ": " .. tostring(code) .. " is a known code")
        end
        return msg, code
    end

    it("socialize.core", function()
        local rows = {
            { "base_string", function() return core.base_string("POST", "ftp://x/", {}) end },
            { "hmac_sha1", function() return core.hmac_sha1("@@", "m") end },
            { "build_request", function() return core.build_request({ auth = "nope" }, {}) end },
            { "json_encode", function() return core.json_encode({ f = print }) end },
            { "json_decode", function() return core.json_decode("{") end },
            { "param_string", function() return core.param_string({ f = print }) end },
            { "provider_request (bad input)", function() return core.provider_request("myspace", "publish", {}, {}, {}, 1, "n") end },
            { "provider_info", function() return core.provider_info("myspace") end },
            { "check_url", function() return core.check_url("ftp://x/") end },
            { "addr_blocked", function() return core.addr_blocked("not-an-ip") end },
            { "oauth1", function() return core.oauth1("POST", "ftp://x/", "ck", "cs", "t", "ts", 1, "n") end },
        }
        for _, row in ipairs(rows) do
            local msg, code = fails(row[1], row[2])
            assert.are.equal(400006, code, row[1] .. ": " .. msg)
        end
        -- nothing to send: the failure result comes fourth
        local req, msg, code, res = core.provider_request("twitter", "status", { status = "x" }, {}, {}, 1, "n")
        assert.is_nil(req)
        assert.are.equal(res.errorCode, code)
        assert.are.equal(res.errorDetails, msg)
        assert.is_false(res.ok)
    end)

    it("socialize.curl: the code is the transport kind", function()
        local s = curl.new { timeout = 5, connectTimeout = 5 }
        fails("request", function() return s:request { method = "GET", url = "http://127.0.0.1:1/" } end, "string")
        local _, kind = select(2, s:request { method = "GET", url = "http://127.0.0.1:1/" })
        assert.are.equal("connect", kind)
        s:close()
        fails("parse_url", function() return curl.parse_url("http://a\0b/") end, "string")
    end)

    it("socialize.curl refuses a malformed request before anything is sent, naming what is wrong", function()
        local s = curl.new { timeout = 5, connectTimeout = 5 }
        local U = "http://127.0.0.1:1/"
        for _, case in ipairs({
            { { method = "GET", url = "http://127.0.0.1:1/a b" }, "url contains CR, LF or a space" },
            { { method = "GET", url = "http://127.0.0.1:1/\r\n" }, "url contains CR, LF or a space" },
            { { method = "get", url = U }, "method must be upper-case letters" },
            { { method = "GET", url = U, headers = { ["a b"] = "x" } }, "invalid header name" },
            { { method = "GET", url = U, headers = { ["a:b"] = "x" } }, "invalid header name" },
            { { method = "GET", url = U, headers = { ["\128x"] = "x" } }, "invalid header name" },
            { { method = "GET", url = U, headers = { X = "a\r\nb: c" } }, "header X contains CR, LF or NUL" },
            { { method = "GET", url = U, headers = { X = "a\0b" } }, "header X contains CR, LF or NUL" },
        }) do
            local ok, err = pcall(s.request, s, case[1])
            assert.is_false(ok)
            assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
        end
        s:close()
    end)

    it("socialize.curl reads a request table's own fields: no metamethod runs, nothing changes between check and send", function()
        local s = curl.new { timeout = 5, connectTimeout = 5 }
        local calls = 0
        -- a method or url that is a string when checked and a table when sent
        -- (the send read NULL and crashed), or a body that is a new string
        -- each read (libcurl sent the first one, which nothing anchored)
        local function shifty(own)
            local n = 0
            return setmetatable(own, { __index = function(_, k)
                calls = calls + 1
                n = n + 1
                if k == "method" then return n == 1 and "PUT" or {} end
                if k == "url" then return n == 1 and "http://127.0.0.1:1/" or {} end
                if k == "body" then return string.rep("b", 64) .. n end
                if k == "timeout" then return n == 1 and 5 or -1 end
                if k == "headers" then return n == 1 and {} or { ["a\r\nb"] = "x" } end
                return nil
            end, __newindex = function() calls = calls + 1 end })
        end
        assert.has_error(function() s:request(shifty({ method = "GET" })) end)
        assert.has_error(function() s:start(shifty({ method = "POST" })) end)
        assert.has_error(function() s:request_many({ shifty({}) }) end)
        assert.are.equal(0, calls)
        -- its own fields are what is sent; the metatable is not consulted
        local _, msg, kind = s:request(shifty({ method = "POST", url = "http://127.0.0.1:1/", body = "x" }))
        assert.are.equal("connect", kind, msg)
        local id = assert(s:start(shifty({ url = "http://127.0.0.1:1/", body = "x" })))
        local outs = {}
        for _ = 1, 200 do
            outs = s:perform(50)
            if #outs > 0 then break end
        end
        assert.are.equal(id, outs[1].id)
        assert.are.equal("connect", outs[1].kind)
        local many = s:request_many({ shifty({ url = "http://127.0.0.1:1/", body = "y" }) })
        assert.are.equal("connect", many[1].kind)
        assert.are.equal(0, calls)
        -- a metamethod closing the session mid-call has nothing to run from
        local closing = setmetatable({ url = "http://127.0.0.1:1/" }, { __index = function() s:close() end })
        local _, _, k2 = s:request(closing)
        assert.are.equal("connect", k2)
        s:close()
    end)

    it("curl.new reads its options table's own fields: no metamethod runs", function()
        -- an __index answering cafile with a new string, then (for http2) running
        -- the collector: curl.new copied the cafile string after it was freed
        local calls = 0
        local opts = setmetatable({ timeout = 2 }, { __index = function(_, k)
            calls = calls + 1
            if k == "cafile" then return "/tmp/ca-" .. tostring({}) end
            if k == "http2" then collectgarbage() collectgarbage() return "yes" end
            if k == "connectTimeout" then return -1 end
        end })
        local s = curl.new(opts)
        assert.are.equal(0, calls)
        s:close()
        assert.has_error(function() curl.new(setmetatable({ http2 = 1 }, { __index = function() calls = calls + 1 end })) end,
            "http2 must be a boolean")
        assert.are.equal(0, calls)
    end)

    it("socialize.curl takes the client's camelCase options and refuses any other", function()
        for _, k in ipairs({ "connect_timeout", "max_reply", "maxReply", "Timeout" }) do
            assert.has_error(function() curl.new { [k] = 1 } end,
                "curl.new: " .. k .. " is not an option (timeout, connectTimeout, cafile, maxReplyBytes, http2)")
        end
        local s = curl.new { timeout = 1, connectTimeout = 1, maxReplyBytes = 10, cafile = "/nonexistent", http2 = true }
        s:close()
        -- the front hands them over (a snake_case name would raise in curl.new)
        local c = socialize.new { url = "http://127.0.0.1:1", apiKey = "k", secret = "c2VjcmV0",
                                  connectTimeout = 1, maxReplyBytes = 10, retry = false }
        local _, err = c:setStatus { UID = "u", status = "x" }
        assert.are.equal(socialize.errors.NETWORK_ERROR, err.errorCode)
        assert.are.equal("connect", err.transportKind)
    end)
end)

describe("a transport is a capability table", function()
    local OK = '{"errorCode":0,"statusCode":200,"statusReason":"OK","callId":"c"}'
    local base = { apiKey = "k", secret = "c2VjcmV0", url = "http://gigya.example" }
    local function with(t)
        local c = {}
        for k, v in pairs(base) do c[k] = v end
        for k, v in pairs(t) do c[k] = v end
        return socialize.new(c)
    end

    it("request alone: called as a method, its table is self", function()
        local t = { n = 0 }
        function t:request(req)
            self.n = self.n + 1
            self.last = req
            return { status = 200, headers = {}, body = OK }
        end
        local c = with { transport = t }
        assert(c:setStatus { UID = "u", status = "x" })
        assert(c:setStatus { UID = "u", status = "y" })
        assert.are.equal(2, t.n)
        assert.matches("status=y", t.last.body, 1, true)
    end)

    it("request_many alone", function()
        local t = { batches = 0 }
        function t:request_many(reqs)
            self.batches = self.batches + 1
            local out = {}
            for i = 1, #reqs do out[i] = { status = 200, headers = {}, body = OK } end
            return out
        end
        assert(with({ transport = t }):setStatus { UID = "u", status = "x" })
        assert.are.equal(1, t.batches)
    end)

    it("a transport that raises is a network error, never a raise", function()
        local t = { request = function() error("boom") end }
        local _, err = with({ transport = t, retry = false }):setStatus { UID = "u", status = "x" }
        assert.are.equal(socialize.errors.NETWORK_ERROR, err.errorCode)
        assert.matches("transport raised: .*boom", err.errorDetails)
    end)

    it("gate: nothing is sent when the transport says it cannot send now", function()
        local sent = 0
        local t = { request = function() sent = sent + 1 end, gate = function() return "not in this phase" end }
        local _, err = with({ transport = t }):setStatus { UID = "u", status = "x" }
        assert.are.equal(socialize.errors.NOT_SUPPORTED, err.errorCode)
        assert.are.equal("400096 Not supported: not in this phase", tostring(err))
        assert.are.equal(0, sent)
    end)

    it("now and sleep: retries wait on the transport's clock, within the deadline, without waiting", function()
        local clock, slept, tries = 0, {}, 0
        local t = {
            request = function() tries = tries + 1 return nil, "refused", "connect" end,
            now = function() return clock end,
            sleep = function(_, s) slept[#slept + 1] = s clock = clock + s end,
        }
        local c = with { transport = t, deadline = 1, retry = { retries = 20, baseDelay = 0.4, maxDelay = 0.4 } }
        local _, err = c:setStatus { UID = "u", status = "x" }
        assert.are.equal("connect", err.transportKind)
        assert.is_true(#slept >= 2, "retried")
        assert.are.equal(#slept + 1, tries)
        assert.is_true(clock <= 1, "slept " .. clock .. " s on the transport's clock: past the deadline")
        assert.is_true(tries < 21, "the deadline (on the transport's clock) stopped the retries")
    end)

    it("start and perform: asynchronous calls run as background transfers", function()
        local t = { started = {}, next_id = 0 }
        function t:request() error("not used: the poll loop starts transfers") end
        function t:start(req)
            self.next_id = self.next_id + 1
            self.started[self.next_id] = req
            return self.next_id
        end
        function t:perform()
            local out = {}
            for id in pairs(self.started) do
                out[#out + 1] = { id = id, status = 200, headers = {}, body = OK }
            end
            self.started = {}
            return out
        end
        function t:timeout() return next(self.started) and 7 or -1 end
        function t:fds() return { { fd = 99, read = true, write = false } } end
        local c = with { transport = t }
        local got
        assert.is_true(c:setStatus({ UID = "u", status = "x" }, function(res, err) got = res or err end))
        assert.are.equal(7, c:timeout())
        assert.are.same({ { fd = 99, read = true, write = false } }, c:fds())
        assert.are.equal(0, c:poll(0))
        assert.are.equal(0, got.errorCode)
        assert.are.equal(-1, c:timeout())
    end)

    it("a start that fails gives that call its transport error", function()
        local t = { request = function() error("not used") end,
                    start = function() return nil, "out of memory", "other" end,
                    perform = function() return {} end }
        local got
        local c = with({ transport = t, retry = false })
        c:setStatus({ UID = "u", status = "x" }, function(_, err) got = err end)
        assert.are.equal(0, c:poll(0))
        assert.are.equal(500026, got.errorCode)
        assert.matches("out of memory", got.errorDetails, 1, true)
    end)

    it("is refused at new() without request or request_many, or with start but no perform", function()
        assert.has_error(function() with { transport = { sleep = function() end } } end)
        assert.has_error(function() with { transport = { request = function() end, start = function() end } } end,
            "socialize: a transport table with background transfers needs both start and perform")
    end)
end)

describe("core.parse_http_date: the front's clock offset reads the core's date arithmetic", function()
    it("an IMF-fixdate is Unix seconds; anything else is nil, message, 400006", function()
        assert.are.equal(784111777, core.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"))
        assert.are.equal(1709164800, core.parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"))
        for _, s in ipairs({ "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT\0",
                             "1994-11-06T08:49:37Z" }) do
            local v, msg, code = core.parse_http_date(s)
            assert.is_nil(v, s)
            assert.are.equal("string", type(msg))
            assert.are.equal(400006, code)
        end
    end)

    it("no file under lua/ does civil-date arithmetic of its own", function()
        for _, f in ipairs(lua_files()) do
            local src = assert(H.read(ROOT .. "/" .. f))
            assert.is_nil(src:find("146097", 1, true), f .. " computes civil dates itself")
        end
    end)
end)
