-- config.restyUpstream (docs/openresty.md): Gigya calls sent as subrequests
-- through the host's internal location (proxy_pass + upstream keepalive), in
-- a real nginx against the fake Gigya server and the fault server; its
-- failures (upstream down, timeout, bad replies) and the cosocket fallback.
local H = require("spec.helper")
local core = require("socialize.core")
local curl = require("socialize.curl")
local socialize = require("socialize")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local http = curl.new { timeout = 20 }
local gigya, faults, prefix, conf, base, down_port

-- the site's handler: /call?up=<restyUpstream or "">&url=<Gigya base>&uid=
local HANDLER = [[
local socialize = require("socialize")
local cjson_encode = require("socialize.core").json_encode
local _M = {}
local clients = {}
function _M.call()
    local a = ngx.req.get_uri_args()
    local key = (a.up or "") .. " " .. a.url
    local c = clients[key]
    if not c then
        c = socialize.new { apiKey = "3_fakeApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
            url = a.url, retry = false, timeout = 2, restyUpstream = a.up ~= "" and a.up or nil }
        clients[key] = c
    end
    local params = { userAction = { title = "Hello" } }
    if a.uid ~= "" then params.UID = a.uid end
    local res, err = c:publishUserAction(params)
    ngx.header["Content-Type"] = "application/json"
    if not res then
        ngx.say(cjson_encode({ errorCode = err.errorCode, errorMessage = err.errorMessage, errorDetails = err.errorDetails,
            transportKind = err.transportKind }))
    else
        ngx.say(cjson_encode({ errorCode = res.errorCode, callId = res.callId }))
    end
end
-- the same call from a timer, where subrequests do not exist: cosockets
function _M.timer()
    local a = ngx.req.get_uri_args()
    local done = {}
    ngx.timer.at(0, function()
        local c = socialize.new { apiKey = "3_fakeApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
            url = a.url, retry = false, timeout = 2, restyUpstream = a.up }
        local res, err = c:publishUserAction { UID = "user_123", userAction = { title = "Hello" } }
        done.v = res and res.errorCode or err.errorCode
    end)
    for _ = 1, 200 do
        if done.v then break end
        ngx.sleep(0.01)
    end
    ngx.say(tostring(done.v))
end
return _M
]]

local function location(name, upstream, read_timeout, host)
    return ([[
        location /%s/ {
            internal;
            proxy_pass http://%s/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Content-Type "application/x-www-form-urlencoded";
            proxy_set_header Host "%s"; # the host of the client's url: Gigya signs it
            proxy_connect_timeout 1s;
            proxy_send_timeout %s;
            proxy_read_timeout %s;
        }
]]):format(name, upstream, host, read_timeout, read_timeout)
end

local function run_as_me()
    if sh("id -u"):match("^(%d+)") ~= "0" then return "" end
    return "user " .. sh("id -un"):match("^([%w_.-]+)\n") .. " " .. sh("id -gn"):match("^([%w_.-]+)\n") .. ";\n"
end

