-- The connect examples run as a user would: examples/connect.lua (the
-- command-line flow: prints the authorization URL, reads the callback URL
-- pasted back on stdin) and `make demo`'s part 3 (examples/connect_all.lua:
-- every network with a connect flow, then a publish through the store).
-- The sandbox is the authorization server; the test's HTTP client (libcurl
-- through socialize.curl) plays the browser.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")
local curl = require("socialize.curl")

local KEY = K.KEY
local build = os.getenv("BUILD") or "build/lua5.4"
local lua = os.getenv("LUA") or (build:match("luajit") and "luajit") or (build:match("5%.1") and "lua5.1") or "lua5.4"
local http = curl.new { timeout = 10 }
local sb

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local function env(db)
    return "SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE_STORE='" .. db
        .. "' SOCIALIZE_STORE_KEY='" .. KEY .. "' LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. build .. "/?.so;;' "
end

local function db() return K.db("connect-ex") end

-- runs examples/connect.lua with stdin from a FIFO; `answer(url)` gives the
-- line to paste once the URL is printed. Returns the output and exit code.
local function cli(provider, uid, url_db, answer)
    local dir = H.tmpdir .. "/cli-" .. os.time() .. "-" .. math.random(1, 1e9)
    assert(sh("mkdir -p " .. dir .. " && mkfifo " .. dir .. "/in"))
    os.execute("(" .. env(url_db) .. lua .. " examples/connect.lua " .. provider .. " " .. uid .. " <" .. dir
        .. "/in >" .. dir .. "/out 2>&1; echo \"exit=$?\" >>" .. dir .. "/out) &")
    local fifo = assert(io.open(dir .. "/in", "w")) -- opens once the example reads it
    local url
    for _ = 1, 400 do
        url = (H.read(dir .. "/out") or ""):match("\n(http[^\n]+)\n> ")
        if url then break end
        sh("sleep 0.05")
    end
    assert.truthy(url, H.read(dir .. "/out"))
    fifo:write(answer(url), "\n")
    fifo:close()
    local out
    for _ = 1, 400 do
        out = H.read(dir .. "/out") or ""
        if out:match("exit=%d+%s*$") then break end
        sh("sleep 0.05")
    end
    return out, tonumber(out:match("exit=(%d+)%s*$")), url
end

local function follow(url)
    local res = assert(http:request { method = "GET", url = url })
    assert.are.equal(302, res.status, res.body)
    for k, v in pairs(res.headers) do if k:lower() == "location" then return v end end
    error("no Location")
end

describe("connect examples #once", function()
    setup(function()
        math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
        sb = H.start_sandbox()
    end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("examples/connect.lua: the URL printed, the callback pasted back, the identity printed and stored", function()
        local url_db = db()
        local out, code, url = cli("linkedin", "cli_user", url_db, follow)
        assert.are.equal(0, code, out)
        assert.are.equal(sb.url("linkedin"), url:sub(1, #sb.url("linkedin")))
        assert.matches("connected cli_user: linkedin account abc123 %(Sandbox Person%)", out)
        local s = assert(require("socialize.store").open(url_db, { keys = { KEY } }))
        local rec = assert(s:get_connection("cli_user", "linkedin"))
        s:close()
        assert.are.equal("abc123", rec.account)
        assert.is_nil(out:find(rec.secrets.accessToken, 1, true))
    end)

    it("examples/connect.lua: a garbled paste, a denial and an unknown network fail with a named error", function()
        local out, code = cli("twitter", "cli_user", db(), function() return "https://app.example/cb?code=x&state=nope" end)
        assert.are.equal(1, code, out)
        assert.matches("finishConnect: state_unknown: ", out)
        H.configure(sb, { oauth_scenario = { twitter = "deny" } })
        out, code = cli("twitter", "cli_user", db(), follow)
        assert.are.equal(1, code, out)
        assert.matches("finishConnect: access_denied: ", out)
        assert.is_nil(out:find("tw-client-secret", 1, true))
        out, code = sh(env(db()) .. lua .. " examples/connect.lua telegram u </dev/null")
        assert.are.equal(2, code, out)
        assert.matches("PROVIDER one of:.* twitter", out)
    end)

    it("make demo's part 3 connects every network with a connect flow and publishes through the store", function()
        local url_db = db()
        local out, code = sh(env(url_db) .. lua .. " examples/connect_all.lua")
        assert.are.equal(0, code, out)
        local names = {}
        for _, name in ipairs(core.provider_names()) do
            if core.provider_info(name).connect and sb.ports.oauth[name] then names[#names + 1] = name end
        end
        assert.truthy(#names >= 3, out)
        assert.matches("connecting demo_connect_user to " .. #names .. " networks", out)
        assert.matches("getUserInfo: " .. #names .. " identities in the store", out)
        assert.matches("publishUserAction through the stored connections: errorCode 0", out)
        for _, name in ipairs(names) do
            assert.matches("\n  " .. name .. "%s+connected: account ", out)
            assert.matches("\n  " .. name .. "%s+post [^\n]", out)
            assert.is_nil(out:match("\n  " .. name .. "%s+post nil"), out)
        end
        assert.matches("twitter%s+post %d+\n", out)
        assert.matches("linkedin%s+post urn:li:share:%d+\n", out)
        -- the posts went out with the tokens the sandbox issued at the connect
        local s = assert(require("socialize.store").open(url_db, { keys = { KEY } }))
        local rec = assert(s:get_connection("demo_connect_user", "twitter"))
        s:close()
        local seen = false
        for _, r in ipairs(H.requests(sb)) do
            if r.path == "/2/tweets" then
                assert.are.equal("Bearer " .. rec.secrets.accessToken, r.headers.authorization)
                seen = true
            end
        end
        assert.is_true(seen)
    end)
end)
