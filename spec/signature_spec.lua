-- Signing and validators through the Lua API, against the shared vectors
-- and the derived ones (spec/vectors/gen_derived.py, independent Python).
local H = require("spec.helper")
local socialize = require("socialize")
local core = require("socialize.core")

local shared = H.vectors("signing_vectors")
local derived = H.vectors("derived_vectors")

local function each(list, kind, f)
    for _, v in ipairs(list) do
        if v.kind == kind then f(v) end
    end
end

local function run(list, label)
    describe(label .. " vectors", function()
        each(list, "request", function(v)
            it("signs " .. v.name, function()
                local sig, base = socialize.signature.sign(v.secret_b64, v.method, v.url, v.params)
                assert.are.equal(v.base_string, base)
                assert.are.equal(v.expected_sig, sig)
                assert.are.equal(v.base_string, socialize.signature.baseString(v.method, v.url, v.params))
            end)
            if v.params_table then
                it("serialises the Lua tables of " .. v.name .. " exactly", function()
                    -- cjson-style null from the vector file stays JSON null
                    for k, tv in pairs(v.params_table) do
                        assert.are.equal(v.params[k], core.param_string(tv, k), k)
                    end
                    local p = {}
                    for k, pv in pairs(v.params) do p[k] = pv end
                    for k, tv in pairs(v.params_table) do p[k] = tv end
                    local sig, base = socialize.signature.sign(v.secret_b64, v.method, v.url, p)
                    assert.are.equal(v.base_string, base)
                    assert.are.equal(v.expected_sig, sig)
                end)
            end
        end)
        each(list, "url_encode", function(v)
            it("percent-encodes " .. v.name, function()
                assert.are.equal(v.expected, socialize.signature.encode(v.input))
            end)
        end)
        each(list, "user_signature", function(v)
            it("validates " .. v.name, function()
                assert.is_true(socialize.validateUserSignature(v.UID, v.timestamp, v.secret_b64, v.expected_sig))
                assert.is_false(socialize.validateUserSignature(v.UID .. "x", v.timestamp, v.secret_b64, v.expected_sig))
                assert.is_false(socialize.validateUserSignature(v.UID, v.timestamp, v.secret_b64, v.expected_sig, 180))
            end)
        end)
        each(list, "friend_signature", function(v)
            it("validates " .. v.name, function()
                assert.is_true(socialize.validateFriendSignature(v.UID, v.timestamp, v.friendUID, v.secret_b64, v.expected_sig))
                assert.is_false(socialize.validateFriendSignature(v.friendUID, v.timestamp, v.UID, v.secret_b64, v.expected_sig))
            end)
        end)
        each(list, "webhook_hmac_sha1", function(v)
            it("validates " .. v.name, function()
                assert.is_true(socialize.validateWebhookSignature(v.body, v.secret_b64, v.expected_sig))
                assert.is_false(socialize.validateWebhookSignature(v.body .. " ", v.secret_b64, v.expected_sig))
            end)
        end)
    end)
end

run(shared, "shared")
run(derived, "derived")