local function start_nginx()
    prefix = H.tmpdir .. "/nginx-upstream"
    assert(sh("mkdir -p " .. prefix .. "/tmp"))
    H.write(prefix .. "/upstream_site.lua", HANDLER)
    local gport = gigya.http:match(":(%d+)$")
    local fport = faults.http:match(":(%d+)$")
    for _ = 1, 20 do
        local port = 20000 + math.random(0, 20000)
        local down = 20000 + math.random(0, 20000) -- nothing listens there (checked below)
        local text = run_as_me() .. ([[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
error_log PREFIX/error.log warn;
pid PREFIX/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path PREFIX/tmp/body;
    proxy_temp_path PREFIX/tmp/proxy;
    fastcgi_temp_path PREFIX/tmp/fastcgi;
    uwsgi_temp_path PREFIX/tmp/uwsgi;
    scgi_temp_path PREFIX/tmp/scgi;
    lua_package_path "ROOT/lua/?.lua;PREFIX/?.lua;;";
    lua_package_cpath "ROOT/build/luajit/?.so;;";
    upstream gigya { server 127.0.0.1:GPORT; keepalive 8; }
    upstream faults { server 127.0.0.1:FPORT; keepalive 8; }
    upstream down { server 127.0.0.1:DOWN; }
    server {
        listen 127.0.0.1:PORT;
        location = /health { return 200 "ok"; }
        location = /call { content_by_lua_block { require("upstream_site").call() } }
        location = /timer { content_by_lua_block { require("upstream_site").timer() } }
LOCATIONS
    }
}
]]):gsub("LOCATIONS", location("_gigya", "gigya", "1s", "127.0.0.1:" .. gport)
            .. location("_faults", "faults", "1s", "faults.invalid") .. location("_down", "down", "1s", "gigya.invalid")):gsub("PREFIX", prefix):gsub("ROOT", ROOT)
            :gsub("GPORT", gport):gsub("FPORT", fport):gsub("DOWN", tostring(down)):gsub("PORT", tostring(port))
        conf = prefix .. "/nginx.conf"
        H.write(conf, text)
        local _, refused = sh("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", " .. down .. "), 1)'")
        if refused ~= 0 then
            local out, code = sh("nginx -p " .. prefix .. " -c " .. conf)
            if code == 0 then base, down_port = "http://127.0.0.1:" .. port, down break end
            assert(out:match("Address already in use"), out)
        end
    end
    assert(base, "no free ports")
    for _ = 1, 100 do
        local res = http:request { method = "GET", url = base .. "/health" }
        if res and res.status == 200 then return end
        sh("sleep 0.05")
    end
    error("nginx did not start: " .. tostring(H.read(prefix .. "/error.log")))
end

local function esc(s) return (s:gsub("[^%w%-_.]", function(c) return string.format("%%%02X", c:byte()) end)) end

local function call(up, url, uid, headers)
    local res, err = http:request { method = "GET", headers = headers,
        url = base .. "/call?up=" .. esc(up) .. "&url=" .. esc(url) .. "&uid=" .. esc(uid or "user_123") }
    assert(res, err)
    assert.are.equal(200, res.status, res.body)
    return core.json_decode(res.body)
end

describe("config.restyUpstream", function()
    it("is an internal location's prefix, checked when the client is made #unit", function()
        assert.is_table(socialize.new { apiKey = "k", secret = "c2VjcmV0", restyUpstream = "/_gigya/" })
        for _, bad in ipairs({ "_gigya/", "/_gigya", "/", "/a b/", "/a\0/", "http://x/", 3 }) do
            assert.has_error(function()
                socialize.new { apiKey = "k", secret = "c2VjcmV0", restyUpstream = bad }
            end)
        end
    end)
end)

describe("the resty transport's header split #unit", function()
    local split = require("socialize.resty").split_headers
    it("lower-cases names, trims values, joins repeated names, skips lines without a name", function()
        assert.are.same({ date = "Mon", ["content-length"] = "12", ["x-a"] = "1, 2", k = "", l = "a:b" },
            split("Date: Mon\r\nContent-Length:  12 \t\r\nX-A: 1\r\nx-a: 2\r\nnocolon\r\n: empty\r\nK:\r\nL: a:b"))
    end)
    it("reads hostile blocks in one linear pass (the patterns it replaced backtracked for seconds)", function()
        assert.are.same({}, split(string.rep("a", 65536)))
        assert.are.same({ x = "x" }, split("X: " .. string.rep(" ", 65530) .. "x"))
        assert.are.same({ y = "" }, split("Y:" .. string.rep(" ", 65530)))
        assert.are.same({ a = "b" }, split(string.rep("\n", 65530) .. "a:b"))
        assert.are.same({ a = "b" }, split(string.rep("z\r\n", 20000) .. "a: b\r\n"))
    end)
end)

