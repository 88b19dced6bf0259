-- socialize.store: the same contract against SQLite and PostgreSQL (a
-- throwaway cluster, spec/pgcluster.sh), then each engine's faults. The
-- raw rows are read with the engines' own tools (sqlite3, psql), never
-- through the store.
local store = require("socialize.store")
local H = require("spec.helper")

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local BUILD = os.getenv("BUILD") or "build/lua5.4"
-- the children run the interpreter of the modules in BUILD
local CHILD_LUA = BUILD:find("luajit", 1, true) and "luajit" or BUILD:find("5.1", 1, true) and "lua5.1"
    or BUILD:find("asan", 1, true) and ROOT .. "/build/asan/lua-asan" or "lua5.4"
local KEY_A = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" -- "0123456789abcdef0123456789abcdef"
local KEY_B = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
local TOKEN = "AT-7f3c9e-secret-access-token"
local REFRESH = "RT-0b1d2e-secret-refresh-token"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end

local function tmpdir()
    local d = run("mktemp -d /tmp/socialize-store.XXXXXX")
    run("chmod 0777 " .. q(d))
    return d
end

local function wait_for_file(path)
    for _ = 1, 300 do -- bounded: 30 s
        local f = io.open(path, "rb")
        local s = f and f:read("*a")
        if f then f:close() end
        if s and s:find("locked", 1, true) then return true end
        store.sleep(0.1)
    end
    return false
end

-- A pipeline in its own process group, holding a lock until released: it
-- writes "locked" into flag once it holds it.
local function hold(pipeline, flag)
    local pid = run("setsid sh -c " .. q(pipeline) .. " >" .. q(flag) .. " 2>&1 </dev/null & echo $!")
    assert(pid:match("^%d+$"), pid)
    assert(wait_for_file(flag), "the child never took the lock: " .. tostring(io.open(flag):read("*a")))
    return function()
        run("kill -TERM -" .. pid)
        for _ = 1, 100 do -- bounded: 10 s for the session to exit (zombies aside)
            if run("ps -o stat= -s " .. pid .. " | grep -v '^Z'") == "" then return end
            store.sleep(0.1)
        end
        error("the lock holder did not exit")
    end
end

-- A Lua child process with the store module: its stdout.
local function child(dir, name, body, args)
    local path = dir .. "/" .. name .. ".lua"
    local f = assert(io.open(path, "wb"))
    f:write("package.cpath = " .. string.format("%q", ROOT .. "/" .. BUILD .. "/?.so;") .. " .. package.cpath\n")
    f:write("local store = require('socialize.store')\n", body)
    f:close()
    return CHILD_LUA .. " " .. q(path) .. " " .. table.concat(args or {}, " ")
end

local function sqlite_engine()
    local dir = tmpdir()
    local n = 0
    local e = { name = "sqlite", dir = dir }
    function e.new_url()
        n = n + 1
        e.file = dir .. "/s" .. n .. ".db"
        e.url = "sqlite:" .. e.file
        return e.url
    end
    function e.raw(sql) return run("sqlite3 " .. q(e.file) .. " " .. q(sql)) end
    -- another process holding the write lock until it is killed
    function e.hold_lock()
        local flag = dir .. "/locked.flag"
        os.remove(flag)
        return hold("(echo 'BEGIN IMMEDIATE;'; echo 'UPDATE socialize_meta SET value = value;';" ..
            " echo \"SELECT 'locked';\"; sleep 30) | sqlite3 " .. q(e.file), flag)
    end
    function e.teardown() run("rm -rf " .. q(dir)) end
    return e
end

local function pg_engine()
    local out = run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " start")
    local dir, base = out:match("^(/tmp/socialize%-pg%.[%w]+)\n(postgresql://%S+)$")
    assert(dir, "could not start PostgreSQL: " .. out)
    local n = 0
    local e = { name = "postgresql", dir = dir, cdir = tmpdir() }
    local function psql(db, sql)
        return run("psql -X -q -A -t -v ON_ERROR_STOP=1 " .. q(base:gsub("/postgres%?", "/" .. db .. "?")) ..
            " -c " .. q(sql))
    end
    function e.new_url()
        n = n + 1
        e.db = "s" .. n
        psql("postgres", "CREATE DATABASE " .. e.db)
        e.url = base:gsub("/postgres%?", "/" .. e.db .. "?")
        return e.url
    end
    function e.raw(sql) return psql(e.db, sql) end
    function e.hold_lock()
        local flag = e.cdir .. "/locked.flag"
        os.remove(flag)
        return hold("(echo 'BEGIN;'; echo 'LOCK TABLE socialize_connections;';" ..
            " echo \"SELECT 'locked';\"; sleep 30) | psql -X -q -A -t " .. q(e.url), flag)
    end
    function e.kill() return run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " kill " .. q(dir)) end
    function e.up() return run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " up " .. q(dir)) end
    function e.teardown()
        run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(dir))
        run("rm -rf " .. q(e.cdir))
    end
    return e
end

local function conn(t)
    local c = {
        UID = "user-1", provider = "twitter", account = "12345", scopes = "tweet.write users.read offline.access",
        fields = { handle = "@bob", pages = { { id = "p1", name = "Page One" }, { id = "p2" } }, verified = true },
        secrets = { accessToken = TOKEN, refreshToken = REFRESH }, expiresAt = 1900000000, updatedAt = 1800000000,
    }
    for k, v in pairs(t or {}) do c[k] = v end
    return c
end

