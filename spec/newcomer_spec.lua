-- What a new user meets first, following README.md and docs/*.md only: the
-- messages of refused configuration and the promises of the docs, checked
-- the way the docs state them.
local socialize = require("socialize")

-- A transport that records what would be sent and answers 200 {}.
local function recorder()
    local sent = {}
    return sent, function(req)
        sent[#sent + 1] = req
        return { status = 200, headers = {}, body = "{}" }
    end
end

local function count(s, pat)
    local n = 0
    for _ in s:gmatch(pat) do n = n + 1 end
    return n
end

describe("newcomer: a refused connection value reads once #unit", function()
    -- docs/api.md: a Mastodon instance with a path answers 400006 naming
    -- mastodon.instance; the message used to say "Invalid parameter value"
    -- twice ("400006 Invalid parameter value: mastodon: Invalid parameter
    -- value: connection mastodon.instance ...").
    local cases = {
        { "a profile URL as mastodon.instance", "mastodon", { accessToken = "tok-1234", instance = "https://mastodon.social/@me" },
          "mastodon: connection mastodon.instance must be the server's address" },
        { "a NUL byte in a connection credential", "mastodon", { accessToken = "tok\0evil", instance = "mastodon.social" },
          "mastodon: connection mastodon.accessToken contains a NUL byte" },
        { "a NUL byte in a provider setting", "telegram", { chatId = "-100" },
          "telegram: providers.telegram.botToken contains a NUL byte",
          providers = { telegram = { botToken = "1:a\0b" } } },
    }
    for _, c in ipairs(cases) do
        for _, mode in ipairs { "blocking", "async" } do
            it(c[1] .. " (" .. mode .. ")", function()
                local sent, transport = recorder()
                local client = socialize.new {
                    backend = "direct", transport = transport,
                    providers = c.providers or { mastodon = {} },
                    connections = { u1 = { [c[2]] = c[3] } },
                }
                local params = { UID = "u1", userAction = { title = "Level 3" } }
                local res, err
                if mode == "blocking" then
                    res, err = client:publishUserAction(params)
                else
                    local calls = 0
                    assert.is_true(client:publishUserAction(params, function(r, e)
                        calls = calls + 1
                        res, err = r, e
                    end))
                    local guard = 0
                    while client:poll(10) > 0 do
                        guard = guard + 1
                        assert.is_true(guard < 1000, "poll did not finish")
                    end
                    assert.are.equal(1, calls)
                end
                assert.is_nil(res)
                assert.are.equal(400006, err.errorCode)
                assert.are.equal(0, #sent)
                local entry = err.providerErrorCodes[1]
                assert.are.equal(c[2], entry.provider)
                assert.are.equal(400006, entry.errorCode)
                assert.are.equal("content_invalid", entry.category)
                assert.are.equal(1, select(2, entry.errorDetails:gsub(c[4]:gsub("%p", "%%%0"), "")),
                    entry.errorDetails)
                assert.are.equal(1, count(tostring(err), "Invalid parameter value"), tostring(err))
                assert.are.equal(0, count(entry.errorDetails, "Invalid parameter value"), entry.errorDetails)
                assert.falsy(tostring(err):find("tok", 1, true))
            end)
        end
    end
end)

describe("newcomer: the direct examples need the sandbox #once", function()
    -- examples/direct.lua and examples/game_loop.lua carry the sandbox's
    -- credentials; run without SANDBOX_PORTS they used to send them to the
    -- real networks. Now they stop with a message saying how to start the
    -- sandbox. Any request that slipped out would go to a dead proxy on
    -- 127.0.0.1 (libcurl honours ALL_PROXY), never off this host.
    local build = os.getenv("BUILD") or "build/lua5.4"
    local lua = os.getenv("LUA") or (build:match("luajit") and "luajit") or (build:match("5%.1") and "lua5.1")
        or "lua5.4"
    for _, example in ipairs { "examples/direct.lua", "examples/game_loop.lua" } do
        for _, value in ipairs { "unset", "", "not json" } do
            it(example .. " with SANDBOX_PORTS " .. (value == "unset" and "unset" or ("'" .. value .. "'")), function()
                local env = value == "unset" and "unset SANDBOX_PORTS; " or ("SANDBOX_PORTS='" .. value .. "' ")
                local cmd = (value == "unset" and env or "") .. "env -u NO_PROXY -u no_proxy"
                    .. " ALL_PROXY=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1"
                    .. " HTTP_PROXY=http://127.0.0.1:1 http_proxy=http://127.0.0.1:1 "
                    .. (value ~= "unset" and env or "")
                    .. "LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. build .. "/?.so;;' " .. lua .. " " .. example
                    .. " 2>&1; echo \"exit=$?\""
                local p = io.popen(cmd)
                local out = p:read("*a")
                p:close()
                assert.are.equal("2", out:match("exit=(%d+)%s*$"), out)
                assert.truthy(out:find("SANDBOX_PORTS is not set", 1, true), out)
                assert.truthy(out:find("spec/fakes/sandbox.py --ready", 1, true), out)
                assert.falsy(out:find("posted", 1, true), out)
                assert.falsy(out:find("providerErrorCodes", 1, true), out)
            end)
        end
    end
end)

describe("newcomer: a connection key that is no network #unit", function()
    local socialize = require("socialize")
    for _, key in ipairs({ "Telegram", "telegarm", "x" }) do
        it("is named in the not-connected error: " .. key, function()
            local sent = 0
            local c = socialize.new { backend = "direct", transport = function() sent = sent + 1 end,
                providers = { telegram = { botToken = "123:abc" } },
                connections = { u1 = { [key] = { chatId = "42" } } } }
            local res, err = c:setStatus { UID = "u1", status = "hi" }
            assert.is_nil(res)
            assert.are.equal(400106, err.errorCode)
            assert.matches('"' .. key .. '" are not networks', err.errorDetails, 1, true)
            assert.matches("telegram", err.errorDetails, 1, true)
            assert.are.equal(0, sent)
        end)
    end
end)
