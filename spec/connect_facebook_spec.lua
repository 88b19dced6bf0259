-- Facebook Login end to end (docs/connections.md): the code, the long-lived
-- user token (fb_exchange_token), /me, /me/accounts (Page tokens), the page
-- choice (client:selectPage when the user manages several), publishing
-- with the stored Page token and appsecret_proof, DELETE /me/permissions.
-- The sandbox (spec/fakes/networks/facebook.py) checks every call itself.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local REDIRECT = "https://app.example/callback/facebook"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local sb

local function client(extra)
    return K.client(sb, "facebook", { clientId = "fb-app-id", clientSecret = "fb-app-secret" }, K.db("fb"), extra)
end
local authorize = K.authorize
local function requests(path) return K.requests(sb, path) end
local function start(c, UID) return K.connect(c, "facebook", REDIRECT, UID) end

describe("connect: Facebook Login, Page tokens #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("several pages: finishConnect lists them, selectPage connects one, publishing uses its token", function()
        local c = client()
        local s = assert(c:connect { UID = "u1", provider = "facebook", redirectURI = REDIRECT })
        assert.matches("^http://127%.0%.0%.1:%d+/v26%.0/dialog/oauth%?", s.url)
        assert.matches("scope=pages_show_list%%20pages_manage_posts%%20pages_read_engagement", s.url)
        assert.not_matches("code_challenge", s.url)
        local r, err = c:finishConnect(authorize(s.url))
        assert.is_nil(err)
        assert.equal("selectPage", r.pending)
        assert.same({ { id = "1647395831", name = "Sandbox Page One" }, { id = "2750001234", name = "Sandbox Page Two" } },
            r.pages)
        -- nothing stored yet; no token in what was returned
        assert.is_nil(c:store():get_connection("u1", "facebook"))
        assert.not_matches("fb", require("socialize.core").json_encode(r.pages):gsub("Sandbox", ""))
        -- the calls: code grant (secret in the form), exchange, /me, /me/accounts
        local tk = requests("/v26.0/oauth/access_token")
        assert.equal(2, #tk)
        assert.matches("grant_type=authorization_code", tk[1].body)
        assert.matches("client_secret=fb%-app%-secret", tk[1].body)
        assert.equal("POST", tk[1].method)
        assert.equal("GET", tk[2].method)
        assert.matches("grant_type=fb_exchange_token", tk[2].query)
        assert.matches("client_id=fb%-app%-id", tk[2].query)
        assert.matches("fb_exchange_token=fbat%-", tk[2].query)
        assert.equal(1, #requests("/v26.0/me"))
        assert.equal(1, #requests("/v26.0/me/accounts"))
        -- a page that is not the user's: refused, the choice stays pending
        local none, perr = c:selectPage { UID = "u1", provider = "facebook", pageId = "999" }
        assert.is_nil(none)
        assert.equal("page_unknown", perr.error)
        local id, serr = c:selectPage { UID = "u1", provider = "facebook", pageId = "2750001234" }
        assert.is_nil(serr)
        assert.equal("facebook", id.provider)
        assert.equal("2750001234", id.providerUID)
        assert.equal("Sandbox Page Two", id.nickname)
        assert.is_nil(id.expiresAt)
        assert.is_false(id.isExpiredSession)
        local rec = assert(c:store():get_connection("u1", "facebook"))
        assert.equal("2750001234", rec.account)
        assert.matches("^fbpt%-2750001234%-", rec.secrets.accessToken)
        assert.matches("^fbll%-", rec.secrets.userToken)
        assert.equal("10001", rec.fields.userId)
        -- the choice is single use
        none, perr = c:selectPage { UID = "u1", provider = "facebook", pageId = "2750001234" }
        assert.equal("no_pending_page", perr.error)
        -- a callback carrying the choice's key as its state is refused
        none, perr = c:finishConnect("code=x&state=page:facebook:u1")
        assert.equal("state_unknown", perr.error)
        -- publishing: the Page's feed, its token with appsecret_proof (the sandbox checks both)
        local res, pubErr = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "facebook" }
        assert.is_nil(pubErr)
        assert.equal(0, res.errorCode)
        local feed = requests("/v26.0/2750001234/feed")
        assert.equal(1, #feed)
        -- disconnect: DELETE /me/permissions with the user token, every token dead at Facebook
        local rm = assert(c:removeConnection { UID = "u1", provider = "facebook" })
        assert.is_true(rm.revoked.facebook)
        local perm = requests("/v26.0/me/permissions")
        assert.equal(2, #perm)
        assert.equal("GET", perm[1].method) -- after the exchange: what was granted
        assert.equal("DELETE", perm[2].method)
        assert.is_nil(c:store():get_connection("u1", "facebook"))
    end)

    it("one page: connected at once", function()
        H.configure(sb, { fb_pages_n = 1 })
        local c = client()
        local id, err = start(c, "u2")
        assert.is_nil(err)
        assert.equal("1647395831", id.providerUID)
        assert.equal("Sandbox Page One", id.nickname)
        local res = assert(c:publishUserAction { UID = "u2", userAction = UA, enabledProviders = "facebook" })
        assert.equal(0, res.errorCode)
        assert.equal(1, #requests("/v26.0/1647395831/feed"))
    end)

    it("no page: refused with no_pages, nothing stored", function()
        H.configure(sb, { fb_pages_n = 0 })
        local c = client()
        local id, err = start(c, "u3")
        assert.is_nil(id)
        assert.equal("no_pages", err.error)
        assert.is_nil(c:store():get_connection("u3", "facebook"))
    end)

    it("a token endpoint answering HTML: transient, nothing stored, no secret in the error", function()
        H.configure(sb, { oauth_scenario = { facebook = "html" } })
        local c = client()
        local id, err = start(c, "u4")
        assert.is_nil(id)
        assert.equal("transient", err.error)
        assert.not_matches("fb%-app%-secret", err.errorDetails)
        assert.is_nil(c:store():get_connection("u4", "facebook"))
    end)

    it("the user denies: access_denied", function()
        H.configure(sb, { oauth_scenario = { facebook = "deny" } })
        local c = client()
        local id, err = start(c, "u5")
        assert.is_nil(id)
        assert.equal("access_denied", err.error)
    end)

    it("a page choice expires with its connect (10 minutes)", function()
        local c = client()
        assert.equal("selectPage", start(c, "u6").pending)
        local later = client({ clock = function() return os.time() + 601 end })
        later._store_config = c._store_config
        later._store = c:store()
        local none, err = later:selectPage { UID = "u6", provider = "facebook", pageId = "1647395831" }
        assert.is_nil(none)
        assert.equal("no_pending_page", err.error)
    end)
end)

describe("connect: Facebook permissions and page paging #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("a declined permission: scopes_missing, nothing stored, the state consumed", function()
        H.configure(sb, { fb_declined = "pages_manage_posts" })
        local c = client()
        local s = assert(c:connect { UID = "p1", provider = "facebook", redirectURI = REDIRECT })
        local cb = authorize(s.url)
        local id, err = c:finishConnect(cb)
        assert.is_nil(id)
        assert.equal("scopes_missing", err.error)
        assert.equal(403023, err.errorCode)
        assert.matches("pages_manage_posts", err.errorDetails)
        assert.not_matches("fbll", err.errorDetails)
        local perm = requests("/v26.0/me/permissions")
        assert.equal(1, #perm)
        assert.equal("GET", perm[1].method)
        assert.equal(0, #requests("/v26.0/me/accounts"))
        assert.is_nil(c:store():get_connection("p1", "facebook"))
        local again, aerr = c:finishConnect(cb)
        assert.is_nil(again)
        assert.equal("state_unknown", aerr.error)
    end)

    it("every permission granted: the granted list is the connection's scopes", function()
        H.configure(sb, { fb_pages_n = 1 })
        local id = assert(start(client(), "p2"))
        assert.equal("pages_manage_posts pages_read_engagement pages_show_list public_profile", id.scopes)
    end)

    it("many pages: paging.next followed in chunks, the cursor carried", function()
        H.configure(sb, { fb_pages_n = 7, fb_page_chunk = 3 })
        local c = client()
        local r = assert(start(c, "p3"))
        assert.equal("selectPage", r.pending)
        assert.equal(7, #r.pages)
        assert.equal("Sandbox Page 7", r.pages[7].name)
        local acc = requests("/v26.0/me/accounts")
        assert.equal(3, #acc)
        assert.not_matches("after=", acc[1].query)
        assert.matches("after=c3", acc[2].query)
        assert.matches("after=c6", acc[3].query)
        -- selectPage reads the whole list again: a page of the last chunk is found
        local id = assert(c:selectPage { UID = "p3", provider = "facebook", pageId = r.pages[7].id })
        assert.equal(r.pages[7].id, id.providerUID)
    end)

    it("a next URL on another host: refused, nothing stored", function()
        H.configure(sb, { fb_pages_n = 7, fb_page_chunk = 3, fb_paging = "otherhost" })
        local c = client()
        local id, err = start(c, "p4")
        assert.is_nil(id)
        assert.equal("content_invalid", err.error)
        assert.equal(1, #requests("/v26.0/me/accounts"))
        assert.is_nil(c:store():get_connection("p4", "facebook"))
    end)

    it("a reply looping back to a cursor already seen ends the list", function()
        H.configure(sb, { fb_pages_n = 7, fb_page_chunk = 3, fb_paging = "loop" })
        local r = assert(start(client(), "p5"))
        assert.equal(3, #r.pages)
        assert.equal(2, #requests("/v26.0/me/accounts"))
    end)

    it("an endless list: at most PAGES_MAX_REQUESTS calls and PAGES_MAX pages", function()
        local connect = require("socialize.connect")
        H.configure(sb, { fb_paging = "endless", fb_page_chunk = 7 })
        local r = assert(start(client(), "p6"))
        assert.equal(connect.PAGES_MAX_REQUESTS, #requests("/v26.0/me/accounts"))
        assert.equal(70, #r.pages)
        H.reset(sb)
        H.configure(sb, { fb_paging = "endless", fb_page_chunk = 30 })
        r = assert(start(client(), "p7"))
        assert.equal(4, #requests("/v26.0/me/accounts"))
        assert.equal(connect.PAGES_MAX, #r.pages)
    end)
end)
