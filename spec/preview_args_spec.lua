-- client:preview's arguments, as for the other calls: nil params is {}, a
-- params that is not a table raises, and a callback (the game-loop habit of
-- every other call) raises instead of being ignored: preview sends nothing
-- and answers at once, so the callback would never run.
local socialize = require("socialize")
local H = require("spec.helper")

describe("client:preview arguments #unit", function()
    local function client()
        return socialize.new({ backend = "direct", transport = H.spy().transport,
            connections = { u1 = { telegram = { chatId = "5" } } },
            providers = { telegram = { botToken = "1:x" } } })
    end
    it("takes nil params as {} (the missing UID is named)", function()
        local res, err = client():preview()
        assert.is_nil(res)
        assert.are.equal(400002, err.errorCode)
        assert.truthy(tostring(err):find("UID", 1, true))
    end)
    it("raises for params that are not a table, like the other calls", function()
        local c = client()
        assert.has_error(function() c:preview("x") end, "bad argument #1 to 'preview' (table expected, got string)")
    end)
    it("raises for a callback instead of ignoring it", function()
        local c = client()
        local ok, msg = pcall(c.preview, c, { UID = "u1", userAction = { title = "T" } }, function() end)
        assert.is_false(ok)
        assert.truthy(msg:find("bad argument #2 to 'preview'", 1, true))
        assert.truthy(msg:find("no callback", 1, true))
    end)
    it("still answers without a callback", function()
        local res = assert(client():preview({ UID = "u1", userAction = { title = "T" } }))
        assert.are.equal("telegram", res.previews[1].provider)
    end)
end)
