-- Validation from the seed documents: each bad call gets 400002 / 400006
-- naming the parameter, and the transport is never reached.
local H = require("spec.helper")
local socialize = require("socialize")

local UA = { title = "Hello", linkBack = "https://example.com/" }

local function client_with_spy(extra)
    local spy = H.spy()
    local cfg = { apiKey = H.API_KEY, secret = H.SECRET, transport = spy.transport }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg), spy
end

-- { method, params, code, pattern in errorDetails }
local cases = {
    { "publishUserAction", { userAction = UA }, 400002, "UID" },
    { "publishUserAction", { UID = "", userAction = UA }, 400002, "UID" },
    { "publishUserAction", { UID = 42, userAction = UA }, 400006, "UID must be a string" },
    { "publishUserAction", { UID = "u" }, 400002, "userAction" },
    { "publishUserAction", { UID = "u", userAction = "" }, 400002, "userAction" },
    { "publishUserAction", { UID = "u", userAction = "{not json" }, 400006, "userAction is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = "[1]" }, 400006, "userAction must be a JSON object" },
    { "publishUserAction", { UID = "u", userAction = {} }, 400006, "userAction is empty" },
    { "publishUserAction", { UID = "u", userAction = 7 }, 400006, "userAction must be a table or a JSON string" },
    { "publishUserAction", { UID = "u", userAction = { title = 5 } }, 400006, "userAction.title must be a string" },
    { "publishUserAction", { UID = "u", userAction = UA, cid = string.rep("c", 101) }, 400006, "cid is longer than 100" },
    { "publishUserAction", { UID = "u", userAction = UA, cid = 12 }, 400006, "cid must be a string" },
    { "publishUserAction", { UID = "u", userAction = UA, actionAttributes = { a = { "1", "2" }, b = "3", c = "4" } },
      400006, "actionAttributes has 4 values" },
    { "publishUserAction", { UID = "u", userAction = UA, actionAttributes = '{"a":["1","2","3","4"]}' },
      400006, "actionAttributes has 4 values" },
    { "publishUserAction", { UID = "u", userAction = UA, actionAttributes = { a = 1 } }, 400006, "actionAttributes.a" },
    { "publishUserAction", { UID = "u", userAction = UA, actionAttributes = "nope" }, 400006, "actionAttributes is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = UA, enabledProviders = "facebook,myspace" }, 400006,
      "enabledProviders has an unknown provider 'myspace'" },
    { "publishUserAction", { UID = "u", userAction = UA, disabledProviders = { "twitter", "orkut" } }, 400006,
      "disabledProviders has an unknown provider 'orkut'" },
    { "publishUserAction", { UID = "u", userAction = UA, enabledProviders = "" }, 400006, "enabledProviders is empty" },
    { "publishUserAction", { UID = "u", userAction = UA, enabledProviders = "facebook,,twitter" }, 400006,
      "unknown provider ''" },
    { "publishUserAction", { UID = "u", userAction = UA, enabledProviders = 3 }, 400006, "enabledProviders must be" },
    { "publishUserAction", { UID = "u", userAction = UA, enabledProviders = { "facebook", 3 } }, 400006,
      "enabledProviders must hold provider names" },
    { "publishUserAction", { UID = "u", userAction = UA, shortURLs = "sometimes" }, 400006,
      "shortURLs must be one of always, whenRequired, never" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = { latitude = 91, longitude = 0 } }, 400006,
      "userLocation.latitude must be a number from %-90 to 90" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = { latitude = -90.5, longitude = 0 } }, 400006,
      "userLocation.latitude" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = { latitude = 0, longitude = 180.01 } }, 400006,
      "userLocation.longitude must be a number from %-180 to 180" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = { latitude = "north", longitude = 1 } }, 400006,
      "userLocation.latitude" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = { latitude = 10 } }, 400002,
      "userLocation.longitude" },
    { "publishUserAction", { UID = "u", userAction = UA, userLocation = '{"latitude":0,"longitude":-181}' }, 400006,
      "userLocation.longitude" },
    { "publishUserAction", { UID = "u", userAction = { title = "t", mediaItems = {
        { type = "image", src = "a" }, { type = "mp3", src = "b" } } } }, 400006, "mixes media types" },
    { "publishUserAction", { UID = "u", userAction = { title = "t", mediaItems = { { type = "gif", src = "a" } } } },
      400006, "mediaItems%[1%]%.type must be image, flash, mp3 or video" },
    { "publishUserAction", { UID = "u", userAction = { title = "t", mediaItems = "x" } }, 400006, "mediaItems must be an array" },
    { "publishUserAction", { UID = "u", userAction = UA, myspaceUserAction = UA }, 400006,
      "myspaceUserAction names an unknown provider" },
    { "publishUserAction", { UID = "u", userAction = UA, twitterUserAction = { title = 1 } }, 400006,
      "twitterUserAction.title must be a string" },
    { "publishUserAction", { UID = "u", userAction = UA, twitterUserAction = { title = "a", mediaItems = {
        { type = "image" }, { type = "flash" } } } }, 400006, "twitterUserAction.mediaItems mixes media types" },
    -- a userAction JSON string: the core's one-pass scan passes only what is certainly well-shaped;
    -- everything else gets the full check and its message
    { "publishUserAction", { UID = "u", userAction = '{"title":5}' }, 400006, "userAction.title must be a string" },
    { "publishUserAction", { UID = "u", userAction = ' {} ' }, 400006, "userAction is empty" },
    { "publishUserAction", { UID = "u", userAction = '{"title":"t","title":"u"}' }, 400006, "userAction is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = '{"title":"t"} x' }, 400006, "userAction is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = '{"title":"t","n":1e999}' }, 400006, "userAction is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = '{"title":"\\ud800"}' }, 400006, "userAction is not valid JSON" },
    { "publishUserAction", { UID = "u", userAction = '{"mediaItems":[{"type":"image","src":"a"},{"type":"mp3"}]}' },
      400006, "userAction.mediaItems mixes media types" },
    { "publishUserAction", { UID = "u", userAction = '{"mediaItems":[{"type":"image","data":"eA=="}]}' },
      400006, "userAction.mediaItems%[1%]%.data is bytes" },
    { "publishUserAction", { UID = "u", userAction = '{"mediaItems":[{"src":"a"}]}' },
      400006, "userAction.mediaItems%[1%]%.type must be" },
    { "publishUserAction", { UID = "u", userAction = '{"actionLinks":null}' }, 400006, "userAction.actionLinks must be an array" },
    { "setStatus", { UID = "u" }, 400002, "status" },
    { "setStatus", { UID = "u", status = {} }, 400006, "status must be a string" },
    { "setStatus", { status = "hi" }, 400002, "UID" },
    { "setStatus", { UID = "u", status = "hi", userLocation = { latitude = 100, longitude = 0 } }, 400006, "latitude" },
    { "sendNotification", { UID = "u", body = "hi", subject = "s" }, 400002, "recipients" },
    { "sendNotification", { UID = "u", recipients = {}, body = "hi", subject = "s" }, 400002, "recipients" },
    { "sendNotification", { UID = "u", recipients = { 5 }, body = "hi", subject = "s" }, 400006, "recipients%[1%]" },
    { "sendNotification", { UID = "u", recipients = true, body = "hi", subject = "s" }, 400006, "recipients must be" },
    { "sendNotification", { UID = "u", recipients = "a,b", subject = "s" }, 400002, "body" },
    { "sendNotification", { UID = "u", recipients = "a", body = "see <a href='x'>this</a>", subject = "s" }, 400006,
      "body must not contain HTML tags" },
    { "sendNotification", { UID = "u", recipients = "a", body = "line<br/>break", subject = "s" }, 400006, "HTML" },
    { "sendNotification", { UID = "u", recipients = "a", body = "hi" }, 400002,
      "subject %(required when linkedin may be targeted, and no enabledProviders: every network may be; give a subject, or an enabledProviders without linkedin%)$" },
    { "sendNotification", { UID = "u", recipients = "a", body = "hi", enabledProviders = "twitter,yahoo" }, 400002,
      "subject %(required when yahoo may be targeted, and enabledProviders names yahoo; give a subject, or an enabledProviders without yahoo%)$" },
    { "sendNotification", { UID = "u", recipients = "a", body = "hi", disabledProviders = "linkedin" }, 400002,
      "required when yahoo" },
    { "sendNotification", { UID = "u", recipients = "a", body = "hi", subject = 3, enabledProviders = "twitter" }, 400006,
      "subject must be a string" },
    { "facebookGraphOperation", { UID = "u" }, 400002, "graphPath" },
    { "facebookGraphOperation", { UID = "u", graphPath = "/me/feed", method = "PUT" }, 400006, "method must be GET, POST or DELETE" },
    { "facebookGraphOperation", { UID = "u", graphPath = "/me", graphParams = "[]" }, 400006, "graphParams must be a JSON object" },
    { "facebookGraphOperation", { UID = "u", graphPath = "/me", authType = "appToken" }, 400006, "authType" },
    { "getUserInfo", {}, 400002, "UID" },
    { "getUserInfo", { UID = "u", includeAllIdentities = "yes" }, 400006, "includeAllIdentities must be a boolean" },
    { "getUserInfo", { UID = "u", extraFields = { "a", 2 } }, 400006, "extraFields" },
    -- parameter values and names the core refuses
    { "setStatus", { UID = "u", status = "bad \255 utf8" }, 400006, "status is not valid UTF%-8" },
    { "setStatus", { UID = "u", status = "x", tags = { 1 } }, 400006, "tags must hold strings" },
    { "setStatus", { UID = "u", status = "x", sig = "forged" }, 400006, "sig is set by the client" },
    { "setStatus", { UID = "u", status = "x", nonce = "n" }, 400006, "nonce is set by the client" },
    { "setStatus", { UID = "u", status = "x", apiKey = "other" }, 400006, "apiKey is set by the client" },
    { "setStatus", { UID = "u", status = "x", secret = "s" }, 400006, "secret is set by the client" },
    { "setStatus", { UID = "u", status = "x", format = "xml" }, 400006, "format must be json" },
    { "setStatus", { UID = "u", status = "x", ["bad name"] = "v" }, 400006, "parameter name 'bad name'" },
    { "setStatus", { UID = "u", status = "x", [1] = "v" }, 400006, "parameter names must be strings" },
    { "setStatus", { UID = "u", status = "x", extra = print }, 400006, "extra must be a string" },
    { "setStatus", { UID = "u", status = "x", n = math.huge }, 400006, "n is NaN or infinite" },
}

