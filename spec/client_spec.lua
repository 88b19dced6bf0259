-- The client end to end against the local fake Gigya server (127.0.0.1),
-- which checks every signature with its own Python code.
local H = require("spec.helper")
local socialize = require("socialize")
local curl = require("socialize.curl")

local srv

-- A transport that sends through libcurl and keeps the last request.
local function recording(cfg)
    local rec = { sent = {} }
    local session = curl.new { timeout = cfg and cfg.timeout or 10, cafile = srv.ca }
    rec.transport = function(req)
        rec.sent[#rec.sent + 1] = req
        return session:request(req)
    end
    return rec
end

local UA = { title = "Played level 3", linkBack = "https://game.example/l3",
             userMessage = "Beat it! 🎮", description = "Level 3 done / שלב 3" }

describe("client against the fake Gigya server #fakes", function()
    setup(function()
        srv = H.start_gigya()
    end)
    teardown(function()
        H.stop_all()
    end)
    before_each(function()
        H.reset(srv)
    end)

    it("the curl transport returns only req.wantHeaders when given (Gigya's calls want date), every header otherwise", function()
        local session = curl.new { timeout = 10 }
        local function names(req)
            local res = assert(session:request(req))
            local out = {}
            for k in pairs(res.headers) do out[#out + 1] = k end
            table.sort(out)
            return out, res
        end
        local req = { method = "POST", url = srv.http .. "/socialize.getUserInfo", body = "a=1", headers = {} }
        local all = names(req)
        assert.is_true(#all >= 3)
        req.wantHeaders = "date"
        local only, res = names(req)
        assert.are.same({ "date" }, only)
        assert.matches("GMT$", res.headers.date)
        req.wantHeaders = "date,content-type"
        assert.are.same({ "content-type", "date" }, (names(req)))
        local rec = recording()
        assert(H.client(srv, { url = srv.http, transport = rec.transport }):setStatus { UID = "user_123", status = "s" })
        assert.are.equal("date", rec.sent[1].wantHeaders)
        session:close()
    end)

    describe("every call, signed with the partner secret", function()
        for _, scheme in ipairs({ "http", "https" }) do
            it("publishUserAction over " .. scheme .. " returns the response table", function()
                local rec = recording()
                local c = H.client(srv, { url = srv[scheme], transport = rec.transport })
                local res, err = c:publishUserAction { UID = "user_123", userAction = UA,
                    enabledProviders = "facebook,twitter", actionAttributes = { level = "3" }, cid = "game" }
                assert.is_nil(err)
                assert.are.equal(0, res.errorCode)
                assert.are.equal(200, res.statusCode)
                assert.are.equal("OK", res.statusReason)
                assert.matches("^%x+$", res.callId)
                assert.matches("^%d%d%d%d%-%d%d%-%d%dT", res.time)
                assert.matches("^facebook_", res.providerPostIDs.facebook)
                assert.matches("^twitter_", res.providerPostIDs.twitter)
                assert.is_nil(res.providerPostIDs.linkedin)
                assert.are.equal(2, #res.providerErrorCodes)
                local got = H.requests(srv)[1]
                assert.are.equal("/socialize.publishUserAction", got.path)
                assert.are.equal(rec.sent[1].body, got.body) -- the body is exactly what was signed
                assert.are.equal("application/x-www-form-urlencoded", got.headers["content-type"])
                assert.are.equal(H.API_KEY, got.params.apiKey)
                assert.are.equal("json", got.params.format)
                assert.are.equal("false", got.params.httpStatusCodes)
                assert.matches("^socialize_c_", got.params.sdk)
                assert.matches("^%d+_%d+$", got.params.nonce)
                assert.are.equal(
                    '{"description":"Level 3 done / שלב 3","linkBack":"https://game.example/l3",'
                    .. '"title":"Played level 3","userMessage":"Beat it! 🎮"}', got.params.userAction)
                assert.is_nil(got.params.secret)
            end)
        end

        it("setStatus", function()
            local res = assert(H.client(srv):setStatus { UID = "user_123", status = "Hello from Lua" })
            assert.are.equal(3, #res.providerErrorCodes)
            assert.are.equal("Hello from Lua", H.requests(srv)[1].params.status)
        end)

        it("sendNotification", function()
            local res = assert(H.client(srv):sendNotification { UID = "user_123", recipients = { "f1", "f2" },
                body = "Join me: https://game.example", subject = "Invite" })
            assert.are.equal(0, res.errorCode)
            assert.are.equal("f1,f2", H.requests(srv)[1].params.recipients)
        end)

        it("facebookGraphOperation", function()
            local res = assert(H.client(srv):facebookGraphOperation { UID = "user_123", graphPath = "/me/feed",
                method = "POST", graphParams = { message = "hi", link = "https://x.example/" } })
            assert.are.equal("/me/feed", res.graphResponse.path)
            assert.are.equal('{"link":"https://x.example/","message":"hi"}', H.requests(srv)[1].params.graphParams)
        end)

        it("getUserInfo, whose UIDSignature the validator accepts", function()
            local res = assert(H.client(srv):getUserInfo { UID = "user_123" })
            assert.are.equal("Demo User", res.nickname)
            assert.is_true(socialize.validateUserSignature(res.UID, res.signatureTimestamp, H.SECRET,
                res.UIDSignature, 180))
            assert.is_false(socialize.validateUserSignature(res.UID, res.signatureTimestamp, H.USER_SECRET,
                res.UIDSignature, 180))
        end)

        it("call() reaches any Gigya method", function()
            local res = assert(H.client(srv):call("accounts.getAccountInfo", { UID = "user_123" }))
            assert.are.equal("accounts.getAccountInfo", res.method)
            res = assert(H.client(srv):call("test.echo", { n = 5, flag = true, obj = { b = 1, a = 2 } }))
            assert.are.equal("5", res.params.n)
            assert.are.equal("true", res.params.flag)
            assert.are.equal('{"a":2,"b":1}', res.params.obj)
        end)
    end)

    describe("auth modes", function()
        it("signed with a user key and its secret", function()
            local c = H.client(srv, { userKey = H.USER_KEY, secret = H.USER_SECRET })
            assert(c:setStatus { UID = "user_123", status = "s" })
            assert.are.equal(H.USER_KEY, H.requests(srv)[1].params.userKey)
        end)

        it("signed with the wrong secret gets 403003 from the server", function()
            local c = H.client(srv, { secret = H.USER_SECRET })
            local res, err = c:setStatus { UID = "user_123", status = "s" }
            assert.is_nil(res)
            assert.are.equal(403003, err.errorCode)
            assert.are.equal(403, err.statusCode)
            assert.matches("^403003 Invalid request signature: ", tostring(err))
            assert.matches("^%x+$", err.callId)
        end)

        it("secret in clear over https", function()
            local c = H.client(srv, { url = srv.https, auth = "secret", userKey = H.USER_KEY, secret = H.USER_SECRET })
            assert(c:setStatus { UID = "user_123", status = "s" })
            local got = H.requests(srv)[1]
            assert.are.equal("https", got.scheme)
            assert.are.equal(H.USER_SECRET, got.params.secret)
            assert.is_nil(got.params.sig)
        end)

        it("secret in clear is refused over http before sending", function()
            local c = H.client(srv, { auth = "secret" })
            local _, err = c:setStatus { UID = "user_123", status = "s" }
            assert.are.equal(403006, err.errorCode)
            assert.are.equal(0, #H.requests(srv))
        end)

        it("OAuth2 access token", function()
            local c = H.client(srv, { url = srv.https, accessToken = H.TOKEN, apiKey = H.NONE, secret = H.NONE })
            local res = assert(c:setStatus { status = "via token" })
            assert.are.equal(0, res.errorCode)
            local got = H.requests(srv)[1]
            assert.are.equal(H.TOKEN, got.params.oauth_token)
            assert.is_nil(got.params.sig)
            local bad = H.client(srv, { url = srv.https, accessToken = "nope", secret = H.NONE })
            local _, err = bad:setStatus { status = "x" }
            assert.are.equal(403025, err.errorCode)
        end)

        it("JWT bearer (RS256) with a user key and private key", function()
            local pem = H.read(H.key("jwt.pem"))
            local c = H.client(srv, { url = srv.https, userKey = H.JWT_USER_KEY, privateKey = pem, secret = H.NONE })
            assert.are.equal("jwt", c.auth)
            assert(c:getUserInfo { UID = "user_123" })
            local got = H.requests(srv)[1]
            assert.matches("^Bearer [%w_-]+%.[%w_-]+%.[%w_-]+$", got.headers.authorization)
            assert.is_nil(got.params.sig)
            assert.is_nil(got.params.userKey)
            -- another key pair is refused by the server
            local other = H.read(H.key("other.key"))
            local bad = H.client(srv, { url = srv.https, userKey = H.JWT_USER_KEY, privateKey = other, secret = H.NONE })
            local _, err = bad:getUserInfo { UID = "user_123" }
            assert.are.equal(400008, err.errorCode)
        end)

        it("anonymous (apiKey only), for methods that need no signature", function()
            local c = H.client(srv, { url = srv.https, auth = "none", secret = H.NONE })
            local res = assert(c:call("accounts.getJWTPublicKey", { V2 = true }))
            assert.are.equal("RS256", res.alg)
            local got = H.requests(srv)[1]
            assert.are.equal(H.API_KEY, got.params.apiKey)
            assert.are.equal("true", got.params.V2)
            assert.is_nil(got.params.sig)
            -- other methods still want a signature
            local _, err = c:call("test.echo", {})
            assert.are.equal(400002, err.errorCode)
            assert.matches("timestamp", err.errorDetails)
        end)
    end)

    describe("Gigya's rules and errors", function()
        it("succeeds when one provider succeeded, listing the failures", function()
            local res = assert(H.client(srv):publishUserAction { UID = "user_fb_fails", userAction = UA })
            assert.are.equal(0, res.errorCode)
            assert.matches("^twitter_", res.providerPostIDs.twitter)
            assert.are.equal("facebook", res.providerErrorCodes[1].provider)
            assert.are.equal(403009, res.providerErrorCodes[1].errorCode)
        end)

        it("fails when no provider succeeded, with providerErrorCodes in the error", function()
            local res, err = H.client(srv):publishUserAction { UID = "user_all_fail", userAction = UA }
            assert.is_nil(res)
            assert.are.equal(403024, err.errorCode)
            assert.are.equal("twitter", err.providerErrorCodes[1].provider)
            assert.matches("^403024 Provider limit reached", tostring(err))
        end)

        it("passes Gigya's error replies through", function()
            for _, code in ipairs({ 403048, 500001, 400106, 403007 }) do
                local res, err = H.client(srv):call("test.error", { code = code, details = "because" })
                assert.is_nil(res)
                assert.are.equal(code, err.errorCode)
                assert.are.equal("because", err.errorDetails)
            end
            local _, err = H.client(srv):setStatus { UID = "nobody", status = "s" }
            assert.are.equal(403005, err.errorCode)
            _, err = H.client(srv):call("nothing.here", {})
            assert.are.equal(405001, err.errorCode)
        end)

        it("learns the clock offset from Date and retries a 403002 once", function()
            H.configure(srv, { skew = 900 })
            local c = H.client(srv)
            local res = assert(c:setStatus { UID = "user_123", status = "late clock" })
            assert.are.equal(0, res.errorCode)
            local reqs = H.requests(srv)
            assert.are.equal(2, #reqs)
            assert.is_true(tonumber(reqs[2].params.timestamp) - tonumber(reqs[1].params.timestamp) >= 890)
            assert.are_not.equal(reqs[1].params.nonce, reqs[2].params.nonce)
            assert.is_true(c.clock_offset >= 890)
            -- the next call uses the learned offset at once
            assert(c:setStatus { UID = "user_123", status = "again" })
            assert.are.equal(3, #H.requests(srv))
        end)

        it("does not retry 403002 when retryExpired is false", function()
            H.configure(srv, { skew = -900 })
            local res, err = H.client(srv, { retryExpired = false }):setStatus { UID = "user_123", status = "s" }
            assert.is_nil(res)
            assert.are.equal(403002, err.errorCode)
            assert.are.equal(1, #H.requests(srv))
        end)

        it("never retries other errors", function()
            local _, err = H.client(srv):call("test.error", { code = 500001 })
            assert.are.equal(500001, err.errorCode)
            assert.are.equal(1, #H.requests(srv))
        end)

        it("uses fresh nonces, which the server checks for reuse", function()
            local c = H.client(srv)
            for i = 1, 5 do assert(c:setStatus { UID = "user_123", status = "n" .. i }) end
            local fixed = H.client(srv, { nonce = function() return "same" end })
            assert(fixed:setStatus { UID = "user_123", status = "a" })
            local _, err = fixed:setStatus { UID = "user_123", status = "b" }
            assert.are.equal(403004, err.errorCode)
        end)
    end)

    describe("transport", function()
        it("keeps the connection alive between calls of one client", function()
            local c = H.client(srv)
            for i = 1, 4 do assert(c:setStatus { UID = "user_123", status = "k" .. i }) end
            local reqs = H.requests(srv)
            assert.are.equal(4, #reqs)
            for i = 2, 4 do assert.are.equal(reqs[1].client_port, reqs[i].client_port) end
            c:close()
            assert(c:setStatus { UID = "user_123", status = "after close" })
            assert.are_not.equal(reqs[1].client_port, H.requests(srv)[5].client_port)
        end)

        it("verifies TLS: a server whose CA is not configured is refused", function()
            local other = H.start_gigya("untrusted", { cert = "untrusted" })
            local c = H.client(other, { url = other.https })
            local res, err = c:setStatus { UID = "user_123", status = "s" }
            assert.is_nil(res)
            assert.are.equal(500026, err.errorCode)
            assert.matches("tls", err.errorDetails)
            -- and the system store does not trust the test CA either
            local c2 = H.client(srv, { url = srv.https, cafile = H.NONE })
            _, err = c2:setStatus { UID = "user_123", status = "s" }
            assert.are.equal(500026, err.errorCode)
            assert.are.equal(0, #H.requests(other))
        end)

        it("reports a refused connection as 500026", function()
            local v = H.virtual() -- the retries' backoff: no real wait
            local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = "http://127.0.0.1:1",
                                      now = v.now, sleep = v.sleep }
            local res, err = c:setStatus { UID = "user_123", status = "s" }
            assert.is_nil(res)
            assert.are.equal(500026, err.errorCode)
            assert.matches("connect", err.errorDetails)
            assert.are.equal(2, #v.sleeps) -- retried twice: the connection failed before anything was sent
        end)

        it("accepts a user transport function", function()
            local seen
            local c = socialize.new { apiKey = H.API_KEY, secret = H.SECRET, url = srv.http,
                transport = function(req)
                    seen = req
                    return { status = 200, headers = {}, body = '{"errorCode":0,"statusCode":200,"callId":"x"}' }
                end }
            local res = assert(c:setStatus { UID = "u", status = "s" })
            assert.are.equal("x", res.callId)
            assert.are.equal("POST", seen.method)
            assert.are.equal(srv.http .. "/socialize.setStatus", seen.url)
            assert.are.equal("application/x-www-form-urlencoded", seen.headers["Content-Type"])
            assert.are.equal(0, #H.requests(srv))
        end)

        it("turns a transport failure or a non-JSON reply into an error", function()
            local c = socialize.new { apiKey = "k", secret = H.SECRET, transport = function()
                return nil, "boom", "closed" end }
            local _, err = c:setStatus { UID = "u", status = "s" }
            assert.are.equal(500026, err.errorCode)
            assert.matches("closed: boom", err.errorDetails)
            c = socialize.new { apiKey = "k", secret = H.SECRET, transport = function()
                return { status = 502, headers = {}, body = "<html>bad gateway</html>" } end }
            _, err = c:setStatus { UID = "u", status = "s" }
            assert.are.equal(500001, err.errorCode)
            assert.are.equal(502, err.statusCode)
            assert.matches("not a JSON object", err.errorDetails)
        end)
    end)

    describe("module-level calls", function()
        it("use the configured default client", function()
            socialize.configure { apiKey = H.API_KEY, secret = H.SECRET, url = srv.http }
            local res = assert(socialize.publishUserAction { UID = "user_123", userAction = UA })
            assert.are.equal(0, res.errorCode)
            assert(socialize.setStatus { UID = "user_123", status = "s" })
            assert(socialize.call("socialize.getUserInfo", { UID = "user_123" }))
            assert.are.equal(3, #H.requests(srv))
        end)

        it("build the default client from GIGYA_* variables", function()
            local lua = os.getenv("LUA") or "lua5.4"
            -- a stand-in for socialize.curl shows the request the default client signs
            -- (nothing reaches eu1); a bad secret is refused locally (400006)
            local cmd = "GIGYA_API_KEY=envKey GIGYA_SECRET=c2VjcmV0 GIGYA_USER_KEY=envUser GIGYA_DATA_CENTER=eu1 " .. lua
                .. " -e 'package.path=\"lua/?.lua;\"..package.path; package.cpath=\"" .. (os.getenv("BUILD") or "build/lua5.4")
                .. "/?.so;\"..package.cpath; local seen;"
                .. " package.loaded[\"socialize.curl\"] = { new = function() return { request = function(_, r)"
                .. " seen = r; return { status = 200, headers = {}, body = \"{\\\"errorCode\\\":0}\" } end,"
                .. " close = function() end } end };"
                .. " local s=require\"socialize\"; local d=s.default(); assert(s.setStatus{UID=\"u\", status=\"x\"});"
                .. " io.write(seen.url, \" \", seen.body:match(\"apiKey=%w+\"), \" \", seen.body:match(\"userKey=%w+\"));"
                .. " local _, e = s.configure{ apiKey = \"k\", secret = \"@@\" }:setStatus{UID=\"u\", status=\"x\"};"
                .. " io.write(\" \", e.errorCode, \" \", tostring(seen.body:match(\"apiKey=k&\")))'"
            local p = io.popen(cmd)
            local out = p:read("*a")
            p:close()
            assert.are.equal("https://socialize.eu1.gigya.com/socialize.setStatus apiKey=envKey userKey=envUser 400006 nil",
                out)
        end)
    end)
end)

describe("client against a slow fake Gigya server #once", function()
    -- a real socket timeout: one short wait per run
    setup(function() srv = H.start_gigya() end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(srv) end)

    it("times out with 504002 instead of hanging", function()
        -- the server holds its reply far longer than the timeout: a client that
        -- waited for it would get a reply, not 504002
        H.configure(srv, { delay_ms = 5000 })
        local c = H.client(srv, { timeout = 0.3 })
        local res, err = c:setStatus { UID = "user_123", status = "slow" }
        assert.is_nil(res)
        assert.are.equal(504002, err.errorCode)
        assert.matches("Request Timeout", tostring(err))
        assert.are.equal(1, #H.requests(srv)) -- it was sent, and not repeated
    end)
end)