describe("vector files", function()
    it("hold all 12 shared vectors and many derived ones", function()
        assert.are.equal(12, #shared)
        assert.is_true(#derived >= 60)
    end)
end)

describe("signature helpers", function()
    it("encodes space as %20, never +, and keeps ~", function()
        assert.are.equal("a%20b~%2A%2B", socialize.signature.encode("a b~*+"))
        assert.are.equal("42", socialize.signature.encode(42))
    end)

    it("stringifies values as gigya-protocol.md 1.4 chooses", function()
        assert.are.equal("5", core.param_string(5))
        assert.are.equal("5", core.param_string(5.0))
        assert.are.equal("2.5", core.param_string(2.5))
        assert.are.equal("0.1", core.param_string(0.1))
        assert.are.equal("1e+21", core.param_string(1e21))
        assert.are.equal("true", core.param_string(true))
        assert.are.equal("false", core.param_string(false))
        assert.are.equal("{}", core.param_string({}))
        assert.are.equal("[]", core.param_string(socialize.array()))
        assert.are.equal('[1,"a",null]', core.param_string({ 1, "a", socialize.null }))
        assert.are.equal('{"a/b":"c/d"}', core.param_string({ ["a/b"] = "c/d" }))
        assert.are.equal('"\\u0000x"', core.json_encode("\0x"))
    end)

    it("signs the same table the same way whatever its insertion order", function()
        local a = { UID = "u", userAction = { title = "t", linkBack = "l", mediaItems = { { type = "image", src = "s" } } } }
        local b = { userAction = { mediaItems = { { src = "s", type = "image" } }, linkBack = "l", title = "t" }, UID = "u" }
        local s1 = socialize.signature.sign(H.SECRET, "POST", "https://h/p", a)
        local s2 = socialize.signature.sign(H.SECRET, "POST", "https://h/p", b)
        assert.are.equal(s1, s2)
    end)

    it("returns a 400006 error for a secret that is not Base64", function()
        local sig, err = socialize.signature.sign("not base64!", "POST", "https://h/p", {})
        assert.is_nil(sig)
        assert.are.equal(400006, err.errorCode)
        assert.matches("secret", tostring(err))
    end)

    it("returns errors naming bad values", function()
        local _, err = socialize.signature.baseString("POST", "ftp://x/y", {})
        assert.are.equal(400006, err.errorCode)
        assert.matches("url", err.errorDetails)
        _, err = socialize.signature.baseString("POST", "https://h/p", { t = { 1, nil, 3, x = 1 } })
        assert.are.equal(400006, err.errorCode)
        assert.matches("^Invalid parameter value: t ", err.errorDetails)
        _, err = socialize.signature.baseString("POST", "https://h/p", { s = "\255" })
        assert.matches("s is not valid UTF%-8", err.errorDetails)
        _, err = socialize.signature.baseString("POST", "https://h/p", { n = 0 / 0 })
        assert.matches("n is NaN", err.errorDetails)
        _, err = socialize.signature.baseString("POST", "https://h/p", { ua = { items = { { src = "\255" } } } })
        assert.matches("ua%.items%[1%]%.src is not valid UTF%-8", err.errorDetails)
        local loop = {}
        loop.self = loop
        _, err = socialize.signature.baseString("POST", "https://h/p", { l = loop })
        assert.matches("nested too deeply", err.errorDetails)
        _, err = socialize.signature.baseString("POST", "https://h/p", { f = print })
        assert.matches("f must be a string, number, boolean or table", err.errorDetails)
    end)

    it("checks config.url's scheme, host and port once, with the errors it always gave", function()
        local core = require("socialize.core")
        local function build(url, auth)
            return core.build_request({ method = "socialize.getUserInfo", url = url, auth = auth or "signed",
                apiKey = "k", secret = "c2VjcmV0", nonce = "n", timestamp = 1 }, { UID = "u" })
        end
        local bad_host = "Invalid parameter value: url has a bad host or port"
        for _, case in ipairs({
            { "http://", bad_host }, { "https:///", bad_host }, { "http://h:99999", bad_host }, { "http://h:0", bad_host },
            { "http://[::1", bad_host }, { "http://:80", bad_host }, { "http://h:8a", bad_host },
            { "ftp://h", "Invalid parameter value: url must start with http:// or https://" },
            { "http://u@h", "Invalid parameter value: url must not carry user information" },
            { "http://h/a?b", "Invalid parameter value: url must not have a query or fragment" },
        }) do
            for _, auth in ipairs({ "signed", "secret" }) do
                local r, msg, code = build(case[1], auth)
                assert.is_nil(r, case[1])
                assert.equal(case[2], msg, case[1])
                assert.equal(400006, code)
            end
        end
        -- the normalised URL signed: lower-case host, no default port, the path kept
        local r = assert(build("HTTP://Ex.COM:80//p/"))
        assert.equal("HTTP://Ex.COM:80//p/socialize.getUserInfo", r.url)
        local params = {}
        for kv in r.body:gmatch("[^&]+") do
            local k, v = kv:match("^([^=]*)=(.*)$")
            params[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
        end
        local want = params.sig
        params.sig = nil
        assert.equal(want, (socialize.signature.sign("c2VjcmV0", "POST", "HTTP://Ex.COM:80//p/socialize.getUserInfo", params)))
        assert.equal(want, (socialize.signature.sign("c2VjcmV0", "POST", "http://ex.com//p/socialize.getUserInfo", params)))
    end)

    it("raises on wrong argument types", function()
        assert.has_error(function() socialize.signature.sign(nil, "POST", "u", {}) end)
        assert.has_error(function() socialize.signature.baseString("POST", "u", "x=1") end)
        assert.has_error(function() socialize.signature.encode({}) end)
        assert.has_error(function() socialize.validateUserSignature(1, "1", "s", "x") end)
        assert.has_error(function() socialize.validateWebhookSignature(nil, "s", "x") end)
    end)
end)

describe("nonces", function()
    it("are unique and in the <ms>_<number> form", function()
        -- checked in plain Lua, one assertion at the end: luassert on each of
        -- the 20,000 took most of a minute under valgrind
        local seen, nums, bad, dup, ndup = {}, {}, nil, nil, nil
        for _ = 1, 20000 do
            local n = core.nonce()
            if not bad and not n:match("^%d+_%d+$") then bad = n end
            if not dup and seen[n] then dup = n end
            seen[n] = true
            -- the number alone never repeats either (a full-period generator):
            -- unique whatever the clock does, not only by luck within a millisecond
            local num = n:match("_(%d+)$")
            if num and not ndup and nums[num] then ndup = n end
            if num then nums[num] = true end
        end
        assert.is_nil(bad, "a nonce not in the <ms>_<number> form")
        assert.is_nil(dup, "a nonce given twice")
        assert.is_nil(ndup, "a nonce's number given twice")
    end)
end)

describe("validators", function()
    local uid, sig = "_guid_AbC123xyz==", "FkkrCThNfmRcZ3i3oGHzwF3I1wo="

    it("honour the time window with the current clock", function()
        local now = os.time()
        local fresh = core.hmac_sha1(H.SECRET, now .. "_" .. uid)
        assert.is_true(socialize.validateUserSignature(uid, now, H.SECRET, fresh, 180))
        assert.is_true(socialize.validateUserSignature(uid, tostring(now), H.SECRET, fresh, 180))
        local old = now - 1000
        local olds = core.hmac_sha1(H.SECRET, old .. "_" .. uid)
        assert.is_true(socialize.validateUserSignature(uid, old, H.SECRET, olds))
        assert.is_false(socialize.validateUserSignature(uid, old, H.SECRET, olds, 180))
        assert.is_true(socialize.validateUserSignature(uid, old, H.SECRET, olds, 2000))
        local f = core.hmac_sha1(H.SECRET, old .. "_friend_" .. uid)
        assert.is_true(socialize.validateFriendSignature(uid, old, "friend", H.SECRET, f))
        assert.is_false(socialize.validateFriendSignature(uid, old, "friend", H.SECRET, f, 60))
    end)

    it("are false, not errors, for a bad secret, missing signature or header", function()
        assert.is_false(socialize.validateUserSignature(uid, "1700000000", "%%%", sig))
        assert.is_false(socialize.validateUserSignature(uid, "1700000000", H.SECRET, nil))
        assert.is_false(socialize.validateUserSignature(uid, "1700000000", H.SECRET, ""))
        assert.is_false(socialize.validateWebhookSignature("{}", H.SECRET, nil))
        assert.is_false(socialize.validateWebhookSignature("{}", "", "x"))
    end)

    it("compare in constant time (same code path for every mismatch position)", function()
        assert.is_true(core.consttime_equal(sig, sig))
        assert.is_false(core.consttime_equal(sig, "x" .. sig:sub(2)))
        assert.is_false(core.consttime_equal(sig, sig:sub(1, -2) .. "x"))
        assert.is_false(core.consttime_equal(sig, sig .. "x"))
    end)
end)
