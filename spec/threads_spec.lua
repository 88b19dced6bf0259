-- Threads end to end through the sandbox (spec/fakes/networks/threads.py),
-- which checks the two steps (a TEXT container, then threads_publish with its
-- creation_id, once, by its owner), the 500-character text with emoji counted
-- as their UTF-8 bytes, and answers Graph-style errors. Threads was added as
-- one file (csrc/core/net/threads.c): the front knows it from provider_info.
local H = require("spec.helper")
local core = require("socialize.core")
local socialize = require("socialize")

local sb, providers, demo

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3", userMessage = "Beat it!" }
local ROCKET = "\240\159\154\128"

local function conn(token)
    return { accessToken = token or demo.connection.accessToken, userId = demo.connection.userId }
end

local function client(c)
    return socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers,
        connections = { u1 = c }, timeout = 5 }
end

local function requests()
    local out = {}
    for _, r in ipairs(H.requests(sb)) do
        if r.network == "threads" then out[#out + 1] = r end
    end
    return out
end

local function form(body)
    local t = {}
    for k, v in body:gmatch("([^&=]+)=([^&]*)") do
        t[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    end
    return t
end

describe("threads", function()
    setup(function()
        sb = H.start_sandbox()
        providers = H.sandbox_providers(sb)
        demo = sb.ports.demo.threads
        providers.threads = demo.provider
    end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("is a registered network whose follow-up step the core names", function()
        local info = core.provider_info("threads")
        assert.are.equal("publishContainer", info.followUp)
        assert.are.equal(500, info.text.max)
        assert.are.equal("codepoints_emoji_bytes", info.text.counter)
        assert.are.same({ "accessToken", "clientSecret" }, info.secretFields)
        local found = false
        for _, n in ipairs(core.provider_names()) do found = found or n == "threads" end
        assert.is_true(found)
    end)

    it("publishes in two steps: the container, then threads_publish with its id", function()
        local res, err = client({ threads = conn() }):publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        assert.matches("^18%d+$", res.providerPostIDs.threads)
        local rs = requests()
        assert.are.equal(2, #rs)
        assert.are.equal("/v1.0/1789/threads", rs[1].path)
        local create = form(rs[1].body)
        assert.are.equal("TEXT", create.media_type)
        assert.are.equal("Beat it!\n\nLevel 3 done", create.text)
        assert.are.equal("https://game.example/l3", create.link_attachment)
        assert.are.equal("/v1.0/1789/threads_publish", rs[2].path)
        assert.matches("^17%d+$", form(rs[2].body).creation_id)
    end)

    it("setStatus takes the same two steps", function()
        local res = client({ threads = conn() }):setStatus { UID = "u1", status = "Hello Threads" }
        assert.are.equal(0, res.errorCode)
        local rs = requests()
        assert.are.equal(2, #rs)
        assert.are.equal("Hello Threads", form(rs[1].body).text)
        assert.are.equal("/v1.0/1789/threads_publish", rs[2].path)
    end)

    it("cuts an emoji text by Threads' count, which the sandbox accepts", function()
        local res = client({ threads = conn() }):publishUserAction { UID = "u1",
            userAction = { userMessage = ROCKET:rep(130) } }
        assert.are.equal(0, res.errorCode)
        assert.are.equal(ROCKET:rep(124) .. "\226\128\166", form(requests()[1].body).text)
    end)

    it("reports the daily quota on threads_publish as quota_exhausted", function()
        local res, err = client({ threads = conn("th-capped") }):publishUserAction { UID = "u1", userAction = UA }
        res = res or err
        local e = res.providerErrorCodes[1]
        assert.are.equal("threads", e.provider)
        assert.are.equal("quota_exhausted", e.category)
        assert.are.equal(core.category_code("quota_exhausted"), e.errorCode)
        assert.matches("9/2207042", e.errorDetails, 1, true)
        assert.are.equal(2, #requests())
    end)

    it("stops after a failed container: an expired token is auth_expired, nothing published", function()
        local res, err = client({ threads = conn("th-expired") }):publishUserAction { UID = "u1", userAction = UA }
        res = res or err
        local e = res.providerErrorCodes[1]
        assert.are.equal("auth_expired", e.category)
        assert.are.equal(1, #requests())
        assert.is_nil(res.providerPostIDs and res.providerPostIDs.threads)
    end)

    it("joins the fan-out to every connected network", function()
        local c = H.sandbox_connection(sb)
        c.threads = conn()
        local res = client(c):publishUserAction { UID = "u1", userAction = UA }
        assert.are.equal(0, res.errorCode)
        assert.matches("^18%d+$", res.providerPostIDs.threads)
        assert.is_string(res.providerPostIDs.twitter)
        assert.is_string(res.providerPostIDs.mastodon)
    end)

    it("refuses notifications without sending anything", function()
        local res, err = client({ threads = conn() }):sendNotification { UID = "u1", recipients = "u1",
            subject = "s", body = "hi", enabledProviders = "threads" }
        res = res or err
        local e = res.providerErrorCodes and res.providerErrorCodes[1]
        assert.is_table(e)
        assert.are.equal("unsupported", e.category)
        assert.are.equal(0, #requests())
    end)

    it("keeps its share intent, now from its descriptor", function()
        local res = client({}):postBookmark { url = "https://game.example/l3", title = "Level 3", providers = "threads" }
        assert.are.equal("https://www.threads.com/intent/post?text=Level%203&url=https%3A%2F%2Fgame.example%2Fl3",
            res.bookmarkURLs.threads)
    end)
end)
