-- OpenResty integration: real nginx with Debian's Lua module runs
-- examples/openresty (nginx.conf + handler.lua) against the sandbox.
local H = require("spec.helper")
local core = require("socialize.core")
local curl = require("socialize.curl")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local sb, base, prefix, conf
local STORE_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local store_url
local http = curl.new { timeout = 20 }

local function get(path)
    local res, err = http:request { method = "GET", url = base .. path }
    assert(res, err)
    return res
end

-- Started as root, nginx runs its workers as `nobody`, who cannot read a
-- checkout or a temp dir of mode 0700 (root's home, mktemp -d): the workers
-- run as the user who started the master instead. A plain user's nginx cannot
-- switch users, so there nothing is added.
local function run_as_me()
    local uid = sh("id -u"):match("^(%d+)")
    if uid ~= "0" then return "" end
    local user = assert(sh("id -un"):match("^([%w_.-]+)\n"))
    local group = assert(sh("id -gn"):match("^([%w_.-]+)\n"))
    return "user " .. user .. " " .. group .. ";\n"
end

local function start_nginx()
    prefix = H.tmpdir .. "/nginx"
    assert(sh("mkdir -p " .. prefix .. "/tmp"))
    local port
    for _ = 1, 20 do
        port = 20000 + math.random(0, 20000)
        local tmpl = assert(H.read(ROOT .. "/examples/openresty/nginx.conf"))
        local text = tmpl:gsub("%${PREFIX}", prefix):gsub("%${ROOT}", ROOT):gsub("%${PORT}", tostring(port))
        text = run_as_me() .. text
        conf = prefix .. "/nginx.conf"
        H.write(conf, text)
        store_url = "sqlite:" .. prefix .. "/connections.db"
        local out, code = sh("SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE_STORE='" .. store_url
            .. "' SOCIALIZE_STORE_KEY='" .. STORE_KEY .. "' nginx -p " .. prefix .. " -c " .. conf)
        if code == 0 then break end
        assert(out:match("Address already in use"), out)
    end
    base = "http://127.0.0.1:" .. port
    for _ = 1, 100 do
        local res = http:request { method = "GET", url = base .. "/health" }
        if res and res.status == 200 then return end
        sh("sleep 0.05")
    end
    error("nginx did not start: " .. tostring(H.read(prefix .. "/error.log")))
end

describe("OpenResty #once", function()
    setup(function()
        math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
        sb = H.start_sandbox()
        start_nginx()
    end)
    teardown(function()
        if conf then sh("nginx -p " .. prefix .. " -c " .. conf .. " -s quit") end
        local pid = H.read(prefix .. "/nginx.pid")
        for _ = 1, 50 do
            if not H.read(prefix .. "/nginx.pid") then break end
            sh("sleep 0.05")
        end
        if pid and H.read(prefix .. "/nginx.pid") then sh("kill " .. pid:gsub("%s", "")) end
        H.stop_all()
    end)
    before_each(function()
        H.reset(sb)
    end)

    -- /connect/:provider and /callback/:provider (examples/openresty): the
    -- sandbox is the authorization server; the test's HTTP client plays the
    -- browser, one GET per redirect.
    local function location(res)
        for k, v in pairs(res.headers or {}) do if k:lower() == "location" then return v end end
    end

    local function connect_via_nginx(provider, uid)
        local c = core.provider_info(provider).connect
        local extra = ""
        if type(c) == "table" and type(c.instance) == "string" then -- the user's server (Mastodon)
            extra = "&" .. c.instance .. "=" .. sb.url(provider):gsub("[:/]", function(x) return string.format("%%%02X", x:byte()) end)
        end
        local r1 = get("/connect/" .. provider .. "?uid=" .. uid .. extra)
        assert.are.equal(302, r1.status, r1.body)
        local auth = assert(location(r1))
        assert.are.equal(sb.url(provider), auth:sub(1, #sb.url(provider)))
        assert.truthy(auth:find("redirect_uri=" .. (base .. "/callback/" .. provider):gsub("[:/]",
            function(c) return string.format("%%%02X", c:byte()) end), 1, true), auth)
        local r2 = assert(http:request { method = "GET", url = auth })
        assert.are.equal(302, r2.status, r2.body)
        local back = assert(location(r2))
        local cb = base .. "/callback/" .. provider .. "?"
        assert.are.equal(cb, back:sub(1, #cb))
        return back
    end

    it("connects every network with a connect flow: /connect redirects, /callback stores and shows the identity", function()
        local names = {}
        for _, name in ipairs(core.provider_names()) do
            if core.provider_info(name).connect and sb.ports.oauth and sb.ports.oauth[name] then names[#names + 1] = name end
        end
        assert.truthy(#names >= 3, "twitter, linkedin and vkontakte at least")
        local store = require("socialize.store")
        for _, name in ipairs(names) do
            local back = connect_via_nginx(name, "webuser")
            local r3 = get(back:sub(#base + 1))
            assert.are.equal(200, r3.status, r3.body)
            local id = core.json_decode(r3.body)
            assert.are.equal(0, id.errorCode)
            assert.are.equal(name, id.provider)
            assert.truthy(id.providerUID and id.providerUID ~= "", r3.body)
            assert.truthy(id.expiresAt == nil or id.expiresAt > os.time(), name) -- Mastodon tokens and Page tokens do not expire
            -- sealed into the store file nginx wrote, read back with the key
            local s = assert(store.open(store_url, { keys = { STORE_KEY } }))
            local rec = assert(s:get_connection("webuser", name))
            s:close()
            assert.are.equal(id.providerUID, rec.account)
            assert.truthy(rec.secrets.accessToken and rec.secrets.accessToken ~= "")
            -- the tokens never reach the browser
            assert.is_nil(r3.body:find(rec.secrets.accessToken, 1, true))
        end
        -- the X identity is the sandbox's account
        local s = assert(store.open(store_url, { keys = { STORE_KEY } }))
        assert.are.equal("2244994945", assert(s:get_connection("webuser", "twitter")).account)
        s:close()
    end)

    it("a replayed or forged callback, a denial and an unsupported network are named errors, no secret shown", function()
        local back = connect_via_nginx("twitter", "webuser2")
        assert.are.equal(200, get(back:sub(#base + 1)).status)
        local again = get(back:sub(#base + 1))
        assert.are.equal(400, again.status)
        assert.are.equal("state_unknown", core.json_decode(again.body).error)
        local forged = get("/callback/twitter?code=abc&state=" .. string.rep("0", 48))
        assert.are.equal(400, forged.status)
        assert.are.equal("state_unknown", core.json_decode(forged.body).error)
        -- the user says no at the network
        H.configure(sb, { oauth_scenario = { twitter = "deny" } })
        local denied = connect_via_nginx("twitter", "webuser3")
        assert.matches("error=access_denied", denied, 1, true)
        local r = get(denied:sub(#base + 1))
        assert.are.equal(400, r.status)
        local e = core.json_decode(r.body)
        assert.are.equal("access_denied", e.error)
        assert.is_nil(r.body:find("tw-client-secret", 1, true))
        -- a network without a connect flow
        local fb = get("/connect/telegram?uid=webuser")
        assert.are.equal(400, fb.status)
        assert.are.equal("unsupported", core.json_decode(fb.body).error)
        for _, r0 in ipairs({ again, forged, r, fb }) do
            assert.is_nil(r0.body:find("secret", 1, true), r0.body)
        end
    end)

    it("publishes from a content handler through cosockets, without loading libcurl", function()
        local res = get("/publish?uid=player1&providers=twitter,facebook,telegram,mastodon")
        assert.are.equal(200, res.status, res.body)
        local body = core.json_decode(res.body)
        assert.are.equal(0, body.errorCode)
        assert.matches("^%d+$", body.providerPostIDs.twitter)
        assert.matches("^1647395831_%d+$", body.providerPostIDs.facebook)
        assert.matches("^%-100777:%d+$", body.providerPostIDs.telegram)
        assert.matches("^%d+$", body.providerPostIDs.mastodon)
        assert.is_false(body.curlLoaded)
        -- the sandbox checked the OAuth 1.0a signature and the appsecret_proof
        local nets = {}
        for _, r in ipairs(H.requests(sb)) do nets[r.network] = (nets[r.network] or 0) + 1 end
        assert.are.same({ twitter = 1, facebook = 1, telegram = 1, mastodon = 2 }, nets)
    end)

    it("fetches a player's image and uploads it through cosockets too (no libcurl)", function()
        local img = sb.url("media") .. "/img/48x32.png"
        local res = get("/publish?uid=player1&providers=mastodon,twitter&image=" .. img:gsub(":", "%%3A"):gsub("/", "%%2F"))
        assert.are.equal(200, res.status, res.body)
        local body = core.json_decode(res.body)
        assert.are.equal(0, body.errorCode)
        assert.are.equal(1, #body.mediaIDs.mastodon)
        assert.are.equal(1, #body.mediaIDs.twitter)
        assert.is_false(body.curlLoaded)
        local uploads = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.path == "/api/v2/media" or r.path == "/2/media/upload" then uploads = uploads + 1 end
        end
        assert.are.equal(2, uploads)
    end)

    it("reports the networks' errors as the response model", function()
        local res = get("/publish?uid=expired&providers=twitter")
        assert.are.equal(502, res.status)
        local body = core.json_decode(res.body)
        assert.are.equal(403009, body.errorCode)
        assert.matches("twitter: HTTP 401", body.error)
    end)

    it("does not block the worker: concurrent requests wait on a slow network together", function()
        -- the sandbox holds every Telegram reply until all eight upstream requests
        -- arrived: one worker that blocked on the first would never send the second
        H.configure(sb, { barrier = 8 })
        local reqs = {}
        for i = 1, 8 do
            reqs[i] = { method = "GET", url = base .. "/publish?uid=p" .. i .. "&providers=telegram", timeout = 30 }
        end
        local out = http:request_many(reqs)
        for i = 1, 8 do assert.are.equal(200, out[i].status, out[i].body or out[i].error) end
        local seen = H.requests(sb)
        assert.are.equal(8, #seen)
        for _, r in ipairs(seen) do assert.are.equal("met", r.barrier) end
    end)

    it("keeps upstream connections alive in nginx's pool", function()
        get("/publish?uid=k1&providers=telegram")
        get("/publish?uid=k2&providers=telegram")
        local r = H.requests(sb)
        assert.are.equal(2, #r)
        assert.are.equal(r[1].client_port, r[2].client_port)
    end)

    it("answers a clear error from a phase without cosockets, instead of hanging", function()
        local res = get("/wrong-phase")
        assert.are.equal(200, res.status)
        assert.matches("^400096 Not supported: cosockets are not available in nginx's header_filter phase",
            res.headers["x-socialize-error"])
        assert.are.equal(0, #H.requests(sb))
    end)

    it("runs its workers as the user who started it, so a checkout of mode 0700 is readable", function()
        local master = assert(H.read(prefix .. "/nginx.pid")):match("%d+")
        local workers = sh("pgrep -P " .. master)
        local me = sh("id -u"):match("^%d+")
        local n = 0
        for line in workers:gmatch("[^\n]+") do
            local pid = line:match("^%d+$")
            if pid then
                n = n + 1
                assert.are.equal(me, sh("stat -c %u /proc/" .. pid):match("^%d+"), "worker " .. pid)
            end
        end
        assert.are.equal(1, n, workers)
    end)

    it("logs no Lua errors", function()
        local log = H.read(prefix .. "/error.log") or ""
        assert.is_nil(log:match("%[error%]"), log)
    end)
end)
