-- Shared by the specs: module paths, the local fake Gigya server (started
-- once, on 127.0.0.1, stopped at exit and by the test runner), test keys.
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

local core = require("socialize.core")

local H = {}

H.SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="       -- partner secret
H.API_KEY = "3_fakeApiKey"
H.USER_KEY = "AFakeUserKey"
H.USER_SECRET = "dXNlci1rZXktc2VjcmV0LWZvci1zb2NpYWxpemU="          -- "user-key-secret-for-socialize"
H.JWT_USER_KEY = "AJwtUserKey"
H.TOKEN = "st2.fakeOAuthToken.1"

local tmpdir = os.getenv("SOCIALIZE_TEST_TMP")
if not tmpdir then
    local p = io.popen("mktemp -d /tmp/socialize-spec.XXXXXX")
    tmpdir = p:read("*l")
    p:close()
end
H.tmpdir = tmpdir

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

local function sleep(s)
    sh("sleep " .. s)
end

-- A CA, a server certificate for 127.0.0.1 signed by it, a self-signed
-- certificate nobody trusts, and an RSA key pair for JWT bearer auth.
local function make_keys()
    local d = tmpdir
    if H.read(d .. "/jwt.pem") then return end
    local q = " >/dev/null 2>&1"
    assert(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=socialize-test-ca"
        .. " -keyout " .. d .. "/ca.key -out " .. d .. "/ca.pem" .. q), "openssl: CA")
    H.write(d .. "/san.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    assert(sh("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " .. d
        .. "/server.key -out " .. d .. "/server.csr" .. q), "openssl: csr")
    assert(sh("openssl x509 -req -in " .. d .. "/server.csr -CA " .. d .. "/ca.pem -CAkey " .. d
        .. "/ca.key -CAcreateserial -days 2 -extfile " .. d .. "/san.cnf -out " .. d .. "/server.pem" .. q),
        "openssl: server cert")
    assert(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=untrusted -keyout "
        .. d .. "/other.key -out " .. d .. "/other.pem" .. q), "openssl: other CA")
    assert(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " .. d .. "/jwt.pem" .. q))
    assert(sh("openssl pkey -in " .. d .. "/jwt.pem -pubout -out " .. d .. "/jwt.pub" .. q))
end

H.servers = {}

-- Starts one of spec/fakes/*.py in the background (on 127.0.0.1, with a
-- bounded lifetime) and waits for the JSON line it writes when ready.
local function spawn(name, script, args)
    local ready = tmpdir .. "/" .. name .. ".ready"
    os.remove(ready)
    local path = (os.getenv("SOCIALIZE_ROOT") or ".") .. "/spec/fakes/" .. script
    assert(sh("python3 " .. path .. " --ready " .. ready .. " " .. (args or "") .. " >" .. tmpdir .. "/" .. name
        .. ".log 2>&1 &"))
    for _ = 1, 200 do
        local s = H.read(ready)
        if s then return core.json_decode(s) end
        sleep(0.05)
    end
    error(script .. " did not start: " .. tostring(H.read(tmpdir .. "/" .. name .. ".log")))
end

--- Starts a fake Gigya server. opts.cert: "trusted" (default) or "untrusted".
-- Returns { http = "http://127.0.0.1:P", https = "https://127.0.0.1:Q", ca = path }.
function H.start_gigya(name, opts)
    name = name or "gigya"
    opts = opts or {}
    if H.servers[name] then return H.servers[name] end
    make_keys()
    local d = tmpdir
    local conf = {
        partners = { [H.API_KEY] = H.SECRET },
        userKeys = {
            [H.USER_KEY] = { secret = H.USER_SECRET },
            [H.JWT_USER_KEY] = { publicKey = d .. "/jwt.pub" },
        },
        tokens = { [H.TOKEN] = { apiKey = H.API_KEY, UID = "user_oauth" } },
        users = {
            user_123 = { providers = { "facebook", "twitter", "linkedin" }, nickname = "Demo User" },
            user_oauth = { providers = { "facebook" } },
            user_fb_fails = { providers = { "facebook", "twitter" }, failing = { facebook = 403009 } },
            user_all_fail = { providers = { "twitter" }, failing = { twitter = 403024 } },
            user_none = { providers = {} },
        },
    }
    H.write(d .. "/" .. name .. ".json", assert(core.json_encode(conf)))
    local cert = opts.cert == "untrusted" and "other" or "server"
    local info = spawn(name, "fake_gigya.py", "--config " .. d .. "/" .. name .. ".json --cert " .. d .. "/" .. cert
        .. ".pem --key " .. d .. "/" .. cert .. ".key --lifetime " .. (opts.lifetime or 600))
    local srv = {
        http = "http://127.0.0.1:" .. info.http,
        https = "https://127.0.0.1:" .. info.https,
        ca = d .. "/ca.pem",
        pid = info.pid,
    }
    H.servers[name] = srv
    return srv
end

--- Starts the sandbox of the networks (spec/fakes/sandbox.py).
-- Returns { ports = {twitter = P, ...}, url = function(network) }.
function H.start_sandbox()
    if H.servers.sandbox then return H.servers.sandbox end
    local info = spawn("sandbox", "sandbox.py", "--lifetime 600")
    local sb = { ports = info, pid = info.pid, http = "http://127.0.0.1:" .. info.control }
    function sb.url(network) return "http://127.0.0.1:" .. info[network] end
    H.servers.sandbox = sb
    return sb
end

--- Starts the fault-injection server (spec/fakes/faults.py); returns its base URL.
function H.start_faults()
    if H.servers.faults then return H.servers.faults end
    local info = spawn("faults", "faults.py", "--lifetime 600")
    local f = { http = "http://127.0.0.1:" .. info.http, pid = info.pid, control = false }
    H.servers.faults = f
    return f
end

--- Starts the connection trap (spec/fakes/listener.py): a port on 127.0.0.1
-- (and ::1 when present) that counts connections; H.connections(t) reads it.
function H.start_listener()
    if H.servers.listener then return H.servers.listener end
    local info = spawn("listener", "listener.py", "--lifetime 600")
    local t = { port = info.trap, v6 = info.v6, pid = info.pid, http = "http://127.0.0.1:" .. info.control }
    H.servers.listener = t
    return t
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

local control
local function control_session()
    if not control then control = require("socialize.curl").new { timeout = 10 } end
    return control
end

function H.control(srv, path, body)
    local res, err = control_session():request {
        method = body and "POST" or "GET", url = srv.http .. path, body = body or "",
    }
    assert(res, err)
    return core.json_decode(res.body)
end

function H.requests(srv) return H.control(srv, "/__requests") end
function H.reset(srv) return H.control(srv, "/__reset", "{}") end
function H.configure(srv, t) return H.control(srv, "/__config", assert(core.json_encode(t))) end

function H.stop_all()
    for name, srv in pairs(H.servers) do
        if srv.control ~= false then pcall(H.control, srv, "/__shutdown", "{}") end
        sh("kill " .. srv.pid .. " 2>/dev/null")
        H.servers[name] = nil
    end
end

-- Servers are stopped by each spec's teardown (H.stop_all), by the test
-- runner's cleanup, and at the latest by their own --lifetime. No __gc guard:
-- on Lua 5.1 the C modules may be unloaded before such a finalizer runs.

H.NONE = setmetatable({}, { __tostring = function() return "H.NONE" end }) -- removes a default

--- A client wired to the fake server with a fixed clock/nonce when asked.
function H.client(srv, extra)
    local socialize = require("socialize")
    local cfg = { apiKey = H.API_KEY, secret = H.SECRET, url = srv.http, cafile = srv.ca, timeout = 10 }
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
    return assert(core.json_decode(assert(H.read("spec/vectors/" .. name .. ".json"))))
end

return H
