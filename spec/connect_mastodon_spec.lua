-- Mastodon's connect end to end through the sandbox (docs/connections.md):
-- the app registered once per instance (POST /api/v1/apps, kept in the
-- store's apps: a second user and a concurrent first connect reuse it),
-- PKCE when the instance's RFC 8414 metadata lists S256 (none otherwise),
-- the code grant at /oauth/token, verify_credentials, publishing with the
-- stored token at the stored instance, /oauth/revoke; and the faults. The
-- sandbox (spec/fakes/networks/mastodon.py with spec/fakes/oauth_server.py)
-- checks the wire format itself.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local KEY = K.KEY
local REDIRECT = "https://app.example/callback/mastodon"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local sb
-- the concurrent case's children: the interpreter and build of this run
local ROOT, BUILD, CHILD_LUA = K.ROOT, K.BUILD, K.CHILD_LUA

local function db() return K.db("md") end

local function mastodon(p) p.mastodon = { clientName = "socialize spec", website = "https://game.example" } end
local function client(url, extra) return K.client(sb, mastodon, nil, url or db(), extra) end
local authorize = K.authorize
local function requests(path) return K.requests(sb, path) end

-- a refused client:connect answers nil, err (no assert)
local function connect(c, UID)
    return K.connect(c, "mastodon", REDIRECT, UID, { instance = sb.url("mastodon") }, true)
end

describe("connect: Mastodon (per-instance app, OAuth 2.0) #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("registers the app once per instance, connects two users with PKCE, publishes, revokes", function()
        local url = db()
        local c = client(url)
        local id, err, start = connect(c, "u1")
        assert.is_nil(err)
        assert.equal("mastodon", id.provider)
        assert.equal("109", id.providerUID)
        assert.equal("sandbox", id.nickname)
        assert.is_nil(id.expiresAt)
        assert.is_false(id.isExpiredSession)
        assert.equal("write:statuses write:media read:accounts", id.scopes)
        assert.matches("code_challenge_method=S256", start.url, 1, true)
        assert.matches("client_id=md-client-id", start.url, 1, true)
        -- the registration: a form with the app's name, redirect URI, scopes, website
        local apps = requests("/api/v1/apps")
        assert.equal(1, #apps)
        assert.equal("client_name=socialize%20spec&redirect_uris=https%3A%2F%2Fapp.example%2Fcallback%2Fmastodon"
            .. "&scopes=write%3Astatuses%20write%3Amedia%20read%3Aaccounts&website=https%3A%2F%2Fgame.example",
            apps[1].body)
        local origin = sb.url("mastodon"):gsub("/$", "")
        local reg = assert(c:store():get_app("mastodon", origin))
        assert.equal("md-client-id", reg.fields.clientId)
        assert.equal("md-client-secret", reg.secrets.clientSecret)
        local tk = requests("/oauth/token")
        assert.equal(1, #tk)
        assert.matches("code_verifier=[%w_-]+", tk[1].body)
        assert.matches("client_secret=md%-client%-secret", tk[1].body)
        local vc = requests("/api/v1/accounts/verify_credentials")
        assert.equal(1, #vc)
        local rec = assert(c:store():get_connection("u1", "mastodon"))
        assert.equal("Bearer " .. rec.secrets.accessToken, vc[1].headers.authorization)
        assert.equal(origin, rec.fields.instance)
        -- a second user (another process, same store): the same registration
        local c2 = client(url)
        assert(connect(c2, "u2"))
        assert.equal(1, #requests("/api/v1/apps"))
        -- publishing through the stored connection, at the stored instance
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode, tostring(res.errorDetails))
        local st = requests("/api/v1/statuses")
        assert.equal(1, #st)
        assert.equal("Bearer " .. rec.secrets.accessToken, st[1].headers.authorization)
        -- disconnect: /oauth/revoke with the app's credentials, then the token no longer posts
        local rm = assert(c:removeConnection { UID = "u1", provider = "mastodon" })
        assert.equal(1, rm.removed)
        assert.is_true(rm.revoked.mastodon)
        local rv = requests("/oauth/revoke")
        assert.equal(1, #rv)
        assert.matches("client_id=md%-client%-id", rv[1].body)
        assert.matches("token=" .. rec.secrets.accessToken, rv[1].body, 1, true)
        assert.equal(1, H.control(sb, "/__oauth").mastodon.revoked)
        -- the app registration stays for the next user
        assert.truthy(c:store():get_app("mastodon", origin))
    end)

    it("concurrent first connects of two processes register the app once", function()
        local url = db()
        local inst = sb.url("mastodon")
        local script = H.tmpdir .. "/md-conc-" .. math.random(1, 1e9) .. ".lua"
        local f = assert(io.open(script, "w"))
        f:write(([[
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = %q .. "/?.so;" .. package.cpath
local socialize = require("socialize")
local c = socialize.new { backend = "direct", allowPrivateNetworks = true, timeout = 5,
    providers = { mastodon = { clientName = "conc" } }, store = { url = %q, keys = { %q } } }
local s, e = c:connect { UID = arg[1], provider = "mastodon", instance = %q, redirectURI = %q }
io.write(s and "ok" or ("fail " .. tostring(e and e.errorDetails)))
]]):format(BUILD, url, KEY, inst, REDIRECT))
        f:close()
        assert(client(url):store()) -- the schema, before the two processes race
        local p1 = assert(io.popen(CHILD_LUA .. " " .. script .. " a 2>&1"))
        local p2 = assert(io.popen(CHILD_LUA .. " " .. script .. " b 2>&1"))
        assert.equal("ok", p1:read("*a"))
        assert.equal("ok", p2:read("*a"))
        p1:close()
        p2:close()
        assert.equal(1, #requests("/api/v1/apps"))
        assert.equal(2, #requests("/.well-known/oauth-authorization-server"))
    end)

    it("an instance without PKCE metadata (before 4.3): no challenge, no verifier", function()
        H.configure(sb, { oauth_scenario = { mastodon = "nopkce" } })
        local c = client()
        local id, err, start = connect(c, "u1")
        assert.is_nil(err)
        assert.equal("109", id.providerUID)
        assert.is_nil(start.url:find("code_challenge", 1, true))
        assert.is_nil(requests("/oauth/token")[1].body:find("code_verifier", 1, true))
    end)

    it("a private instance without allowPrivateNetworks: refused before anything is sent", function()
        local c = client(nil, { allowPrivateNetworks = false })
        local start, err = c:connect { UID = "u1", provider = "mastodon", instance = sb.url("mastodon"),
                                       redirectURI = REDIRECT }
        assert.is_nil(start)
        assert.matches("private%-network guard", err.errorDetails)
        assert.equal(0, #H.requests(sb))
        local s2, e2 = c:connect { UID = "u1", provider = "mastodon", instance = "javascript:alert(1)",
                                   redirectURI = REDIRECT }
        assert.is_nil(s2)
        assert.truthy(e2)
        local s4, e4 = c:connect { UID = "u1", provider = "mastodon", instance = "http://mastodon.social",
                                   redirectURI = REDIRECT }
        assert.is_nil(s4)
        assert.matches("an instance is https", e4.errorDetails)
        local s5, e5 = c:connect { UID = "u1", provider = "mastodon", instance = "https://10.0.0.1",
                                   redirectURI = REDIRECT }
        assert.is_nil(s5)
        assert.matches("private%-network guard", e5.errorDetails)
        assert.equal(0, #H.requests(sb))
        local s3, e3 = c:connect { UID = "u1", provider = "mastodon", redirectURI = REDIRECT }
        assert.is_nil(s3)
        assert.matches("instance", e3.errorDetails)
    end)

    it("the registration failing: transient, nothing registered, nothing sent after", function()
        H.configure(sb, { oauth_scenario = { mastodon = "apps503" } })
        local c = client()
        local start, err = c:connect { UID = "u1", provider = "mastodon", instance = sb.url("mastodon"),
                                       redirectURI = REDIRECT }
        assert.is_nil(start)
        assert.equal("transient", err.error)
        assert.is_nil(c:store():get_app("mastodon", (sb.url("mastodon"):gsub("/$", ""))))
        assert.equal(0, #requests("/oauth/authorize"))
    end)

    it("another redirect URI than the registered one is refused clearly", function()
        local c = client()
        assert(connect(c, "u1"))
        local start, err = c:connect { UID = "u2", provider = "mastodon", instance = sb.url("mastodon"),
                                       redirectURI = "https://other.example/cb" }
        assert.is_nil(start)
        assert.matches("another redirect URI", err.errorDetails)
    end)
end)
