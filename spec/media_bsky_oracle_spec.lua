-- Issue 12, item 1: the Bluesky records socialize builds with media, judged by
-- the network's own lexicons (@atproto/api: app.bsky.feed.post,
-- app.bsky.embed.images, app.bsky.embed.external), and the sandbox's blob
-- refs (spec/fakes/networks/bluesky.py cid_of) by multiformats' CID. One node
-- run of spec/oracles/check_bsky_embed.mjs; `make oracles` installs it.
local core = require("socialize.core")

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local DIR = ROOT .. "/spec/oracles"
local TS = 1700000000
local CIDS = { "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
    "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" }

local function have_oracles()
    local f = io.open(DIR .. "/node_modules/@atproto/api/package.json", "r")
    if f then f:close() end
    return f ~= nil
end

local function record(ua, media)
    local r, msg = core.provider_request("bluesky", "publish", { userAction = ua, media = media }, {},
        { identifier = "x" }, TS, "n1", { accessJwt = "a", did = "did:plc:abc" })
    assert(r, msg)
    return core.json_decode(r.body).record
end

local function item(i, t)
    local m = { index = i, kind = "image", mime = "image/png", size = 1000 + i, id = CIDS[(i - 1) % 2 + 1] }
    for k, v in pairs(t or {}) do m[k] = v end
    return m
end

local function run(doc)
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write(core.json_encode(doc))
    f:close()
    local p = assert(io.popen("cd '" .. DIR .. "' && node check_bsky_embed.mjs < '" .. tmp .. "'"))
    local out = p:read("*a")
    p:close()
    os.remove(tmp)
    return assert(core.json_decode(out), out)
end

local function py_cids(hexes)
    local p = assert(io.popen("python3 -c \"import sys; sys.path.insert(0, '" .. ROOT .. "/spec/fakes'); "
        .. "from networks.bluesky import cid_of; "
        .. "[print(h, cid_of(bytes.fromhex(h))) for h in sys.argv[1:]]\" "
        .. table.concat(hexes, " ")))
    local out = {}
    for l in p:lines() do
        local h, c = l:match("^(%x+) (%S+)$")
        out[#out + 1] = { hex = h, cid = c }
    end
    p:close()
    return out
end

describe("bluesky media records against the lexicons #once", function()
    it("every embed socialize builds is a valid app.bsky.feed.post; the fake's CIDs are multiformats'", function()
        assert(have_oracles(), "the oracle packages are not installed: run `make oracles`")
        local L = "https://game.example/p/1"
        local four = { item(1, { alt = "a", width = 1200, height = 675 }), item(2), item(3, { width = 1, height = 1 }),
            item(4, { alt = "\240\159\154\128 rocket" }) }
        local records = {
            { name = "one image", record = record({ title = "t" }, { item(1, { alt = "Boss", width = 16, height = 8 }) }) },
            { name = "four images and a link", record = record({ title = "Level 7!", linkBack = L }, four) },
            { name = "images, no text", record = record({}, { item(1) }) },
            { name = "card with thumb", record = record({ title = "t", description = "d", linkBack = L }, { item(1) }) },
            { name = "card alone", record = record({ title = "t", linkBack = L }) },
        }
        -- the oracle can fail: an image without alt is refused
        local broken = record({ title = "t" }, { item(1) })
        broken.embed.images[1].alt = nil
        records[#records + 1] = { name = "broken", record = broken }
        local cids = py_cids({ "68656c6c6f", "00", "89504e470d0a1a0a0000000d49484452", ("ff"):rep(300) })
        assert.are.equal(4, #cids)
        local res = run({ records = records, cids = cids })
        assert.are.equal(#records + #cids, res.checked)
        assert.are.equal(1, #res.failures, core.json_encode(res.failures))
        assert.are.equal("broken", res.failures[1].name)
        assert.truthy(res.failures[1].why:find('"alt"', 1, true), res.failures[1].why)
    end)
end)