-- The contract: every case runs against each engine.
local function contract(E)
    local s
    before_each(function()
        s = assert(store.open(E.new_url(), { keys = { KEY_A } }))
    end)
    after_each(function() if s then s:close() end end)

    it("keeps a connection whole: identity, account, scopes, fields, secrets, times", function()
        local c0 = conn()
        c0.fields.pages = {}
        c0.fields.pages[2] = { id = "p2" } -- built out of order: kept in order
        c0.fields.pages[1] = { id = "p1", name = "Page One" }
        assert.is_true(s:put_connection(c0))
        local c = s:get_connection("user-1", "twitter")
        assert.same({
            UID = "user-1", provider = "twitter", account = "12345", scopes = "tweet.write users.read offline.access",
            fields = { handle = "@bob", pages = { { id = "p1", name = "Page One" }, { id = "p2" } }, verified = true },
            secrets = { accessToken = TOKEN, refreshToken = REFRESH }, expiresAt = 1900000000, updatedAt = 1800000000,
        }, c)
        assert.is_nil(s:get_connection("user-1", "facebook"))
        assert.same({ engine = E.name, schema = 2, keyIds = { s:info().keyIds[1] }, plaintext = false,
                       outboxSync = 1 }, s:info())
    end)

    it("keeps a record's secrets as given when a later field's __index empties the caller's table", function()
        local uid = "user-" .. ("6"):rep(40)
        -- values made in a function of their own: once the table lets them go, nothing
        -- (not a register of this function) holds them
        local function fresh(tag) return (TOKEN .. "-" .. tag .. " "):sub(1, -2) end
        local secrets = {}
        local function fill() secrets.accessToken, secrets.refreshToken = fresh("a"), fresh("r") end
        fill()
        local rec = { UID = uid, provider = "twitter", account = "acct", secrets = secrets, updatedAt = 1800000000 }
        setmetatable(rec, { __index = function(_, k)
            if k == "fields" then -- read after the secrets: they go, and the collector runs
                for name in pairs(secrets) do secrets[name] = nil end
                collectgarbage()
                collectgarbage()
            end
            return nil
        end })
        assert(s:put_connection(rec))
        local c = assert(s:get_connection(uid, "twitter"))
        assert.same({ accessToken = TOKEN .. "-a", refreshToken = TOKEN .. "-r" }, c.secrets)
    end)

    it("reads a record's fields an __index makes (new strings, collected at once) as they were given", function()
        local made = H.made_by_index
        local uid, acct = "user-" .. ("1"):rep(60), "acct-" .. ("2"):rep(60)
        assert(s:put_connection(made({ UID = uid, provider = "twitter", account = acct,
            scopes = "scope-" .. ("3"):rep(60), secrets = { accessToken = TOKEN }, updatedAt = 1800000000 })))
        local c = assert(s:get_connection(uid, "twitter"))
        assert.same({ uid, acct, "scope-" .. ("3"):rep(60) }, { c.UID, c.account, c.scopes })
        local state = "state-" .. ("4"):rep(60)
        assert(s:put_state(made({ state = state, UID = uid, provider = "twitter",
            redirect = "https://app.example/" .. ("5"):rep(60), expiresAt = 4000000000 })))
        local got = assert(s:take_state(state))
        assert.same({ uid, "twitter", "https://app.example/" .. ("5"):rep(60) }, { got.UID, got.provider, got.redirect })
    end)

    it("replaces a connection on put, lists a user's connections, deletes one or all", function()
        assert(s:put_connection(conn()))
        assert(s:put_connection(conn({ provider = "mastodon", account = "a@m.example", secrets = { accessToken = "M" } })))
        assert(s:put_connection(conn({ UID = "user-2" })))
        assert(s:put_connection(conn({ account = "999", secrets = { accessToken = "NEW" } })))
        local list = s:list_connections("user-1")
        assert.equal(2, #list)
        assert.same({ "mastodon", "twitter" }, { list[1].provider, list[2].provider })
        assert.same({ accessToken = "NEW" }, list[2].secrets)
        assert.equal("999", list[2].account)
        assert.equal(1, s:delete_connection("user-1", "twitter"))
        assert.equal(0, s:delete_connection("user-1", "twitter"))
        assert.equal(1, s:delete_connection("user-1"))
        assert.same({}, s:list_connections("user-1"))
        assert.is_table(s:get_connection("user-2", "twitter"))
    end)

    it("seals every secret at rest: AES-256-GCM, key id, a fresh nonce each time", function()
        assert(s:put_connection(conn()))
        local raw = E.raw("SELECT secrets FROM socialize_connections")
        local kid = s:info().keyIds[1]
        assert.is_nil(raw:find(TOKEN, 1, true))
        assert.is_nil(raw:find(REFRESH, 1, true))
        local a, r = raw:match('^{"accessToken":"sz1%.' .. kid .. '%.([%w+/=]+)","refreshToken":"sz1%.' .. kid ..
            '%.([%w+/=]+)"}$')
        assert.truthy(a, raw)
        -- nonce 12 + ciphertext + tag 16, in Base64
        assert.equal(4 * math.ceil((12 + #TOKEN + 16) / 3), #a)
        assert(s:put_connection(conn()))
        local raw2 = E.raw("SELECT secrets FROM socialize_connections")
        assert.not_equal(raw, raw2)
        -- the verifier of a pending state too
        assert(s:put_state({ state = "st1", UID = "u", provider = "twitter", verifier = "VERIFIER-xyz",
            expiresAt = os.time() + 600 }))
        local v = E.raw("SELECT verifier FROM socialize_states")
        assert.is_nil(v:find("VERIFIER", 1, true))
        assert.truthy(v:find("^sz1%." .. kid .. "%."))
    end)

    it("binds each secret to its record: a sealed value moved elsewhere does not open", function()
        assert(s:put_connection(conn()))
        assert(s:put_connection(conn({ UID = "user-2", secrets = { accessToken = "other" } })))
        E.raw("UPDATE socialize_connections SET secrets = (SELECT secrets FROM socialize_connections " ..
            "WHERE uid = 'user-1') WHERE uid = 'user-2'")
        local c, err, code = s:get_connection("user-2", "twitter")
        assert.is_nil(c)
        assert.equal("seal_failed", code)
        assert.is_nil(err:find(TOKEN, 1, true))
        -- a field renamed: the same
        E.raw("UPDATE socialize_connections SET secrets = replace(secrets, 'refreshToken', 'accessTokeX') " ..
            "WHERE uid = 'user-1'")
        assert.same({ nil, "seal_failed" }, { select(1, s:get_connection("user-1", "twitter")), select(3,
            s:get_connection("user-1", "twitter")) })
    end)

    it("takes its keys from SOCIALIZE_STORE_KEY (several, comma-separated) when none are given", function()
        assert(s:put_connection(conn()))
        local body = [[
local s, err, code = store.open(arg[1])
if not s then print(code) return end
print(s:get_connection("user-1", "twitter").secrets.accessToken, #s:info().keyIds)
]]
        local cmd = child(E.dir, "envkey", body, { q(E.url) })
        assert.equal(TOKEN .. "\t2", run("SOCIALIZE_STORE_KEY=" .. q(KEY_B .. "," .. KEY_A) .. " " .. cmd))
        assert.equal("key_mismatch", run("SOCIALIZE_STORE_KEY=" .. q(KEY_B) .. " " .. cmd))
        assert.equal("key_missing", run("env -u SOCIALIZE_STORE_KEY " .. cmd))
    end)

    it("refuses a sealed value with one bit changed", function()
        assert(s:put_connection(conn({ secrets = { accessToken = TOKEN } })))
        local raw = E.raw("SELECT secrets FROM socialize_connections")
        local body = raw:match('"sz1%.%x+%.([%w+/=]+)"')
        local i = 20
        local c = body:sub(i, i)
        local flipped = body:sub(1, i - 1) .. (c == "A" and "B" or "A") .. body:sub(i + 1)
        E.raw("UPDATE socialize_connections SET secrets = replace(secrets, '" .. body .. "', '" .. flipped .. "')")
        assert.same({ nil, "seal_failed" }, { s:get_connection("user-1", "twitter"),
            select(3, s:get_connection("user-1", "twitter")) })
    end)

    it("fails loudly at open with a wrong or missing key, never as no connection", function()
        assert(s:put_connection(conn()))
        s:close()
        local url = E.url
        local st, err, code = store.open(url, { keys = { KEY_B } })
        assert.same({ nil, "key_mismatch" }, { st, code })
        assert.truthy(err:find("wrong store key", 1, true))
        assert.is_nil(err:find(KEY_A, 1, true))
        st, err, code = store.open(url, { plaintext = true })
        assert.same({ nil, "key_missing" }, { st, code })
        s = assert(store.open(url, { keys = { KEY_A } }))
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken)
        local _, kerr, kcode = store.open(url, { keys = { "not base64!" } })
        assert.equal("bad_input", kcode)
        assert.truthy(kerr:find("keys[1]", 1, true))
        assert.truthy(kerr:find("SOCIALIZE_STORE_KEY", 1, true), kerr) -- where a key may have come from
    end)

    it("refuses secrets without a key unless plaintext = true", function()
        s:close()
        s = nil
        local url = E.new_url()
        local st = assert(store.open(url))
        local ok, err, code = st:put_connection(conn())
        assert.same({ nil, "no_key" }, { ok, code })
        assert.truthy(err:find("plaintext", 1, true))
        assert.is_nil(st:get_connection("user-1", "twitter"))
        assert.is_true(st:put_connection(conn({ secrets = {} }))) -- no secret: fine
        st:close()
        st = assert(store.open(url, { plaintext = true }))
        assert(st:put_connection(conn()))
        assert.equal(REFRESH, st:get_connection("user-1", "twitter").secrets.refreshToken)
        assert.truthy(E.raw("SELECT secrets FROM socialize_connections"):find('"plain%.'))
        assert.is_true(st:info().plaintext)
        st:close()
        -- a key given later: rotate() seals what was plain
        st = assert(store.open(url, { keys = { KEY_A } }))
        assert.equal(2, st:rotate())
        assert.is_nil(E.raw("SELECT secrets FROM socialize_connections"):find('"plain%.'))
        assert.equal(TOKEN, st:get_connection("user-1", "twitter").secrets.accessToken)
        st:close()
    end)

    it("rotates keys: the first seals, all open, rotate() re-seals in one pass", function()
        assert(s:put_connection(conn()))
        assert(s:put_app({ provider = "mastodon", instance = "m.example", fields = { clientId = "cid" },
            secrets = { clientSecret = "CS" } }))
        assert(s:put_session({ provider = "bluesky", key = "did:plc:abc", secrets = { accessJwt = "J1",
            refreshJwt = "J2" } }))
        assert(s:put_state({ state = "st1", UID = "u", provider = "twitter", verifier = "V", expiresAt = os.time() + 600 }))
        local kid_a = s:info().keyIds[1]
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_B, KEY_A } }))
        local kid_b = s:info().keyIds[1]
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken) -- old key opens
        assert.equal(6, s:rotate())
        assert.equal(0, s:rotate())
        local raw = E.raw("SELECT secrets FROM socialize_connections") .. E.raw("SELECT secrets FROM socialize_apps") ..
            E.raw("SELECT secrets FROM socialize_sessions") .. E.raw("SELECT verifier FROM socialize_states")
        assert.is_nil(raw:find(kid_a, 1, true))
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_B } }))
        assert.equal(REFRESH, s:get_connection("user-1", "twitter").secrets.refreshToken)
        assert.equal("CS", s:get_app("mastodon", "m.example").secrets.clientSecret)
        assert.equal("V", s:take_state("st1").verifier)
        local _, _, code = store.open(E.url, { keys = { KEY_A } })
        assert.equal("key_mismatch", code)
        assert.not_equal(kid_a, kid_b)
    end)

    it("keeps pending connect states single use: unknown, replayed and expired are refused", function()
        local now = 1800000000
        assert(s:put_state({ state = "s-ok", UID = "u1", provider = "x", redirect = "https://app.example/cb",
            verifier = "pkce-verifier", expiresAt = now + 600 }))
        assert(s:put_state({ state = "s-old", UID = "u1", provider = "x", expiresAt = now - 1 }))
        assert.same({ state = "s-ok", UID = "u1", provider = "x", redirect = "https://app.example/cb",
            verifier = "pkce-verifier", expiresAt = now + 600 }, s:take_state("s-ok", now))
        assert.same({ nil, "state_unknown" }, { select(1, s:take_state("s-ok", now)), select(3, s:take_state("s-ok", now)) })
        local a, _, code = s:take_state("s-old", now)
        assert.same({ nil, "state_expired" }, { a, code })
        assert.equal("state_unknown", select(3, s:take_state("s-old", now))) -- gone with its first take
        assert.equal("state_unknown", select(3, s:take_state("forged", now)))
        local _, _, dup = s:put_state({ state = "s-ok", UID = "u1", provider = "x", expiresAt = now + 1 })
        assert.is_nil(dup) -- taken, so free again
        local again, err2
        again, err2, dup = s:put_state({ state = "s-ok", UID = "u2", provider = "x", expiresAt = now + 1 })
        assert.same({ nil, "bad_input" }, { again, dup }) -- a state is never overwritten
        assert.truthy(err2:find("unique", 1, true) or err2:find("UNIQUE", 1, true), err2)
        assert.equal("bad_input", select(3, s:put_state({ state = "s-x", UID = "u1", provider = "x" })))
        assert.equal(1, s:purge(now + 2))
    end)

    it("keeps app registrations per instance and setup sessions", function()
        assert(s:put_app({ provider = "mastodon", instance = "m.example", fields = { clientId = "cid",
            scopes = "write:statuses" }, secrets = { clientSecret = "CS" } }))
        assert.same({ provider = "mastodon", instance = "m.example", account = "", scopes = "",
            fields = { clientId = "cid", scopes = "write:statuses" }, secrets = { clientSecret = "CS" },
            updatedAt = s:get_app("mastodon", "m.example").updatedAt }, s:get_app("mastodon", "m.example"))
        assert.is_nil(s:get_app("mastodon", "other.example"))
        assert(s:put_session({ provider = "bluesky", key = "bob.bsky.social", account = "did:plc:abc",
            secrets = { accessJwt = "J1", refreshJwt = "J2" }, expiresAt = 1800000100 }))
        local ses = s:get_session("bluesky", "bob.bsky.social")
        assert.same({ "did:plc:abc", "J2", 1800000100 }, { ses.account, ses.secrets.refreshJwt, ses.expiresAt })
        assert.equal(1, s:delete_session("bluesky", "bob.bsky.social"))
        assert.equal(1, s:delete_app("mastodon", "m.example"))
    end)

    it("remembers blocked-until across a reopen", function()
        assert(s:block("twitter", "acct:12345", 1800000600))
        assert.equal(1800000600, s:blocked("twitter", "acct:12345", 1800000000))
        assert.is_nil(s:blocked("twitter", "acct:other", 1800000000))
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_A } }))
        assert.equal(1800000600, s:blocked("twitter", "acct:12345", 1800000000))
        assert.is_nil(s:blocked("twitter", "acct:12345", 1800000600))
        assert(s:block("twitter", "acct:12345", 0))
        assert.is_nil(s:blocked("twitter", "acct:12345", 1))
    end)

    it("reads two keys' blocked-until in one call: the later of the two", function()
        assert(s:block("twitter", "", 1800000100))
        assert(s:block("twitter", "uid:u1", 1800000600))
        assert.equal(1800000600, s:blocked("twitter", "", 1800000000, "uid:u1"))
        assert.equal(1800000100, s:blocked("twitter", "", 1800000000, "uid:u2"))
        assert.equal(1800000600, s:blocked("twitter", "uid:u2", 1800000000, "uid:u1"))
        assert.is_nil(s:blocked("twitter", "uid:u2", 1800000000, "uid:u3"))
        assert.equal(1800000600, s:blocked("twitter", "", 1800000100, "uid:u1")) -- the first one over
        assert.is_nil(s:blocked("mastodon", "", 1800000000, "uid:u1")) -- another provider's
        assert.has_error(function() s:blocked("twitter", "", 1, "a\0b") end)
        assert(s:unblock("twitter"))
    end)

    it("leases a connection: one holder, taken over when expired, writes fenced by the lease", function()
        assert(s:put_connection(conn()))
        local t1 = assert(s:lock("user-1", "twitter", 1000, 5000))
        assert.equal(32, #t1)
        local no, _, code = s:lock("user-1", "twitter", 2000, 5000)
        assert.same({ nil, "lock_busy" }, { no, code })
        assert.truthy(s:lock("user-1", "facebook", 2000, 5000)) -- another connection: free
        local t2 = assert(s:lock("user-1", "twitter", 6000, 5000)) -- t1 ran out
        local ok, err
        ok, err, code = s:put_connection(conn({ secrets = { accessToken = "stale" }, lease = t1 }))
        assert.same({ nil, "lease_lost" }, { ok, code })
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken) -- nothing written
        assert.is_true(s:put_connection(conn({ secrets = { accessToken = "fresh" }, lease = t2 })))
        assert.equal("lease_lost", select(3, s:unlock("user-1", "twitter", t1)))
        assert.is_true(s:unlock("user-1", "twitter", t2))
        assert.truthy(s:lock("user-1", "twitter", 6001, 5000))
        assert.is_nil(err:find("fresh", 1, true))
    end)

    it("with_lock re-reads the connection, returns fn's values, releases even when fn raises", function()
        assert(s:put_connection(conn()))
        local a, b = s:with_lock("user-1", "twitter", function(c, lease)
            assert.equal(TOKEN, c.secrets.accessToken)
            assert(s:put_connection(conn({ secrets = { accessToken = "refreshed", refreshToken = "RT2" }, lease = lease })))
            return "done", 2
        end)
        assert.same({ "done", 2 }, { a, b })
        assert.has_error(function()
            s:with_lock("user-1", "twitter", function() error("boom", 0) end)
        end, "boom")
        local c = s:with_lock("user-1", "twitter", function(cc) return cc end) -- released: no wait
        assert.equal("RT2", c.secrets.refreshToken)
        assert(s:lock("user-1", "twitter", store.now_ms(), 60000))
        local none, _, code = s:with_lock("user-1", "twitter", function() end, { wait = 50 })
        assert.same({ nil, "lock_timeout" }, { none, code })
    end)

    it("with_lock unprotected (Lua 5.1's asynchronous refresh): fn's values; a raise keeps the lease to its ttl", function()
        assert(s:put_connection(conn()))
        local a, b = s:with_lock("user-1", "twitter", function(c) return c.secrets.accessToken, 7 end,
            { unprotected = true })
        assert.same({ TOKEN, 7 }, { a, b })
        assert.equal("T", (s:with_lock("user-1", "twitter", function() return "T" end))) -- released
        assert.has_error(function()
            s:with_lock("user-1", "twitter", function() error("boom", 0) end, { unprotected = true, ttl = 60000 })
        end, "boom")
        local none, _, code = s:with_lock("user-1", "twitter", function() end, { wait = 50 })
        assert.same({ nil, "lock_timeout" }, { none, code }) -- not given back: held until its ttl
    end)

    it("refuses bad input by name, before writing anything", function()
        local cases = {
            { conn({ UID = "" }), "UID is empty" },
            { conn({ provider = ("p"):rep(2000) }), "provider: 2000 bytes, at most 1024" },
            { conn({ UID = "caf\233" }), "UID: not UTF-8" },
            { conn({ account = "\237\160\128" }), "account: not UTF-8" }, -- a surrogate
            { conn({ scopes = "\192\175" }), "scopes: not UTF-8" }, -- overlong
            { conn({ fields = { 1, 2 } }), "fields: not a table of named fields" },
            { conn({ fields = { list = { 1, 2, x = 3 } } }), "fields: a list mixes keys" },
            { conn({ fields = { f = function() end } }), "fields: a value is not a string, number, boolean or table" },
        }
        for _, c in ipairs(cases) do
            local ok, err, code = s:put_connection(c[1])
            assert.same({ nil, c[2], "bad_input" }, { ok, err, code })
        end
        assert.has_error(function() s:put_connection(conn({ UID = "a\0b" })) end, "UID: holds a NUL byte")
        assert.has_error(function() s:put_connection(conn({ secrets = { accessToken = 1 } })) end)
        assert.equal("bad_input", select(3, s:put_connection(conn({ secrets = { t = ("x"):rep(20000) } }))))
        assert.same({}, s:list_connections("user-1"))
    end)

    it("writes nothing when a transaction is rolled back before its commit", function()
        s:_before_commit(function() return false end)
        assert.is_nil(s:put_connection(conn()))
        s:_before_commit(nil)
        assert.is_nil(s:get_connection("user-1", "twitter"))
        assert.equal("0", E.raw("SELECT COUNT(*) FROM socialize_connections"))
    end)

    it("migrates once and refuses a store written by a newer version", function()
        assert.equal("2", E.raw("SELECT MAX(version) FROM socialize_schema"))
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_A } }))
        assert.equal("2", E.raw("SELECT COUNT(*) FROM socialize_schema"))
        E.raw("INSERT INTO socialize_schema (version, applied_at) VALUES (3, 0)")
        local st, err, code = store.open(E.url, { keys = { KEY_A } })
        assert.same({ nil, "store_schema" }, { st, code })
        assert.truthy(err:find("version 3", 1, true))
    end)

    it("never loses an update: two processes increment under the lock, 100 times each", function()
        assert(s:put_connection(conn({ fields = { counter = 0 } })))
        local body = [[
local url, key = arg[1], arg[2]
local s = assert(store.open(url, { keys = { key }, busyTimeout = 20000 }))
for _ = 1, 100 do
  assert(s:with_lock("user-1", "twitter", function(c, lease)
    local n = c.fields.counter
    c.fields.counter = n + 1
    c.lease = lease
    assert(s:put_connection(c))
    return true
  end, { wait = 60000 }))
end
print("child done")
]]
        local cmd = child(E.dir, "incr", body, { q(E.url), q(KEY_A) })
        local out = run("(" .. cmd .. " & " .. cmd .. " & wait)")
        assert.equal("child done\nchild done", out)
        assert.equal(200, s:get_connection("user-1", "twitter").fields.counter)
    end)

    it("gives each pending state to one taker only, two processes racing for 50 states", function()
        local now = os.time()
        for i = 1, 50 do
            assert(s:put_state({ state = "race-" .. i, UID = "u", provider = "x", verifier = "v" .. i, expiresAt = now + 600 }))
        end
        local body = [[
local s = assert(store.open(arg[1], { keys = { arg[2] }, busyTimeout = 20000 }))
local got = {}
for i = 1, 50 do
  local st, _, code = s:take_state("race-" .. i)
  if st then got[#got + 1] = st.verifier elseif code ~= "state_unknown" then got[#got + 1] = "ERR:" .. code end
end
print(table.concat(got, " "))
]]
        local cmd = child(E.dir, "race", body, { q(E.url), q(KEY_A) })
        local out = run("(" .. cmd .. " & " .. cmd .. " & wait)")
        local seen, n = {}, 0
        for v in out:gmatch("%S+") do
            assert.is_nil(seen[v], v .. " taken twice")
            assert.truthy(v:match("^v%d+$"), out)
            seen[v], n = true, n + 1
        end
        assert.equal(50, n)
    end)

    it("names a store locked by another process after the busy timeout, then works again", function()
        assert(s:put_connection(conn()))
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_A }, busyTimeout = 200 }))
        local release = E.hold_lock()
        local ok, err, code = s:put_connection(conn({ secrets = { accessToken = "during-lock" } }))
        release()
        assert.same({ nil, "store_busy" }, { ok, code })
        assert.is_nil(err:find("during-lock", 1, true))
        s:close()
        s = assert(store.open(E.url, { keys = { KEY_A } }))
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken)
        assert.is_true(s:put_connection(conn({ secrets = { accessToken = "after" } })))
    end)
