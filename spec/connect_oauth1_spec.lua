-- X's OAuth 1.0a 3-legged connect end to end (docs/connections.md):
-- client:connect{..., oauth = "1.0a"}, the request token (oauth_callback),
-- the authorization URL, the access token (oauth_verifier), the stored
-- connection publishing with OAuth 1.0a signatures. The sandbox
-- (spec/fakes/networks/twitter.py) checks every signature with its own code.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local REDIRECT = "https://app.example/callback/x?from=o1"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local sb

local function client(extra) return K.client(sb, nil, nil, K.db("o1"), extra) end
local authorize = K.authorize
local function requests(path) return K.requests(sb, path) end

describe("connect: X OAuth 1.0a 3-legged #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects, stores token and secret sealed, publishes signed, removes", function()
        local c = client()
        local s = assert(c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
        assert.equal("1.0a", s.oauth)
        assert.matches("^http://127%.0%.0%.1:%d+/oauth/authorize%?oauth_token=o1rt%-%x+$", s.url)
        local rq = requests("/oauth/request_token")
        assert.equal(1, #rq)
        assert.equal("POST", rq[1].method)
        assert.matches('oauth_callback="https%%3A%%2F%%2Fapp%.example%%2Fcallback%%2Fx%%3Ffrom%%3Do1"',
            rq[1].headers.authorization)
        assert.not_matches("oauth_token=", rq[1].headers.authorization)
        -- the request token's secret is in the store, sealed (not in the URL or the state)
        assert.not_matches("secret", s.url)
        local cb = authorize(s.url)
        assert.matches("from=o1&oauth_token=", cb, 1, true)
        local id, err = c:finishConnect(cb)
        assert.is_nil(err)
        assert.equal("twitter", id.provider)
        assert.equal("2244994945", id.providerUID)
        assert.equal("sandbox_x", id.nickname)
        assert.equal("1.0a", id.oauth)
        assert.is_nil(id.expiresAt)
        assert.is_false(id.isExpiredSession)
        local at = requests("/oauth/access_token")
        assert.equal(1, #at)
        assert.matches('oauth_verifier="%x+"', at[1].headers.authorization)
        assert.matches('oauth_token="o1rt%-', at[1].headers.authorization)
        local rec = assert(c:store():get_connection("u1", "twitter"))
        assert.matches("^o1at%-", rec.secrets.token)
        assert.equal(rec.secrets.token .. "-secret", rec.secrets.tokenSecret)
        assert.is_nil(rec.secrets.accessToken)
        -- the callback cannot be replayed
        local none, rerr = c:finishConnect(cb)
        assert.is_nil(none)
        assert.equal("state_unknown", rerr.error)
        -- publishing: OAuth 1.0a with the stored token (the sandbox checks the signature)
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "twitter" }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode)
        local tw = requests("/2/tweets")
        assert.equal(1, #tw)
        assert.truthy(tw[1].headers.authorization:find('oauth_token="' .. rec.secrets.token .. '"', 1, true))
        local rm = assert(c:removeConnection { UID = "u1", provider = "twitter" })
        assert.equal(1, rm.removed)
        -- the token invalidated at X, signed with itself (the sandbox checks the signature)
        assert.is_true(rm.revoked.twitter)
        local inv = requests("/1.1/oauth/invalidate_token")
        assert.equal(1, #inv)
        assert.equal("POST", inv[1].method)
        assert.truthy(inv[1].headers.authorization:find('oauth_token="' .. rec.secrets.token .. '"', 1, true))
        assert.is_nil(c:store():get_connection("u1", "twitter"))
    end)

    it("removeConnection: an invalidate that fails is reported, the connection still removed", function()
        local c = client()
        local s = assert(c:connect { UID = "u3", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
        assert(c:finishConnect(authorize(s.url)))
        H.configure(sb, { oauth_scenario = { twitter1 = "invalidate500" } })
        local rm = assert(c:removeConnection { UID = "u3", provider = "twitter" })
        assert.equal(1, rm.removed)
        assert.is_false(rm.revoked.twitter)
        assert.matches("invalidate endpoint answered 500", rm.revokeFailed.twitter)
        assert.is_nil(c:store():get_connection("u3", "twitter"))
    end)

    it("a wrong consumer secret: the request token call is refused, nothing pending, no secret in the error", function()
        local p = H.sandbox_providers(sb)
        p.twitter.consumerSecret = "wrong-secret"
        local c = client({ providers = p })
        local s, err = c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" }
        assert.is_nil(s)
        assert.equal("not_connected", err.error)
        assert.not_matches("wrong%-secret", err.errorDetails)
    end)

    it("a forged verifier: auth_expired, nothing stored; the user denies: access_denied", function()
        local c = client()
        local s = assert(c:connect { UID = "u2", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
        local cb = authorize(s.url):gsub("oauth_verifier=%x+", "oauth_verifier=forged")
        local id, err = c:finishConnect(cb)
        assert.is_nil(id)
        assert.equal("auth_expired", err.error)
        assert.is_nil(c:store():get_connection("u2", "twitter"))
        H.configure(sb, { oauth_scenario = { twitter1 = "deny" } })
        s = assert(c:connect { UID = "u2", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0a" })
        id, err = c:finishConnect(authorize(s.url))
        assert.is_nil(id)
        assert.equal("access_denied", err.error)
        -- a state of the oauth1 kind handed as a state: refused
        id, err = c:finishConnect({ state = s.state, code = "x" })
        assert.equal("state_unknown", err.error)
    end)

    it("an unknown oauth value is refused; a network without OAuth 1.0a says so", function()
        local c = client()
        local s, err = c:connect { UID = "u1", provider = "twitter", redirectURI = REDIRECT, oauth = "1.0" }
        assert.is_nil(s)
        assert.equal(400006, err.errorCode)
        local p = H.sandbox_providers(sb)
        p.linkedin.clientId = "li-client-id"
        s, err = client({ providers = p }):connect { UID = "u1", provider = "linkedin", redirectURI = REDIRECT,
            oauth = "1.0a" }
        assert.is_nil(s)
        assert.equal("unsupported", err.error)
    end)
end)
