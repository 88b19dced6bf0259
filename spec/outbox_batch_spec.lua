-- Enqueueing fast (issue 14, docs/delivery.md "Many at once", docs/store.md
-- "Durability"): client:enqueueMany checks every call, then writes them all
-- in one transaction or none; config.store.outboxSync = "normal" commits the
-- outbox's own enqueues on SQLite with synchronous = NORMAL while every other
-- write stays FULL (read back with the _sync_level test hook inside each
-- transaction); a child process killed with SIGKILL right after its
-- enqueues returned loses none of them. On a SQLite file and on a
-- throwaway PostgreSQL.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local socialize = require("socialize")
local store = require("socialize.store")

local CONNS = { mastodon = { accessToken = "t", instance = "https://m.example" }, twitter = { bearerToken = "b" } }

local function client(url, sync)
    return socialize.new { backend = "direct", store = { url = url, keys = { K.KEY }, outboxSync = sync },
        providers = { mastodon = {}, twitter = {} },
        connections = function() return CONNS end }
end

local function publish(i, extra)
    local c = { method = "publishUserAction",
                params = { UID = "u" .. i, userAction = { title = "Level " .. i .. " done" } } }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
end

local function calls(n)
    local list = {}
    for i = 1, n do list[i] = publish(i) end
    return list
end