end

describe("store contract: SQLite #once", function()
    local E = {} -- filled in setup: listing the cases starts nothing
    setup(function() setmetatable(E, { __index = sqlite_engine() }) end)
    teardown(function() if E.teardown then E.teardown() end end)
    contract(E)
end)

describe("store contract: PostgreSQL #once", function()
    local E = {} -- filled in setup: listing the cases starts nothing
    setup(function() setmetatable(E, { __index = pg_engine() }) end)
    teardown(function() if E.teardown then E.teardown() end end)
    contract(E)
end)

describe("store faults: SQLite #once", function()
    local dir
    setup(function() dir = tmpdir() end)
    teardown(function() run("rm -rf " .. q(dir)) end)

    it("names a read-only file: reads work, writes fail whole", function()
        local file = dir .. "/ro.db"
        local s = assert(store.open("sqlite:" .. file, { keys = { KEY_A } }))
        assert(s:put_connection(conn()))
        s:close()
        run("chmod 0444 " .. q(file))
        -- root writes anyway: the child runs as nobody when we are root
        local body = [[
local s = assert(store.open("sqlite:" .. arg[1], { keys = { arg[2] } }))
print(s:get_connection("user-1", "twitter").secrets.accessToken)
print(select(3, s:put_connection({ UID = "user-1", provider = "twitter", secrets = { accessToken = "new" } })))
print(select(2, s:put_connection({ UID = "user-1", provider = "twitter", secrets = { accessToken = "new" } })))
]]
        local cmd = child(dir, "ro", body, { q(file), q(KEY_A) })
        if run("id -u") == "0" then
            -- nobody cannot read a checkout of mode 0700 (CI clones into one): the
            -- child gets its own copy of the module (and of the ASan interpreter)
            local mods = dir .. "/mods"
            run("mkdir -p " .. q(mods .. "/socialize") .. " && cp " .. q(ROOT .. "/" .. BUILD .. "/socialize/store.so") .. " "
                .. q(mods .. "/socialize/") .. " && chmod -R a+rX " .. q(mods))
            local lua = CHILD_LUA
            if lua:sub(1, 1) == "/" then
                run("cp " .. q(lua) .. " " .. q(mods .. "/lua-child") .. " && chmod a+rx " .. q(mods .. "/lua-child"))
                lua = mods .. "/lua-child"
            end
            H.write(dir .. "/ro.lua", "package.cpath = " .. string.format("%q", mods .. "/?.so;") .. " .. package.cpath\n"
                .. "local store = require('socialize.store')\n" .. body)
            cmd = "cd / && runuser -u nobody -- " .. lua .. " " .. q(dir .. "/ro.lua") .. " " .. q(file) .. " " .. q(KEY_A)
            -- the test tests something: the child's user really cannot write the file (root could)
            assert.equal("readonly", run("cd / && runuser -u nobody -- sh -c " ..
                q("test -w " .. q(file) .. " && echo writable || echo readonly")))
            assert.equal("nobody", run("cd / && runuser -u nobody -- id -un"))
        end
        assert.equal("readonly", run((run("id -u") == "0" and "cd / && runuser -u nobody -- " or "") .. "sh -c " ..
            q("test -w " .. q(file) .. " && echo writable || echo readonly")))
        local out = run(cmd)
        local token, code, msg = out:match("^(.-)\n(.-)\n(.*)$")
        assert.same({ TOKEN, "store_readonly" }, { token, code }, out)
        assert.truthy(msg:find("read-only", 1, true))
        assert.is_nil(msg:find("new", 1, true))
        assert.equal(TOKEN, run("sqlite3 " .. q(file) .. " 'SELECT 1'") == "1" and
            assert(store.open("sqlite:" .. file, { keys = { KEY_A } })):get_connection("user-1", "twitter").secrets
            .accessToken)
    end)

    it("names a full store and keeps what it held (max_page_count as the disk limit)", function()
        local file = dir .. "/full.db"
        assert(store.open("sqlite:" .. file, { keys = { KEY_A } })):close()
        local pages = tonumber(run("sqlite3 " .. q(file) .. " 'PRAGMA page_count'"))
        local s = assert(store.open("sqlite:" .. file, { keys = { KEY_A }, maxPages = pages + 8 }))
        local big = ("x"):rep(3000)
        local n, ok, err, code = 0, true, nil, nil
        while ok and n < 100 do -- bounded: 8 more pages of 4 KiB fill long before
            n = n + 1
            ok, err, code = s:put_connection(conn({ UID = "u" .. n, fields = { blob = big } }))
        end
        assert.equal("store_full", code)
        assert.truthy(err:find("full", 1, true))
        assert.truthy(n > 2 and n < 100)
        assert.is_nil(s:get_connection("u" .. n, "twitter")) -- not half-written
        assert.equal(TOKEN, s:get_connection("u1", "twitter").secrets.accessToken)
        assert.equal(n - 1, #(function()
            local t = {}
            for i = 1, n - 1 do t[i] = s:get_connection("u" .. i, "twitter") end
            return t
        end)())
        assert.equal(1, s:delete_connection("u1", "twitter")) -- room again
        assert.is_true(s:put_connection(conn({ UID = "u" .. n })))
        s:close()
    end)

    it("names a file that is not a database, and one with damaged pages", function()
        local file = dir .. "/junk.db"
        local f = assert(io.open(file, "wb"))
        f:write(("this is not a database\n"):rep(500))
        f:close()
        local s, err, code = store.open("sqlite:" .. file, { keys = { KEY_A } })
        assert.same({ nil, "store_corrupt" }, { s, code })
        assert.truthy(err:find("not a database", 1, true))
        -- a real store whose table pages are overwritten
        file = dir .. "/damaged.db"
        s = assert(store.open("sqlite:" .. file, { keys = { KEY_A } }))
        for i = 1, 50 do assert(s:put_connection(conn({ UID = "u" .. i, fields = { pad = ("p"):rep(500) } }))) end
        s:close()
        f = assert(io.open(file, "r+b"))
        local size = f:seek("end")
        for off = 4096 * 2, size - 4096, 4096 do
            f:seek("set", off)
            f:write(("\255"):rep(4096))
        end
        f:close()
        local codes = {}
        s, err, code = store.open("sqlite:" .. file, { keys = { KEY_A } })
        if s then
            local _, e2, c2 = s:list_connections("u1")
            err, code = e2, c2
            s:close()
        end
        codes[#codes + 1] = code
        assert.same({ "store_corrupt" }, codes)
        assert.is_nil(err:find(TOKEN, 1, true))
    end)

    it("creates a new file for its owner only (0600)", function()
        local file = dir .. "/mode.db"
        assert(store.open("sqlite:" .. file)):close()
        assert.equal("600", run("stat -c %a " .. q(file)))
    end)

    it("refuses a secret name or a field key holding NUL, and saturates odd numbers", function()
        local s = assert(store.open("sqlite:" .. dir .. "/nul.db", { keys = { KEY_A } }))
        assert.has_error(function() s:put_connection(conn({ secrets = { ["a\0b"] = "x" } })) end,
            "secrets: a name holds a NUL byte")
        assert.same({ nil, "fields: a key is not a string, or holds a NUL byte", "bad_input" },
            { s:put_connection(conn({ fields = { ["k\0"] = 1 } })) })
        assert.is_true(s:block("p", "k", math.huge)) -- saturated to 9e15
        assert.equal(9e15, s:blocked("p", "k", 0 / 0)) -- NaN: 0
        assert.equal(9e15, s:blocked("p", "k", -math.huge))
        assert.is_nil(s:blocked("p", "k", math.huge))
        s:close()
    end)

    it("names a store in a directory that does not exist", function()
        local s, err, code = store.open("sqlite:" .. dir .. "/missing/dir/s.db")
        assert.same({ nil, "store_io" }, { s, code })
        assert.truthy(err:find("sqlite", 1, true))
    end)
end)

