-- Wire fidelity against the networks' own reference code (issue 10): a
-- generated corpus (spec/oracles/corpus.lua, 500+ texts) goes through the real
-- request builders for X, Bluesky and Mastodon, and one node run of
-- spec/oracles/check.js judges every emitted text with twitter-text's
-- parseTweet, @atproto/api's RichText facet detection and Mastodon's count.
-- `make oracles` (part of `make test`) installs the npm packages.
local core = require("socialize.core")
local corpus = require("spec.oracles.corpus")

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local DIR = ROOT .. "/spec/oracles"
local LINK = "https://game.example/l3"
local TS = 1700000000

local function build(net, ua, app, user, setup)
    local r, msg, _, res = core.provider_request(net, "publish", { userAction = ua }, app, user, TS, "n1", setup)
    if not r then return nil, (res and res.errorMessage) or msg end
    return core.json_decode(r.body)
end

local function have_oracles()
    local f = io.open(DIR .. "/node_modules/twitter-text/package.json", "r")
    if f then f:close() end
    local g = io.open(DIR .. "/node_modules/@atproto/api/package.json", "r")
    if g then g:close() end
    return f ~= nil and g ~= nil
end

describe("oracle corpus", function()
    local texts = corpus.texts()

    it("has at least 500 texts, the same on every run", function()
        assert.is_true(#texts >= 500)
        local again = corpus.texts()
        local same = #again == #texts
        for i = 1, #texts do same = same and texts[i] == again[i] end
        assert.is_true(same)
    end)

    it("every emitted tweet, Bluesky record and Mastodon status passes the networks' own code", function()
        assert(have_oracles(), "the oracle packages are not installed: run `make oracles` "
            .. "(npm ci in spec/oracles; needs the npm registry once)")
        local doc = { x = {}, bluesky = {}, mastodon = {} }
        local refused = {}
        for i, t in ipairs(texts) do
            local link = (i % 2 == 0) and LINK or nil
            local tw, e1 = build("twitter", { title = t, linkBack = link },
                { consumerKey = "ck", consumerSecret = "cs" }, { token = "t", tokenSecret = "s" })
            if tw then
                doc.x[#doc.x + 1] = { n = i, input = link and (t .. " " .. link) or t, text = tw.text }
            else refused[#refused + 1] = "x #" .. i .. ": " .. tostring(e1) end
            local bs, e2 = build("bluesky", { title = t, linkBack = link }, {}, { identifier = "x" },
                { accessJwt = "a", did = "did:plc:abc" })
            if bs then
                doc.bluesky[#doc.bluesky + 1] = { n = i, input = link and (t .. "\n\n" .. link) or t,
                    text = bs.record.text, facets = bs.record.facets }
            else refused[#refused + 1] = "bluesky #" .. i .. ": " .. tostring(e2) end
            local ma, e3 = build("mastodon", { userMessage = t, linkBack = link }, {},
                { instance = "https://mastodon.example", accessToken = "tok" })
            if ma then
                doc.mastodon[#doc.mastodon + 1] = { n = i, input = link and (t .. "\n\n" .. link) or t, text = ma.status }
            else refused[#refused + 1] = "mastodon #" .. i .. ": " .. tostring(e3) end
        end
        assert.are.same({}, refused)
        local tmp = os.tmpname()
        local f = assert(io.open(tmp, "wb"))
        f:write(core.json_encode(doc))
        f:close()
        local p = assert(io.popen("node " .. DIR .. "/check.js < " .. tmp .. " 2>&1", "r"))
        local out = p:read("*a")
        p:close()
        if os.getenv("ORACLE_KEEP") then os.rename(tmp, os.getenv("ORACLE_KEEP")) else os.remove(tmp) end
        local ok, res = pcall(core.json_decode, out)
        assert(ok and type(res) == "table" and res.counted, "the oracle script failed: " .. out:sub(1, 2000))
        assert.are.equal(#texts, res.counted.x)
        assert.are.equal(#texts, res.counted.bluesky)
        assert.are.equal(#texts, res.counted.mastodon)
        local lines = {}
        for k, fl in ipairs(res.failures or {}) do
            if k > 25 then break end
            lines[#lines + 1] = fl.net .. " #" .. fl.i .. ": " .. fl.why .. "\n   input: " .. fl.input:sub(1, 160)
                .. "\n   text:  " .. fl.text:sub(1, 160)
        end
        assert(#(res.failures or {}) == 0, #res.failures .. " oracle failures:\n" .. table.concat(lines, "\n"))
    end)
end)