local function cases(E)
    local c, s

    before_each(function()
        c = client(E.new_url())
        s = assert(c:store())
    end)
    after_each(function() if c then c:close() end if s then s:close() end end)

    local function njobs() return #assert(s:jobs({ limit = 2000 })) end

    it("writes every call, each job with its deliveries, the answers in order", function()
        local list = calls(4)
        list[3] = { method = "socialize.setStatus", params = { UID = "u3", status = "Hello" }, at = 4102444800 }
        list[4] = { method = "sendNotification", params = { UID = "u4", recipients = "f1", subject = "s", body = "b" },
                    key = "note-4" }
        local res = assert(c:enqueueMany(list))
        assert.equal(0, res.errorCode)
        assert.equal(4, #res.results)
        local methods = { "socialize.publishUserAction", "socialize.publishUserAction", "socialize.setStatus",
                          "socialize.sendNotification" }
        for i, r in ipairs(res.results) do
            assert.equal("queued", r.status)
            local j = assert(c:job(r.jobID))
            assert.equal("u" .. i, j.UID)
            assert.equal(methods[i], j.method)
            assert.equal(#r.providers, #j.deliveries)
            assert.truthy(#j.deliveries >= 1)
        end
        assert.equal(4102444800, res.results[3].runAt)
        assert.equal(4, njobs())
    end)

    it("refuses a bad call naming its index, and writes none", function()
        local bad = {
            { 3, { UID = "u3" }, 400002, "status (calls[3])", "setStatus" },              -- no status
            { 2, nil, 400006, "calls[2].params", "setStatus" },                           -- params not a table
            { 4, nil, 400006, "calls[4].method", "getUserInfo" },                         -- not a queued method
        }
        for _, b in ipairs(bad) do
            local list = calls(5)
            list[b[1]] = { method = b[5], params = b[2] }
            local res, err = c:enqueueMany(list)
            assert.is_nil(res)
            assert.equal(b[3], err.errorCode)
            assert.equal(b[1], err.index)
            assert.truthy(tostring(err):find(b[4], 1, true), tostring(err))
        end
        local list = calls(3)
        list[2].at = 0 / 0
        local _, err = c:enqueueMany(list)
        assert.same({ 400006, 2 }, { err.errorCode, err.index })
        assert.truthy(tostring(err):find("Invalid parameter value: at must be a Unix time", 1, true), tostring(err))
        list = calls(3)
        list[3].key = string.rep("k", 201)
        _, err = c:enqueueMany(list)
        assert.same({ 400006, 3 }, { err.errorCode, err.index })
        list = calls(3)
        list[2].deliver = "queued"
        _, err = c:enqueueMany(list)
        assert.same({ 400006, 2 }, { err.errorCode, err.index })
        assert.truthy(tostring(err):find("calls[2].deliver is not a field", 1, true), tostring(err))
        list = calls(2)
        list[2] = "publishUserAction"
        _, err = c:enqueueMany(list)
        assert.same({ 400006, 2 }, { err.errorCode, err.index })
        assert.equal(0, njobs())
    end)

    it("refuses a list that is not one, an empty one, a long one and an unknown option", function()
        local _, err = c:enqueueMany(nil)
        assert.equal(400002, err.errorCode)
        _, err = c:enqueueMany({})
        assert.truthy(tostring(err):find("400006 Invalid parameter value: calls holds 0 calls; 1 to 1000", 1, true), tostring(err))
        _, err = c:enqueueMany(calls(1001))
        assert.truthy(tostring(err):find("calls holds 1001 calls; 1 to 1000", 1, true), tostring(err))
        _, err = c:enqueueMany({ publish(1), x = publish(2) })
        assert.truthy(tostring(err):find("calls must be a list", 1, true), tostring(err))
        _, err = c:enqueueMany(calls(2), { sync = "normal" })
        assert.truthy(tostring(err):find("options.sync is not an option (tx)", 1, true), tostring(err))
        assert.equal(0, njobs())
    end)

    it("answers a client without a store or without the direct backend with no index", function()
        local bare = socialize.new { backend = "direct", providers = { mastodon = {} },
                                     connections = function() return CONNS end }
        local _, err = bare:enqueueMany(calls(2))
        assert.same({ 400096, "no_store" }, { err.errorCode, err.error })
        assert.is_nil(err.index)
        local gigya = socialize.new { apiKey = "k", secret = "czNjcmV0", userKey = "u", store = E.new_url() }
        _, err = gigya:enqueueMany(calls(2))
        assert.equal(400096, err.errorCode)
        assert.truthy(tostring(err):find("needs the direct backend", 1, true), tostring(err))
        assert.is_nil(err.index)
        gigya:close()
        bare:close()
    end)

    it("writes none when a write fails in the middle (the earlier ones rolled back)", function()
        local idx = getmetatable(s).__index
        local orig, n = idx.enqueue, 0
        idx.enqueue = function(...)
            n = n + 1
            if n == 3 then return nil, "cannot read or write the store file", "store_io" end
            return orig(...)
        end
        local ok, res, err = pcall(c.enqueueMany, c, calls(5))
        idx.enqueue = orig
        assert(ok, res)
        assert.is_nil(res)
        assert.same({ 500001, 3, "store_io" }, { err.errorCode, err.index, err.error })
        assert.equal(0, njobs())
        -- and when the commit is refused
        s:_before_commit(function() return false end)
        res, err = c:enqueueMany(calls(3))
        s:_before_commit(nil)
        assert.is_nil(res)
        assert.truthy(tostring(err):find("rolled back", 1, true), tostring(err))
        assert.equal(0, njobs())
        assert.equal(2, #assert(c:enqueueMany(calls(2))).results)
        assert.equal(2, njobs())
    end)

    it("dedupes by key within the batch and against earlier jobs", function()
        local first = assert(c:publishUserAction(publish(1).params, { deliver = "queued", key = "k1" }))
        local res = assert(c:enqueueMany({ publish(1, { key = "k1" }), publish(2, { key = "k2" }),
                                           publish(3, { key = "k2" }) }))
        assert.equal(first.jobID, res.results[1].jobID)
        assert.is_true(res.results[1].deduplicated)
        assert.is_nil(res.results[2].deduplicated)
        assert.equal(res.results[2].jobID, res.results[3].jobID)
        assert.is_true(res.results[3].deduplicated)
        assert.equal(2, njobs())
    end)

    it("joins the host's transaction with tx: committed or rolled back with it", function()
        assert(s:transaction(function(tx)
            assert(c:enqueueMany(calls(3), { tx = tx }))
        end))
        assert.equal(3, njobs())
        local ok = pcall(s.transaction, s, function(tx)
            assert(c:enqueueMany(calls(2), { tx = tx }))
            error("the host changed its mind")
        end)
        assert.is_false(ok)
        assert.equal(3, njobs())
        -- inside the host's transaction without its tx: refused, nothing written
        local res, err = s:transaction(function()
            local r, e = c:enqueueMany(calls(2))
            return r, e
        end)
        assert.is_nil(res)
        assert.equal(400002, err.errorCode)
        assert.truthy(tostring(err):find("Missing required parameter: tx", 1, true), tostring(err))
        assert.equal(3, njobs())
        -- a tx that has ended
        local old
        assert(s:transaction(function(tx) old = tx end))
        res, err = c:enqueueMany(calls(2), { tx = old })
        assert.is_nil(res)
        -- about the option, not a call: no index
        assert.same({ 400006, "Invalid parameter value: tx the transaction has ended" },
            { err.errorCode, err.errorDetails })
        assert.is_nil(err.index)
        assert.equal(3, njobs())
    end)

    it("in the host's transaction, a call over the store's limits is refused before any write (the host commits)", function()
        local long = string.rep("u", 1025)
        local res, err = s:transaction(function(tx)
            local r, e = c:enqueueMany({ publish(1), { method = "setStatus", params = { UID = long, status = "s" } } },
                { tx = tx })
            assert.is_nil(r)
            assert.same({ 400006, 2, "Invalid parameter value: UID is 1025 bytes; at most 1024 can be queued (calls[2])" },
                { e.errorCode, e.index, e.errorDetails })
            r, e = c:enqueueMany({ publish(1), { method = "setStatus",
                params = { UID = "u2", status = string.rep("s", 1048576) } } }, { tx = tx })
            assert.is_nil(r)
            assert.same({ 400006, 2 }, { e.errorCode, e.index })
            assert.truthy(e.errorDetails:find("at most 1048576 can be queued (calls[2])", 1, true), e.errorDetails)
            return true -- the host commits what it wrote: none of the batch's calls
        end)
        assert.same({ true, nil }, { res, err })
        assert.equal(0, njobs())
        -- a key that is not UTF-8: refused with the checks, before any write
        res, err = s:transaction(function(tx)
            local r, e = c:enqueueMany({ publish(1), publish(2, { key = "k\255\254" }) }, { tx = tx })
            assert.is_nil(r)
            assert.same({ 400006, 2, "Invalid parameter value: key must be UTF-8 without NUL bytes (calls[2])" },
                { e.errorCode, e.index, e.errorDetails })
            return true
        end)
        assert.same({ true, nil }, { res, err })
        assert.equal(0, njobs())
        -- a host's transaction that failed before the batch: about tx, no index
        local ok = pcall(s.transaction, s, function(tx)
            assert.is_nil(tx:exec("SELEC 1"))
            local r, e = c:enqueueMany(calls(2), { tx = tx })
            assert.is_nil(r)
            assert.same({ "txn_failed", nil }, { e.error, e.index })
            return true
        end)
        assert.is_true(ok)
        assert.equal(0, njobs())
        -- one queued call says the same
        res, err = c:setStatus({ UID = long, status = "s" }, { deliver = "queued" })
        assert.same({ nil, 400006, "Invalid parameter value: UID is 1025 bytes; at most 1024 can be queued" },
            { res, err.errorCode, err.errorDetails })
    end)

    it("reads calls whose metatables raise or never end as bad input, named, writing none", function()
        local function raise() error("a hostile metatable") end
        local list = calls(3)
        list[2] = setmetatable({}, { __index = raise })
        local ok, res, err = pcall(c.enqueueMany, c, list)
        assert.is_true(ok, res)
        assert.same({ nil, 400006, 2, "Invalid parameter value: calls[2] could not be read (a table's metatable "
            .. "raised an error)" }, { res, err.errorCode, err.index, err.errorDetails })
        if #setmetatable({}, { __len = function() return 7 end }) == 7 then -- Lua 5.2+: __len, __pairs
            ok, res, err = pcall(c.enqueueMany, c, setmetatable({}, { __len = raise }))
            assert.is_true(ok, res)
            assert.same({ 400006, "Invalid parameter value: calls could not be read (a table's metatable raised an error)" },
                { err.errorCode, err.errorDetails })
            assert.is_nil(err.index)
            -- a __pairs that never ends: the loop stops at the list's size
            local forever = setmetatable(calls(2), { __pairs = function(t)
                return function() return 1, t[1] end, t, nil
            end })
            ok, res, err = pcall(c.enqueueMany, c, forever)
            assert.is_true(ok, res)
            assert.same({ 400006, "Invalid parameter value: calls must be a list (a key 1 is not an index)" },
                { err.errorCode, err.errorDetails })
            local call = setmetatable(publish(1), { __pairs = function(t)
                return function() return "method", t.method end, t, nil
            end })
            ok, res, err = pcall(c.enqueueMany, c, { call })
            assert.is_true(ok, res)
            assert.same({ 400006, 1 }, { err.errorCode, err.index })
            assert.truthy(err.errorDetails:find("calls[1].method is not a field", 1, true), err.errorDetails)
        end
        assert.equal(0, njobs())
    end)
end

describe("enqueueMany on SQLite #unit", function()
    local E = {}
    function E.new_url() return "sqlite:" .. K.path("batch") end
    cases(E)
end)

describe("outboxSync on SQLite #unit", function()
    -- the level each write transaction commits with, read inside it
    local function levels(sync)
        local c = client("sqlite:" .. K.path("sync"), sync)
        local s = assert(c:store())
        local seen = {}
        s:_before_commit(function() seen[#seen + 1] = s:_sync_level() return true end)
        local function step(name, fn)
            local before = #seen
            fn()
            assert.equal(before + 1, #seen, name) -- one write transaction each
            seen[#seen] = name .. "=" .. seen[#seen]
        end
        step("enqueue", function()
            assert(c:publishUserAction(publish(1).params, { deliver = "queued" }))
        end)
        step("connection", function()
            assert(s:put_connection({ UID = "u1", provider = "mastodon", secrets = { accessToken = "A" } }))
        end)
        step("enqueueMany", function() assert(c:enqueueMany(calls(3))) end)
        step("state", function()
            assert(s:put_state({ state = "st1", UID = "u1", provider = "mastodon", redirect = "https://a.example/cb",
                                 expiresAt = os.time() + 60 }))
        end)
        step("enqueue", function()
            assert(c:publishUserAction(publish(2).params, { deliver = "queued" }))
        end)
        step("take", function() assert(s:take_state("st1")) end)
        step("host", function()
            assert(s:transaction(function(tx) assert(c:enqueueMany(calls(2), { tx = tx })) end))
        end)
        step("block", function() assert(s:block("mastodon", "u1", os.time() + 60)) end)
        local info = s:info()
        s:close()
        c:close()
        return table.concat(seen, " "), info.outboxSync
    end

    it("commits the outbox's own enqueues with NORMAL, every other write with FULL", function()
        assert.same({ "enqueue=1 connection=2 enqueueMany=1 state=2 enqueue=1 take=2 host=2 block=2", "normal" },
            { levels("normal") })
    end)

    it("keeps FULL for every write with \"full\"", function()
        local all = "enqueue=2 connection=2 enqueueMany=2 state=2 enqueue=2 take=2 host=2 block=2"
        assert.same({ all, "full" }, { levels("full") })
    end)

    it("by default (a window of 1 s) commits the first enqueue after open with FULL", function()
        -- the rest depends on the clock: only the first is certain
        local got, info = levels(nil)
        assert.equal("1", tostring(info))
        assert.equal("enqueue=2 connection=2", got:match("^%S+ %S+"))
        assert.truthy(got:match(" state=2 enqueue=%d take=2 host=2 block=2$"), got)
    end)

    -- a window of N seconds: the level and the count of synced commits read
    -- inside each write transaction (the count is the one before this commit)
    local function windowed(n)
        local c = client("sqlite:" .. K.path("win"), n)
        local s = assert(c:store())
        local seen, refuse = {}, false
        s:_before_commit(function()
            local level, synced = s:_sync_level()
            seen[#seen + 1] = level .. "/" .. synced
            return not refuse
        end)
        local W = {}
        function W.enqueue() assert(c:publishUserAction(publish(1).params, { deliver = "queued" })) end
        function W.many() assert(c:enqueueMany(calls(3))) end
        function W.connection()
            assert(s:put_connection({ UID = "u1", provider = "mastodon", secrets = { accessToken = "A" } }))
        end
        function W.refused(fn)
            refuse = true
            local ok = pcall(fn)
            refuse = false
            return ok
        end
        function W.seen() local t = table.concat(seen, " ") seen = {} return t end
        function W.synced() return select(2, s:_sync_level()) end
        function W.close() s:close() c:close() end
        return W, s
    end

    it("with a window of 3600 s: FULL first, then NORMAL; every other write is FULL and counts", function()
        local W, s = windowed(3600)
        assert.equal("3600", tostring(s:info().outboxSync))
        assert.equal(0, W.synced())
        W.enqueue() W.enqueue() W.many() W.enqueue()
        assert.equal("2/0 1/1 1/1 1/1", W.seen())
        assert.equal(1, W.synced())
        W.connection() W.enqueue()
        assert.equal("2/1 1/2", W.seen())
        assert.equal(2, W.synced())
        W.close()
        -- a connection saved first starts the window: the first enqueue is NORMAL
        W = windowed(3600)
        W.connection() W.enqueue()
        assert.equal("2/0 1/1", W.seen())
        W.close()
        -- a rolled-back FULL commit does not count: the next enqueue is still FULL
        W = windowed(3600)
        W.refused(W.connection)
        W.refused(W.enqueue)
        assert.equal(0, W.synced())
        W.enqueue() W.enqueue()
        assert.equal("2/0 2/0 2/0 1/1", W.seen())
        W.close()
    end)

    it("with a window of 0.2 s: an enqueue after a wait over it commits with FULL again", function()
        local W, s = windowed(0.2)
        assert.equal(0.2, s:info().outboxSync)
        W.enqueue()
        assert.equal("2/0", W.seen())
        os.execute("sleep 0.25") -- the monotonic clock has moved at least 0.25 s
        W.enqueue()
        assert.equal("2/1", W.seen())
        assert.equal(2, W.synced())
        W.close()
    end)

    it("refuses any other value, naming the setting, and opens nothing", function()
        for _, bad in ipairs({ "NORMAL", "off", "", "fast", "1", 0, -1, 0 / 0, 1 / 0, 3600.5, 1e9, true, {} }) do
            local file = K.path("bad")
            local ok, err = pcall(client, "sqlite:" .. file, bad)
            assert.is_false(ok)
            assert.truthy(tostring(err):find(
                "config.store.outboxSync must be \"full\", \"normal\" or seconds (0 < N <= 3600)", 1, true),
                tostring(err))
            ok, err = pcall(store.open, "sqlite:" .. file, { plaintext = true, outboxSync = bad })
            assert.is_false(ok)
            assert.truthy(tostring(err):find("outboxSync: \"full\", \"normal\" or seconds (0 < N <= 3600) expected",
                1, true), tostring(err))
            assert.is_nil(io.open(file), "nothing opened")
        end
    end)

    it("takes no SQL in the outbox's own batch", function()
        local s = assert(store.open("sqlite:" .. K.path("nosql"), { plaintext = true, outboxSync = "normal" }))
        local ok, err, code = s:outbox_transaction(function(tx) return tx:exec("SELECT 1") end)
        s:close()
        assert.same({ nil, "sql: the outbox's batch takes no SQL (use store:transaction)", "bad_input" }, { ok, err, code })
    end)
end)

describe("outboxSync \"normal\" and by default, and a killed process #once", function()
    -- the child: enqueues (one per call, and every 10th call a batch of 5),
    -- printing each job's id once the call has returned, until it is killed
    -- (or after 60 s)
    local CHILD = [[
local CONNS = { mastodon = { accessToken = "t", instance = "https://m.example" }, twitter = { bearerToken = "b" } }
local c = socialize.new { backend = "direct", store = { url = %q, keys = { %q }, outboxSync = %s },
    providers = { mastodon = {}, twitter = {} }, connections = function() return CONNS end }
local stop = os.time() + 60
local i = 0
while os.time() < stop do
    i = i + 1
    if i %% 10 == 0 then
        local list = {}
        for k = 1, 5 do list[k] = { method = "setStatus", params = { UID = "u" .. k, status = "batch " .. i .. "." .. k } } end
        local res = assert(c:enqueueMany(list))
        for _, r in ipairs(res.results) do io.stdout:write(r.jobID, "\n") end
    else
        local r = assert(c:publishUserAction({ UID = "u" .. i %% 7, userAction = { title = "Level " .. i } },
            { deliver = "queued" }))
        io.stdout:write(r.jobID, "\n")
    end
    io.stdout:flush()
end
]]

    local function alive(pid)
        local f = io.open("/proc/" .. pid .. "/stat")
        if not f then return false end
        local st = (f:read("*l") or ""):match("^%d+ %b() (%a)")
        f:close()
        return st ~= nil and st ~= "Z"
    end

    local function killed(sync, name)
        local file = K.path(name)
        local url = "sqlite:" .. file
        local out = file .. ".ids"
        local script = K.script(name, CHILD:format(url, K.KEY, sync))
        for round = 1, 3 do
            local want = 150 * round -- the ids of every round in one file: each kill at a new point
            local pid = assert(tonumber(K.run("exec " .. K.CHILD_LUA .. " " .. K.q(script) .. " >>" .. K.q(out)
                .. " 2>>" .. K.q(out .. ".err") .. " & echo $!")))
            local lines = 0
            for _ = 1, 600 do -- at most about 60 s
                local f = io.open(out)
                local text = f and f:read("*a") or ""
                if f then f:close() end
                local _, nl = text:gsub("\n", "")
                lines = nl
                if lines >= want or not alive(pid) then break end
                os.execute("sleep 0.1")
            end
            K.run("kill -9 " .. pid)
            for _ = 1, 50 do
                if not alive(pid) then break end
                os.execute("sleep 0.1")
            end
            assert.is_false(alive(pid))
            assert.truthy(lines >= want, "the child wrote " .. lines .. " ids: " .. tostring(H.read(out .. ".err")))
        end
        -- every id printed (a whole line) is in the store, with its deliveries
        local s = assert(store.open(url, { keys = { K.KEY } }))
        local ids, n = {}, 0
        for id in assert(H.read(out)):gmatch("([0-9a-f]+)\n") do
            n = n + 1
            ids[#ids + 1] = id
        end
        assert.truthy(n >= 450, n) -- 150, 300, 450 lines in the file at the three kills
        local missing = {}
        for _, id in ipairs(ids) do
            local j = s:job(id)
            if not j or #j.deliveries < 1 then missing[#missing + 1] = id end
        end
        assert.same({}, missing)
        s:close()
        assert.equal("ok", K.run("sqlite3 " .. K.q(file) .. " 'PRAGMA integrity_check'"))
    end

    it("loses no job whose enqueue had returned, with \"normal\"", function() killed('"normal"', "kill-normal") end)
    it("loses no job whose enqueue had returned, by default (a window of 1 s)", function()
        killed("nil", "kill-default")
    end)
end)

describe("enqueueMany on PostgreSQL #once", function()
    local base, n = nil, 0
    K.use_postgres(function(u) base = u end)
    local E = {}
    function E.new_url()
        n = n + 1
        local db = "batch" .. n
        K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("CREATE DATABASE " .. db))
        return (base:gsub("/postgres%?", "/" .. db .. "?"))
    end
    cases(E)

    it("accepts outboxSync, which changes nothing on PostgreSQL", function()
        local c = client(E.new_url(), "normal")
        local s = assert(c:store())
        assert.equal("normal", s:info().outboxSync)
        assert.is_nil(s:_sync_level())
        assert.equal(3, #assert(c:enqueueMany(calls(3))).results)
        s:close()
        c:close()
    end)
end)