describe("store faults: PostgreSQL #once", function()
    local E = {}
    setup(function() setmetatable(E, { __index = pg_engine() }) end)
    teardown(function() if E.teardown then E.teardown() end end)

    it("names a server that goes away mid-transaction; nothing half-written; reconnects after", function()
        local s = assert(store.open(E.new_url(), { keys = { KEY_A } }))
        assert(s:put_connection(conn()))
        assert(s:get_connection("user-1", "twitter")) -- its statement prepared in this session
        s:_before_commit(function() E.kill() return true end)
        local ok, err, code = s:put_connection(conn({ secrets = { accessToken = "mid-transaction" } }))
        s:_before_commit(nil)
        assert.same({ nil, "store_gone" }, { ok, code })
        assert.is_nil(err:find("mid-transaction", 1, true))
        -- down: every call says so
        assert.equal("store_gone", select(3, s:get_connection("user-1", "twitter")))
        E.up()
        local c = assert(s:get_connection("user-1", "twitter")) -- the same handle reconnects (prepared again)
        assert.equal(TOKEN, c.secrets.accessToken)
        assert(s:put_connection(conn({ secrets = { accessToken = TOKEN } }))) -- a write too
        s:close()
    end)

    it("rolls back a rotation cut short by the server going away", function()
        local url = E.new_url()
        local s = assert(store.open(url, { keys = { KEY_A } }))
        for i = 1, 5 do assert(s:put_connection(conn({ UID = "u" .. i }))) end
        local kid_a = s:info().keyIds[1]
        s:close()
        s = assert(store.open(url, { keys = { KEY_B, KEY_A } }))
        s:_before_commit(function() E.kill() return true end)
        local n, _, code = s:rotate()
        s:_before_commit(nil)
        assert.same({ nil, "store_gone" }, { n, code })
        E.up()
        local raw = E.raw("SELECT secrets FROM socialize_connections")
        local _, sealed_a = raw:gsub("sz1%." .. kid_a, "")
        assert.equal(10, sealed_a) -- every field still under the old key
        assert.equal(10, s:rotate())
        s:close()
    end)

    -- a URL carrying a password (the cluster trusts its socket: libpq sends it unasked)
    local PW = "hunter2-pw-secret"
    local function with_pw(url, user)
        url = url .. "&password=" .. PW
        if user then url = url:gsub("user=socialize", "user=" .. user) end
        return url
    end
    local function clean(err)
        assert.is_string(err)
        assert.is_nil(err:find(PW, 1, true))
        assert.is_nil(err:find("during-fault", 1, true))
        assert.is_nil(err:find(TOKEN, 1, true))
    end

    -- every kind of write refused by name, the store as it was
    local function writes_refused(s, want)
        local ok, err, code = s:put_connection(conn({ secrets = { accessToken = "during-fault" } }))
        assert.same({ nil, want }, { ok, code })
        clean(err)
        ok, err, code = s:put_connection(conn({ UID = "user-2", secrets = { accessToken = "during-fault" } }))
        assert.same({ nil, want }, { ok, code })
        ok, err, code = s:delete_connection("user-1", "twitter")
        assert.same({ nil, want }, { ok, code })
        ok, err, code = s:put_state({ state = "st-ro", UID = "u", provider = "x", verifier = "during-fault",
                                      expiresAt = os.time() + 600 })
        assert.same({ nil, want }, { ok, code })
        clean(err)
    end

    local function as_before(url)
        local s = assert(store.open(url, { keys = { KEY_A } }))
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken)
        assert.is_nil(s:get_connection("user-2", "twitter"))
        assert.is_nil(s:take_state("st-ro"))
        s:close()
        assert.equal("1", E.raw("SELECT COUNT(*) FROM socialize_connections"))
    end

    it("names a read-only server (default_transaction_read_only): reads work, writes fail whole", function()
        local url = E.new_url()
        local s = assert(store.open(url, { keys = { KEY_A } }))
        assert(s:put_connection(conn()))
        s:close()
        E.raw("ALTER DATABASE " .. E.db .. " SET default_transaction_read_only = on")
        assert.equal("on", E.raw("SHOW default_transaction_read_only")) -- a new session is read-only
        s = assert(store.open(with_pw(url), { keys = { KEY_A } }))
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken)
        writes_refused(s, "store_readonly")
        local _, err = s:put_connection(conn())
        assert.truthy(err:find("read-only", 1, true), err)
        s:close()
        E.raw("BEGIN READ WRITE; ALTER DATABASE " .. E.db .. " SET default_transaction_read_only = off; COMMIT")
        as_before(url)
    end)

    it("names a read-only role: reads work, writes fail whole", function()
        local url = E.new_url()
        local s = assert(store.open(url, { keys = { KEY_A } }))
        assert(s:put_connection(conn()))
        s:close()
        E.raw("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader') THEN " ..
            "CREATE ROLE reader LOGIN; END IF; END $$; " ..
            "GRANT USAGE ON SCHEMA public TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
        s = assert(store.open(with_pw(url, "reader"), { keys = { KEY_A } }))
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken)
        writes_refused(s, "store_readonly")
        local _, err = s:put_connection(conn())
        assert.truthy(err:find("permission denied", 1, true), err)
        s:close()
        as_before(url)
    end)

    it("names a row locked by another session beyond the lock timeout; nothing half-written; works after", function()
        local url = E.new_url()
        local s = assert(store.open(url, { keys = { KEY_A } }))
        assert(s:put_connection(conn()))
        s:close()
        s = assert(store.open(with_pw(url), { keys = { KEY_A }, busyTimeout = 200 }))
        local flag = E.cdir .. "/rowlock.flag"
        os.remove(flag)
        local release = hold("(echo 'BEGIN;'; echo 'SELECT 1 FROM socialize_connections FOR UPDATE;';" ..
            " echo \"SELECT 'locked';\"; sleep 30) | psql -X -q -A -t " .. q(url), flag)
        local ok, err, code = s:put_connection(conn({ secrets = { accessToken = "during-fault" } }))
        local dok, _, dcode = s:delete_connection("user-1", "twitter")
        release()
        assert.same({ nil, "store_busy" }, { ok, code })
        assert.same({ nil, "store_busy" }, { dok, dcode })
        clean(err)
        assert.equal(TOKEN, s:get_connection("user-1", "twitter").secrets.accessToken) -- the same handle, after
        assert.is_true(s:put_connection(conn({ secrets = { accessToken = "after" } })))
        s:close()
    end)

    it("names a schema newer than the library's, writes nothing, without the password", function()
        local url = E.new_url()
        local st0 = assert(store.open(url, { keys = { KEY_A } }))
        local applied = {}
        for v = 1, st0:info().schema do applied[#applied + 1] = tostring(v) end
        st0:close()
        E.raw("INSERT INTO socialize_schema (version, applied_at) VALUES (99, 0)")
        local st, err, code = store.open(with_pw(url), { keys = { KEY_A } })
        assert.same({ nil, "store_schema" }, { st, code })
        assert.truthy(err:find("version 99", 1, true), err)
        clean(err)
        assert.equal(table.concat(applied, ",") .. ",99", E.raw("SELECT string_agg(version::text, ',' ORDER BY version) FROM socialize_schema"))
        assert.equal("0", E.raw("SELECT COUNT(*) FROM socialize_connections"))
    end)

    it("names a server it cannot reach, without the password", function()
        local url = "postgresql://socialize:hunter2-pw@/postgres?host=" .. E.dir .. "/nowhere&connect_timeout=2"
        local s, err, code = store.open(url)
        assert.same({ nil, "store_gone" }, { s, code })
        assert.is_nil(err:find("hunter2", 1, true))
        assert.truthy(err:find("cannot connect", 1, true))
    end)
end)

