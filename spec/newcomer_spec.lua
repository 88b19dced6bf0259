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

describe("newcomer: a refused connection value reads once", function()
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
