-- The OAuth 2.0 connect primitives of the core (csrc/core/sz_oauth.c,
-- docs/connections.md): no I/O, exact bytes.
local core = require("socialize.core")

-- RFC 7636 Appendix B: the 32 random octets, the verifier and the challenge
local B = string.char(116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
    187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121)
local VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
local CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

local APP = { clientId = "x-client", clientSecret = "x-secret" }

describe("oauth: PKCE (RFC 7636)", function()
    it("gives Appendix B's verifier and S256 challenge from its octets", function()
        local v, c = core.oauth_pkce(B)
        assert.equal(VERIFIER, v)
        assert.equal(CHALLENGE, c)
    end)
    it("takes 32 to 96 bytes: 43 to 128 characters of [A-Za-z0-9_-]", function()
        local v = core.oauth_pkce(string.rep("\255", 96))
        assert.equal(128, #v)
        assert.is_nil(v:find("[^%w_-]"))
        local none, msg, code = core.oauth_pkce(string.rep("a", 31))
        assert.is_nil(none)
        assert.equal(400006, code)
        assert.matches("32 to 96 bytes, got 31", msg)
        assert.is_nil((core.oauth_pkce(string.rep("a", 97))))
    end)
end)

describe("oauth: the authorization URL", function()
    it("X: PKCE S256, its default scopes, every parameter encoded", function()
        local r = core.oauth_request("twitter", "authorize", APP,
            { redirectURI = "https://app.example/cb?x=1", state = "s t&", challenge = CHALLENGE })
        assert.equal("GET", r.method)
        assert.equal("https://x.com/i/oauth2/authorize?client_id=x-client&code_challenge=" .. CHALLENGE
            .. "&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1"
            .. "&response_type=code&scope=tweet.read%20tweet.write%20users.read%20offline.access&state=s%20t%26", r.url)
    end)
    it("X requires PKCE: no challenge is refused by name", function()
        local r = core.oauth_request("twitter", "authorize", APP, { redirectURI = "https://a.example/cb", state = "s" })
        assert.is_false(r.ok)
        assert.equal("content_invalid", r.category)
        assert.matches("requires PKCE", r.errorDetails)
    end)
    it("scopes given as a list or a string; a bad scope is refused", function()
        local r = core.oauth_request("linkedin", "authorize", { clientId = "li" },
            { redirectURI = "https://a.example/cb", state = "s", scopes = { "openid", "w_member_social" } })
        assert.equal("https://www.linkedin.com/oauth/v2/authorization?client_id=li&redirect_uri=https%3A%2F%2Fa.example%2Fcb"
            .. "&response_type=code&scope=openid%20w_member_social&state=s", r.url)
        r = core.oauth_request("linkedin", "authorize", { clientId = "li" },
            { redirectURI = "https://a.example/cb", state = "s", scopes = "a,b  c" })
        assert.matches("scope=a%%20b%%20c&", r.url)
        r = core.oauth_request("linkedin", "authorize", { clientId = "li" },
            { redirectURI = "https://a.example/cb", state = "s", scopes = "a\"b" })
        assert.is_false(r.ok)
        assert.matches("RFC 6749 3.3", r.errorDetails)
    end)
    it("app.baseUrl replaces the origin; authorizeUrl replaces the whole URL", function()
        local r = core.oauth_request("twitter", "authorize", { clientId = "c", baseUrl = "http://127.0.0.1:5/" },
            { redirectURI = "https://a.example/cb", state = "s", challenge = CHALLENGE })
        assert.matches("^http://127%.0%.0%.1:5/i/oauth2/authorize%?", r.url)
        r = core.oauth_request("twitter", "authorize", { clientId = "c", authorizeUrl = "https://auth.example/a?z=1" },
            { redirectURI = "https://a.example/cb", state = "s", challenge = CHALLENGE })
        assert.matches("^https://auth%.example/a%?z=1&client_id=c&", r.url)
    end)
    it("a network without an OAuth 2.0 flow, a missing clientId: named", function()
        local r = core.oauth_request("telegram", "authorize", APP, {})
        assert.equal("unsupported", r.category)
        r = core.oauth_request("twitter", "authorize", {}, { redirectURI = "https://a.example/cb", state = "s" })
        assert.equal("not_connected", r.category)
        assert.matches("clientId", r.errorDetails)
        -- where it goes, so that the host can put it there
        assert.truthy(r.errorDetails:find("(config.providers.twitter.clientId)", 1, true), r.errorDetails)
    end)
end)

describe("oauth: token requests", function()
    it("X code exchange: HTTP Basic client auth, client_id and the verifier in the form", function()
        local r = core.oauth_request("twitter", "token", APP,
            { code = "the-code", redirectURI = "https://a.example/cb", verifier = VERIFIER })
        assert.equal("POST", r.method)
        assert.equal("https://api.x.com/2/oauth2/token", r.url)
        assert.equal("client_id=x-client&code=the-code&code_verifier=" .. VERIFIER
            .. "&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fa.example%2Fcb", r.body)
        assert.equal("Basic eC1jbGllbnQ6eC1zZWNyZXQ=", r.headers.Authorization) -- base64("x-client:x-secret")
        assert.equal("application/x-www-form-urlencoded", r.headers["Content-Type"])
    end)
    it("X public client (no secret): client_id in the body, no Authorization", function()
        local r = core.oauth_request("twitter", "refresh", { clientId = "pub" }, { refreshToken = "RT1" })
        assert.equal("client_id=pub&grant_type=refresh_token&refresh_token=RT1", r.body)
        assert.is_nil(r.headers.Authorization)
    end)
    it("LinkedIn: the client secret in the body; no PKCE needed", function()
        local r = core.oauth_request("linkedin", "token", { clientId = "li", clientSecret = "ls" },
            { code = "c", redirectURI = "https://a.example/cb" })
        assert.equal("https://www.linkedin.com/oauth/v2/accessToken", r.url)
        assert.equal("client_id=li&client_secret=ls&code=c&grant_type=authorization_code"
            .. "&redirect_uri=https%3A%2F%2Fa.example%2Fcb", r.body)
        assert.is_nil(r.headers.Authorization)
    end)
    it("VK ID: device_id and state on both grants, a public client; identity by POST", function()
        local app = { clientId = "vk" }
        local r = core.oauth_request("vkontakte", "token", app, { code = "c", redirectURI = "https://a.example/cb",
            verifier = VERIFIER, extra = "dev-1", state = "st" })
        assert.equal("https://id.vk.com/oauth2/auth", r.url)
        assert.equal("client_id=vk&code=c&code_verifier=" .. VERIFIER .. "&device_id=dev-1"
            .. "&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fa.example%2Fcb&state=st", r.body)
        r = core.oauth_request("vkontakte", "refresh", app, { refreshToken = "RT", extra = "dev-1", state = "s2" })
        assert.equal("client_id=vk&device_id=dev-1&grant_type=refresh_token&refresh_token=RT&state=s2", r.body)
        r = core.oauth_request("vkontakte", "refresh", app, { refreshToken = "RT", state = "s2" })
        assert.is_false(r.ok)
        assert.matches("extra", r.errorDetails)
        r = core.oauth_request("vkontakte", "identity", app, { accessToken = "AT" })
        assert.equal("POST", r.method)
        assert.equal("https://id.vk.com/oauth2/user_info", r.url)
        assert.equal("access_token=AT&client_id=vk", r.body)
        assert.is_nil(r.headers.Authorization)
        local id = core.oauth_parse("vkontakte", "identity", 200, '{"user":{"user_id":1001,"first_name":"Ann"}}', 0)
        assert.equal("1001", id.providerUID)
        assert.equal("Ann", id.nickname)
        local c = core.provider_info("vkontakte").connect
        assert.equal("device_id", c.callbackParam)
        assert.is_true(c.tokenState)
        assert.is_false(c.revoke)
        assert.equal("unsupported", core.oauth_request("vkontakte", "revoke", app, { token = "t" }).category)
    end)
    it("X without a verifier, a refresh without a token: refused", function()
        local r = core.oauth_request("twitter", "token", APP, { code = "c", redirectURI = "https://a.example/cb" })
        assert.matches("verifier", r.errorDetails)
        r = core.oauth_request("twitter", "refresh", APP, {})
        assert.matches("refreshToken", r.errorDetails)
    end)
    it("identity and revoke requests", function()
        local r = core.oauth_request("twitter", "identity", APP, { accessToken = "AT" })
        assert.equal("GET", r.method)
        assert.equal("https://api.x.com/2/users/me", r.url)
        assert.equal("Bearer AT", r.headers.Authorization)
        r = core.oauth_request("twitter", "revoke", APP, { token = "RT", hint = "refresh_token" })
        assert.equal("https://api.x.com/2/oauth2/revoke", r.url)
        assert.equal("client_id=x-client&token=RT&token_type_hint=refresh_token", r.body)
    end)
end)

describe("oauth: token replies", function()
    local NOW = 1700000000
    it("a grant: tokens, expiresAt = now + expires_in, the scopes granted and missing", function()
        local r = core.oauth_parse("twitter", "token", 200, '{"token_type":"bearer","expires_in":7200,'
            .. '"access_token":"AT","scope":"tweet.write users.read","refresh_token":"RT"}', NOW,
            { scopes = "tweet.write users.read offline.access" })
        assert.is_true(r.ok)
        assert.equal("AT", r.accessToken)
        assert.equal("RT", r.refreshToken)
        assert.equal(NOW + 7200, r.expiresAt)
        assert.equal("tweet.write users.read", r.scope)
        assert.same({ "offline.access" }, r.missingScopes)
    end)
    it("expires_in saturated (10 years), negative or absent: no expiry", function()
        assert.equal(315360000, core.oauth_parse("linkedin", "token", 200, '{"access_token":"A","expires_in":1e300}', 0).expiresIn)
        assert.equal(0, core.oauth_parse("linkedin", "token", 200, '{"access_token":"A","expires_in":-5}', 0).expiresAt)
        assert.equal(0, core.oauth_parse("linkedin", "token", 200, '{"access_token":"A"}', 0).expiresAt)
        assert.equal(NOW + 60, core.oauth_parse("linkedin", "token", 200, '{"access_token":"A","expires_in":"60"}', NOW).expiresAt)
    end)
    it("no scope in the reply: the scope asked (RFC 6749 5.1)", function()
        local r = core.oauth_parse("linkedin", "token", 200, '{"access_token":"A"}', 0, { scopes = { "w_member_social" } })
        assert.equal("w_member_social", r.scope)
        assert.is_nil(r.missingScopes)
    end)
    it("invalid_grant is auth_expired (the connection is dead); nothing else is", function()
        local r = core.oauth_parse("twitter", "refresh", 400,
            '{"error":"invalid_grant","error_description":"Value passed for the token was invalid."}', NOW)
        assert.is_false(r.ok)
        assert.equal("auth_expired", r.category)
        assert.equal(403009, r.errorCode)
        assert.equal("invalid_grant", r.oauthError)
        for _, c in ipairs({
            { 500, '{"error":"invalid_grant"}' }, { 503, "" }, { 429, '{"error":"invalid_grant"}' },
            { 200, "<html><body>Bad gateway</body></html>" }, { 400, "<html>" }, { 200, '{"token_type":"bearer"}' },
            { 0, "" },
        }) do
            r = core.oauth_parse("twitter", "refresh", c[1], c[2], NOW)
            assert.is_false(r.ok)
            assert.equal("transient", r.category, c[1] .. " " .. c[2])
        end
        r = core.oauth_parse("twitter", "token", 401, '{"error":"unauthorized_client","error_description":"Missing valid authorization header"}', NOW)
        assert.equal("not_connected", r.category)
        r = core.oauth_parse("twitter", "token", 400, '{"error":"invalid_request"}', NOW)
        assert.equal("content_invalid", r.category)
    end)
    it("a network's error text is cut and printable; a token never shows", function()
        local r = core.oauth_parse("twitter", "refresh", 400, '{"error":"invalid_grant","error_description":"'
            .. string.rep("\\u00e9", 300) .. '"}', NOW)
        assert.is_nil(r.errorDetails:find("[\128-\255]"))
        assert.truthy(#r.errorDetails < 320)
        r = core.oauth_parse("twitter", "token", 200, '{"access_token":"SECRET-AT","token_type":"mac"}', NOW)
        assert.is_false(r.ok)
        assert.is_nil(r.errorDetails:find("SECRET", 1, true))
    end)
    it("identity: X's data.id and username, LinkedIn's sub and name", function()
        local r = core.oauth_parse("twitter", "identity", 200, '{"data":{"id":"2244994945","name":"X Dev","username":"XDevelopers"}}', NOW)
        assert.same({ ok = true, provider = "twitter", providerUID = "2244994945", nickname = "XDevelopers" }, r)
        r = core.oauth_parse("linkedin", "identity", 200, '{"sub":"abc123","name":"Ann Lee"}', NOW)
        assert.equal("abc123", r.providerUID)
        assert.equal("Ann Lee", r.nickname)
        assert.equal("transient", core.oauth_parse("twitter", "identity", 200, '{"data":{}}', NOW).category)
        assert.equal("auth_expired", core.oauth_parse("twitter", "identity", 401, '{}', NOW).category)
    end)
    it("revoke: 200, or 400 invalid_token (already gone), is done", function()
        assert.is_true(core.oauth_parse("twitter", "revoke", 200, '{"revoked":true}', NOW).ok)
        assert.is_true(core.oauth_parse("twitter", "revoke", 400, '{"error":"invalid_token"}', NOW).ok)
        assert.equal("transient", core.oauth_parse("twitter", "revoke", 502, "", NOW).category)
    end)
    it("provider_info says who connects how", function()
        local c = core.provider_info("twitter").connect
        assert.same({ kind = "oauth2", scopes = "tweet.read tweet.write users.read offline.access", pkce = true,
                      basicAuth = true, revoke = true, refresh = true, rotating = true, tokenField = "bearerToken",
                      accountField = "userId", refreshField = "refreshToken", tokenState = false,
                      pages = false, oauth1 = true, permissions = false, invalidate = true, revokeGrant = false }, c)
        local f = core.provider_info("facebook").connect
        assert.is_true(f.permissions)
        assert.is_true(f.revokeGrant)
        assert.is_true(core.provider_info("sina").connect.revokeGrant)
        assert.is_false(f.invalidate)
        assert.is_true(f.exchange)
        assert.is_true(f.pages)
        assert.is_false(f.oauth1)
        assert.equal("accessToken", core.provider_info("linkedin").connect.tokenField)
        assert.is_nil(core.provider_info("telegram").connect)
        local th = core.provider_info("threads").connect
        assert.is_true(th.exchange)
        assert.is_true(th.refreshWithAccess)
        assert.equal(7 * 86400, th.refreshMargin)
        assert.is_false(th.pkce)
        assert.is_nil(core.provider_info("sina").connect.refreshWithAccess)
    end)
end)

describe("oauth: X OAuth 1.0a invalidate_token", function()
    local APP = { consumerKey = "ck", consumerSecret = "cs" }
    it("a POST signed with the user's token; 200 or 401 (gone already) is done, 5xx transient", function()
        local r = assert(core.oauth_request("twitter", "oauth1_invalidate", APP,
            { token = "t1", tokenSecret = "s1", timestamp = 1700000000, nonce = "abc" }))
        assert.equal("POST", r.method)
        assert.equal("https://api.x.com/1.1/oauth/invalidate_token", r.url)
        local auth = r.headers.Authorization or r.headers.authorization
        assert.matches('oauth_token="t1"', auth)
        assert.matches('oauth_consumer_key="ck"', auth)
        assert.not_matches("s1", auth)
        local bad = core.oauth_request("twitter", "oauth1_invalidate", APP, { token = "t1", timestamp = 1, nonce = "a" })
        assert.equal("content_invalid", bad.category)
        assert.is_true(core.oauth_parse("twitter", "oauth1_invalidate", 200, '{"access_token":"t1"}', 1).ok)
        assert.is_true(core.oauth_parse("twitter", "oauth1_invalidate", 401, '{"errors":[{"code":89}]}', 1).ok)
        assert.equal("transient", core.oauth_parse("twitter", "oauth1_invalidate", 503, "", 1).category)
        assert.equal("unsupported", core.oauth_request("facebook", "oauth1_invalidate", APP,
            { token = "t1", tokenSecret = "s1", timestamp = 1, nonce = "a" }).category)
    end)
end)

describe("oauth: Graph permissions and page paging", function()
    local NOW = 1700000000
    local APP = { clientId = "id", clientSecret = "sec" }
    it("permissions: the granted ones are the scope; an asked one declined or absent is missing", function()
        local body = '{"data":[{"permission":"a_b","status":"granted"},{"permission":"c","status":"declined"},'
            .. '{"permission":"D!","status":"granted"},{"permission":"e"}]}'
        local r = core.oauth_parse("facebook", "permissions", 200, body, NOW, { scopes = "a_b c f" })
        assert.is_true(r.ok)
        assert.equal("a_b", r.scope)
        assert.same({ "c", "f" }, r.missingScopes)
        r = core.oauth_parse("facebook", "permissions", 200, body, NOW, { scopes = "a_b" })
        assert.is_nil(r.missingScopes)
        assert.equal("auth_expired", core.oauth_parse("facebook", "permissions", 400,
            '{"error":{"code":190}}', NOW, {}).category)
        assert.equal("transient", core.oauth_parse("facebook", "permissions", 200, '{"data":{}}', NOW, {}).category)
    end)
    it("pages: next and its after cursor; followed only on the pages endpoint", function()
        local next = "https://graph.facebook.com/v26.0/10001/accounts?access_token=x&after=QVFI-c2&limit=3"
        local r = core.oauth_parse("facebook", "pages", 200, '{"data":[],"paging":{"next":"' .. next
            .. '","cursors":{"after":"ignored"}}}', NOW, {})
        assert.equal(next, r.next)
        assert.equal("QVFI-c2", r.after)
        local req = assert(core.oauth_request("facebook", "pages", APP, { accessToken = "tk", next = next }))
        local want = "https://graph.facebook.com/v26.0/me/accounts?fields=id,name,access_token&limit=100"
            .. "&after=QVFI-c2&access_token=tk&appsecret_proof="
        assert.equal(want, req.url:sub(1, #want))
        for _, bad in ipairs({
            "https://evil.example/v26.0/10001/accounts?after=c2",
            "https://graph.facebook.com.evil.example/v26.0/me/accounts?after=c2",
            "https://graph.facebook.com/v26.0/10001/feed?after=c2",
            "https://graph.facebook.com/v26.0/1x/accounts?after=c2",
            "https://graph.facebook.com/v26.0/me/accounts?after=c2&after=c3",
            "https://graph.facebook.com/v26.0/me/accounts?after=a%26b&x=1#",
            "https://graph.facebook.com/v26.0/me/accounts?after=a b",
            "https://graph.facebook.com/v26.0/me/accounts?limit=3",
            "https://graph.facebook.com/v26.0/me/accounts?after=" .. ("c"):rep(600) }) do
            local f = core.oauth_request("facebook", "pages", APP, { accessToken = "tk", next = bad })
            if bad:find("%%26") then
                assert.is_truthy(f.url, bad) -- a percent-encoded cursor is kept as it is
            else
                assert.equal("content_invalid", f.category, bad)
            end
        end
    end)
end)

describe("oauth: Weibo, Threads and Mastodon data", function()
    local NOW = 1700000000
    it("Weibo: the uid of the token reply (string or number), users/show.json?uid=, OAuth2 scheme, revoke", function()
        local t = core.oauth_parse("sina", "token", 200,
            '{"access_token":"wb1","remind_in":"7200","expires_in":7200,"uid":"1404376560"}', NOW, {})
        assert.equal("1404376560", t.account)
        assert.equal(NOW + 7200, t.expiresAt)
        assert.equal("12", core.oauth_parse("sina", "token", 200, '{"access_token":"a","uid":12}', NOW, {}).account)
        local bad = core.oauth_parse("sina", "token", 200, '{"access_token":"a","uid":true}', NOW, {})
        assert.is_false(bad.ok)
        assert.matches("no account %(uid%)", bad.errorDetails)
        local r = core.oauth_request("sina", "identity", { clientId = "wb" }, { accessToken = "T", account = "1 2&" })
        assert.equal("https://api.weibo.com/2/users/show.json?uid=1%202%26", r.url)
        assert.equal("OAuth2 T", r.headers.Authorization)
        assert.is_false(core.oauth_request("sina", "identity", { clientId = "wb" }, { accessToken = "T" }).ok)
        r = core.oauth_request("sina", "revoke", { clientId = "wb", clientSecret = "s" }, { token = "T", hint = "access_token" })
        assert.equal("https://api.weibo.com/oauth2/revokeoauth2", r.url)
        assert.equal("access_token=T&client_id=wb&client_secret=s", r.body)
    end)
    it("Threads: comma scopes, the exchange and the refresh are GETs of the access token", function()
        local r = core.oauth_request("threads", "authorize", { clientId = "th" },
            { redirectURI = "https://a.example/cb", state = "s" })
        assert.matches("&scope=threads_basic%2Cthreads_content_publish&", r.url, 1, true)
        r = core.oauth_request("threads", "exchange", { clientId = "th", clientSecret = "S" }, { accessToken = "A" })
        assert.equal("GET", r.method)
        assert.equal("https://graph.threads.net/access_token?access_token=A&client_secret=S&grant_type=th_exchange_token",
            r.url)
        local nosecret = core.oauth_request("threads", "exchange", { clientId = "th" }, { accessToken = "A" })
        assert.is_false(nosecret.ok)
        assert.equal("not_connected", nosecret.category)
        assert.truthy(nosecret.errorDetails:find("(config.providers.threads.clientSecret)", 1, true), nosecret.errorDetails)
        r = core.oauth_request("threads", "refresh", { clientId = "th", clientSecret = "S" }, { refreshToken = "L" })
        assert.equal("https://graph.threads.net/refresh_access_token?access_token=L&grant_type=th_refresh_token", r.url)
        local x = core.oauth_parse("threads", "exchange", 200,
            '{"access_token":"L","token_type":"bearer","expires_in":5183944}', NOW, {})
        assert.equal(NOW + 5183944, x.expiresAt)
        assert.equal("transient", core.oauth_parse("threads", "exchange", 500, '{"error":"x"}', NOW, {}).category)
        assert.is_false(core.oauth_request("linkedin", "exchange", { clientId = "l", clientSecret = "s" },
            { accessToken = "A" }).ok)
    end)
    it("Mastodon: register and discover at the instance; hostile replies", function()
        local app = { baseUrl = "https://m.example", clientName = "Game" }
        local r = core.oauth_request("mastodon", "register", app,
            { redirectURI = "https://a.example/cb", scopes = "write:statuses read:accounts" })
        assert.equal("POST", r.method)
        assert.equal("https://m.example/api/v1/apps", r.url)
        assert.equal("client_name=Game&redirect_uris=https%3A%2F%2Fa.example%2Fcb&scopes=write%3Astatuses%20read%3Aaccounts",
            r.body)
        assert.is_false(core.oauth_request("mastodon", "register", {}, { redirectURI = "https://a.example/cb" }).ok)
        r = core.oauth_request("mastodon", "discover", app, {})
        assert.equal("https://m.example/.well-known/oauth-authorization-server", r.url)
        assert.is_true(core.oauth_parse("mastodon", "discover", 200,
            '{"code_challenge_methods_supported":["plain","S256"]}', NOW, {}).pkce)
        assert.is_false(core.oauth_parse("mastodon", "discover", 404, "<html>", NOW, {}).pkce)
        assert.is_false(core.oauth_parse("mastodon", "discover", 200,
            '{"code_challenge_methods_supported":"S256"}', NOW, {}).pkce)
        local g = core.oauth_parse("mastodon", "register", 200, '{"client_id":"ci","client_secret":"cs"}', NOW, {})
        assert.equal("ci", g.clientId)
        assert.equal("cs", g.clientSecret)
        assert.equal("transient", core.oauth_parse("mastodon", "register", 503, "", NOW, {}).category)
        local no = core.oauth_parse("mastodon", "register", 422, '{"error":"Validation failed"}', NOW, {})
        assert.equal("content_invalid", no.category)
        assert.is_false(core.oauth_parse("mastodon", "register", 200, '{"client_id":"ci"}', NOW, {}).ok)
        -- no expiry: expiresAt 0, no refresh token
        local t = core.oauth_parse("mastodon", "token", 200,
            '{"access_token":"m","token_type":"Bearer","scope":"write:statuses write:media read:accounts","created_at":1}',
            NOW, { scopes = "write:statuses write:media read:accounts" })
        assert.equal(0, t.expiresAt)
        assert.is_nil(t.missingScopes)
        assert.equal("instance", core.provider_info("mastodon").connect.instance)
        assert.is_false(core.oauth_request("twitter", "register", { clientId = "c", baseUrl = "https://x" }, {}).ok)
    end)

    it("OAuth 1.0a replies: form-encoded, confirmed callback, numeric account, repeated fields refused", function()
        local r = core.oauth_parse("twitter", "oauth1_request", 200,
            "oauth_token=a%2Bb&oauth_token_secret=s%3D1&oauth_callback_confirmed=true", NOW)
        assert.same({ ok = true, token = "a+b", tokenSecret = "s=1", provider = "twitter" }, r)
        assert.equal("content_invalid", core.oauth_parse("twitter", "oauth1_request", 200,
            "oauth_token=a&oauth_token_secret=s", NOW).category)
        assert.equal("transient", core.oauth_parse("twitter", "oauth1_request", 200,
            "oauth_token=a&oauth_token=b&oauth_token_secret=s&oauth_callback_confirmed=true", NOW).category)
        assert.equal("transient", core.oauth_parse("twitter", "oauth1_request", 200,
            "oauth_token=a%2&oauth_token_secret=s&oauth_callback_confirmed=true", NOW).category)
        assert.equal("not_connected", core.oauth_parse("twitter", "oauth1_request", 401, "", NOW).category)
        r = core.oauth_parse("twitter", "oauth1_access", 200,
            "oauth_token=t&oauth_token_secret=ts&user_id=42&screen_name=ann", NOW)
        assert.equal("42", r.providerUID)
        assert.equal("ann", r.nickname)
        assert.equal("transient", core.oauth_parse("twitter", "oauth1_access", 200,
            "oauth_token=t&oauth_token_secret=ts&user_id=4x2", NOW).category)
        assert.equal("auth_expired", core.oauth_parse("twitter", "oauth1_access", 401, "", NOW).category)
        assert.equal("transient", core.oauth_parse("twitter", "oauth1_access", 503, "", NOW).category)
        assert.equal("unsupported", core.oauth_parse("linkedin", "oauth1_access", 200, "", NOW).category)
    end)
    it("OAuth 1.0a requests: signed oauth_callback, no oauth_token on the request token call", function()
        local app = { consumerKey = "ck", consumerSecret = "cs" }
        local req = assert(core.oauth_request("twitter", "oauth1_request", app,
            { redirectURI = "https://app.example/cb", timestamp = 1700000000, nonce = "n1" }))
        assert.equal("https://api.x.com/oauth/request_token", req.url)
        assert.equal("POST", req.method)
        local auth = req.headers.Authorization or req.headers.authorization
        assert.matches('^OAuth oauth_callback="https%%3A%%2F%%2Fapp%.example%%2Fcb", oauth_consumer_key="ck"', auth)
        assert.not_matches("oauth_token", auth)
        assert.equal(false, core.oauth_request("twitter", "oauth1_request", {}, { redirectURI = "https://a/b",
            timestamp = 1, nonce = "n" }).ok)
        req = assert(core.oauth_request("twitter", "oauth1_authorize", app, { token = "t k" }))
        assert.equal("https://api.x.com/oauth/authorize?oauth_token=t%20k", req.url)
        req = assert(core.oauth_request("twitter", "oauth1_access", app,
            { token = "rt", tokenSecret = "rs", verifier = "v1", timestamp = 1700000000, nonce = "n2" }))
        auth = req.headers.Authorization or req.headers.authorization
        assert.matches('oauth_token="rt", oauth_verifier="v1", oauth_version="1.0"$', auth)
    end)
    it("Facebook: exchange, pages (bad entries skipped, 190 is auth_expired), Graph-style revoke", function()
        local app = { clientId = "id", clientSecret = "sec" }
        local req = assert(core.oauth_request("facebook", "exchange", app, { accessToken = "short" }))
        assert.equal("GET", req.method)
        assert.equal("https://graph.facebook.com/v26.0/oauth/access_token?client_id=id&client_secret=sec&"
            .. "fb_exchange_token=short&grant_type=fb_exchange_token", req.url)
        req = assert(core.oauth_request("facebook", "pages", app, { accessToken = "ut" }))
        assert.matches("^https://graph%.facebook%.com/v26%.0/me/accounts%?fields=id,name,access_token&limit=100&"
            .. "access_token=ut&appsecret_proof=%x+$", req.url)
        req = assert(core.oauth_request("facebook", "revoke", app, { token = "ut" }))
        assert.equal("DELETE", req.method)
        local r = core.oauth_parse("facebook", "pages", 200, '{"data":[{"id":"12","name":"A","access_token":"p1"},'
            .. '{"id":"1x","access_token":"p2"},{"id":"13"},{"id":"14","access_token":"p4"}]}', NOW)
        assert.same({ { id = "12", name = "A", accessToken = "p1" }, { id = "14", accessToken = "p4" } }, r.pages)
        assert.equal("auth_expired", core.oauth_parse("facebook", "pages", 400,
            '{"error":{"code":190,"message":"x"}}', NOW).category)
        assert.equal("transient", core.oauth_parse("facebook", "pages", 500, "oops", NOW).category)
    end)
end)