describe("config.store in a client #once", function()
    local socialize = require("socialize")
    local dir
    setup(function() dir = tmpdir() end)
    teardown(function() run("rm -rf " .. q(dir)) end)

    it("opens the store on first use, once, and checks the setting at new()", function()
        local c = socialize.new({ backend = "direct", store = { url = "sqlite:" .. dir .. "/c.db", keys = { KEY_A } } })
        local s = assert(c:store())
        assert.equal(s, c:store())
        assert.equal("sqlite", s:info().engine)
        assert.is_nil(socialize.new({ backend = "direct" }):store())
        local bad = socialize.new({ backend = "direct", store = "sqlite:" .. dir .. "/c.db" }) -- no key: sealed store
        assert.same({ nil, "key_missing" }, { bad:store(), select(3, bad:store()) })
        assert.has_error(function() socialize.new({ store = "mysql://db" }) end,
            "bad argument #1 to 'new' (config.store must be \"sqlite:/path/to/file.db\", \"postgresql://...\" or a "
            .. "table with url (docs/store.md))")
        assert.has_error(function() socialize.new({ store = { url = "sqlite:x", keys = { 1 } } }) end,
            "bad argument #1 to 'new' (config.store.keys[1] must be a string (Base64 of 32 bytes))")
    end)
end)

