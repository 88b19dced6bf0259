-- Shared helpers of the connect specs (spec/connect*_spec.lua,
-- spec/bluesky_session_spec.lua): the store key, temporary store URLs, a
-- direct client on the sandbox, the authorization URL followed like a
-- browser would (one GET with the library's HTTP client, no redirects),
-- the sandbox's requests to one path, and a whole connect. A helper
-- module, not a spec (no _spec suffix: .ci/tiers does not list it).
local H = require("spec.helper")
local socialize = require("socialize")
local transport = require("socialize.transport")
local assert = require("luassert") -- busted gives spec files theirs, not modules

local K = {}

K.KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

local n = 0

-- a fresh SQLite file path under the test's temporary directory
function K.path(prefix)
    n = n + 1
    return H.tmpdir .. "/" .. prefix .. "-" .. os.time() .. "-" .. math.random(1, 1e9) .. "-" .. n .. ".db"
end

-- the store URL of a fresh SQLite file
function K.db(prefix) return "sqlite:" .. K.path(prefix) end

-- follows the authorization URL like a browser would (one GET, no
-- redirects): the Location the sandbox answers with
function K.authorize(url)
    local t = transport.select({ timeout = 5 })
    local res = assert(t:request({ method = "GET", url = url, headers = {}, timeout = 5 }))
    assert.equal(302, res.status, tostring(res.body))
    for k, v in pairs(res.headers) do if k:lower() == "location" then return v end end
    error("no Location")
end

-- the sandbox's recorded requests to exactly `path` (`containing`: to any
-- path with `path` in it)
function K.requests(sb, path, containing)
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if r.path == path or containing and r.path and r.path:find(path, 1, true) then out[#out + 1] = r end
    end
    return out
end

-- a direct client on the sandbox's providers. `provider`: a provider name
-- whose entry gets the fields of `app`, or a function(p) changing the
-- providers table itself, or nil. `url`: the store's URL; `extra`: fields
-- of the client's configuration.
function K.client(sb, provider, app, url, extra)
    local p = H.sandbox_providers(sb)
    if type(provider) == "function" then
        provider(p)
    elseif provider then
        p[provider] = p[provider] or {}
        for k, v in pairs(app or {}) do p[provider][k] = v end
    end
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = p, timeout = 5,
                  store = { url = url, keys = { K.KEY } } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

-- client:connect then client:finishConnect on the followed authorization
-- URL: the identity, the error, the start. `more`: further connect fields;
-- `soft`: a refused connect answers nil, err instead of failing the test.
function K.connect(c, provider, redirect, uid, more, soft)
    local args = { UID = uid, provider = provider, redirectURI = redirect }
    for k, v in pairs(more or {}) do args[k] = v end
    local start, serr = c:connect(args)
    if soft and not start then return nil, serr end
    start = assert(start, serr)
    local id, err = c:finishConnect(K.authorize(start.url))
    return id, err, start
end

-- the specs' child processes: the tree, the build and the interpreter of this run
K.ROOT = os.getenv("SOCIALIZE_ROOT") or "."
K.BUILD = os.getenv("BUILD") or "build/lua5.4"
K.CHILD_LUA = K.BUILD:find("luajit", 1, true) and "luajit" or K.BUILD:find("5.1", 1, true) and "lua5.1"
    or K.BUILD:find("asan", 1, true) and K.ROOT .. "/build/asan/lua-asan" or "lua5.4"

-- a shell word
function K.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- runs a shell command: its output (stderr too), trailing blanks cut
function K.run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end

-- writes a Lua script for a child process (the tree's package paths, then
-- socialize loaded, then `body`) under the test's temporary directory: its path
function K.script(prefix, body)
    local path = H.tmpdir .. "/" .. prefix .. "-" .. math.random(1, 1e9) .. ".lua"
    local f = assert(io.open(path, "wb"))
    f:write(string.format([[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local socialize = require("socialize")
]], K.ROOT .. "/lua/?.lua;" .. K.ROOT .. "/lua/?/init.lua;", K.ROOT .. "/" .. K.BUILD .. "/?.so;"), body)
    f:close()
    return path
end

-- a throwaway PostgreSQL cluster (spec/pgcluster.sh) for the enclosing
-- describe block: started in its setup (`on_start(url)`), stopped in its
-- teardown
function K.use_postgres(on_start)
    local busted, pgdir = require("busted"), nil
    busted.setup(function()
        local out = K.run("sh " .. K.q(K.ROOT .. "/spec/pgcluster.sh") .. " start")
        local pgurl
        pgdir, pgurl = out:match("([^\n]+)\n([^\n]+)$")
        assert(pgurl and pgurl:find("^postgresql:"), out)
        on_start(pgurl)
    end)
    busted.teardown(function()
        if pgdir then K.run("sh " .. K.q(K.ROOT .. "/spec/pgcluster.sh") .. " stop " .. K.q(pgdir)) end
    end)
end

return K
