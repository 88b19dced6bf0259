-- The read-back op "recent" in the sans-IO core (docs/delivery.md "Reading
-- back"): each network's request, its parse into { id, text, createdAt? },
-- hostile replies (not JSON, huge lists, missing or wrong fields), and the
-- networks that do not offer it.
local core = require("socialize.core")

local APP = { facebook = { appSecret = "fb-secret" } }
local USER = {
    twitter = { userId = "2244994945", token = "tk", tokenSecret = "ts" },
    facebook = { pageId = "1647395831", accessToken = "page-token" },
    threads = { userId = "1789", accessToken = "th-token" },
    bluesky = { identifier = "me.bsky.social" },
}
local SETUP = { bluesky = { did = "did:plc:abc123", accessJwt = "jwt" } }
local TW_APP = { consumerKey = "ck", consumerSecret = "cs" }

local function request(net, user, setup)
    local app = net == "twitter" and TW_APP or APP[net] or {}
    return core.provider_request(net, "recent", {}, app, user or USER[net], 1700000000, "nonce", setup or SETUP[net])
end

local function parse(net, status, body)
    return core.provider_parse(net, "recent", {}, APP[net] or {}, USER[net], status, {}, body, 1700000000)
end

-- each network's list shape: the body of a reply listing `items` ({id, text, at})
local SHAPES = {
    twitter = function(items)
        local data = {}
        for i, it in ipairs(items) do data[i] = { id = it.id, text = it.text, created_at = it.at, edit_history_tweet_ids = { it.id } } end
        return core.json_encode({ data = data, meta = { result_count = #data } })
    end,
    facebook = function(items)
        local data = {}
        for i, it in ipairs(items) do data[i] = { id = it.id, message = it.text, created_time = it.at } end
        return core.json_encode({ data = data, paging = { cursors = { after = "a" } } })
    end,
    threads = function(items)
        local data = {}
        for i, it in ipairs(items) do data[i] = { id = it.id, text = it.text, timestamp = it.at } end
        return core.json_encode({ data = data })
    end,
    bluesky = function(items)
        local recs = {}
        for i, it in ipairs(items) do
            recs[i] = { uri = it.id, cid = "bafy", value = { ["$type"] = "app.bsky.feed.post", text = it.text, createdAt = it.at } }
        end
        return core.json_encode({ records = recs, cursor = "c" })
    end,
}

describe("the read-back op in the core #unit", function()
    it("is offered where the API reads the account's posts with the scopes the connect flow asks", function()
        local offered = {}
        for _, n in ipairs(core.provider_names()) do
            local rb = core.provider_info(n).readback
            assert.equal("table", type(rb), n)
            assert.equal(20, rb.count)
            if rb.offered then offered[#offered + 1] = n; assert.truthy(rb.endpoint, n) end
        end
        table.sort(offered)
        assert.same({ "bluesky", "facebook", "threads", "twitter" }, offered)
        for _, n in ipairs({ "linkedin", "telegram", "sina", "mastodon", "vkontakte" }) do
            assert.truthy(core.provider_info(n).readback.why, n)
        end
    end)

    it("builds each network's request for the latest 20 posts", function()
        local r = assert(request("twitter"))
        assert.same({ "GET", "https://api.x.com/2/users/2244994945/tweets?max_results=20&exclude=replies%2Cretweets"
            .. "&tweet.fields=created_at" }, { r.method, r.url })
        assert.truthy(r.headers.Authorization:find("^OAuth "), r.headers.Authorization)
        r = assert(request("twitter", { userId = "2244994945", bearerToken = "bt" }))
        assert.equal("Bearer bt", r.headers.Authorization)
        r = assert(request("facebook"))
        assert.equal("GET", r.method)
        assert.truthy(r.url:find("^https://graph%.facebook%.com/v[%d.]+/1647395831/posts%?"), r.url)
        assert.truthy(r.url:find("fields=id%2Cmessage%2Ccreated_time", 1, true), r.url)
        assert.truthy(r.url:find("limit=20", 1, true) and r.url:find("appsecret_proof=", 1, true), r.url)
        r = assert(request("threads"))
        assert.truthy(r.url:find("^https://graph%.threads%.net/v1%.0/1789/threads%?"), r.url)
        assert.truthy(r.url:find("fields=id%2Ctext%2Ctimestamp", 1, true) and r.url:find("limit=20", 1, true), r.url)
        r = assert(request("bluesky"))
        assert.same({ "GET", "https://bsky.social/xrpc/com.atproto.repo.listRecords?repo=did%3Aplc%3Aabc123"
            .. "&collection=app.bsky.feed.post&limit=20", "Bearer jwt" }, { r.method, r.url, r.headers.Authorization })
    end)

    it("refuses a request whose account id could break the URL, and networks without read-back", function()
        local _, msg = request("twitter", { userId = "12/../34", token = "t", tokenSecret = "s" })
        assert.truthy(tostring(msg):find("numeric userId", 1, true), msg)
        _, msg = request("facebook", { pageId = "12?x=1", accessToken = "t" })
        assert.truthy(tostring(msg):find("numeric Page id", 1, true), msg)
        _, msg = request("threads", { userId = "me", accessToken = "t" })
        assert.truthy(tostring(msg):find("numeric Threads user id", 1, true), msg)
        _, msg = request("bluesky", nil, { did = "did:plc:a&b=c", accessJwt = "j" })
        assert.truthy(tostring(msg):find("not a DID", 1, true), msg)
        _, msg = request("bluesky", nil, {})
        assert.truthy(tostring(msg):find("no session", 1, true), msg)
        for _, n in ipairs({ "linkedin", "telegram", "sina", "mastodon", "vkontakte" }) do
            local req, m, code, res = core.provider_request(n, "recent", {}, {}, {}, 1, "n")
            assert.is_nil(req, n)
            assert.equal(400096, code, n)
            assert.equal("unsupported", res.category, n)
            assert.truthy(m:find("no read-back", 1, true), m)
        end
    end)

    for net, shape in pairs(SHAPES) do
        it(net .. ": parses its list into { id, text, createdAt }", function()
            local r = assert(parse(net, 200, shape({
                { id = "111", text = "Level 3 done", at = "2026-12-07T13:00:00.000Z" },
                { id = "222", text = "no time" },
                { id = "333", text = "bad time", at = "yesterday" },
            })))
            assert.is_true(r.ok, r.errorDetails)
            assert.same({ { id = "111", text = "Level 3 done", createdAt = 1796648400 },
                          { id = "222", text = "no time" }, { id = "333", text = "bad time" } }, r.data.posts)
            assert.equal(3, r.data.listed)
        end)

        it(net .. ": skips items without an id or a text, and reads at most 100", function()
            local items = { { text = "no id" }, { id = "", text = "empty id" }, { id = "1" },
                            { id = ("9"):rep(300), text = "too long an id" }, { id = "2", text = "kept" } }
            local r = assert(parse(net, 200, shape(items)))
            assert.same({ { id = "2", text = "kept" } }, r.data.posts)
            local many = {}
            for i = 1, 5000 do many[i] = { id = tostring(i), text = "post " .. i } end
            r = assert(parse(net, 200, shape(many)))
            assert.same({ 100, "1", "100", 5000 }, { #r.data.posts, r.data.posts[1].id, r.data.posts[100].id, r.data.listed })
        end)

        it(net .. ": a reply that is not JSON, or without its list, is a transient failure", function()
            local r = assert(parse(net, 200, "<html>oops</html>"))
            assert.same({ false, "transient" }, { r.ok, r.category })
            r = assert(parse(net, 502, "Bad Gateway"))
            assert.same({ false, "transient" }, { r.ok, r.category })
            if net ~= "twitter" then -- X answers no data at all for an account without posts
                r = assert(parse(net, 200, '{"something": "else"}'))
                assert.same({ false, "transient" }, { r.ok, r.category })
                assert.truthy(r.errorDetails:find("missing", 1, true), r.errorDetails)
                r = assert(parse(net, 200, net == "bluesky" and '{"records": {"a": 1}}' or '{"data": "x"}'))
                assert.same({ false, "transient" }, { r.ok, r.category })
            end
        end)
    end

    it("twitter: an account without posts answers no data: an empty list", function()
        local r = assert(parse("twitter", 200, '{"meta": {"result_count": 0}}'))
        assert.is_true(r.ok)
        assert.same({}, r.data.posts)
    end)

    it("takes a numeric id as a string, and refuses odd ids and texts", function()
        local r = assert(parse("facebook", 200, '{"data": [{"id": 42, "message": "n"}, {"id": -1, "message": "neg"},'
            .. ' {"id": 1.5, "message": "float"}, {"id": "7", "message": 7}, {"id": ["x"], "message": "arr"}]}'))
        assert.same({ { id = "42", text = "n" } }, r.data.posts)
    end)

    it("classifies the network's errors as its other calls do", function()
        local r = assert(parse("twitter", 401, '{"title": "Unauthorized", "detail": "Unauthorized", "status": 401}'))
        assert.same({ false, "auth_expired" }, { r.ok, r.category })
        r = assert(parse("facebook", 400, '{"error": {"message": "Session has expired", "code": 190, "error_subcode": 463}}'))
        assert.same({ false, "auth_expired" }, { r.ok, r.category })
        r = assert(parse("bluesky", 400, '{"error": "ExpiredToken", "message": "Token has expired"}'))
        assert.same({ false, "auth_expired" }, { r.ok, r.category })
        r = assert(parse("threads", 500, '{"error": {"message": "unexpected", "code": 2, "is_transient": true}}'))
        assert.same({ false, "transient" }, { r.ok, r.category })
    end)
end)

describe("docs/delivery.md's read-back column #unit", function()
    it("says yes exactly where core.provider_info(name).readback is offered", function()
        local f = assert(io.open((os.getenv("SOCIALIZE_ROOT") or ".") .. "/docs/delivery.md", "rb"))
        local doc = f:read("*a")
        f:close()
        local rows = 0
        for name, rb in doc:gmatch("\n| `(%l+)` | [^|]- | ([^|]-) |") do
            local info = core.provider_info(name) -- the states table's rows are no network
            if info then
                rows = rows + 1
                assert.equal(info.readback.offered, rb:sub(1, 4) == "yes:", name .. ": " .. rb)
                if info.readback.offered then
                    assert.truthy(rb:find(info.readback.endpoint:match("^GET (/[^?( ]+)"), 1, true), name)
                end
            end
        end
        assert.equal(9, rows)
    end)
end)
