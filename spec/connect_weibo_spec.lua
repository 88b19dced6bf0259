-- Weibo's OAuth 2.0 connect end to end through the sandbox
-- (docs/connections.md): the code grant with the client credentials in the
-- body, the uid the token reply names, users/show.json?uid= with
-- "Authorization: OAuth2 <token>", publishing with the stored token,
-- revokeoauth2 with access_token; and the faults. The sandbox
-- (spec/fakes/networks/sina.py with spec/fakes/oauth_server.py) checks the
-- wire format itself.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local REDIRECT = "https://app.example/callback/weibo"
local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

local sb

-- `extra`: fields of the app (providers.sina) over the sandbox's credentials
local function client(extra)
    local app = { clientId = "wb-client-id", clientSecret = "wb-client-secret" }
    for k, v in pairs(extra or {}) do app[k] = v end
    return K.client(sb, "sina", app, K.db("wb"))
end
local authorize = K.authorize
local function requests(path) return K.requests(sb, path) end

describe("connect: Weibo (OAuth 2.0) #fakes", function()
    H.use_sandbox(function(s) sb = s end)

    it("connects, stores the uid and token, publishes with it, revokes on disconnect", function()
        local c = client()
        local start = assert(c:connect { UID = "u1", provider = "sina", redirectURI = REDIRECT })
        assert.matches("^http://127%.0%.0%.1:%d+/oauth2/authorize%?", start.url)
        assert.matches("client_id=wb-client-id", start.url, 1, true)
        assert.is_nil(start.url:find("code_challenge", 1, true))
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(err)
        assert.equal("sina", id.provider)
        assert.equal("1404376560", id.providerUID)
        assert.equal("sandbox_weibo", id.nickname)
        assert.is_false(id.isExpiredSession)
        assert.truthy(id.expiresAt > os.time() + 7000)
        -- the token call: credentials in the body, no Basic
        local tk = requests("/oauth2/access_token")
        assert.equal(1, #tk)
        assert.is_nil(tk[1].headers.authorization)
        assert.matches("client_secret=wb%-client%-secret", tk[1].body)
        assert.matches("grant_type=authorization_code", tk[1].body)
        -- the identity call: the uid of the token reply, the OAuth2 scheme
        local us = requests("/2/users/show.json")
        assert.equal(1, #us)
        assert.equal("uid=1404376560", us[1].query)
        local rec = assert(c:store():get_connection("u1", "sina"))
        assert.equal("1404376560", rec.account)
        assert.equal("OAuth2 " .. rec.secrets.accessToken, us[1].headers.authorization)
        assert.matches("^wbat%-", rec.secrets.accessToken)
        assert.is_nil(rec.secrets.refreshToken)
        -- publishing through the stored connection
        local res, perr = c:publishUserAction { UID = "u1", userAction = UA, rip = "203.0.113.7" }
        assert.is_nil(perr)
        assert.equal(0, res.errorCode, tostring(res.errorDetails))
        local sh = requests("/2/statuses/share.json")
        assert.equal(1, #sh)
        assert.matches("access_token=" .. rec.secrets.accessToken, sh[1].body, 1, true)
        -- disconnect: revokeoauth2 with access_token (not RFC 7009's token)
        local rm = assert(c:removeConnection { UID = "u1", provider = "sina" })
        assert.equal(1, rm.removed)
        assert.is_true(rm.revoked.sina)
        local rv = requests("/oauth2/revokeoauth2")
        assert.equal(1, #rv)
        assert.matches("access_token=" .. rec.secrets.accessToken, rv[1].body, 1, true)
        assert.is_nil(rv[1].body:find("token_type_hint", 1, true))
        assert.equal(1, H.control(sb, "/__oauth").sina.revoked)
        assert.is_nil(c:store():get_connection("u1", "sina"))
    end)

    it("a wrong client secret: not_connected, nothing stored, no secret in the error", function()
        local c = client({ clientSecret = "wrong-secret-xyz" })
        local start = assert(c:connect { UID = "u1", provider = "sina", redirectURI = REDIRECT })
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(id)
        assert.equal("not_connected", err.error)
        assert.is_nil(tostring(err.errorDetails):find("wrong-secret", 1, true))
        assert.is_nil(c:store():get_connection("u1", "sina"))
    end)

    it("the token endpoint answering HTML: transient, nothing stored", function()
        local c = client()
        H.configure(sb, { oauth_scenario = { sina = "html" } })
        local start = assert(c:connect { UID = "u1", provider = "sina", redirectURI = REDIRECT })
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(id)
        assert.equal("transient", err.error)
        assert.is_nil(c:store():get_connection("u1", "sina"))
    end)

    it("the user denies: access_denied", function()
        local c = client()
        H.configure(sb, { oauth_scenario = { sina = "deny" } })
        local start = assert(c:connect { UID = "u1", provider = "sina", redirectURI = REDIRECT })
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(id)
        assert.equal("access_denied", err.error)
    end)

    it("the identity endpoint failing: transient, nothing stored", function()
        local c = client()
        H.configure(sb, { oauth_scenario = { sina = "identity503" } })
        local start = assert(c:connect { UID = "u1", provider = "sina", redirectURI = REDIRECT })
        local id, err = c:finishConnect(authorize(start.url))
        assert.is_nil(id)
        assert.equal("transient", err.error)
        assert.is_nil(c:store():get_connection("u1", "sina"))
    end)
end)
