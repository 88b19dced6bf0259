-- The private-network guard (docs/RELIABILITY.md "Safe defaults"): one
-- check for every URL the library connects to without having chosen it
-- (core.check_url / policy.check_url), and the resolved-address check at
-- connect time in the curl transport (request field `guard`).
local H = require("spec.helper")
local socialize = require("socialize")
local policy = require("socialize.policy")
local core = require("socialize.core")
local curl = require("socialize.curl")

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local trap, sb

local PRIVATE = "loopback, private, link%-local or reserved"

-- Every row: a URL (P is the trap's port) and the reason it must be refused.
local BAD = {
    { "https://x@127.0.0.1:P/", "user information" },
    { "https://a.com:443@127.0.0.1:P/", "user information" },
    { "http://127.0.0.1:80@evil.example/", "user information" },
    { "http://user:pass@mastodon.example/", "user information" },
    { "http://2130706433:P/", PRIVATE },
    { "http://0X7F000001:P/", PRIVATE },
    { "http://0x7f.1:P/", PRIVATE },
    { "http://127.1:P/", PRIVATE },
    { "http://0177.0.0.1:P/", PRIVATE },
    { "http://127.000.000.001:P/", PRIVATE },
    { "http://0:P/", PRIVATE },
    { "http://127.0.0.1:P/", PRIVATE },
    { "http://127.0.0.1.:P/", PRIVATE },
    { "http://[0:0:0:0:0:0:0:1]:P/", PRIVATE },
    { "http://[::1]:P/", PRIVATE },
    { "http://[0::1]:P/", PRIVATE },
    { "http://[::]:P/", PRIVATE },
    { "http://[::ffff:127.0.0.1]:P/", PRIVATE },
    { "http://[::ffff:7f00:1]:P/", PRIVATE },
    { "http://[::127.0.0.1]:P/", PRIVATE },
    { "http://[::ffff:169.254.169.254]/latest", PRIVATE },
    { "http://[fe80::1%25eth0]:P/", "zone id" },
    { "http://[fe80::1]:P/", PRIVATE },
    { "http://[FC00::1]:P/", PRIVATE },
    { "http://[fd12:3456::1]/", PRIVATE },
    { "http://[ff02::1]/", PRIVATE },
    { "http://[64:ff9b::7f00:1]:P/", PRIVATE },
    { "http://169.254.169.254/latest/meta-data", PRIVATE },
    { "http://10.0.0.1/", PRIVATE },
    { "http://192.168.1.1/", PRIVATE },
    { "http://172.16.0.1/", PRIVATE },
    { "http://172.31.255.255/", PRIVATE },
    { "http://100.64.0.1/", PRIVATE },
    { "http://224.0.0.1/", PRIVATE },
    { "http://255.255.255.255/", PRIVATE },
    { "http://localhost:P/", "localhost" },
    { "http://localhost.:P/", "localhost" },
    { "http://LOCALHOST.:P/", "localhost" },
    { "http://foo.localhost:P/", "localhost" },
    { "http://127.0.0.1\\@mastodon.example/", "backslash" },
    { "http:\\\\127.0.0.1:P/", "backslash" },
    { "http://mastodon.example\t.evil/", "control character" },
    { "http://mastodon.example\r\nX: 1/", "control character" },
    { "http://mastodon.example\n/", "control character" },
    { "http://mastodon .example/", "control character" },
    { "http://127.0.0.1:P\0.mastodon.example/", "NUL" },
    { "http://%31%32%37.0.0.1:P/", "percent%-encoded" },
    { "http://mastodon%2eexample/", "percent%-encoded" },
    { "file:///etc/passwd", "https:// or http://" },
    { "gopher://127.0.0.1:P/_GET", "https:// or http://" },
    { "ftp://mastodon.example/", "https:// or http://" },
    { "//127.0.0.1:P/", "https:// or http://" },
    { "http:///path", "empty host" },
    { "http://:P/", "empty host" },
    { "http://mastodon.example:0/", "port" },
    { "http://mastodon.example:65536/", "port" },
    { "http://mastodon.example:99999999999/", "port" },
    { "http://mastodon.example:-1/", "port" },
    { "http://mastodon.example:/", "port" },
    { "http://1.2.3/", "dotted%-decimal" },
    { "http://[1::2::3]/", "not a valid address" },
    { "http://mast\194\160odon.example/", "non%-ASCII" },
}

-- A curl module whose sessions add CURLOPT_RESOLVE entries to every request
-- (the test hook `resolve`), so that a NAME resolves to loopback here.
local function resolving(entries, fn)
    local real = curl.new
    curl.new = function(opts)
        local s = real(opts)
        local function add(req) req.resolve = entries return req end
        local p = {}
        function p.request(_, req) return s:request(add(req)) end
        function p.request_many(_, reqs)
            for _, r in ipairs(reqs) do add(r) end
            return s:request_many(reqs)
        end
        function p.start(_, req) return s:start(add(req)) end
        function p.perform(_, ms) return s:perform(ms) end
        function p.pending() return s:pending() end
        function p.timeout() return s:timeout() end
        function p.fds() return s:fds() end
        function p.close() return s:close() end
        return p
    end
    local ok, err = pcall(fn)
    curl.new = real
    assert(ok, err)
end

local function client(conn, extra)
    local cfg = { backend = "direct", providers = H.sandbox_providers(sb), connections = { u1 = conn },
                  timeout = 5, retry = false }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return socialize.new(cfg)
end

describe("private-network guard #fakes", function()
    setup(function()
        trap = H.start_listener()
        sb = H.start_sandbox()
    end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    describe("refuses bad connection URLs by name, sending nothing", function()
        for i, row in ipairs(BAD) do
            it(("row %d: %q"):format(i, row[1]), function()
                local url = row[1]:gsub(":P", function() return ":" .. trap.port end)
                local before = H.connections(trap)
                -- Mastodon's instance and Bluesky's PDS, through the real publish path
                local conn = {
                    mastodon = { accessToken = "md-token", instance = url },
                    bluesky = { identifier = "demo.bsky.social", appPassword = "app-pass-1234", pds = url },
                }
                local c = client(conn)
                local res, err = c:publishUserAction { UID = "u1", userAction = UA,
                                                       enabledProviders = "mastodon,bluesky" }
                assert.is_nil(res)
                assert.are.equal(400006, err.errorCode)
                local seen = {}
                for _, e in ipairs(err.providerErrorCodes) do
                    seen[e.provider] = true
                    assert.are.equal(400006, e.errorCode)
                    local field = e.provider == "mastodon" and "instance" or "pds"
                    if url:find("\0", 1, true) then
                        -- a NUL in any credential or URL is refused before the guard runs
                        assert.matches(field .. " contains a NUL byte", e.errorDetails, 1, true)
                    else
                        assert.matches("the connection's " .. field .. " is refused", e.errorDetails, 1, true)
                        assert.matches(row[2], e.errorDetails)
                    end
                end
                assert.is_true(seen.mastodon and seen.bluesky)
                -- the same URL with the transport's own check (defence in depth)
                local s = curl.new { timeout = 2 }
                local ok, r2, msg, kind = pcall(s.request, s, { method = "GET", url = url, guard = true })
                s:close()
                if ok then
                    assert.is_nil(r2)
                    assert.matches("^refused: ", msg)
                    assert.are.equal("connect", kind)
                else -- the request table itself is refused (CR, LF, space, NUL)
                    assert.matches("url contains", r2)
                end
                -- nothing reached the trap, nothing reached the sandbox
                assert.are.equal(before, H.connections(trap))
                assert.are.equal(0, #H.requests(sb))
                c:close()
            end)
        end
    end)
    describe("checks the resolved address at connect time (curl transport)", function()
        local function entries()
            return { "guard.test:" .. trap.port .. ":127.0.0.1", "pds.guard.test:" .. trap.port .. ":127.0.0.1" }
        end
        local function conn()
            return {
                mastodon = { accessToken = "md-token", instance = "http://guard.test:" .. trap.port },
                bluesky = { identifier = "demo.bsky.social", appPassword = "app-pass-1234",
                            pds = "http://pds.guard.test:" .. trap.port },
            }
        end
        local function check_refused(err, providers)
            assert.are.equal(#providers, #err.providerErrorCodes)
            for _, e in ipairs(err.providerErrorCodes) do
                assert.are.equal(500026, e.errorCode)
                assert.matches("refused: [%w%.]*guard%.test resolves to a loopback, private or reserved address "
                    .. "%(127%.0%.0%.1%)", e.errorDetails)
            end
        end

        it("a name resolving to loopback: sync call, one provider (request)", function()
            local before = H.connections(trap)
            resolving(entries(), function()
                local c = client(conn())
                local res, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon" }
                assert.is_nil(res)
                check_refused(err, { "mastodon" })
                c:close()
            end)
            assert.are.equal(before, H.connections(trap))
        end)

        it("a name resolving to loopback: sync call, two providers (request_many)", function()
            local before = H.connections(trap)
            resolving(entries(), function()
                local c = client(conn())
                local res, err = c:publishUserAction { UID = "u1", userAction = UA,
                                                       enabledProviders = "mastodon,bluesky" }
                assert.is_nil(res)
                check_refused(err, { "mastodon", "bluesky" })
                c:close()
            end)
            assert.are.equal(before, H.connections(trap))
        end)

        it("a name resolving to loopback: asynchronous call (start/perform)", function()
            local before = H.connections(trap)
            resolving(entries(), function()
                local c = client(conn())
                local got
                c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "mastodon,bluesky" },
                    function(res, err) got = { res = res, err = err } end)
                for _ = 1, 500 do
                    if got then break end
                    c:poll(20)
                end
                assert.is_table(got)
                assert.is_nil(got.res)
                check_refused(got.err, { "mastodon", "bluesky" })
                c:close()
            end)
            assert.are.equal(before, H.connections(trap))
        end)

        it("the transport alone: a guarded name is refused, the same request unguarded connects", function()
            local s = curl.new { timeout = 2 }
            local before = H.connections(trap)
            local url = "http://guard.test:" .. trap.port .. "/"
            local res, msg, kind = s:request { method = "GET", url = url, guard = true, resolve = entries() }
            assert.is_nil(res)
            assert.are.equal("refused: guard.test resolves to a loopback, private or reserved address (127.0.0.1)", msg)
            assert.are.equal("connect", kind)
            local out = s:request_many { { method = "GET", url = url, guard = true, resolve = entries() } }
            assert.matches("^refused: guard.test resolves", out[1].error)
            assert.are.equal(before, H.connections(trap))
            -- unguarded, the trap sees the connection: the check above is what stopped it
            s:request { method = "GET", url = url, resolve = entries() }
            s:close()
            assert.are.equal(before + 1, H.connections(trap))
        end)

        it("::1 from a name is refused too", function()
            if not trap.v6 then
                -- the host has no ::1: the classifier rows above cover ::1
                assert.is_true(core.addr_blocked("::1"))
                return
            end
            local s = curl.new { timeout = 2 }
            local before = H.connections(trap)
            local res, msg = s:request { method = "GET", url = "http://six.guard.test:" .. trap.port .. "/",
                                         guard = true, resolve = { "six.guard.test:" .. trap.port .. ":[::1]" } }
            s:close()
            assert.is_nil(res)
            assert.matches("resolves to a loopback, private or reserved address %(::1%)", msg)
            assert.are.equal(before, H.connections(trap))
        end)

        it("the request field resolve is checked", function()
            local s = curl.new { timeout = 2 }
            assert.has_error(function() s:request { url = "http://a/", resolve = { "a:80:1.2.3.4\r\n" } } end,
                "resolve entry contains CR, LF, NUL or a space")
            assert.has_error(function() s:request { url = "http://a/", resolve = "a:80:1.2.3.4" } end,
                "resolve must be a table")
            s:close()
        end)
    end)

    describe("allowPrivateNetworks = true", function()
        it("still reaches the sandbox on 127.0.0.1", function()
            local c = client({ mastodon = { accessToken = "md-token", instance = sb.url("mastodon") } },
                { allowPrivateNetworks = true })
            local res, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon" }
            assert.is_nil(err)
            assert.is_table(res)
            assert.is_true(#H.requests(sb) > 0)
            c:close()
        end)
        it("still refuses a malformed URL (user information, backslash, scheme)", function()
            for _, u in ipairs({ "http://x@" .. sb.url("mastodon"):sub(8), "http://127.0.0.1\\x", "ftp://127.0.0.1/" }) do
                local c = client({ mastodon = { accessToken = "md-token", instance = u } },
                    { allowPrivateNetworks = true })
                local _, err = c:publishUserAction { UID = "u1", userAction = UA, enabledProviders = "mastodon" }
                assert.are.equal(400006, err.errorCode, u)
                c:close()
            end
            assert.are.equal(0, #H.requests(sb))
        end)
    end)
end)

describe("private-network guard: the classifier, URL parsing, the resty transport #unit", function()
    describe("the address classifier (core.addr_blocked)", function()
        local blocked = {
            "0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.255", "10.0.0.0", "10.255.255.255",
            "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255", "169.254.0.0",
            "169.254.169.254", "100.64.0.0", "100.127.255.255", "224.0.0.0", "239.255.255.255",
            "240.0.0.1", "255.255.255.255",
            "::", "::1", "fc00::", "fdff:ffff::1", "fe80::", "febf:ffff::1", "fec0::1", "ff00::", "ff02::1",
            "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:7f00:1", "::ffff:0.0.0.0",
            "::127.0.0.1", "::10.0.0.1", "::192.168.0.1", "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::", "2002:a00:1::1", "[::1]",
            "0:0:0:0:0:0:0:1", "::ffff:224.0.0.1", "::ffff:100.64.0.1", "::ffff:172.16.0.1",
        }
        local allowed = {
            "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255",
            "169.255.0.0", "11.0.0.0", "9.255.255.255", "1.0.0.0", "126.255.255.255", "128.0.0.0",
            "192.167.255.255", "192.169.0.0", "223.255.255.255", "8.8.8.8",
            "2001:db8::1", "2606:4700::1111", "fbff:ffff::1", "fe7f::1", "fe00::1", "2600::1",
            "::ffff:8.8.8.8", "::ffff:172.32.0.0", "64:ff9b::808:808", "2002:808:808::", "1::",
        }
        for _, ip in ipairs(blocked) do
            it("blocks " .. ip, function() assert.is_true(core.addr_blocked(ip)) end)
        end
        for _, ip in ipairs(allowed) do
            it("allows " .. ip, function() assert.is_false(core.addr_blocked(ip)) end)
        end
        it("answers nil and a reason for what is not an address", function()
            for _, s in ipairs({ "", "x", "127.1", "1.2.3.4.5", "::1%lo", "1::2::3", "127.0.0.1\0" }) do
                local r, why = core.addr_blocked(s)
                assert.is_nil(r, s)
                assert.are.equal("not an IP address", why)
            end
        end)
    end)

    describe("accepts public URLs, the way libcurl parses them", function()
        local good = {
            { "https://mastodon.social", "mastodon.social", 443 },
            { "https://mastodon.social/", "mastodon.social", 443 },
            { "https://Mastodon.Social:8443/api/v1?x=1#f", "mastodon.social", 8443 },
            { "http://pds.example.com./", "pds.example.com", 80 },
            { "https://8.8.8.8/", "8.8.8.8", 443 },
            { "https://[2001:db8::1]:8443/x", "2001:db8::1", 8443 },
            { "https://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8", 443 },
            { "https://a-b_c.example:1", "a-b_c.example", 1 },
            { "HTTPS://social.example:65535", "social.example", 65535 },
        }
        for _, g in ipairs(good) do
            it(g[1], function()
                local host, port, scheme = policy.check_url(g[1])
                assert.are.equal(g[2], host)
                assert.are.equal(g[3], port)
                local cs, ch, cp = curl.parse_url(g[1])
                assert.are.equal(scheme, cs)
                ch = ch:lower():gsub("^%[", ""):gsub("%]$", ""):gsub("%.$", "")
                assert.are.equal(host, ch)
                assert.are.equal(port, cp)
            end)
        end
        it("policy.private_url keeps its shape: true and the reason when refused", function()
            local refused, why = policy.private_url("http://127.1/")
            assert.is_true(refused)
            assert.matches(PRIVATE, why)
            assert.is_false(policy.private_url("https://mastodon.social/"))
            local _, r2, code = policy.check_url(nil)
            assert.are.equal("the URL is missing", r2)
            assert.are.equal(400002, code)
        end)
    end)

    describe("resty transport: guarded requests connect only to a checked address", function()
        -- a stand-in for OpenResty's ngx: sockets record connect() and never connect
        local function with_fake_ngx(config, fn)
            local connects = {}
            local saved = rawget(_G, "ngx")
            _G.ngx = { socket = { tcp = function()
                return {
                    settimeouts = function() end,
                    connect = function(_, host, port, opts)
                        connects[#connects + 1] = { host = host, port = port, pool = opts and opts.pool }
                        return nil, "fake: no network"
                    end,
                    close = function() end,
                }
            end } }
            package.loaded["socialize.resty"] = nil
            local ok, err = pcall(function() fn(require("socialize.resty").new(config), connects) end)
            package.loaded["socialize.resty"] = nil
            _G.ngx = saved
            assert(ok, err)
        end

        it("refuses a private literal and a name without config.resolver, connecting nowhere", function()
            with_fake_ngx({}, function(t, connects)
                local res, msg, kind = t:request { method = "GET", url = "http://127.1:8080/", guard = true }
                assert.is_nil(res)
                assert.matches("^refused: .*" .. PRIVATE, msg)
                assert.are.equal("connect", kind)
                res, msg = t:request { method = "GET", url = "http://x@mastodon.example/", guard = true }
                assert.matches("^refused: .*user information", msg)
                res, msg = t:request { method = "GET", url = "https://mastodon.example/", guard = true }
                assert.is_nil(res)
                assert.matches("needs config.resolver", msg)
                assert.are.equal(0, #connects)
            end)
        end)

        it("refuses a name when any address it resolves to is blocked", function()
            for _, addrs in ipairs({ { "127.0.0.1" }, { "203.0.113.5", "10.0.0.1" }, { "::ffff:127.0.0.1" },
                                     { "fe80::1" }, { "not-an-ip" }, {} }) do
                with_fake_ngx({ resolver = function() return addrs end }, function(t, connects)
                    local res, msg, kind = t:request { method = "GET", url = "https://mastodon.example/", guard = true }
                    assert.is_nil(res)
                    assert.matches("^refused: mastodon.example", msg)
                    assert.are.equal("connect", kind)
                    assert.are.equal(0, #connects)
                end)
            end
            with_fake_ngx({ resolver = function() error("dns down") end }, function(t, connects)
                local _, msg = t:request { method = "GET", url = "https://mastodon.example/", guard = true }
                assert.are.equal("refused: mastodon.example did not resolve", msg)
                assert.are.equal(0, #connects)
            end)
        end)

        it("connects to the checked address (its own pool), unguarded requests to the name", function()
            local asked
            with_fake_ngx({ resolver = function(name) asked = name return { "203.0.113.5" } end },
                function(t, connects)
                    t:request { method = "GET", url = "https://Mastodon.Example:8443/api", guard = true }
                    t:request { method = "GET", url = "http://[2001:db8::1]:8080/", guard = true }
                    t:request { method = "GET", url = "http://127.0.0.1:9/" }
                    assert.are.equal("mastodon.example", asked)
                    assert.are.same({ host = "203.0.113.5", port = 8443,
                                      pool = "https://Mastodon.Example:8443@203.0.113.5" }, connects[1])
                    assert.are.equal("[2001:db8::1]", connects[2].host)
                    assert.are.equal("127.0.0.1", connects[3].host)
                    assert.are.equal(3, #connects)
                end)
        end)

        it("config.resolver must be a function", function()
            local ok, err = pcall(socialize.new, { backend = "direct", resolver = "8.8.8.8" })
            assert.is_false(ok)
            assert.matches("config.resolver must be a function", tostring(err), 1, true)
        end)
    end)
end)
