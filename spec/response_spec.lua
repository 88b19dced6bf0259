-- Reply parsing into Gigya's response model (C core, through the binding).
local H = require("spec.helper")
local core = require("socialize.core")
local socialize = require("socialize")

describe("response model", function()
    it("keeps every field of the reply, typed", function()
        local r = core.parse_response('{"callId":"c","errorCode":0,"statusCode":200,"statusReason":"OK",'
            .. '"time":"2015-03-22T11:42:25.943Z","providerPostIDs":{"facebook":"696437547_10152162258982548"},'
            .. '"providerErrorCodes":[{"provider":"facebook","errorCode":0,"errorMessage":"OK"}],'
            .. '"n":1.5,"big":9007199254740993,"flag":false,"nothing":null,"list":[]}', 200)
        assert.are.equal("c", r.callId)
        assert.are.equal(0, r.errorCode)
        assert.are.equal("696437547_10152162258982548", r.providerPostIDs.facebook)
        assert.are.equal("facebook", r.providerErrorCodes[1].provider)
        assert.are.equal(1.5, r.n)
        assert.are.equal(false, r.flag)
        assert.are.equal(socialize.null, r.nothing)
        assert.are.same({}, r.list)
        if math.type then assert.are.equal(9007199254740993, r.big) end
    end)

    it("fills statusCode, statusReason and errorMessage when the reply lacks them", function()
        local r = core.parse_response('{"errorCode":403048}', 200)
        assert.are.equal(403, r.statusCode)
        assert.are.equal("Forbidden", r.statusReason)
        assert.are.equal("API Rate Limit Exceeded", r.errorMessage)
    end)

    it("says one reason phrase per HTTP status, in replies and in local errors (one table, in the core)", function()
        local errors = require("socialize.errors")
        for _, st in ipairs({ 400, 401, 403, 404, 405, 409, 413, 500, 504 }) do
            -- a reply with a Gigya code of that status, and a local error with the same code
            local reply = core.parse_response('{"errorCode":' .. (st * 1000 + 1) .. '}', 200)
            local localerr = errors.new(st * 1000 + 1, "x")
            assert.are.equal(reply.statusReason, localerr.statusReason, tostring(st))
            assert.are_not.equal("Error", reply.statusReason, tostring(st))
        end
        assert.are.equal("Error", errors.new(301001, "x").statusReason)
    end)

    it("turns what is not a JSON object into a local error with details", function()
        for _, case in ipairs({ { "", 200 }, { "<xml/>", 200 }, { "[1]", 200 }, { "{", 200 }, { "{}", 502 },
                                { '{"errorCode":0}garbage', 200 } }) do
            local r = core.parse_response(case[1], case[2])
            assert.is_true(r.errorCode == 500000 or r.errorCode == 500001, case[1])
            assert.is_string(r.errorDetails)
            assert.are.equal(case[2], r.statusCode)
        end
    end)

    it("error values print as 'code message: details' and keep the fields", function()
        local e = socialize.Error
        local err = setmetatable({ errorCode = 403003, errorMessage = "Invalid request signature",
            errorDetails = "sig mismatch", statusCode = 403, callId = "x" }, e)
        assert.are.equal("403003 Invalid request signature: sig mismatch", tostring(err))
        err.errorDetails = nil
        assert.are.equal("403003 Invalid request signature", tostring(err))
    end)

    it("decodes deep but bounded JSON", function()
        local deep = string.rep("[", 600) .. string.rep("]", 600)
        local v, _, code = core.json_decode(deep)
        assert.is_nil(v)
        assert.are.equal(400006, code)
        assert.are.same({ { {} } }, core.json_decode("[[[]]]"))
    end)
end)