describe("OpenResty, config.restyUpstream #once", function()
    setup(function()
        math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
        gigya = H.start_gigya()
        faults = H.start_faults()
        start_nginx()
    end)
    teardown(function()
        if conf then sh("nginx -p " .. prefix .. " -c " .. conf .. " -s quit") end
        local pid = prefix and H.read(prefix .. "/nginx.pid")
        for _ = 1, 50 do
            if not H.read(prefix .. "/nginx.pid") then break end
            sh("sleep 0.05")
        end
        if pid and H.read(prefix .. "/nginx.pid") then sh("kill " .. pid:gsub("%s", "")) end
        H.stop_all()
    end)
    before_each(function() H.reset(gigya) end)

    it("sends the signed call through the location, over one kept-alive upstream connection, without the browser's headers", function()
        local r1 = call("/_gigya/", gigya.http, "user_123", { Cookie = "session=browser-secret", Authorization = "Basic eDp5" })
        assert.are.same({ errorCode = 0, callId = r1.callId }, r1)
        local r2 = call("/_gigya/", gigya.http, "user_oauth")
        assert.are.equal(0, r2.errorCode)
        local seen = H.requests(gigya)
        assert.are.equal(2, #seen)
        -- the fake checked the signature itself; the path and the params are Gigya's
        assert.are.equal("/socialize.publishUserAction", seen[1].path)
        assert.are.equal("user_123", seen[1].params.UID)
        assert.are.equal('{"title":"Hello"}', seen[1].params.userAction)
        assert.are.equal("application/x-www-form-urlencoded", seen[1].headers["content-type"])
        assert.are.equal(gigya.http:match("//(.*)$"), seen[1].headers.host) -- the signed host
        assert.is_nil(seen[1].headers.cookie)
        assert.is_nil(seen[1].headers.authorization)
        assert.are.equal(seen[1].client_port, seen[2].client_port) -- upstream keepalive
    end)

    it("validates before anything is sent: a missing UID is 400002", function()
        local r = call("/_gigya/", "http://gigya.invalid", "")
        assert.are.equal(400002, r.errorCode)
        assert.are.equal(0, #H.requests(gigya))
    end)

    it("an upstream that refuses connections is a network error (never taken as unsent: kind other)", function()
        local r = call("/_down/", "http://gigya.invalid")
        assert.are.equal(500026, r.errorCode)
        assert.are.equal("other", r.transportKind)
        assert.matches("upstream failed %(nginx 502", r.errorDetails)
    end)

    it("a reply slower than the location's proxy_read_timeout is a timeout", function()
        H.configure(gigya, { delay_ms = 1500 })
        local r = call("/_gigya/", gigya.http)
        assert.are.equal(504002, r.errorCode)
        assert.are.equal("timeout", r.transportKind)
        assert.matches("timeout %(nginx upstream%)", r.errorDetails)
    end)

    it("bad replies are errors, never a success: truncated JSON, a reset, a truncated body", function()
        local r = call("/_faults/", "http://faults.invalid/badjson")
        assert.are_not.equal(0, r.errorCode)
        assert.is_number(r.errorCode)
        r = call("/_faults/", "http://faults.invalid/reset")
        assert.are.equal(500026, r.errorCode)
        assert.are.equal("other", r.transportKind) -- the request was sent: not safe to repeat
        r = call("/_faults/", "http://faults.invalid/truncated")
        assert.are.equal(500026, r.errorCode)
        assert.are.equal("closed", r.transportKind)
        r = call("/_faults/", "http://faults.invalid/e503")
        assert.are_not.equal(0, r.errorCode)
    end)

    it("without it, cosockets (the default) name the same faults", function()
        local ok = call("", gigya.http)
        assert.are.equal(0, ok.errorCode)
        local r = call("", faults.http .. "/truncated")
        assert.are.equal(500026, r.errorCode)
        assert.are.equal("closed", r.transportKind)
        r = call("", faults.http .. "/reset")
        assert.are.equal(500026, r.errorCode)
        r = call("", faults.http .. "/badjson")
        assert.are_not.equal(0, r.errorCode)
        assert.is_number(r.errorCode)
        r = call("", faults.http .. "/slow") -- 3 s, over the client's timeout of 2 s
        assert.are.equal(504002, r.errorCode)
        assert.are.equal("timeout", r.transportKind)
        r = call("", "http://127.0.0.1:" .. down_port)
        assert.are.equal(500026, r.errorCode)
        assert.are.equal("connect", r.transportKind)
    end)

    it("from a timer, where subrequests do not exist, the call goes over cosockets to the configured URL", function()
        local res = assert(http:request { method = "GET",
            url = base .. "/timer?up=" .. esc("/_down/") .. "&url=" .. esc(gigya.http) })
        assert.are.equal("0", res.body:match("^%S+"))
        assert.are.equal(1, #H.requests(gigya))
    end)

    it("logs no Lua errors (the upstream and socket failures above are logged by nginx)", function()
        local log = H.read(prefix .. "/error.log") or ""
        assert.is_nil(log:match("runtime error"), log)
        assert.is_nil(log:match("entry thread aborted"), log)
    end)
end)