describe("the store's C library for C and C++ hosts #once", function()
    local dir
    setup(function() dir = tmpdir() end)
    teardown(function() run("rm -rf " .. q(dir)) end)

    it("installs, exports sz_store_* only, and a C and a C++ program use it through pkg-config", function()
        local prefix = dir .. "/prefix"
        local out = run("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C " .. q(ROOT) ..
            " install-lib-store PREFIX=" .. q(prefix) .. " && echo installed")
        assert.truthy(out:find("installed$"), out)
        local syms = run("nm -D --defined-only " .. q(prefix .. "/lib/libsocialize_store.so") .. " | awk '{print $3}'")
        for sym in syms:gmatch("[^\n]+") do
            assert.truthy(sym:match("^sz_store_") or sym:match("^_"), sym .. " is exported")
        end
        -- the header names no third-party type, and compiles alone as C and C++
        local h = assert(io.open(prefix .. "/include/sz_store.h")):read("*a")
        assert.is_nil(h:find("sqlite3", 1, true))
        assert.is_nil(h:find("PG", 1, true))
        assert.is_nil(h:find("json_t", 1, true))
        assert.equal("", run("cc -std=c99 -Wall -Wextra -Werror -fsyntax-only -x c " .. q(prefix .. "/include/sz_store.h")))
        assert.equal("", run("c++ -Wall -Wextra -Werror -fsyntax-only -x c++ " .. q(prefix .. "/include/sz_store.h")))
        local src = dir .. "/host.c"
        local f = assert(io.open(src, "wb"))
        f:write([[
#include <stdio.h>
#include <string.h>
#include <sz_store.h>
int main(int argc, char **argv)
{
    (void)argc;
    const char *keys[1] = {"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="};
    sz_store_opts o;
    memset(&o, 0, sizeof o);
    o.keys = keys;
    o.nkeys = 1;
    sz_store_err err;
    sz_store *st = sz_store_open(argv[1], &o, &err);
    if (!st) { printf("%s %s\n", sz_store_code_name(err.code), err.msg); return 1; }
    sz_secret sec = {"accessToken", "tok", 3};
    sz_record r;
    memset(&r, 0, sizeof r);
    r.id1 = "u1"; r.id2 = "net"; r.secrets = &sec; r.nsecrets = 1; r.updated_at = 1;
    sz_record_out *out = NULL;
    if (sz_store_put(st, SZ_REC_CONNECTION, &r, &err) < 0 ||
        sz_store_get(st, SZ_REC_CONNECTION, "u1", "net", &out, &err) != 1) { printf("%s\n", err.msg); return 1; }
    printf("%s %s %.*s\n", sz_store_engine(st), out->secrets[0].name, (int)out->secrets[0].len, out->secrets[0].value);
    sz_store_free(out);
    sz_store_close(st);
    return 0;
}
]])
        f:close()
        local pc = "PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. " pkg-config --cflags --libs socialize-store"
        for _, cc in ipairs({ "cc -std=c99 -x c", "c++ -x c++" }) do
            out = run(cc .. " -Wall -Werror -o " .. q(dir .. "/host") .. " " .. q(src) .. " $(" .. pc ..
                ") -Wl,-rpath," .. q(prefix .. "/lib") .. " && " .. q(dir .. "/host") .. " " .. q("sqlite:" .. dir ..
                "/host.db"))
            assert.equal("sqlite accessToken tok", out)
        end
    end)
end)

