-- The hot path of a blocking Gigya call (issue 15): its context is made once
-- and reused, so a call made while another holds it (from a host transport)
-- gets its own, every call gets its own deadline, and a call that raises
-- does not leave the next ones without a context.
local H = require("spec.helper")
local socialize = require("socialize")

local OK = { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200,"statusReason":"OK"}' }

describe("the reused context of blocking Gigya calls", function()
    it("a call made from the host transport during another call works and both answer", function()
        local client, inner, nested, seen = nil, nil, false, {}
        client = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:9", retry = false,
            transport = function(req)
                seen[#seen + 1] = req.body:match("status=(%w+)")
                if not nested then
                    nested = true
                    inner = { client:setStatus { UID = "u", status = "inner" } }
                end
                return OK
            end }
        local res, err = client:setStatus { UID = "u", status = "outer" }
        assert.is_nil(err)
        assert.are.equal(0, res.errorCode)
        assert.are.equal(0, inner[1].errorCode)
        assert.are.same({ "outer", "inner" }, seen)
        assert(client:setStatus { UID = "u", status = "again" })
        assert.are.same({ "outer", "inner", "again" }, seen)
    end)

    it("each call has its own deadline on the client's clock", function()
        local t = 1000
        local client = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:9", retry = false,
            deadline = 5, now = function() return t end,
            transport = function() t = t + 4 return OK end } -- each request takes 4 of the 5 seconds
        for i = 1, 3 do
            local res, err = client:setStatus { UID = "u", status = "s" .. i }
            assert.is_nil(err)
            assert.are.equal(0, res.errorCode)
        end
        assert.are.equal(1012, t)
    end)

    it("calls running at once each hold a context, given back and reused (a free list)", function()
        -- (an OpenResty worker runs many calls at once, each waiting on its cosocket)
        local client, depth, seen = nil, 0, {}
        local made = 0
        local function nest(req)
            seen[#seen + 1] = req.body:match("status=(%w+)")
            if depth < 2 then
                depth = depth + 1
                local res, err = client:setStatus { UID = "u", status = "d" .. depth }
                assert(res, tostring(err))
                depth = depth - 1
            end
            return OK
        end
        client = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:9", retry = false,
            transport = nest }
        local e = client._engine
        local context = e.context
        e.context = function(...) made = made + 1 return context(...) end
        assert(client:setStatus { UID = "u", status = "d0" }) -- three at once: three contexts
        assert.are.equal(3, made)
        assert.are.same({ "d0", "d1", "d2" }, seen)
        assert(client:setStatus { UID = "u", status = "d0" }) -- the same three again, none made
        assert.are.equal(3, made)
        depth = 2
        for i = 1, 5 do assert(client:setStatus { UID = "u", status = "s" .. i }) end
        assert.are.equal(3, made)
        assert.are.same({ "d0", "d1", "d2", "d0", "d1", "d2", "s1", "s2", "s3", "s4", "s5" }, seen)
    end)

    it("a call that raises leaves the next calls working", function()
        local raise = true
        local client = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:9", retry = false,
            nonce = function() if raise then error("nonce broke") end return "n1" end,
            transport = function() return OK end }
        local ok = pcall(client.setStatus, client, { UID = "u", status = "s" })
        raise = false
        local res, err = client:setStatus { UID = "u", status = "s" }
        assert.is_nil(err, tostring(err))
        assert.are.equal(0, res.errorCode)
        assert.is_false(ok) -- config.nonce raised inside the call
    end)
end)

describe("the redaction lists of a call (issue 15: gathered once, encodings cached)", function()
    local policy = require("socialize.policy")

    it("secrets_into then sort_secrets is what secrets gives, longest first, every time", function()
        local a = { secret = "s3cr3t/value+1", accessToken = "tok en", password = "abc" }
        local b = { refreshToken = "another-one" }
        local want = policy.secrets({}, a, b)
        for _ = 1, 3 do -- the second and third read the cached encodings
            local list = {}
            assert.is_true(policy.secrets_into(list, a))
            assert.is_true(policy.secrets_into(list, b))
            assert.is_false(policy.secrets_into(list, a)) -- nothing new
            assert.are.same(want, policy.sort_secrets(list))
        end
        for i = 2, #want do assert.is_true(#want[i - 1] >= #want[i]) end
        local has = {}
        for _, v in ipairs(want) do has[v] = true end
        assert.is_true(has["s3cr3t/value+1"])
        assert.is_true(has["s3cr3t%2Fvalue%2B1"])
        assert.is_true(has["s3cr3t\\/value+1"])
        assert.is_nil(has["abc"]) -- under 4 bytes: no secret worth a redaction
    end)

    it("a cached list of encodings is the same as one made afresh", function()
        for _, v in ipairs({ "tok\"en/é", "plain-token", "a b+c" }) do
            assert.are.same(policy.encodings_of(v), policy.encodings(v))
            assert.are.same(policy.encodings_of(v), policy.encodings(v))
        end
    end)

    it("secret_values lists the raw secret values of a table, nothing of anything else", function()
        assert.are.same({ "s3cr3t-1" }, policy.secret_values({}, { secret = "s3cr3t-1", title = "not secret", password = "ab" }))
        assert.are.same({}, policy.secret_values({}, false))
        assert.are.same({}, policy.secret_values({}, "secret"))
    end)
end)

describe("merge_secrets (issue 15: two sorted lists merged in one pass)", function()
    local policy = require("socialize.policy")
    local function sorted_copy(l)
        local c = {}
        for i, v in ipairs(l) do c[i] = v end
        table.sort(c, function(x, y) if #x ~= #y then return #x > #y end return x < y end)
        return c
    end

    it("gives what sorting the union gives, without duplicates, sorted or not", function()
        local a = policy.secrets({}, { secret = "first-secret", password = "pass/word" })
        local b = policy.secrets({}, { accessToken = "zz-token", secret = "first-secret" })
        local union, seen = {}, {}
        for _, l in ipairs({ a, b }) do
            for _, v in ipairs(l) do
                if not seen[v] then seen[v] = true union[#union + 1] = v end
            end
        end
        local want = sorted_copy(union)
        assert.are.same(want, policy.merge_secrets(a, b))
        assert.are.same(want, policy.merge_secrets(b, a))
        assert.are.same(sorted_copy({ "b", "ccc", "aa", "a" }), policy.merge_secrets({ "b", "ccc" }, { "aa", "a", "b" }))
        assert.are.same({}, policy.merge_secrets(nil, nil))
        assert.are.same(a, policy.merge_secrets(a, {}))
    end)
end)
