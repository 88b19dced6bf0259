-- Issue 9 items 10 and 14: what the docs promise is what the code does.
-- Error texts of the library's own errors, non-JSON HTTP errors from the
-- Gigya endpoint, the provider list of docs/api.md, the OpenResty snippet of
-- docs/openresty.md and the README's LuaRocks lines.
local H = require("spec.helper")
local socialize = require("socialize")
local core = require("socialize.core")
local errors = require("socialize.errors")

local function run(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local function section(text, from, to)
    local i = assert(text:find(from, 1, true), from)
    local j = text:find(to, i + #from, true) or #text
    return text:sub(i, j)
end

describe("error texts #unit", function()
    it("an out-of-memory 500000 says so, not Gigya's 'General security warning'", function()
        local e = errors.new(500000, "out of memory")
        assert.are.equal("Out of memory", e.errorMessage)
        assert.are.equal("500000 out of memory", tostring(e))
    end)

    it("an internal error (a raising connections function) says what happened", function()
        local c = socialize.new { backend = "direct", providers = { telegram = { botToken = "1:x" } },
            connections = function() error("token store down") end }
        local got, calls = nil, 0
        c:publishUserAction({ UID = "u", userAction = { title = "t" } }, function(_, err)
            calls = calls + 1
            got = err
        end)
        for _ = 1, 10 do
            if calls > 0 then break end
            c:poll(0)
        end
        assert.are.equal(1, calls)
        assert.are.equal(500000, got.errorCode)
        assert.are.equal("Internal error", got.errorMessage)
        assert.matches("^500000 internal error: .*token store down$", tostring(got))
    end)

    it("a 200 reply that is not JSON is an 'Invalid response' with what came back", function()
        local r = core.parse_response("<html>maintenance</html>", 200)
        assert.are.equal(500000, r.errorCode)
        assert.are.equal("Invalid response", r.errorMessage)
        assert.are.equal("reply is not a JSON object (24 bytes), HTTP 200", r.errorDetails)
    end)

    it("Gigya's own 500000 keeps the text of Gigya's table", function()
        local r = core.parse_response('{"errorCode":500000,"statusCode":500}', 200)
        assert.are.equal("General security warning", r.errorMessage)
    end)
end)

describe("non-JSON HTTP errors from the Gigya endpoint #fakes", function()
    local F
    setup(function() F = H.start_faults() end)
    teardown(function() H.stop_all() end)

    local function call(fault)
        local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = F.http .. "/" .. fault,
            timeout = 5, retry = false }
        local res, err = c:setStatus { UID = "u", status = "s" }
        assert.is_nil(res)
        return err
    end

    it("a 502 with a proxy's HTML page answers 500001 with the status in the details", function()
        local err = call("e502")
        assert.are.equal(500001, err.errorCode)
        assert.are.equal(502, err.statusCode)
        assert.are.equal("General Server error", err.errorMessage)
        assert.are.equal("HTTP 502 Bad Gateway: reply is not a JSON object (56 bytes)", err.errorDetails)
    end)

    it("500, 503 and a redirect answer 500001 too; a 200 HTML page stays 500000", function()
        for fault, status in pairs({ e500 = 500, e503 = 503, redirect = 302 }) do
            local err = call(fault)
            assert.are.equal(500001, err.errorCode, fault)
            assert.are.equal(status, err.statusCode, fault)
            assert.matches("^HTTP " .. status .. " ", err.errorDetails)
        end
        local err = call("html")
        assert.are.equal(500000, err.errorCode)
        assert.are.equal(200, err.statusCode)
    end)

    it("the same through a transport function, and docs/api.md says so", function()
        local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, transport = function()
            return { status = 504, headers = {}, body = "upstream timed out" } end }
        local _, err = c:setStatus { UID = "u", status = "s" }
        assert.are.equal(500001, err.errorCode)
        assert.matches("^HTTP 504 Gateway Timeout: reply is not a JSON object", err.errorDetails)
        local api = assert(H.read("docs/api.md"))
        assert.truthy(api:find("| 500001 | `GENERAL_SERVER_ERROR` | an HTTP error status", 1, true))
        assert.truthy(api:find("| 500000 | `INTERNAL` | a 2xx reply that is not a JSON object", 1, true))
    end)
end)

