-- The host's own transaction (csrc/store/sz_txn.c, lsz_txn.c,
-- docs/delivery.md "In the host's own transaction"): store:transaction runs
-- the host's SQL and a queued publish on the store's connection, committed
-- or rolled back as one. The same cases on a SQLite file and on a
-- throwaway PostgreSQL; a second process looks in while it is open; the
-- worker delivers a job committed that way to the sandbox.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local UA = { title = "Order 42 shipped", linkBack = "https://shop.example/o/42" }
local SECRET = "card-4111-1111-1111-1111"

local function count(sb, network, path)
    local n = 0
    for _, r in ipairs(H.requests(sb)) do
        if r.network == network and (r.path or ""):find(path, 1, true) then n = n + 1 end
    end
    return n
end

local function cases(E, get_sb)
    local sb, c, s, url

    -- a second process: opens the store at url and runs body (s is its store)
    local function child(body)
        local path = K.script("txn-child", string.format([[
local store = require("socialize.store")
local s = assert(store.open(%q, { keys = { %q }, busyTimeout = 200 }))
%s
s:close()
]], url, K.KEY, body))
        return K.run(K.CHILD_LUA .. " " .. K.q(path))
    end

    before_each(function()
        sb = get_sb()
        url = E.new_url()
        c = K.client(sb, nil, nil, url, { connections = { u1 = H.sandbox_connection(sb) } })
        s = assert(c:store())
        assert(s:transaction(function(tx)
            return tx:exec("CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL, note TEXT)")
        end))
        H.reset(sb)
    end)
    after_each(function() if c then c:close() end if s then s:close() end end)

    local function publish(tx, opts)
        local q = { deliver = "queued", tx = tx }
        for k, v in pairs(opts or {}) do q[k] = v end
        return c:publishUserAction({ UID = "u1", userAction = UA, enabledProviders = "twitter,mastodon" }, q)
    end

    local function orders()
        return assert(s:transaction(function(tx)
            local rows = assert(tx:query("SELECT id FROM orders ORDER BY id"))
            local ids = {}
            for i, r in ipairs(rows) do ids[i] = r.id end
            return ids
        end))
    end

    local function jobs() return E.raw("SELECT COUNT(*) FROM socialize_jobs") .. "/"
        .. E.raw("SELECT COUNT(*) FROM socialize_deliveries") end

    it("commits the host's row and the queued job together", function()
        local job
        local r1, r2 = s:transaction(function(tx)
            assert.equal("open", tx:state())
            assert.equal(1, assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o42", 1250)))
            job = assert(publish(tx))
            assert.same({ 0, "queued", { "twitter", "mastodon" } }, { job.errorCode, job.status, job.providers })
            -- the same connection sees its own uncommitted writes
            assert.equal("queued", assert(c:job(job.jobID)).status)
            return "done", 7
        end)
        assert.same({ "done", 7 }, { r1, r2 })
        assert.same({ "o42" }, orders())
        assert.equal("1/2", jobs())
        assert.equal("queued", assert(c:job(job.jobID)).status)
        assert.equal(0, #H.requests(sb)) -- nothing sent at enqueue
    end)

    it("rolls the job back when the host's SQL fails after the enqueue", function()
        assert(s:transaction(function(tx) return tx:exec("INSERT INTO orders (id, total) VALUES ('o1', 1)") end))
        local ok, err, code = s:transaction(function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o2", 5))
            assert(publish(tx))
            local r, e, n = tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o1", 9) -- a duplicate key
            assert.same({ nil, "bad_input" }, { r, n })
            assert.equal("failed", tx:state())
            -- after a failure only a rollback is left, on both engines
            local r2, e2, n2 = tx:query("SELECT 1 AS one")
            assert.same({ nil, "txn_failed" }, { r2, n2 })
            assert.truthy(e2:find("failed earlier", 1, true), e2)
            local j, jerr = publish(tx)
            assert.is_nil(j)
            assert.equal("txn_failed", jerr.error)
            return true, e -- returns normally: the transaction is still rolled back
        end)
        assert.same({ nil, "bad_input" }, { ok, code })
        assert.truthy(err:find("^transaction rolled back: "), err)
        assert.same({ "o1" }, orders())
        assert.equal("0/0", jobs())
        assert.same({}, assert(c:jobs{}).jobs)
    end)

    it("rolls back when fn raises (raised again as it was) or returns nil, err", function()
        local boom = { reason = "payment declined" }
        local ok, raised = pcall(s.transaction, s, function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o3", 1))
            assert(publish(tx))
            error(boom)
        end)
        assert.same({ false, true }, { ok, raised == boom })
        local r, e, extra = s:transaction(function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o4", 1))
            assert(publish(tx))
            return nil, "out of stock", "stock"
        end)
        assert.same({ nil, "out of stock", "stock" }, { r, e, extra })
        assert.same({}, orders())
        assert.equal("0/0", jobs())
        -- returning nothing commits (answered true)
        assert.is_true(s:transaction(function(tx) assert(publish(tx)) end))
        assert.equal("1/2", jobs())
    end)

    it("hides the job from a second process until the commit", function()
        local seen, after
        assert(s:transaction(function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o5", 1))
            assert(publish(tx))
            seen = child([[
local list = assert(s:jobs())
local claimed, cerr, ccode = s:claim("w2", os.time() + 10, 60, 10)
local id, err, code = s:enqueue{ UID = "u2", method = "socialize.setStatus", params = "{}", providers = { "x" } }
print(#list, claimed and #claimed or ccode, id and "written" or code)
]])
        end))
        after = child("print(#assert(s:jobs()))")
        if E.name == "sqlite" then
            -- a reader sees the last commit; a worker's claim and a writer wait for the lock, then give up
            assert.equal("0\tstore_busy\tstore_busy", seen)
            assert.equal("1", after)
        else
            -- a reader sees the last commit; a worker claims nothing of it; another writer goes on
            assert.equal("0\t0\twritten", seen)
            assert.equal("2", after)
        end
    end)

    it("delivers a job committed in the host's transaction, once per network", function()
        local job
        assert(s:transaction(function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o6", 1))
            job = assert(publish(tx))
        end))
        local sum = assert(c:work(5000))
        assert.same({ 2, 2 }, { sum.claimed, sum.sent })
        assert.same({ 1, 1 }, { count(sb, "twitter", "/tweets"), count(sb, "mastodon", "/api/v1/statuses") })
        assert.equal("sent", assert(c:job(job.jobID)).status)
        -- a job rolled back is never delivered
        pcall(s.transaction, s, function(tx) assert(publish(tx)) error("no") end)
        assert.equal(0, assert(c:work(1000)).claimed)
    end)

    it("refuses a tx that has ended, is not one, or is another store's", function()
        local kept
        assert(s:transaction(function(tx) kept = tx end))
        assert.equal("ended", kept:state())
        assert.equal("socialize.store.tx (ended)", tostring(kept))
        local r, err, code = kept:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o7", 1)
        assert.same({ nil, "tx: the transaction has ended", "no_transaction" }, { r, err, code })
        assert.equal("no_transaction", select(3, kept:query("SELECT 1 AS one")))
        local j, jerr = publish(kept)
        assert.is_nil(j)
        assert.same({ 400006, "Invalid parameter value: tx the transaction has ended" },
            { jerr.errorCode, jerr.errorDetails })
        for _, bad in ipairs({ true, {}, "tx", 1 }) do
            j, jerr = publish(bad)
            assert.is_nil(j)
            assert.equal(400006, jerr.errorCode)
            assert.truthy(jerr.errorDetails:find("^Invalid parameter value: tx not a transaction"), jerr.errorDetails)
        end
        local other = require("socialize.store").open(K.db("other"), { keys = { K.KEY } })
        assert(other:transaction(function(otx)
            local oj, oerr = publish(otx)
            assert.is_nil(oj)
            assert.equal("Invalid parameter value: tx a transaction of another store", oerr.errorDetails)
        end))
        other:close()
        assert.equal("0/0", jobs())
        -- an unknown option is still named
        j, jerr = publish(nil, { txn = true })
        assert.is_nil(j)
        assert.truthy(jerr.errorDetails:find("options.txn", 1, true))
    end)

    it("refuses a nested transaction and writes that do not join it", function()
        assert(s:transaction(function(tx)
            local r, err, code = s:transaction(function() end)
            assert.same({ nil, "in_transaction" }, { r, code })
            assert.truthy(err:find("nested transactions are refused", 1, true), err)
            local j, jerr = c:publishUserAction({ UID = "u1", userAction = UA }, { deliver = "queued" })
            assert.is_nil(j)
            assert.equal(400002, jerr.errorCode)
            assert.truthy(jerr.errorDetails:find("^Missing required parameter: tx"), jerr.errorDetails)
            local w, werr = c:work(100)
            assert.is_nil(w)
            assert.equal("in_transaction", werr.error)
            assert.equal("in_transaction", select(3, s:put_connection({ UID = "u9", provider = "x" })))
            assert.equal("open", tx:state()) -- refusals leave it usable
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o8", 1))
        end))
        assert.same({ "o8" }, orders())
        assert.equal("0/0", jobs())
    end)

    it("answers bad SQL with a named error that holds no bound value nor secret", function()
        assert(s:put_connection({ UID = "u1", provider = "mastodon", secrets = { accessToken = SECRET } }))
        local function fails(sql, ...)
            local args = { ... }
            local res
            local ok, err, code = s:transaction(function(tx)
                res = { tx:exec(sql, (table.unpack or unpack)(args)) }
            end)
            assert.is_nil(ok)
            assert.is_nil(res[1])
            assert.equal(res[3], code)
            for _, text in ipairs({ res[2], err }) do
                assert.is_nil(text:find(SECRET, 1, true), text)
                assert.is_nil(text:find(K.KEY, 1, true), text)
            end
            return res[2], code
        end
        local msg, code = fails("SELEC $1", SECRET)
        assert.equal("store_internal", code)
        assert.truthy(msg:find("^" .. E.name .. ": "), msg)
        assert(s:transaction(function(tx) return tx:exec("INSERT INTO orders (id, total) VALUES ($1, 1)", SECRET) end))
        msg, code = fails("INSERT INTO orders (id, total) VALUES ($1, 2)", SECRET)
        assert.equal("bad_input", code)
        assert.same({ "bad_input", "bad_input", "bad_input", "bad_input", "bad_input", "bad_input" }, {
            select(2, fails("SELECT secrets FROM socialize_connections")),
            select(2, fails("UPDATE Socialize_Jobs SET status = 'sent'")),
            select(2, fails("COMMIT")),
            select(2, fails("  /* x */ rollback")),
            select(2, fails("SET lock_timeout = 0")),
            select(2, fails("SELECT 1; DELETE FROM orders")) })
        assert.truthy(fails("SELECT secrets FROM socialize_connections"):find("socialize_ tables are the store's", 1,
            true))
        msg, code = fails("SELECT $1 AS a, $2 AS b", 1)
        assert.equal("bad_input", code)
        assert.same({ SECRET }, orders())
        assert.equal(SECRET, assert(s:get_connection("u1", "mastodon")).secrets.accessToken)
    end)

    it("binds values by position, never into the SQL text", function()
        local quote = "it's \"$1\" -- not a comment; DROP TABLE orders"
        local rows = assert(s:transaction(function(tx)
            assert.equal(1, tx:exec("INSERT INTO orders (id, total, note) VALUES ($2, $1, $3)", 7, "o'9", quote))
            assert.equal(1, tx:exec("INSERT INTO orders (id, total, note) VALUES ($1, $2, $3)", "o10", 2.0, nil))
            assert.equal(0, tx:exec("UPDATE orders SET total = $1 WHERE id = $2", 1, "none"))
            return tx:query("SELECT id, total, note, '$1' AS lit FROM orders WHERE total > $1 ORDER BY id", 0)
        end))
        assert.equal(2, #rows)
        assert.same({ id = "o'9", total = "7", note = quote, lit = "$1", "o'9", "7", quote, "$1" }, rows[1])
        assert.same({ id = "o10", total = "2", lit = "$1", [1] = "o10", [2] = "2", [4] = "$1" }, rows[2])
        assert.same({}, assert(s:transaction(function(tx) return tx:query("SELECT id FROM orders WHERE id = $1",
            "none") end)))
        -- a wrong type raises inside fn: rolled back
        local ok, err = pcall(s.transaction, s, function(tx)
            tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o11", {})
        end)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("$2 is a table", 1, true), err)
        assert.has_error(function() s:transaction("not a function") end)
        assert.same({ "o'9", "o10" }, orders())
    end)

    it("the host's own connection: an outbox row and a keyed enqueue, swept twice, one job", function()
        -- the host's own database, apart from the store (here a SQLite file through a second handle)
        local own = assert(require("socialize.store").open(K.db("own"), { plaintext = true }))
        assert(own:transaction(function(tx)
            assert(tx:exec("CREATE TABLE pending_posts (order_id TEXT PRIMARY KEY)"))
            assert(tx:exec("INSERT INTO pending_posts (order_id) VALUES ($1)", "o42"))
        end))
        local function sweep(crash)
            local jobs_seen = {}
            local rows = assert(own:transaction(function(tx) return tx:query("SELECT order_id FROM pending_posts") end))
            for _, r in ipairs(rows) do
                jobs_seen[#jobs_seen + 1] = assert(publish(nil, { key = "order-shipped:" .. r.order_id }))
                if not crash then
                    assert(own:transaction(function(tx)
                        return tx:exec("DELETE FROM pending_posts WHERE order_id = $1", r.order_id)
                    end))
                end
            end
            return jobs_seen
        end
        local a = sweep(true) -- the process died between the enqueue and the delete
        local b = sweep(false)
        assert.same({ 1, 1, a[1].jobID, true }, { #a, #b, b[1].jobID, b[1].deduplicated })
        assert.same({}, sweep(false))
        assert.equal("1/2", jobs())
        own:close()
    end)

    it("returns the existing job on a dedup key hit, and the transaction goes on", function()
        local first = assert(publish(nil, { key = "order-42" }))
        local second, third
        assert(s:transaction(function(tx)
            assert(tx:exec("INSERT INTO orders (id, total) VALUES ($1, $2)", "o42", 1))
            second = assert(publish(tx, { key = "order-42" }))
            third = assert(publish(tx, { key = "order-43" }))
            assert.equal(third.jobID, assert(publish(tx, { key = "order-43" })).jobID)
            assert.equal("open", tx:state())
        end))
        assert.same({ first.jobID, true }, { second.jobID, second.deduplicated })
        assert.is_nil(third.deduplicated)
        assert.same({ "o42" }, orders())
        assert.equal("2/4", jobs())
    end)
end

describe("the host's transaction on SQLite #fakes", function()
    local sb
    H.use_sandbox(function(x) sb = x end)
    local E = { name = "sqlite" }
    function E.new_url()
        E.file = K.path("txn")
        return "sqlite:" .. E.file
    end
    function E.raw(sql) return K.run("sqlite3 " .. K.q(E.file) .. " " .. K.q(sql)) end
    cases(E, function() return sb end)
end)

describe("the host's transaction on PostgreSQL #once", function()
    local sb, base, n = nil, nil, 0
    H.use_sandbox(function(x) sb = x end)
    K.use_postgres(function(u) base = u end)
    local E = { name = "postgresql" }
    function E.new_url()
        n = n + 1
        E.db = "tx" .. n
        K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("CREATE DATABASE " .. E.db))
        E.url = (base:gsub("/postgres%?", "/" .. E.db .. "?"))
        return E.url
    end
    function E.raw(sql) return K.run("psql -X -q -A -t -v ON_ERROR_STOP=1 " .. K.q(E.url) .. " -c " .. K.q(sql)) end
    cases(E, function() return sb end)
end)
