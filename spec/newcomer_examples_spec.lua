-- examples/newcomer/: a host developer's first scripts, written from the user
-- docs only, run as a user would against the sandbox: connect_publish.lua
-- (connect two networks, list, publish, disconnect), queue.lua (a queued
-- publish with `at`, the worker, cancel, a dedup key twice) and
-- cli_session.sh (the socialize command: config with env: secrets, connect by
-- the listener and by --paste, connections, publish --queued, jobs, worker
-- --once, job, --json, disconnect), game_batch.lua (enqueueMany of 500 publishes
-- with outboxSync = "normal", a worker loop, the host's own transaction) and
-- cli_outbox.sh (publish --queued --at, jobs --status, job, cancel, a worker
-- stopped by SIGTERM, --json, exit codes) and readonly_store.sh (a SQLite store
-- on a real tmpfs remounted read-only, as docs/store.md describes it; root).
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")

local build = os.getenv("BUILD") or "build/lua5.4"
local lua = os.getenv("LUA") or (build:match("luajit") and "luajit") or (build:match("5%.1") and "lua5.1") or "lua5.4"
local sb

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local function env(db)
    return "SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE_STORE='" .. db
        .. "' SOCIALIZE_STORE_KEY='" .. K.KEY .. "' LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. build .. "/?.so;;' "
end

describe("newcomer examples #once", function()
    setup(function() sb = H.start_sandbox() end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("connect_publish.lua: two networks connected, listed, published to, one disconnected", function()
        local out, code = sh(env(K.db("newcomer")) .. lua .. " examples/newcomer/connect_publish.lua")
        assert.are.equal(0, code, out)
        assert.matches("connected twitter +account 2244994945", out)
        assert.matches("connected linkedin +account abc123", out)
        assert.matches('getUserInfo: providers "linkedin,twitter", 2 identities', out, 1, true)
        assert.matches("published twitter +post %d+", out)
        assert.matches("published linkedin +post urn:li:share:", out)
        assert.matches("disconnected linkedin: removed 1, revoked true", out, 1, true)
        assert.matches('getUserInfo: providers "twitter", 1 identities', out, 1, true)
        assert.are.equal(1, #K.requests(sb, "/2/tweets"))
    end)

    it("queue.lua: due at its time, cancelled, deduplicated", function()
        local out, code = sh(env(K.db("newcomer")) .. lua .. " examples/newcomer/queue.lua")
        assert.are.equal(0, code, out)
        assert.matches("worker before its time: claimed 0, sent 0", out, 1, true)
        assert.matches("worker after its time: claimed 1, sent 1", out, 1, true)
        assert.matches("cancelled job %x+: 1 deliveries", out)
        assert.matches("deduplicated true", out, 1, true)
        assert.are.equal(2, #K.requests(sb, "/2/tweets"))
    end)

    it("game_batch.lua: 500 publishes queued at once, drained, and one in the host's transaction", function()
        local out, code = sh(env(K.db("newcomer")) .. lua .. " examples/newcomer/game_batch.lua")
        assert.are.equal(0, code, out)
        assert.matches("store outboxSync normal", out, 1, true)
        assert.matches("bad batch refused: index 2, 400006 Invalid parameter value: at must be", out, 1, true)
        assert.matches("queued 500 jobs, first queued to mastodon,telegram", out, 1, true)
        assert.matches("the same batch again: 500 deduplicated", out, 1, true)
        assert.matches("worker: claimed %d+, released %d+, sent 1000, retrying 0, unconfirmed 0, dead 0", out)
        assert.matches("final states: sent 500\n", out)
        assert.matches("winner player3, post job true", out, 1, true)
        assert.matches("rolled back: 0 rows, player4 has 100 jobs", out, 1, true)
        assert.matches("winner job sent\nok\n", out)
        -- the sandbox saw each post once per network: 500 + the winner's
        assert.are.equal(501, #K.requests(sb, "/api/v1/statuses"))
        assert.are.equal(501, #K.requests(sb, "/sendMessage", true))
    end)

    it("cli_outbox.sh: queued, scheduled, cancelled, a worker stopped by SIGTERM, exit codes", function()
        local out, code = sh("SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE='" .. lua
            .. " bin/socialize' sh examples/newcomer/cli_outbox.sh")
        assert.are.equal(0, code, out)
        assert.matches("environment variable TG_BOT_TOKEN is not set\n%(exit 3%)", out)
        assert.matches("got +1w\n(socialize help publish)\n(exit 2)", out, 1, true)
        assert.matches("400106 Not connected: no connections for UID nobody\n(exit 1)", out, 1, true)
        assert.matches("(3 queued jobs)", out, 1, true)
        assert.matches(": 1 cancelled)\n(cancel again: 0 cancelled)", out, 1, true)
        assert.matches("jobID: no such job\n(exit 1)", out, 1, true)
        assert.matches("worker stopped on signal 15: 2 sent, 0 retrying, 0 unconfirmed, 0 dead\n(worker exit 5)", out, 1, true)
        assert.matches('"state": "sent"', out, 1, true)
        assert.matches("(sent: 2)\n(cancelled: 1)\n(queued: 0)", out, 1, true)
        assert.matches("(--json error: exit 1, error job_unknown)\nok\n", out, 1, true)
        assert.are.equal(2, #K.requests(sb, "/sendMessage", true))
        assert.is_nil(out:find("sandbox-bot-token", 1, true))
    end)

    it("readonly_store.sh: a SQLite store on a read-only file system, as docs/store.md says", function()
        local out, code = sh("LUA='" .. lua .. "' LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. build
            .. "/?.so;;' sh examples/newcomer/readonly_store.sh")
        assert.are.equal(0, code, out)
        local RO = "store_readonly sqlite: the store file or its file system is read-only"
        assert.matches("a.db, closed cleanly:\n  open: ok; u1 tok-1 u2 nil\n  put: nil " .. RO, out, 1, true)
        assert.matches("b.db, with its -wal and -shm:\n  open: ok; u1 tok-1 u2 tok-2\n  put: nil " .. RO, out, 1, true)
        assert.matches("c.db, a -wal without its -shm:\n  open: refused store_readonly", out, 1, true)
        assert.matches("link.db, a symlink to a.db:\n  open: ok; u1 tok-1 u2 nil\n  put: nil " .. RO, out, 1, true)
        assert.matches("none.db, not there:\n  open: refused store_io", out, 1, true)
        assert.matches("queued: nil 500001 store_readonly\n  enqueueMany: nil 500001 store_readonly 1\n"
            .. "  work: nil 500001 store_readonly\n  jobs: 0\n", out, 1, true)
        -- nothing was written: the same files before and after
        assert.matches("files: a.db b.db b.db-shm b.db-wal c.db c.db-wal link.db \n", out, 1, true)
        assert.matches("files after: a.db b.db b.db-shm b.db-wal c.db c.db-wal link.db \nok\n", out, 1, true)
        assert.is_nil(out:find("socialize-ro", 1, true)) -- no path in a message
        local mounts = io.open("/proc/mounts"):read("*a")
        assert.is_nil(mounts:find("socialize-ro.", 1, true), "the tmpfs is unmounted")
    end)

    it("cli_session.sh: the socialize command from config to disconnect", function()
        local out, code = sh("SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE='" .. lua
            .. " bin/socialize' sh examples/newcomer/cli_session.sh")
        assert.are.equal(0, code, out)
        assert.matches("(2 identities in --json connections)", out, 1, true)
        assert.matches("worker stopped: 2 sent", out, 1, true)
        assert.matches("was used within 24 hours", out, 1, true)
        assert.matches("\nok\n", out, 1, true)
        for _, secret in ipairs({ "tw-client-secret", "li-client-secret" }) do
            assert.is_nil(out:find(secret, 1, true), secret)
        end
    end)
end)