describe("docs #unit", function()
    it("docs/api.md's publishUserAction provider lists are the ones each backend accepts", function()
        local api = assert(H.read("docs/api.md"))
        local pua = section(api, "### `client:publishUserAction(params)`", "\n### ")
        local bullet = assert(pua:match("\n%* `enabledProviders` / `disabledProviders`(.-)\n%*"), "provider list")
        local function names_in(pattern)
            local got = {}
            for n in assert(bullet:match(pattern), pattern):gmatch("%a+") do got[#got + 1] = n end
            table.sort(got)
            return got
        end
        local function sorted(t)
            local c = {}
            for i = 1, #t do c[i] = t[i] end
            table.sort(c)
            return c
        end
        local direct = sorted(core.provider_names())
        assert.is_true(#direct >= 10)
        assert.are.same(direct, names_in("Direct backend: [^`]*`([^`]+)`"))
        assert.are.same(sorted(require("socialize.providers").names), names_in("Gigya backend: `([^`]+)`"))
        -- and the direct backend takes each of them (no connection: 400106, not 400006)
        local c = socialize.new { backend = "direct", connections = {} }
        for _, name in ipairs(direct) do
            local _, err = c:publishUserAction { UID = "u", userAction = { title = "t" }, enabledProviders = name }
            assert.are.equal(400106, err.errorCode, name .. ": " .. tostring(err))
        end
    end)

    it("docs/api.md does not claim the functions never yield (the resty transport does)", function()
        local api = assert(H.read("docs/api.md"))
        assert.is_nil(api:find("non-yielding", 1, true))
        assert.truthy(api:find("yields", 1, true))
    end)

    it("docs/openresty.md's nginx snippet calls what examples/openresty exports, as its nginx.conf does", function()
        local doc = assert(H.read("docs/openresty.md"))
        local conf = assert(H.read("examples/openresty/nginx.conf")) .. assert(H.read("examples/openresty/outbox.conf"))
        local saved = package.path
        package.path = "examples/openresty/?.lua;" .. package.path
        local ok, handler = pcall(require, "handler")
        local ok2, site = pcall(require, "outbox_site")
        package.path = saved
        package.loaded.handler, package.loaded.outbox_site = nil, nil
        assert.is_true(ok, tostring(handler))
        assert.is_true(ok2, tostring(site))
        local n = 0
        for block in doc:gmatch("```nginx\n(.-)```") do
            for fn in block:gmatch('require%("handler"%)[.:](%w+)') do
                n = n + 1
                assert.is_function(handler[fn], "handler." .. fn .. " is not exported by examples/openresty/handler.lua")
            end
            for fn in block:gmatch('require%("outbox_site"%)[.:]([%w_]+)') do
                assert.is_function(site[fn], "outbox_site." .. fn .. " is not exported by examples/openresty/outbox_site.lua")
            end
            for line in block:gmatch("[^\n]*_by_lua_block[^\n]*") do
                local stmt = line:match("^%s*(.-)%s*$")
                assert.truthy(conf:find(stmt, 1, true), "not in examples/openresty/nginx.conf nor outbox.conf: " .. stmt)
            end
        end
        assert.is_true(n >= 1)
    end)

end)

describe("docs: the README's LuaRocks line #once", function()
    it("the README's LuaRocks line for this Lua builds a rock that loads here, offline, from the checkout", function()
        local readme = assert(H.read("README.md"))
        local lines = {}
        for v, rest in readme:gmatch("\nluarocks %-%-lua%-version=(%d%.%d) make ([^\n]*)") do
            lines[v] = rest
        end
        assert.truthy(lines["5.4"], "no luarocks line for 5.4")
        assert.truthy(lines["5.1"], "no luarocks line for 5.1")
        assert.matches("LuaJIT", lines["5.1"])
        local lua = os.getenv("LUA") or "lua5.4"
        local ver = _VERSION:match("(%d%.%d)") -- LuaJIT says 5.1; the ASan interpreter is a 5.4
        local rockspec = assert(lines[ver]:match("^(%S+%.rockspec)"))
        local tree = H.tmpdir .. "/newuser-rocks-" .. ver
        local out, code = run("luarocks --lua-version=" .. ver .. " make --tree=" .. tree .. " " .. rockspec)
        assert.are.equal(0, code, out)
        local path = run("luarocks --lua-version=" .. ver .. " --tree=" .. tree .. " path")
        local probe = H.tmpdir .. "/newuser-probe.lua"
        H.write(probe, [[
local s = require("socialize")
require("socialize.curl")
for p in package.cpath:gmatch("[^;]+") do
    local f = p:gsub("?", "socialize/core")
    if io.open(f) then io.write(s.signature.encode("a b"), " ", f) break end
end
]])
        out, code = run("cd / && " .. path:gsub("exit=%d+%s*$", ""):gsub("\n", "; ") .. " " .. lua .. " " .. probe)
        assert.are.equal(0, code, out)
        assert.are.equal("a%20b " .. tree .. "/lib/lua/" .. ver .. "/socialize/core.so", out:match("^(.-)%s*exit="))
    end)
end)
