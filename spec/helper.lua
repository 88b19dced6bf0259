-- Shared by the specs: module paths, the fakes (spec/fakes/*.py on
-- 127.0.0.1), test keys, a virtual clock.
--
-- The fakes are started once per test run by .ci/fakes (SOCIALIZE_FAKES names
-- the Lua file spec/fakes/harness.py wrote: ports, key directory); a spec run
-- alone starts the ones it needs itself and stops them in H.stop_all. The
-- harness never drives a fake through the code under test: its control
-- requests go through a relay process (harness.py relay), not socialize.curl,
-- and their replies come back as Lua literals, not through core.json_*.
local build = os.getenv("BUILD") or "build/lua5.4"
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath

-- SOCIALIZE_GC=aggressive: the collector runs all the time, so a value the
-- C code forgot to anchor is collected under it and the suite fails.
if os.getenv("SOCIALIZE_GC") == "aggressive" then
    if _VERSION == "Lua 5.4" then
        collectgarbage("incremental", 0, 1000, 0)
    else
        collectgarbage("setpause", 0)
        collectgarbage("setstepmul", 1000)
    end
end

local H = {}

-- the fake Gigya server's accounts (spec/fakes/harness.py holds the same)
H.SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="       -- partner secret
H.API_KEY = "3_fakeApiKey"
H.USER_KEY = "AFakeUserKey"
H.USER_SECRET = "dXNlci1rZXktc2VjcmV0LWZvci1zb2NpYWxpemU="          -- "user-key-secret-for-socialize"
H.JWT_USER_KEY = "AJwtUserKey"
H.TOKEN = "st2.fakeOAuthToken.1"

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
-- Debian's python3 (a python3 earlier in PATH may be a slow wrapper, pyenv's)
local PYTHON = os.getenv("SOCIALIZE_PYTHON")
if not PYTHON or PYTHON == "" then
    local f = io.open("/usr/bin/python3")
    PYTHON = f and "/usr/bin/python3" or "python3"
    if f then f:close() end
end
H.PYTHON = PYTHON
local HARNESS = PYTHON .. " '" .. ROOT .. "/spec/fakes/harness.py'"
local load_chunk = loadstring or load

local tmpdir = os.getenv("SOCIALIZE_TEST_TMP")
if not tmpdir then
    local p = io.popen("mktemp -d /tmp/socialize-spec.XXXXXX")
    tmpdir = p:read("*l")
    p:close()
end
H.tmpdir = tmpdir

-- Lua 5.1 and LuaJIT start math.random from the same seed in every process:
-- the names the specs make under SOCIALIZE_TEST_TMP with it would meet the
-- files an earlier run left there. Seeded by this process's id and the time
-- (Lua 5.4 seeds itself at random already).
do
    local f = io.open("/proc/self/stat", "rb")
    local pid = tonumber(f and (f:read("*l") or ""):match("^(%d+)") or "") or 0
    if f then f:close() end
    if _VERSION == "Lua 5.1" then math.randomseed(os.time() * 65536 % 2147483647 + pid) end
end

local function sh(cmd)
    local ok = os.execute(cmd)
    return ok == true or ok == 0
end

function H.read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

function H.write(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
end

--- A virtual clock for a client's `now` and `sleep` options: now() reads it,
-- sleep(s) advances it at once and records the wait. Nothing really waits.
-- clock() is the matching Unix time (config.clock: rate-limit blocks), from
-- the real time when the clock was made.
function H.virtual(t0)
    local v = { t = t0 or 1000, sleeps = {} }
    local start, unix = v.t, os.time()
    function v.now() return v.t end
    function v.clock() return unix + (v.t - start) end
    function v.sleep(s)
        v.sleeps[#v.sleeps + 1] = s
        v.t = v.t + s
    end
    function v.slept()
        local n = 0
        for _, s in ipairs(v.sleeps) do n = n + s end
        return n
    end
    return v
end

---------------------------------------------------------------------------
-- The fakes
---------------------------------------------------------------------------
local shared = os.getenv("SOCIALIZE_FAKES")
if shared == "" then shared = nil end
if shared then
    local chunk = assert(loadfile(shared), "SOCIALIZE_FAKES=" .. shared .. " is not a readable Lua file")
    shared = chunk()
end

local own -- fakes this helper started itself: { dir = ..., info = {...} }
local handed = {} -- shared fakes handed out (and reset) in this spec file

-- The description of the fake `name` (harness.py start), and its key directory.
local function fake(name)
    if shared then
        assert(shared[name], "SOCIALIZE_FAKES lists no fake " .. name)
        return shared[name], shared.dir
    end
    if not own then
        local base = os.tmpname() -- a unique name; its directory holds the fakes' files
        os.remove(base)
        own = { dir = tmpdir .. "/fakes-" .. base:match("([^/]+)$"), info = {} }
    end
    if not own.info[name] then
        local p = io.popen(HARNESS .. " start '" .. own.dir .. "' " .. name .. " --lifetime 600 2>&1")
        local out = p:read("*a")
        p:close()
        local path = out:match("([^\n]*fakes%.lua)%s*$")
        local chunk = path and loadfile(path)
        assert(chunk, "spec/fakes/harness.py start " .. name .. ": " .. out)
        own.info[name] = chunk()[name]
    end
    return own.info[name], own.dir
end

--- A table whose every field an __index makes: a new string each time
-- (a copy of fields[k]), after two full collections, so a string the code
-- under test reads is held by nothing else (other values as they are).
function H.made_by_index(fields)
    return setmetatable({}, { __index = function(_, k)
        collectgarbage()
        collectgarbage()
        local v = fields[k]
        if type(v) == "string" then return (v .. " "):sub(1, -2) end
        return v
    end })
end

--- Where the test keys are (ca.pem, jwt.pem, other.key, ...): made with the
-- fakes, so call after a H.start_*.
function H.key(file)
    local dir = shared and shared.dir or (own and own.dir)
    assert(dir, "H.key: start a fake first")
    return dir .. "/" .. file
end

local function hand_out(name, srv)
    if shared and not handed[name] and srv.http then
        handed[name] = true
        H.reset(srv) -- a fresh fake for each spec file: no state left by the one before
    end
    return srv
end

--- The fake Gigya server. H.start_gigya("untrusted", { cert = "untrusted" }): the
-- same server with a certificate no CA here signed.
-- Returns { http = "http://127.0.0.1:P", https = "https://127.0.0.1:Q", ca = path }.
function H.start_gigya(name, opts)
    name = (opts and opts.cert == "untrusted") and "untrusted" or "gigya"
    local info, dir = fake(name)
    return hand_out(name, {
        http = "http://127.0.0.1:" .. info.http,
        https = "https://127.0.0.1:" .. info.https,
        ca = dir .. "/ca.pem",
    })
end

--- The sandbox of the networks (spec/fakes/sandbox.py).
-- Returns { ports = {twitter = P, ..., demo = {...}}, url = function(network) }.
function H.start_sandbox()
    local info = fake("sandbox")
    local sb = { ports = info, http = "http://127.0.0.1:" .. info.control }
    function sb.url(network) return "http://127.0.0.1:" .. info[network] end
    return hand_out("sandbox", sb)
end

--- The fault-injection server (spec/fakes/faults.py); returns its base URL.
function H.start_faults()
    local info = fake("faults")
    return { http = "http://127.0.0.1:" .. info.http }
end

--- The connection trap (spec/fakes/listener.py): a port on 127.0.0.1 (and
-- ::1 when present) that counts connections; H.connections(t) reads it.
function H.start_listener()
    local info = fake("listener")
    return { port = info.trap, v6 = info.v6, http = "http://127.0.0.1:" .. info.control }
end

function H.connections(t) return H.control(t, "/__connections").connections end

--- Provider app configs pointing at the sandbox.
function H.sandbox_providers(sb)
    return {
        twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer-secret", baseUrl = sb.url("twitter") },
        facebook = { appSecret = "fb-app-secret", baseUrl = sb.url("facebook") },
        linkedin = { baseUrl = sb.url("linkedin") },
        vkontakte = { baseUrl = sb.url("vkontakte") },
        sina = { safeDomain = "game.example", baseUrl = sb.url("sina") },
        mastodon = {},
        bluesky = { baseUrl = sb.url("bluesky") },
        telegram = { botToken = "123456:sandbox-bot-token", baseUrl = sb.url("telegram") },
    }
end

--- In a describe: the sandbox started once (setup) and handed to
-- on_start(sb, providers) (H.sandbox_providers(sb)), reset before each case,
-- stopped with the other fakes at the end (teardown; on_stop first, when
-- given: a spec closes its transport there).
function H.use_sandbox(on_start, on_stop)
    local busted, sb = require("busted"), nil
    busted.setup(function()
        sb = H.start_sandbox()
        on_start(sb, H.sandbox_providers(sb))
    end)
    busted.teardown(function()
        if on_stop then on_stop() end
        H.stop_all()
    end)
    busted.before_each(function() H.reset(sb) end)
end

--- One user's connections to every sandboxed network; `tokens` maps a
-- network to the token that selects a scenario ("expired", "dup", ...).
function H.sandbox_connection(sb, tokens)
    tokens = tokens or {}
    local function tk(n, default) return tokens[n] or default end
    return {
        twitter = { token = tk("twitter", "tw-user"), tokenSecret = tk("twitter", "tw-user") .. "-secret", userId = "2244994945" },
        facebook = { accessToken = tk("facebook", "fb-page-token"), pageId = "1647395831" },
        linkedin = { accessToken = tk("linkedin", "li-token"), personId = "abc123" },
        vkontakte = { accessToken = tk("vkontakte", "vk-token"), userId = 1001 },
        sina = { accessToken = tk("sina", "wb-token"), ip = "203.0.113.7" },
        mastodon = { accessToken = tk("mastodon", "md-token"), instance = sb.url("mastodon") },
        bluesky = { identifier = tk("bluesky", "demo.bsky.social"), appPassword = "app-pass-1234" },
        telegram = { chatId = tk("telegram", "-100777") },
        renren = { accessToken = "rr" },
    }
end

-- JSON for the control requests' bodies (small tables of strings, numbers
-- and booleans; a table with [1] is an array).
local function json(v)
    local t = type(v)
    if t == "table" then
        local out = {}
        if v[1] ~= nil then
            for i = 1, #v do out[i] = json(v[i]) end
            return "[" .. table.concat(out, ",") .. "]"
        end
        for k, x in pairs(v) do out[#out + 1] = json(tostring(k)) .. ":" .. json(x) end
        table.sort(out)
        return "{" .. table.concat(out, ",") .. "}"
    elseif t == "string" then
        return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
    elseif t == "number" then
        assert(v == v and v > -math.huge and v < math.huge, "control JSON: not a finite number")
        return v == math.floor(v) and string.format("%d", v) or string.format("%.17g", v)
    elseif t == "boolean" then
        return tostring(v)
    end
    error("control JSON: cannot encode a " .. t)
end

-- The relay (harness.py relay): requests go into its FIFO, one a line; its
-- answers come back on its standard output, one Lua chunk a line. When it
-- stops, the read sees the end of its output: nothing here can hang on it.
local relay
local function relay_open()
    if relay then return relay end
    local out = assert(io.popen("exec " .. HARNESS .. " relay"))
    local fifo = out:read("*l")
    if not fifo then
        out:close()
        error("spec/fakes/harness.py relay did not start")
    end
    relay = { out = out, req = assert(io.open(fifo, "r+")) }
    return relay
end

local function relay_close()
    if not relay then return end
    pcall(function()
        relay.req:write("quit\n")
        relay.req:flush()
    end)
    relay.req:close()
    relay.out:close()
    relay = nil
end

--- A control request to a fake (srv.http is its control URL); returns the
-- decoded JSON reply.
function H.control(srv, path, body)
    local r = relay_open()
    local line = (body and "POST " or "GET ") .. srv.http .. path .. " " .. (body or "")
    assert(not line:find("\n", 1, true), "a control request is one line")
    r.req:write(line, "\n")
    r.req:flush()
    local answer = r.out:read("*l")
    if not answer then
        relay_close()
        error("the control relay stopped (request: " .. line .. ")")
    end
    local got = assert(load_chunk(answer))()
    assert(not got.error, got.error)
    return got.value
end

function H.requests(srv) return H.control(srv, "/__requests") end
function H.reset(srv) return H.control(srv, "/__reset", "{}") end
function H.configure(srv, t) return H.control(srv, "/__config", json(t)) end

--- End of a spec file: stops the fakes this helper started itself (shared
-- fakes stay up for the next file) and the control relay.
function H.stop_all()
    relay_close()
    handed = {}
    if own then
        sh(HARNESS .. " stop '" .. own.dir .. "'")
        own = nil
    end
end

-- Fakes are stopped by each spec's teardown (H.stop_all), by .ci/fakes at
-- the end of a run, and at the latest by their own --lifetime. No __gc guard:
-- on Lua 5.1 the C modules may be unloaded before such a finalizer runs.

H.NONE = setmetatable({}, { __tostring = function() return "H.NONE" end }) -- removes a default

--- A client wired to the fake server with a fixed clock/nonce when asked.
-- Its retry waits and deadline run on a virtual clock (H.virtual), unless
-- extra gives now and sleep (or H.NONE for the real ones).
function H.client(srv, extra)
    local socialize = require("socialize")
    local v = H.virtual()
    local cfg = { apiKey = H.API_KEY, secret = H.SECRET, url = srv.http, cafile = srv.ca, timeout = 10,
                  now = v.now, sleep = v.sleep }
    for k, v in pairs(extra or {}) do
        if v == H.NONE then cfg[k] = nil else cfg[k] = v end
    end
    return socialize.new(cfg)
end

--- A transport that records requests and never sends them.
function H.spy(reply)
    local spy = { calls = {} }
    spy.transport = function(req)
        spy.calls[#spy.calls + 1] = req
        if reply then return reply(req) end
        return { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200}' }
    end
    return spy
end

function H.vectors(name)
    local core = require("socialize.core")
    return assert(core.json_decode(assert(H.read("spec/vectors/" .. name .. ".json"))))
end

return H