describe("validation", function()
    it("a userAction JSON string: the core's one-pass scan says yes only when it is certainly well-shaped", function()
        local core = require("socialize.core")
        local f = assert(io.open("bench/user_action.json", "rb"))
        local json = f:read("*a")
        f:close()
        assert.is_true(core.user_action_plain(json))
        assert.is_true(core.user_action_plain(' {"title":"\\u00e9\\ud83d\\ude00 \\"q\\"","n":[1,-2.5e3,true,null,{}]} '))
        for _, s in ipairs({ "{}", "[1]", '{"title":1}', '{"a":1,"a":2}', '{"a":"\\u0000"}', '{"a":01}', '{"a":1e100}',
            '{"a":1234567890123456}', '{"a":"\255"}', '{"a":1} x', '{"mediaItems":[{"type":"image","data":"x"}]}',
            '{"mediaItems":[{"type":"image"},{"type":"video"}]}', '{"mediaItems":{}}', '{"actionLinks":"x"}' }) do
            assert.is_false(core.user_action_plain(s), s)
        end
        -- the direct backend takes bytes in a media item
        assert.is_true(core.user_action_plain('{"mediaItems":[{"type":"image","data":"x"}]}', true))
    end)

    it("a userAction table: the core's raw read says yes only when the full check accepts its shape", function()
        local core = require("socialize.core")
        local f = assert(io.open("bench/user_action.json", "rb"))
        local bench = assert(core.json_decode(f:read("*a")))
        f:close()
        -- validate.lua with the core's answer forced to "not sure": the full check alone
        local saved, loaded = core.user_action_table, package.loaded["socialize.validate"]
        core.user_action_table = function() return false end
        package.loaded["socialize.validate"] = nil
        local full = require("socialize.validate")
        core.user_action_table, package.loaded["socialize.validate"] = saved, loaded
        local meta = setmetatable({}, {})
        local yes = { bench, { title = "t" }, { mediaItems = {} }, { actionLinks = {}, x = { 1 } },
            { mediaItems = { { type = "image", src = "a" }, { type = "image" } }, title = "t", userMessage = "m" },
            { mediaItems = { { type = "mp3" } } }, { description = "d", actionLinks = meta } }
        local no = { {}, { title = 1 }, setmetatable({ title = "t" }, {}), { mediaItems = "x" },
            { mediaItems = { { type = "gif" } } }, { mediaItems = { { type = "image" }, { type = "video" } } },
            { mediaItems = { { type = "image", data = "x" } } }, { mediaItems = { "x" } }, { actionLinks = "x" },
            { mediaItems = setmetatable({ { type = "image" } }, {}) }, { mediaItems = { setmetatable({ type = "image" }, {}) } },
            { mediaItems = { { type = 1 } } }, { linkBack = false }, { subtitle = {} } }
        local function full_ok(t)
            return full.check("publishUserAction", { UID = "u", userAction = t }) ~= nil
        end
        for i, t in ipairs(yes) do
            assert.is_true(core.user_action_table(t), "yes #" .. i)
            assert.is_true(full_ok(t), "yes #" .. i)
        end
        for i, t in ipairs(no) do
            assert.is_false(core.user_action_table(t), "no #" .. i)
        end
        -- the ones the full check refuses, it refuses with the same error either way
        for i, t in ipairs(no) do
            local _, e1 = full.check("publishUserAction", { UID = "u", userAction = t })
            local _, e2 = require("socialize.validate").check("publishUserAction", { UID = "u", userAction = t })
            assert.are.same(e1 and e1.errorDetails, e2 and e2.errorDetails, "no #" .. i)
        end
        assert.is_false(full_ok({ mediaItems = { { type = "image" }, { type = "video" } } }))
        assert.is_false(core.user_action_table("{}"))
        assert.is_false(core.user_action_table(nil))
        -- the direct backend takes bytes in a media item
        assert.is_true(core.user_action_table({ mediaItems = { { type = "image", data = "x" } } }, true))
    end)

    it("a publishUserAction: the core's one-pass check answers a copy only when the full check accepts it as it is", function()
        local core = require("socialize.core")
        local f = assert(io.open("bench/user_action.json", "rb"))
        local UA = f:read("*a")
        f:close()
        -- validate.lua with the core's answer forced to "not sure": the full check alone
        local saved, loaded = core.publish_plain, package.loaded["socialize.validate"]
        core.publish_plain = function() return false end
        package.loaded["socialize.validate"] = nil
        local full = require("socialize.validate")
        core.publish_plain, package.loaded["socialize.validate"] = saved, loaded
        local validate = require("socialize.validate")
        local ua = '{"title":"t"}'
        local yes = {
            { UID = "user_123", userAction = UA, cid = "bench-campaign", shortURLs = "never" },
            { UID = "u", userAction = ua },
            { UID = "u", userAction = ua, cid = string.rep("x", 100), shortURLs = "always", n = 1.5, b = false,
              z = core.null, other = "text \\u0000 is text here", graphParamsX = "x" },
            { UID = "u", userAction = ua, shortURLs = "whenRequired", actionLinks = "x", nUserAction2 = "x" },
        }
        local no = {
            {}, { UID = "u" }, { userAction = ua }, { UID = "", userAction = ua }, { UID = 1, userAction = ua },
            { UID = "u", userAction = "" }, { UID = "u", userAction = "{" }, { UID = "u", userAction = "[1]" },
            { UID = "u", userAction = '{"a":"\\u0000"}' }, { UID = "u", userAction = { title = "t" } }, -- (direct below)
            { UID = "u", userAction = ua, cid = string.rep("\195\169", 60) }, { UID = "u", userAction = ua, cid = string.rep("x", 101) },
            { UID = "u", userAction = ua, cid = 5 }, { UID = "u", userAction = ua, shortURLs = "sometimes" },
            { UID = "u", userAction = ua, enabledProviders = "facebook" }, { UID = "u", userAction = ua, disabledProviders = "x" },
            { UID = "u", userAction = ua, tags = "a" }, { UID = "u", userAction = ua, actionAttributes = "{}" },
            { UID = "u", userAction = ua, userLocation = "{}" }, { UID = "u", userAction = ua, facebookUserAction = ua },
            { UID = "u", userAction = ua, graphParams = "{}" }, { UID = "u\0", userAction = ua },
            { UID = "u", userAction = ua, x = "a\0b" }, { UID = "u", userAction = ua, ["x\0"] = "a" },
            { UID = "u", userAction = ua, [1] = "a" }, { UID = "u", userAction = ua, x = 0 / 0 },
            { UID = "u", userAction = ua, x = math.huge }, { UID = "u", userAction = ua, x = {} },
            { UID = "u", userAction = ua, x = print }, setmetatable({ UID = "u", userAction = ua }, {}),
            { UID = "u", userAction = '{"mediaItems":[{"type":"image","data":"x"}]}' },
        }
        for i, p in ipairs(yes) do
            local q = core.publish_plain(p)
            assert.is_table(q, "yes #" .. i)
            assert.are_not.equal(p, q)
            assert.are.same(p, q)
            local r = full.check("socialize.publishUserAction", p, { auth = "signed" })
            assert.is_table(r, "yes #" .. i)
            assert.are.same(r, q, "yes #" .. i)
            assert.are.same(r, validate.check("publishUserAction", p, { auth = "signed" }))
        end
        for i, p in ipairs(no) do
            assert.is_false(core.publish_plain(p, i == 10), "no #" .. i)
            local r1, e1 = full.check("socialize.publishUserAction", p, { auth = "signed" })
            local r2, e2 = validate.check("socialize.publishUserAction", p, { auth = "signed" })
            assert.are.same(r1, r2, "no #" .. i)
            assert.are.same(e1 and e1.errorDetails, e2 and e2.errorDetails, "no #" .. i)
        end
        -- the direct backend takes bytes in a media item
        assert.is_table(core.publish_plain({ UID = "u", userAction = '{"mediaItems":[{"type":"image","data":"x"}]}' }, true))
        assert.is_false(core.publish_plain("x"))
    end)

    it("a publishUserAction with a userAction table: a yes holds the full check's answer and the encoder's bytes", function()
        local core = require("socialize.core")
        local f = assert(io.open("bench/user_action.json", "rb"))
        local bench = assert(core.json_decode(f:read("*a")))
        f:close()
        local saved, loaded = core.publish_plain, package.loaded["socialize.validate"]
        core.publish_plain = function() return false end
        package.loaded["socialize.validate"] = nil
        local full = require("socialize.validate")
        core.publish_plain, package.loaded["socialize.validate"] = saved, loaded
        local validate = require("socialize.validate")
        local yes_n, no_n = 0, 0
        local function compare(p, what, want)
            local q = core.publish_plain(p)
            local r1, e1 = full.check("socialize.publishUserAction", p, { auth = "signed" })
            local r2, e2 = validate.check("socialize.publishUserAction", p, { auth = "signed" })
            assert.are.same(r1, r2, what)
            assert.are.same(e1 and e1.errorDetails, e2 and e2.errorDetails, what)
            assert.are.same(e1 and e1.errorCode, e2 and e2.errorCode, what)
            if want ~= nil then assert.are.equal(want, q ~= false, what) end
            if q then
                yes_n = yes_n + 1
                assert.is_table(r1, what)
                assert.are.same(r1, q, what)
                -- the bytes the encoder writes for the table, sorted keys and all
                assert.are.equal(core.json_encode(p.userAction), q.userAction, what)
                assert.are.equal(core.json_encode({ userAction = p.userAction }), '{"userAction":' .. q.userAction .. "}", what)
                for k, v in pairs(p) do
                    if k ~= "userAction" then assert.are.equal(v, q[k], what) end
                end
            else
                no_n = no_n + 1
            end
            -- the input is left as it was
            assert.are.equal("table", type(p.userAction) == "table" and "table" or type(p.userAction), what)
        end
        compare({ UID = "user_123", userAction = bench, cid = "bench-campaign", shortURLs = "never" }, "bench", true)
        compare({ UID = "u", userAction = { title = "t", n = { 1, 2.5, -3, true, false, core.null, {} } } }, "values", true)
        compare({ UID = "u", userAction = { ["b"] = "1", ["a"] = "2", ["\195\169"] = "3", A = "4", [" "] = "5" } }, "key order", true)
        -- hostile: each a no, and the full check's answer unchanged
        local cyc = { title = "t" }
        cyc.self = cyc
        local deep = { title = "t" }
        local d = deep
        for _ = 1, 70 do d.x = {} d = d.x end
        local big = { title = string.rep("x", 300 * 1024) }
        local hostile = {
            { UID = "u", userAction = setmetatable({ title = "t" }, {}) },
            { UID = "u", userAction = { title = "t", x = setmetatable({}, { __jsontype = "array" }) } },
            { UID = "u", userAction = { title = "t", x = setmetatable({ 1 }, {}) } },
            { UID = "u", userAction = { title = "t", [true] = 1 } },
            { UID = "u", userAction = { title = "t", [1.5] = 1 } },
            { UID = "u", userAction = { title = "t", [{}] = 1 } },
            { UID = "u", userAction = { title = "t", [1] = 1 } },
            { UID = "u", userAction = { "x" } },
            { UID = "u", userAction = { title = "t", x = { 1, nil, 3 } } },
            { UID = "u", userAction = { title = "t", x = 0 / 0 } },
            { UID = "u", userAction = { title = "t", x = math.huge } },
            { UID = "u", userAction = { title = "t", x = -math.huge } },
            { UID = "u", userAction = { title = "t", x = { y = 0 / 0 } } },
            { UID = "u", userAction = cyc },
            { UID = "u", userAction = deep },
            { UID = "u", userAction = big },
            { UID = "u", userAction = { title = "a\0b" } },
            { UID = "u", userAction = { title = "t", ["k\0"] = "v" } },
            { UID = "u", userAction = { title = "t", x = { "a\0" } } },
            { UID = "u", userAction = { title = "t\\u0000" } },
            { UID = "u", userAction = { title = "\255" } },
            { UID = "u", userAction = { title = "t", ["\192\128"] = 1 } },
            { UID = "u", userAction = { title = "\237\160\128" } },
            { UID = "u", userAction = { title = "t", f = print } },
            { UID = "u", userAction = { title = "t", f = io.stdout } },
            { UID = "u", userAction = { title = "t", f = coroutine.create(function() end) } },
            { UID = "u", userAction = {} },
            { UID = "u", userAction = { title = 1 } },
            { UID = "u", userAction = { mediaItems = { { type = "image", data = "x" } } } },
            { UID = "u", userAction = { mediaItems = { { type = "image" }, { type = "video" } } } },
            { UID = "u", userAction = { title = "t" }, x = {} },
            { UID = "u", userAction = { title = "t" }, facebookUserAction = { title = "t" } },
            { UID = "u", userAction = { title = "t" }, tags = { "a" } },
            { UID = "", userAction = { title = "t" } },
            { userAction = { title = "t" } },
        }
        for i, p in ipairs(hostile) do compare(p, "hostile #" .. i, false) end
        assert.is_false(core.publish_plain({ UID = "u", userAction = { title = "t" } }, true)) -- direct: the checks in Lua
        -- generated tables: every yes against the full check and the encoder
        local seed = 15
        local function rnd(n) -- Park-Miller (exact in doubles): the same tables on every VM
            seed = (seed * 16807) % 2147483647
            return seed % n + 1
        end
        local STR = { "t", "", "\195\169t\226\130\172", "a\"b\\c\n\t", "\1\31", "\127", "/<>&'",
            "\240\159\152\128", "\255", "a\0", "\\u0000", string.rep("z", 70) }
        local NUM = { 0, 1, -1, 2.5, 1e300, -0.0, 2 ^ 53, 1 / 3, 0 / 0, math.huge, 123456789012 }
        local gen
        local function str() -- mostly the good ones (the first 8)
            return STR[rnd(12) == 1 and rnd(#STR) or rnd(8)]
        end
        local function scalar()
            local k = rnd(10)
            if k <= 4 then return str() end
            if k <= 6 then return NUM[rnd(12) == 1 and rnd(#NUM) or rnd(8)] end
            if k <= 7 then return rnd(2) == 1 end
            if k <= 8 then return core.null end
            if k <= 9 then return STR[rnd(3)] end
            return rnd(50) == 1 and print or STR[1]
        end
        gen = function(depth)
            local k = rnd(depth > 3 and 3 or 6)
            if k <= 3 then return scalar() end
            local t = {}
            if k == 4 then
                for i = 1, rnd(4) - 1 do t[i] = gen(depth + 1) end
                if rnd(20) == 1 then t[rnd(5) + 1] = 1 end
            else
                for _ = 1, rnd(5) - 1 do t[str() .. rnd(3)] = gen(depth + 1) end
                if rnd(25) == 1 then t[rnd(3)] = 1 end
                if rnd(40) == 1 then t[true] = 1 end
            end
            if rnd(40) == 1 then setmetatable(t, {}) end
            return t
        end
        local MT = { "image", "flash", "mp3", "video", "gif" }
        for _ = 1, 1500 do
            local ua = {}
            local F = { "title", "subtitle", "description", "linkBack", "userMessage" }
            for _, name in ipairs(F) do
                local k = rnd(8)
                if k <= 4 then ua[name] = str() elseif k == 5 then ua[name] = scalar() end
            end
            if rnd(2) == 1 then
                local items, ty = {}, MT[rnd(rnd(8) == 1 and 5 or 4)]
                for i = 1, rnd(3) - 1 do
                    items[i] = { type = rnd(15) == 1 and MT[rnd(5)] or ty, src = str(), href = scalar() }
                    if rnd(15) == 1 then items[i].data = "x" end
                end
                if rnd(15) == 1 then items = "x" end
                ua.mediaItems = items
            end
            if rnd(2) == 1 then ua.actionLinks = rnd(10) == 1 and "x" or { { text = str(), href = scalar() } } end
            for _ = 1, rnd(3) - 1 do ua[str() .. "x"] = gen(1) end
            if rnd(50) == 1 then setmetatable(ua, {}) end
            local p = { UID = "u", userAction = ua }
            if rnd(4) == 1 then p.cid = str() end
            if rnd(4) == 1 then p.shortURLs = ({ "always", "never", "x" })[rnd(3)] end
            if rnd(6) == 1 then p.extra = scalar() end
            compare(p, "generated")
        end
        assert.is_true(yes_n > 600, "yes " .. yes_n)
        assert.is_true(no_n > 600, "no " .. no_n)
    end)

    it("the core's one-pass parameter check passes only plain scalar values and counts the tables", function()
        local core = require("socialize.core")
        local function pp(p) return { core.plain_params(p) } end
        assert.are.same({ true, 0 }, pp({ UID = "u", n = 1, f = 1.5, b = false, z = core.null }))
        assert.are.same({ true, 2 }, pp({ UID = "u", userAction = {}, x = { 1 } }))
        assert.are.same({ true, 0 }, pp({ other = "\\u0000" })) -- not a JSON parameter: the text is the value
        for _, p in ipairs({ { userAction = '{"a":"\\u0000"}' }, { xUserAction = "\\u0000" }, { a = "x\0" },
            { ["a\0"] = "x" }, { [1] = "x" }, { a = 0 / 0 }, { a = math.huge }, { a = print } }) do
            assert.is_false(core.plain_params(p))
        end
    end)

    for i, c in ipairs(cases) do
        local method, params, code, pattern = c[1], c[2], c[3], c[4]
        it(string.format("#%d %s: %d %s", i, method, code, pattern), function()
            local client, spy = client_with_spy()
            local res, err = client[method](client, params)
            assert.is_nil(res)
            assert.is_true(socialize.Error == getmetatable(err))
            assert.are.equal(code, err.errorCode)
            assert.matches(pattern, err.errorDetails)
            assert.matches("^" .. code .. " ", tostring(err))
            assert.are.equal(0, #spy.calls, "a request left the process")
        end)
    end

    it("has at least 50 bad-input cases", function()
        -- at least 50 different refusals come back from the client, none of them sent
        local client, spy = client_with_spy()
        local seen, n = {}, 0
        for _, c in ipairs(cases) do
            local res, err = client[c[1]](client, c[2])
            if res == nil and getmetatable(err) == socialize.Error
                    and (err.errorCode == 400002 or err.errorCode == 400006) then
                local key = err.errorCode .. " " .. tostring(err.errorDetails)
                if not seen[key] then
                    seen[key] = true
                    n = n + 1
                end
            end
        end
        assert.are.equal(0, #spy.calls, "a request left the process")
        assert.is_true(n >= 50, n .. " different refusals")
    end)

    it("also validates socialize methods reached through call()", function()
        local client, spy = client_with_spy()
        local res, err = client:call("socialize.publishUserAction", { UID = "u" })
        assert.is_nil(res)
        assert.are.equal(400002, err.errorCode)
        res, err = client:call("setStatus", { UID = "u" })
        assert.are.equal(400002, err.errorCode)
        assert.are.equal(0, #spy.calls)
    end)

    it("normalises provider lists, recipients and extra fields before signing", function()
        local client, spy = client_with_spy()
        assert.truthy(client:publishUserAction { UID = "u", userAction = UA,
            enabledProviders = { "Facebook", " twitter" }, disabledProviders = "linkedin" })
        assert.matches("enabledProviders=facebook%%2Ctwitter", spy.calls[1].body)
        assert.matches("disabledProviders=linkedin", spy.calls[1].body)
        assert.truthy(client:sendNotification { UID = "u", recipients = { "a", { UID = "b" } }, body = "hi http://x.y/z",
            enabledProviders = "twitter" })
        assert.matches("recipients=a%%2Cb", spy.calls[2].body)
        assert.truthy(client:getUserInfo { UID = "u", extraFields = { "languages", "address" }, includeAllIdentities = true })
        assert.matches("extraFields=languages%%2Caddress", spy.calls[3].body)
        assert.matches("includeAllIdentities=true", spy.calls[3].body)
    end)

    it("accepts the edges of every range", function()
        local client, spy = client_with_spy()
        assert.truthy(client:publishUserAction { UID = "u", userAction = UA, cid = string.rep("א", 100),
            userLocation = { latitude = -90, longitude = 180, placeID = "p" },
            actionAttributes = { a = { "1", "2" }, b = "3" }, shortURLs = "whenRequired" })
        assert.truthy(client:publishUserAction { UID = "u", userAction = '{"title":"t"}',
            userLocation = '{"latitude":"90","longitude":"-180"}' })
        assert.truthy(client:setStatus { UID = "u", status = "s", userLocation = { placeID = "only" } })
        assert.truthy(client:sendNotification { UID = "u", recipients = "a", body = "a < b and c > d",
            enabledProviders = "twitter" })
        assert.truthy(client:publishUserAction { UID = "u", userAction = { title = "t", mediaItems = {
            { type = "image", src = "a" }, { type = "image", src = "b" } } } })
        assert.are.equal(5, #spy.calls)
    end)

    it("does not require UID with an OAuth2 token", function()
        local spy = H.spy()
        local client = socialize.new { accessToken = "tok", url = "https://127.0.0.1:1", transport = spy.transport }
        assert.truthy(client:setStatus { status = "x" })
        assert.matches("oauth_token=tok", spy.calls[1].body)
        assert.not_matches("UID=", spy.calls[1].body)
    end)

    it("raises on wrong argument types", function()
        local client = client_with_spy()
        assert.has_error(function() client:publishUserAction("UID=u") end)
        assert.has_error(function() client:call(nil, {}) end)
        assert.has_error(function() client:call("setStatus", "x") end)
        assert.has_error(function() socialize.new("apiKey") end)
        assert.has_error(function() socialize.new { timeout = -1 } end)
        assert.has_error(function() socialize.new { timeout = "10" } end)
        assert.has_error(function() socialize.new { apiKey = 5 } end)
        assert.has_error(function() socialize.new { auth = "magic" } end)
        assert.has_error(function() socialize.new { transport = "carrier pigeon" } end)
        assert.has_error(function() socialize.new { clock = 5 } end)
        assert.has_error(function() socialize:publishUserAction { UID = "u" } end)
    end)

    it("reports missing credentials before sending", function()
        local spy = H.spy()
        local client = socialize.new { transport = spy.transport }
        local _, err = client:setStatus { UID = "u", status = "s" }
        assert.are.equal(400002, err.errorCode)
        assert.matches("apiKey", err.errorDetails)
        client = socialize.new { apiKey = "k", transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.matches("secret", err.errorDetails)
        client = socialize.new { apiKey = "k", secret = "@@@", transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.are.equal(400006, err.errorCode)
        assert.matches("secret", err.errorDetails)
        assert.not_matches("@@@", tostring(err))
        client = socialize.new { apiKey = "k", secret = H.SECRET, dataCenter = "eu1/evil?", transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.matches("apiDomain", err.errorDetails)
        client = socialize.new { apiKey = "k", secret = H.SECRET, url = "gopher://x", transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.matches("url", err.errorDetails)
        client = socialize.new { apiKey = "k", secret = H.SECRET, auth = "secret", url = "http://127.0.0.1:9",
            transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.are.equal(403006, err.errorCode)
        client = socialize.new { apiKey = "k", userKey = "u", privateKey = "not a key", transport = spy.transport }
        _, err = client:setStatus { UID = "u", status = "s" }
        assert.are.equal(400006, err.errorCode)
        assert.matches("privateKey", err.errorDetails)
        assert.not_matches("not a key", tostring(err))
        assert.are.equal(0, #spy.calls)
    end)
end)