describe("the store inside OpenResty #once", function()
    local dir, conf, base

    local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
${USER}worker_processes 1;
error_log ${DIR}/error.log warn;
pid ${DIR}/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${DIR}/tmp;
    proxy_temp_path ${DIR}/tmp;
    fastcgi_temp_path ${DIR}/tmp;
    uwsgi_temp_path ${DIR}/tmp;
    scgi_temp_path ${DIR}/tmp;
    lua_package_path "${ROOT}/lua/?.lua;;";
    lua_package_cpath "${ROOT}/build/luajit/?.so;;";
    server {
        listen 127.0.0.1:${PORT};
        location = /store {
            content_by_lua_block {
                local s = assert(require("socialize.store").open("sqlite:${DIR}/ngx.db", { plaintext = true }))
                assert(s:put_connection({ UID = "u", provider = "p", secrets = { accessToken = "AT" } }))
                local held = assert(s:lock("u", "p"))
                -- waiting for the lease yields (ngx.sleep), bounded by wait
                local none, _, code = s:with_lock("u", "p", function() end, { sleep = ngx.sleep, wait = 30 })
                assert(s:unlock("u", "p", held))
                -- fn yields inside the lease (a cosocket call would too)
                local token = s:with_lock("u", "p", function(c, lease)
                    ngx.sleep(0.01)
                    c.secrets.accessToken = "AT2"
                    c.lease = lease
                    assert(s:put_connection(c))
                    return c.secrets.accessToken
                end, { sleep = ngx.sleep })
                ngx.say(tostring(none), " ", code, " ", token, " ", s:get_connection("u", "p").secrets.accessToken)
                s:close()
            }
        }
    }
}
]]

    setup(function()
        dir = tmpdir()
        run("mkdir -p " .. q(dir .. "/tmp"))
        local user = ""
        if run("id -u") == "0" then user = "user " .. run("id -un") .. " " .. run("id -gn") .. ";\n" end
        for _ = 1, 5 do
            -- a port free now (the system's choice); another may take it before nginx: try again
            local port = run("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); " ..
                "print(s.getsockname()[1])'")
            local text = CONF:gsub("%${(%u+)}", { DIR = dir, ROOT = ROOT, PORT = tostring(port), USER = user })
            conf = dir .. "/nginx.conf"
            local f = assert(io.open(conf, "wb"))
            f:write(text)
            f:close()
            local out = run("nginx -p " .. q(dir) .. " -c " .. q(conf) .. " && echo started")
            if out:find("started$") then
                base = "http://127.0.0.1:" .. port
                break
            end
            assert(out:find("Address already in use", 1, true),
                out .. "\n" .. tostring((io.open(dir .. "/error.log") or io.open("/dev/null")):read("*a")))
        end
    end)
    teardown(function()
        if conf then run("nginx -p " .. q(dir) .. " -c " .. q(conf) .. " -s quit") end
        for _ = 1, 50 do -- bounded: 5 s for nginx to exit
            if not io.open(dir .. "/nginx.pid") then break end
            store.sleep(0.1)
        end
        run("rm -rf " .. q(dir))
    end)

    it("waits for a lease with ngx.sleep and lets fn yield inside it (LuaJIT build)", function()
        assert.truthy(base, "nginx did not start")
        local out
        for _ = 1, 50 do -- bounded: nginx may take a moment to listen
            out = run("curl -s --max-time 10 " .. base .. "/store")
            if out ~= "" then break end
            store.sleep(0.1)
        end
        assert.equal("nil lock_timeout AT2 AT2", out, (io.open(dir .. "/error.log") or io.open("/dev/null")):read("*a"))
    end)
end)
