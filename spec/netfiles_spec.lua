-- Issue 10, part 1: one C file per network, a registry derived from the files
-- present, a front (lua/) that names no network and asks the core instead
-- (core.provider_info), setup state in its own argument, no C file under csrc/
-- (core, binding, transport, C tests) of 800 lines or more.
local H = require("spec.helper")
local core = require("socialize.core")

local function lines(cmd)
    local p = assert(io.popen(cmd))
    local t = {}
    for l in p:lines() do t[#t + 1] = l end
    p:close()
    return t
end

local TS, NONCE = 1700000000, "n1"

describe("one file per network #once", function()
    it("the registry is the set of csrc/core/net/*.c files, nothing kept by hand", function()
        local files = {}
        for _, f in ipairs(lines("ls csrc/core/net/*.c")) do files[#files + 1] = f:match("([%w_]+)%.c$") end
        local names = core.provider_names()
        table.sort(files)
        local sorted = {}
        for i, n in ipairs(names) do sorted[i] = n end
        table.sort(sorted)
        assert.are.same(files, sorted)
        assert.is_true(#files >= 8)
        -- no strcmp chain over network names and no list of them in the engine
        local engine = H.read("csrc/core/sz_engine.c")
        for _, n in ipairs(names) do
            assert.is_nil(engine:find('"' .. n .. '"', 1, true), "sz_engine.c names " .. n)
        end
    end)

    it("gen-registry writes one descriptor per file given and refuses a bad file name", function()
        local out = H.tmpdir .. "/reg/sz_registry.c"
        local ok = os.execute("sh csrc/core/gen-registry " .. out .. " net/alpha.c net/beta_2.c")
        assert.is_true(ok == true or ok == 0)
        local text = H.read(out)
        assert.truthy(text:find("extern const sz_net sz_net_alpha;", 1, true))
        assert.truthy(text:find("&sz_net_beta_2,", 1, true))
        local bad = os.execute("sh csrc/core/gen-registry " .. out .. " 'net/a-b.c' 2>/dev/null")
        assert.is_true(bad ~= true and bad ~= 0)
    end)

    it("every C file under csrc/ is under 800 lines", function()
        local seen = 0
        for _, l in ipairs(lines("wc -l $(find csrc -name '*.c' -o -name '*.h') | grep -v ' total$'")) do
            seen = seen + 1
            local n, f = l:match("^%s*(%d+)%s+(%S+)$")
            assert.truthy(n, l)
            assert.is_true(tonumber(n) < 800, f .. " has " .. n .. " lines")
        end
        -- the binding, the transport and the C tests are counted too
        assert.is_true(seen >= 20)
        for _, dir in ipairs({ "csrc/core", "csrc/lua", "csrc/curl", "csrc/test" }) do
            assert.is_true(#lines("ls " .. dir .. "/*.c") > 0, dir)
        end
    end)

    it("no file under lua/ names a network (names and display names from the core)", function()
        local words = {}
        for _, n in ipairs(core.provider_names()) do
            words[#words + 1] = n
            local d = core.provider_info(n).display
            if d and #d > 2 then words[#words + 1] = d:lower() end
        end
        for _, f in ipairs(lines("find lua -name '*.lua'")) do
            local ln = 0
            for l in io.lines(f) do
                ln = ln + 1
                -- OpenResty's own term ("light threads") is no network's name
                l = l:gsub("light threads", "light coroutines")
                for _, w in ipairs(words) do
                    -- whole words only: Gigya's method name facebookGraphOperation is Gigya's API
                    assert.is_nil(l:lower():find("%f[%w_]" .. w .. "%f[^%w_]"),
                        f .. ":" .. ln .. " names " .. w .. ": " .. l)
                end
            end
        end
    end)
end)

describe("core.provider_info #unit", function()
    it("describes every registered network; nil for an unknown or NUL name", function()
        for _, n in ipairs(core.provider_names()) do
            local i = core.provider_info(n)
            assert.are.equal(n, i.name)
            assert.is_string(i.display)
            assert.is_table(i.secretFields)
            assert.is_table(i.accountFields)
            assert.is_table(i.appKeyFields)
            assert.is_string(i.idempotency.kind)
            assert.is_boolean(i.discontinued)
            if not i.discontinued then
                assert.is_true(#i.accountFields >= 1, n)
                assert.is_true(i.text.max > 0, n)
            end
        end
        assert.is_nil(core.provider_info("myspace"))
        assert.is_nil(core.provider_info("twitter\0x"))
        assert.has_error(function() core.provider_info() end)
    end)

    it("says what the front used to hard-code", function()
        local m, b = core.provider_info("mastodon"), core.provider_info("bluesky")
        assert.are.same({ action = "instance", cacheKey = "instance", required = false, refreshOnAuthExpired = false },
            m.setup)
        assert.are.same({ action = "session", cacheKey = "identifier", required = true, refreshOnAuthExpired = true,
                            refresh = "refreshSession" },
            b.setup)
        assert.are.equal("instance", m.urlField)
        assert.is_true(m.urlBareHost)
        assert.are.equal("pds", b.urlField)
        assert.is_false(b.urlBareHost)
        assert.are.same({ kind = "header", name = "Idempotency-Key" }, m.idempotency)
        assert.are.same({ kind = "param", name = "guid" }, core.provider_info("vkontakte").idempotency)
        assert.are.equal("none", core.provider_info("twitter").idempotency.kind)
        assert.are.equal("userId", core.provider_info("twitter").recipientField)
        assert.are.equal("chatId", core.provider_info("telegram").recipientField)
        assert.is_nil(core.provider_info("facebook").recipientField)
        assert.is_true(core.provider_info("facebook").graph)
        assert.is_false(core.provider_info("twitter").graph)
        assert.is_true(core.provider_info("linkedin").subjectRequired)
        assert.is_true(core.provider_info("yahoo").subjectRequired)
        assert.is_true(core.provider_info("yahoo").discontinued)
        assert.are.equal(280, core.provider_info("twitter").text.max)
        assert.are.equal("weighted", core.provider_info("twitter").text.counter)
        -- every secret field the redaction knew before is some network's (or Gigya's)
        local all = {}
        for _, n in ipairs(core.provider_names()) do
            for _, f in ipairs(core.provider_info(n).secretFields) do all[f] = true end
        end
        for _, f in ipairs({ "accessToken", "token", "tokenSecret", "bearerToken", "appPassword",
                             "consumerSecret", "appSecret", "botToken", "accessJwt", "refreshJwt", "pageToken" }) do
            assert.is_true(all[f], f)
        end
    end)

    it("share intents come from the network files: every network with an intent is a bookmark destination", function()
        local dests = {}
        for _, d in ipairs(core.bookmark_names()) do dests[d] = true end
        for _, n in ipairs(core.provider_names()) do
            local i = core.provider_info(n)
            assert.are.equal(i.intent ~= nil and not i.discontinued, dests[n] == true, n)
        end
        local r = core.bookmark_url("yahoo", "https://g.example/")
        assert.are.equal("provider_discontinued", r.category)
    end)
end)

describe("setup state in its own argument #unit", function()
    local UA = { userAction = { title = "T", linkBack = "https://game.example/x" } }

    it("a session inside input is not a credential: only the setup argument carries it", function()
        local input = { userAction = UA.userAction, session = { accessJwt = "acc", did = "did:plc:abc" } }
        local req, _, _, res = core.provider_request("bluesky", "publish", input, {}, { identifier = "x" }, TS, NONCE)
        assert.is_nil(req)
        assert.are.equal("not_connected", res.category)
        req = assert(core.provider_request("bluesky", "publish", { userAction = UA.userAction }, {},
            { identifier = "x" }, TS, NONCE, { accessJwt = "acc", did = "did:plc:abc" }))
        assert.are.equal("Bearer acc", req.headers.Authorization)
    end)

    it("instance limits come from the setup argument; the Idempotency-Key does not depend on them", function()
        local user = { accessToken = "a", instance = "https://m.example" }
        local long = { status = string.rep("a", 100) }
        local req, msg, _, res = core.provider_request("mastodon", "status",
            { status = long.status, limits = { maxCharacters = 60 } }, {}, user, TS, NONCE)
        assert.is_table(req, msg) -- limits inside input are ignored: 100 <= 500
        req, _, _, res = core.provider_request("mastodon", "status", long, {}, user, TS, NONCE, { maxCharacters = 60 })
        assert.is_nil(req)
        assert.are.equal("content_invalid", res.category)
        local a = assert(core.provider_request("mastodon", "publish", UA, {}, user, TS, NONCE))
        local b = assert(core.provider_request("mastodon", "publish", UA, {}, user, TS, NONCE,
            { maxCharacters = 400, charactersReservedPerUrl = 23 }))
        assert.are.equal(a.headers["Idempotency-Key"], b.headers["Idempotency-Key"])
    end)

    it("the setup argument is checked: a table, JSON-able, no NUL byte", function()
        local user = { accessToken = "a", instance = "https://m.example" }
        assert.has_error(function()
            core.provider_request("mastodon", "status", { status = "x" }, {}, user, TS, NONCE, "limits")
        end)
        local req, msg = core.provider_request("bluesky", "publish", UA, {}, { identifier = "x" }, TS, NONCE,
            { accessJwt = "a\0b", did = "did:plc:abc" })
        assert.is_nil(req)
        assert.truthy(msg:find("setup state", 1, true), msg)
        local code
        req, msg, code = core.provider_request("mastodon", "status", { status = "x" }, {}, user, TS, NONCE,
            { f = function() end })
        assert.is_nil(req)
        assert.are.equal(400006, code)
        assert.truthy(msg:find("setup state", 1, true), msg)
    end)
end)
