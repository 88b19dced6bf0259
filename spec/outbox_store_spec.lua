-- The outbox in the store (csrc/store/sz_outbox.c, docs/delivery.md): the
-- same contract against a SQLite file and a throwaway PostgreSQL
-- (spec/pgcluster.sh). Raw rows are read with the engines' own tools.
local store = require("socialize.store")
local H = require("spec.helper")
local K = require("spec.connect_kit")

local q, run = K.q, K.run
local PUB = "socialize.publishUserAction"

local function sqlite_engine()
    local e = { name = "sqlite" }
    function e.new_url()
        e.file = K.path("outbox")
        e.url = "sqlite:" .. e.file
        return e.url
    end
    function e.raw(sql) return run("sqlite3 " .. q(e.file) .. " " .. q(sql)) end
    return e
end

local function pg_engine(base)
    local e = { name = "postgresql" }
    local n = 0
    local function psql(db, sql)
        return run("psql -X -q -A -t -v ON_ERROR_STOP=1 " .. q((base:gsub("/postgres%?", "/" .. db .. "?")))
            .. " -c " .. q(sql))
    end
    function e.new_url()
        n = n + 1
        e.db = "ob" .. n
        psql("postgres", "CREATE DATABASE " .. e.db)
        e.url = base:gsub("/postgres%?", "/" .. e.db .. "?")
        return e.url
    end
    function e.raw(sql) return psql(e.db, sql) end
    return e
end

local function job(t)
    local j = { UID = "u1", method = PUB, params = '{"userAction":{"title":"Level 3 \195\169t\195\169"}}',
                providers = { "twitter", "mastodon" }, now = 1000 }
    for k, v in pairs(t or {}) do j[k] = v end
    return j
end

local function by_provider(j)
    local out = {}
    for _, d in ipairs(j.deliveries) do out[d.provider] = d end
    return out
end

local function contract(E)
    local s
    before_each(function() s = assert(store.open(E.new_url(), { plaintext = true })) end)
    after_each(function() if s then s:close() end end)

    it("enqueues one job and one delivery per provider, read back whole", function()
        local id, existed = s:enqueue(job({ runAt = 1500 }))
        assert.is_string(id)
        assert.equal(32, #id)
        assert.is_false(existed)
        local j = assert(s:job(id))
        assert.same({ jobID = id, UID = "u1", method = PUB, status = "queued", createdAt = 1000, runAt = 1500,
                      updatedAt = 1000, params = job().params }, (function()
            local c = {}
            for k, v in pairs(j) do if k ~= "deliveries" then c[k] = v end end
            return c
        end)())
        assert.equal(2, #j.deliveries)
        assert.same({ jobID = id, provider = "mastodon", state = "queued", attempts = 0, nextAt = 1500,
                      idempotencyKey = id .. ":mastodon", updatedAt = 1000 }, j.deliveries[1])
        assert.equal("1", E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        assert.equal("2", E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
        assert.is_nil(s:job("nope"))
        -- in the past: due now
        local id2 = assert(s:enqueue(job({ runAt = 10 })))
        assert.equal(1000, s:job(id2).runAt)
    end)

    it("dedupes a key within its window, not after it, and not a cancelled job's", function()
        local id = assert(s:enqueue(job({ key = "order-42", window = 60 })))
        local again, existed = s:enqueue(job({ key = "order-42", now = 1059, params = '{"other":1}' }))
        assert.equal(id, again)
        assert.is_true(existed)
        assert.equal("1", E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        local later = assert(s:enqueue(job({ key = "order-42", now = 1060 })))
        assert.not_equal(id, later)
        assert.equal(2, s:cancel(later, 1061))
        local third = assert(s:enqueue(job({ key = "order-42", now = 1062 })))
        assert.not_equal(later, third)
        assert.equal(3, tonumber(E.raw("SELECT COUNT(*) FROM socialize_jobs")))
    end)

    it("refuses bad input with a named error and writes nothing", function()
        local function refused(t, what)
            local id, err, code = s:enqueue(job(t))
            assert.is_nil(id)
            assert.equal("bad_input", code)
            assert.truthy(err:find(what, 1, true), err)
        end
        refused({ key = ("k"):rep(201) }, "key: 201 bytes")
        refused({ key = "" }, "key")
        refused({ key = "\255" }, "key")
        refused({ providers = {} }, "providers")
        refused({ providers = { "twitter", "twitter" } }, "twitter named twice")
        refused({ params = "[1]" }, "params")
        refused({ params = '{"a":1' }, "params")
        refused({ params = '{"a":1,"a":2}' }, "params")
        refused({ UID = "" }, "UID")
        assert.equal(200, #("k"):rep(200))
        assert(s:enqueue(job({ key = ("k"):rep(200) })))
        assert.has_error(function() s:enqueue(job({ providers = { "twit\0ter" } })) end)
        assert.has_error(function() s:enqueue(job({ providers = "twitter" })) end)
        assert.has_error(function() s:enqueue(job({ now = "soon" })) end)
        assert.equal("1", E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        assert.equal("2", E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
    end)

    it("writes nothing when the enqueue's transaction is rolled back", function()
        s:_before_commit(function() return false end)
        assert.is_nil(s:enqueue(job()))
        s:_before_commit(nil)
        assert.equal("0", E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        assert.equal("0", E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
    end)

    it("claims due deliveries only, under a lease, counting attempts, bounded by the limit", function()
        local a = assert(s:enqueue(job()))
        local b = assert(s:enqueue(job({ runAt = 2000 })))
        local got = assert(s:claim("w1", 1000, 60, 1))
        assert.equal(1, #got)
        local d = got[1]
        assert.same({ a, "sending", 1, "queued", "w1", 1060, "u1", PUB, job().params },
            { d.jobID, d.state, d.attempts, d.prevState, d.leaseOwner, d.leaseUntil, d.UID, d.method, d.params })
        got = assert(s:claim("w2", 1000, 60, 10))
        assert.equal(1, #got) -- the other delivery of a; b is not due
        assert.equal(a, got[1].jobID)
        assert.same({}, assert(s:claim("w3", 1059, 60, 10)))
        got = assert(s:claim("w3", 2000, 60, 10))
        assert.equal(4, #got) -- b's two, and a's two whose leases ran out at 1060
        local jobs = {}
        for _, d in ipairs(got) do jobs[d.jobID] = (jobs[d.jobID] or 0) + 1 end
        assert.same({ [a] = 2, [b] = 2 }, jobs)
        assert.equal("active", s:job(a).status)
        assert.is_nil(s:claim("w3", 2000, 60, 0))
        assert.is_nil(s:claim("w3", 2000, 0, 1))
    end)

    it("hands an expired lease to another worker; the old worker's late outcome is refused", function()
        local id = assert(s:enqueue(job({ providers = { "mastodon" } })))
        assert.equal(1, #assert(s:claim("w1", 1000, 30, 10)))
        assert.same({}, assert(s:claim("w2", 1029, 30, 10)))
        local got = assert(s:claim("w2", 1030, 30, 10))
        assert.same({ "sending", "w2", 2 }, { got[1].prevState, got[1].leaseOwner, got[1].attempts })
        local ok, err, code = s:record(id, "mastodon", "w1", 1031, { state = "sent", postID = "1" })
        assert.same({ nil, "lease_lost" }, { ok, code })
        assert.truthy(err:find("no longer holds", 1, true))
        assert.is_true(s:record(id, "mastodon", "w2", 1032, { state = "sent", postID = "109" }))
        local d = by_provider(s:job(id)).mastodon
        assert.same({ "sent", "109", 1032, 2 }, { d.state, d.postID, d.sentAt, d.attempts })
        assert.is_nil(d.leaseOwner)
        assert.equal("sent", s:job(id).status)
        -- a second outcome for the same claim is refused too
        assert.same({ nil, "lease_lost" }, { select(1, s:record(id, "mastodon", "w2", 1033, { state = "dead" })), "lease_lost" })
    end)

    it("records a batch of outcomes in one transaction; a lost lease is reported for its delivery alone", function()
        local a = assert(s:enqueue(job({ providers = { "mastodon", "twitter" } })))
        assert.equal(2, #assert(s:claim("w1", 1000, 30, 10)))
        local b = assert(s:enqueue(job({ providers = { "mastodon" } })))
        assert.equal(1, #assert(s:claim("w1", 1000, 100, 10)))
        -- a's twitter delivery taken over by w2 after w1's lease ran out
        assert(s:record(a, "mastodon", "w1", 1001, { state = "retrying", nextAt = 1020, errorCode = 500026,
            category = "transient", reason = "closed", release = true }))
        local got = assert(s:claim("w2", 1030, 30, 1))
        assert.same({ a, "twitter", "w2" }, { got[1].jobID, got[1].provider, got[1].leaseOwner })
        local res, n = s:record_many("w1", 1031, {
            { jobID = b, provider = "mastodon", state = "sent", postID = "109" },
            { jobID = a, provider = "twitter", state = "sent", postID = "7" },
        })
        assert.same({ { true, "lease_lost" }, 1 }, { res, n })
        local db = by_provider(s:job(b)).mastodon
        assert.same({ "sent", "109", 1031, "sent" }, { db.state, db.postID, db.sentAt, s:job(b).status })
        -- w2's delivery untouched: still w2's, sending, no post
        local dt = by_provider(s:job(a)).twitter
        assert.same({ "sending", "w2", "none" }, { dt.state, dt.leaseOwner, dt.postID or "none" })
        -- w2 claims a's mastodon (due again at 1020) and records both of a's
        got = assert(s:claim("w2", 1040, 30, 10))
        assert.same({ a, "mastodon", 1 }, { got[1].jobID, got[1].provider, got[1].attempts }) -- released: not an attempt before
        res, n = s:record_many("w2", 1041, {
            { jobID = a, provider = "twitter", state = "unconfirmed", nextAt = 0, errorCode = 504002,
              category = "transient", reason = "timeout" },
            { jobID = a, provider = "mastodon", state = "dead", errorCode = 400006, category = "content_invalid",
              reason = "too long" },
        })
        assert.same({ { true, true }, 2 }, { res, n })
        local ds = by_provider(s:job(a))
        assert.same({ "unconfirmed", 1041, "dead", 400006 }, { ds.twitter.state, ds.twitter.sentAt, ds.mastodon.state,
            ds.mastodon.errorCode })
        assert.equal("unconfirmed", s:job(a).status) -- the job's status from both outcomes
        assert.same({ {}, 0 }, { s:record_many("w2", 1042, {}) })
    end)

    it("sums up each job's status from a batch over several jobs", function()
        local a = assert(s:enqueue(job({ providers = { "mastodon", "twitter" } })))
        local b = assert(s:enqueue(job({ providers = { "mastodon" } })))
        local c = assert(s:enqueue(job({ providers = { "mastodon", "twitter" } })))
        local d = assert(s:enqueue(job({ providers = { "twitter" } })))
        assert.equal(6, #assert(s:claim("w", 1000, 60, 10)))
        local res, n = s:record_many("w", 1001, {
            { jobID = a, provider = "mastodon", state = "sent", postID = "NULL" },
            { jobID = b, provider = "mastodon", state = "dead", errorCode = 400006, category = "content_invalid",
              reason = 'a "quoted" \\ {x,y}, NULL \195\169' },
            { jobID = c, provider = "twitter", state = "sent", postID = "2" },
            { jobID = a, provider = "twitter", state = "dead", errorCode = 400006, category = "content_invalid" },
            { jobID = c, provider = "mastodon", state = "unconfirmed", nextAt = 0 },
            { jobID = d, provider = "twitter", state = "retrying", nextAt = 2000, category = "transient",
              release = true },
        })
        assert.same({ { true, true, true, true, true, true }, 6 }, { res, n })
        assert.same({ "partial", "dead", "unconfirmed", "active" },
            { s:job(a).status, s:job(b).status, s:job(c).status, s:job(d).status })
        assert.same({ 1001, 1001 }, { s:job(a).updatedAt, s:job(d).updatedAt })
        -- the values as given (PostgreSQL passes a batch as arrays: quoting)
        assert.same({ "NULL", 'a "quoted" \\ {x,y}, NULL \195\169', 400006, "content_invalid" },
            { by_provider(s:job(a)).mastodon.postID, by_provider(s:job(b)).mastodon.reason,
              by_provider(s:job(b)).mastodon.errorCode, by_provider(s:job(b)).mastodon.category })
        local dd = by_provider(s:job(d)).twitter
        assert.same({ 2000, 0, "transient" }, { dd.nextAt, dd.attempts, dd.category }) -- released: not an attempt
        assert.is_nil(dd.errorCode)
    end)

    it("writes a batch's hostile values byte for byte (array literals: spaces, empty, braces, long)", function()
        local odd = { "  padded  ", "", "\t{\n}\r", "NULL", "\"", "\\", ",", "{}", "{\"a\",NULL}", "'; DROP TABLE x; --",
                      "\226\128\168 \240\159\152\128", "x\"\\y\\\"", ("\195\169"):rep(700) }
        local providers = {}
        for i = 1, #odd do providers[i] = "p" .. i end
        local a = assert(s:enqueue(job({ providers = providers })))
        assert.equal(#odd, #assert(s:claim("w", 1000, 60, 100)))
        local items = {}
        for i, x in ipairs(odd) do
            items[i] = { jobID = a, provider = "p" .. i, state = i % 2 == 0 and "sent" or "dead",
                         postID = x ~= "" and x:sub(1, 900) or x, errorCode = 400006, category = "content_invalid",
                         reason = x }
        end
        local res, n = s:record_many("w", 1001, items)
        assert.same(#odd, n)
        for i = 1, #odd do assert.is_true(res[i]) end
        local ds = by_provider(s:job(a))
        for i, x in ipairs(odd) do
            local d = ds["p" .. i]
            assert.equal(x ~= "" and x:sub(1, 900) or x, d.postID or "", "postID " .. i)
            if i % 2 == 0 then
                assert.is_nil(d.reason) -- a sent one keeps no error
            else
                assert.equal(#x > 1024 and ("\195\169"):rep(512) or x, d.reason, "reason " .. i)
            end
        end
    end)

    it("reads fields an __index makes (each a new string, collected at once) as they were given", function()
        -- a string only the call holds: freed by the collector while the store still read it, the
        -- next one of its size took its memory (an unknown state, another job's UID)
        local made = H.made_by_index
        local uid = "u-" .. ("9"):rep(60)
        local id = assert(s:enqueue(made({ UID = uid, method = PUB, params = '{"a":"' .. ("x"):rep(60) .. '"}',
            providers = { "p1", "p2" }, now = 1000, key = "k-" .. ("7"):rep(60) })))
        local j = s:job(id)
        assert.same({ uid, '{"a":"' .. ("x"):rep(60) .. '"}', "k-" .. ("7"):rep(60) }, { j.UID, j.params, j.key })
        assert.equal(1, #assert(s:jobs(made({ UID = uid, status = "queued" }))))
        assert.equal(2, #assert(s:claim("w", 1000, 60, 10)))
        local post, reason = "P" .. ("a"):rep(60), "R" .. ("c"):rep(60)
        local res, n = s:record_many("w", 1001, {
            made({ jobID = id, provider = "p1", state = "dead", errorCode = 400006, category = "content_invalid",
                   reason = reason }),
            made({ jobID = id, provider = "p2", state = "sent", postID = post }) })
        assert.same({ { true, true }, 2 }, { res, n })
        local ds = by_provider(s:job(id))
        assert.same({ "dead", "content_invalid", reason, "sent", post },
            { ds.p1.state, ds.p1.category, ds.p1.reason, ds.p2.state, ds.p2.postID })
    end)

    it("refuses a batch with a bad element by its index and writes nothing of it", function()
        local a = assert(s:enqueue(job({ providers = { "mastodon", "twitter", "vkontakte" } })))
        assert.equal(3, #assert(s:claim("w", 1000, 60, 10)))
        local before = E.raw("SELECT provider, state, attempts, lease_owner FROM socialize_deliveries ORDER BY provider")
        local function batch(bad)
            return { { jobID = a, provider = "mastodon", state = "sent", postID = "1" }, bad,
                     { jobID = a, provider = "vkontakte", state = "sent", postID = "3" } }
        end
        local ok, err, code = s:record_many("w", 1001, batch({ jobID = a, provider = "twitter", state = "finished" }))
        assert.same({ nil, "bad_input" }, { ok, code })
        assert.equal("outcomes[2]: outcome: an unknown state", err)
        ok, err, code = s:record_many("w", 1001, batch({ jobID = a, provider = "twitter", state = "dead",
            reason = "\255\254" }))
        assert.same({ nil, "outcomes[2]: reason: not UTF-8", "bad_input" }, { ok, err, code })
        ok, err, code = s:record_many("w", 1001, batch({ jobID = a, provider = "mastodon", state = "sent" }))
        assert.same({ nil, "outcomes[2]: the same delivery as outcomes[1]", "bad_input" }, { ok, err, code })
        ok, err, code = s:record_many("w", 1001, batch({ jobID = a, provider = "", state = "sent" }))
        assert.same({ nil, "bad_input" }, { ok, code })
        assert.truthy(err:find("^outcomes%[2%]: provider"), err)
        -- wrong types raise, naming the element and its field, before anything is written
        local rok, rerr = pcall(s.record_many, s, "w", 1001, batch({ jobID = a, provider = "twitter", state = 5 }))
        assert.is_false(rok)
        assert.truthy(tostring(rerr):find("outcomes[2].state: a string without NUL expected", 1, true), rerr)
        rok, rerr = pcall(s.record_many, s, "w", 1001, batch({ jobID = a, provider = "twitter", state = "sent",
            nextAt = "soon" }))
        assert.truthy(tostring(rerr):find("outcomes[2].nextAt: a number expected", 1, true), rerr)
        rok, rerr = pcall(s.record_many, s, "w", 1001, batch("sent"))
        assert.truthy(tostring(rerr):find("outcomes[2]: a table expected", 1, true), rerr)
        local many = {}
        for i = 1, 101 do many[i] = { jobID = a, provider = "p" .. i, state = "sent" } end
        rok, rerr = pcall(s.record_many, s, "w", 1001, many)
        assert.truthy(tostring(rerr):find("outcomes: 100 at most", 1, true), rerr)
        assert.equal(before, E.raw("SELECT provider, state, attempts, lease_owner FROM socialize_deliveries ORDER BY provider"))
        assert.equal("active", s:job(a).status)
    end)

    it("records each outcome: retrying is due again at nextAt, unconfirmed waits for the host", function()
        local id = assert(s:enqueue(job({ providers = { "a", "b", "c", "d" } })))
        assert.equal(4, #assert(s:claim("w", 1000, 60, 10)))
        assert(s:record(id, "a", "w", 1001, { state = "retrying", nextAt = 1100, errorCode = 500026,
            category = "transient", reason = "closed" }))
        assert(s:record(id, "b", "w", 1001, { state = "unconfirmed", nextAt = 0, errorCode = 504002,
            category = "transient", reason = "timeout (the request was sent)" }))
        assert(s:record(id, "c", "w", 1001, { state = "dead", errorCode = 400006, category = "content_invalid",
            reason = ("r\195\169"):rep(600) }))
        assert(s:record(id, "d", "w", 1001, { state = "waiting_reconnect", nextAt = 1300, waitUntil = 5000,
            errorCode = 403009, category = "auth_expired", reason = "expired" }))
        local ds = by_provider(s:job(id))
        assert.same({ "retrying", 1100, 500026, "transient", "closed" },
            { ds.a.state, ds.a.nextAt, ds.a.errorCode, ds.a.category, ds.a.reason })
        assert.same({ "unconfirmed", 1001 }, { ds.b.state, ds.b.sentAt })
        assert.equal("dead", ds.c.state)
        assert.equal(1024, #ds.c.reason) -- cut at 1024 bytes, on a character boundary
        assert.same({ "waiting_reconnect", 1300, 5000 }, { ds.d.state, ds.d.nextAt, ds.d.waitUntil })
        assert.equal("active", s:job(id).status)
        assert.same({}, assert(s:claim("w", 1099, 60, 10)))
        local got = assert(s:claim("w", 1100, 1000, 10))
        assert.same({ "a", "retrying", 2 }, { got[1].provider, got[1].prevState, got[1].attempts })
        assert.equal(1, #got)
        got = assert(s:claim("w", 1300, 60, 10))
        assert.same({ "d", "waiting_reconnect" }, { got[1].provider, got[1].prevState })
        assert(s:record(id, "a", "w", 1301, { state = "sent", postID = "1" }))
        assert(s:record(id, "d", "w", 1301, { state = "dead", errorCode = 403009, category = "auth_expired",
            reason = "not reconnected" }))
        assert.equal("unconfirmed", s:job(id).status) -- b: only the host's decision is left
        assert.same({}, assert(s:claim("w", 9e15, 60, 10)))
        -- an unconfirmed delivery with a resend time is claimed then (same idempotency key)
        assert(s:resolve(id, "b", "resend", 1400))
        got = assert(s:claim("w", 1400, 60, 10))
        assert.same({ "b", "queued", id .. ":b" }, { got[1].provider, got[1].prevState, got[1].idempotencyKey })
        assert(s:record(id, "b", "w", 1401, { state = "unconfirmed", nextAt = 1500 }))
        got = assert(s:claim("w", 1500, 60, 10))
        assert.same({ "b", "unconfirmed" }, { got[1].provider, got[1].prevState })
        assert(s:record(id, "b", "w", 1501, { state = "sent", postID = "2" }))
        assert.equal("partial", s:job(id).status)
        local ok, _, code = s:record(id, "a", "w", 1502, { state = "finished" })
        assert.same({ nil, "bad_input" }, { ok, code })
    end)

    it("keeps a postID (a notification's progress) of up to 64 KiB through retrying, dead, retry and resolve", function()
        local id = assert(s:enqueue(job({ providers = { "a", "b" } })))
        assert.equal(2, #assert(s:claim("w", 1000, 60, 10)))
        local big = '{"recipients":' .. ("x"):rep(65536 - 14)
        assert.equal(65536, #big)
        assert(s:record(id, "a", "w", 1001, { state = "retrying", nextAt = 1100, postID = big, category = "transient" }))
        local ok, err, code = s:record(id, "b", "w", 1001, { state = "retrying", nextAt = 1100, postID = big .. "x" })
        assert.same({ nil, "postID: 65537 bytes, at most 65536", "bad_input" }, { ok, err, code })
        ok, err, code = s:record(id, "b", "w", 1001, { state = "retrying", nextAt = 1100, postID = "\255" })
        assert.same({ nil, "postID: not UTF-8", "bad_input" }, { ok, err, code })
        assert(s:record(id, "b", "w", 1001, { state = "sent", postID = "9" }))
        local function claim_a(now) -- the claimed delivery a: its prevState, and its postID is big
            local got = assert(s:claim("w", now, 60, 10))
            assert.same({ 1, "a" }, { #got, got[1].provider })
            assert.is_true(got[1].postID == big, "postID of " .. #tostring(got[1].postID) .. " bytes")
            return got[1].prevState
        end
        assert.equal("retrying", claim_a(1100)) -- the claim hands it to the worker
        -- an outcome without a postID keeps it; dead, then retried and resolved, it stays
        assert(s:record(id, "a", "w", 1101, { state = "dead", errorCode = 403, category = "permission_missing" }))
        assert.is_true(by_provider(s:job(id)).a.postID == big)
        assert.equal(1, assert(s:retry(id, "a", 1200)))
        assert.equal("queued", claim_a(1200))
        assert(s:record(id, "a", "w", 1201, { state = "unconfirmed", nextAt = 0 }))
        assert(s:resolve(id, "a", "resend", 1300))
        assert.equal("queued", claim_a(1300))
        assert(s:record(id, "a", "w", 1301, { state = "sent", postID = "1,2,3" }))
        assert.same({ "1,2,3", "sent" }, { by_provider(s:job(id)).a.postID, s:job(id).status })
    end)

    it("writes a sending delivery's progress for its lease's holder only, extending the lease", function()
        local id = assert(s:enqueue(job({ providers = { "a" } })))
        assert.equal(1, #assert(s:claim("w", 1000, 60, 10)))
        local ok, err, code = s:progress(id, "a", "other", 1001, 60, '{"recipients":1}')
        assert.same({ nil, "lease_lost" }, { ok, code }, err)
        ok, err, code = s:progress(id, "a", "w", 1001, 60, ("x"):rep(65537))
        assert.same({ nil, "postID: 65537 bytes, at most 65536", "bad_input" }, { ok, err, code })
        assert(s:progress(id, "a", "w", 1030, 60, '{"recipients":1,"sending":{"1":1030}}'))
        local d = by_provider(s:job(id)).a
        assert.same({ "sending", '{"recipients":1,"sending":{"1":1030}}', 1090, "w" },
            { d.state, d.postID, d.leaseUntil, d.leaseOwner })
        assert(s:progress(id, "a", "w", 1031, 10, "{}")) -- a shorter lease never shortens it
        assert.equal(1090, by_provider(s:job(id)).a.leaseUntil)
        assert.equal(0, #assert(s:claim("x", 1089, 60, 10))) -- still this worker's
        assert(s:record(id, "a", "w", 1040, { state = "sent", postID = "m1" }))
        ok, err, code = s:progress(id, "a", "w", 1041, 60, "{}") -- sent: no longer sending
        assert.same({ nil, "lease_lost" }, { ok, code }, err)
        assert.equal("m1", by_provider(s:job(id)).a.postID)
    end)

    it("makes a UID's deliveries waiting for a reconnect to a provider due at once", function()
        local id = assert(s:enqueue(job()))
        local other = assert(s:enqueue(job({ UID = "u2" })))
        assert.equal(4, #assert(s:claim("w", 1000, 60, 10)))
        for _, j in ipairs({ id, other }) do
            for _, p in ipairs({ "twitter", "mastodon" }) do
                assert(s:record(j, p, "w", 1001, { state = "waiting_reconnect", nextAt = 1300, waitUntil = 9000,
                    category = "auth_expired" }))
            end
        end
        assert.equal(1, s:resume("u1", "twitter", 1100))
        assert.equal(0, s:resume("u1", "twitter", 1100)) -- already due
        local got = assert(s:claim("w", 1100, 60, 10))
        assert.same({ 1, id, "twitter", "waiting_reconnect" }, { #got, got[1].jobID, got[1].provider, got[1].prevState })
        assert.equal(0, s:resume("nobody", "twitter", 1100))
        assert.equal("bad_input", select(3, s:resume("", "twitter", 1100)))
    end)

    it("cancels a job, but not while a delivery is being sent", function()
        local id = assert(s:enqueue(job()))
        local got = assert(s:claim("w", 1000, 60, 1))
        assert.equal(1, #got)
        local other = got[1].provider == "twitter" and "mastodon" or "twitter"
        local n, err, code = s:cancel(id, 1010)
        assert.same({ nil, "job_sending" }, { n, code })
        assert.truthy(err:find("being sent", 1, true))
        assert.equal("queued", by_provider(s:job(id))[other].state) -- nothing changed
        assert.equal(2, s:cancel(id, 1061)) -- the lease ran out: a crashed worker's
        assert.equal("cancelled", s:job(id).status)
        assert.same({ nil, "lease_lost" }, { (s:record(id, "mastodon", "w", 1062, { state = "sent" })), "lease_lost" })
        assert.same({}, assert(s:claim("w", 5000, 60, 10)))
        assert.same({ nil, "job_unknown" }, { (s:cancel("nope", 1)), select(3, s:cancel("nope", 1)) })
    end)

    it("retries dead deliveries (attempts from 0), one provider or all", function()
        local id = assert(s:enqueue(job()))
        assert.equal(2, #assert(s:claim("w", 1000, 60, 10)))
        for _, p in ipairs({ "twitter", "mastodon" }) do
            assert(s:record(id, p, "w", 1001, { state = "dead", errorCode = 403009, category = "auth_expired",
                reason = "gone" }))
        end
        assert.equal("dead", s:job(id).status)
        assert.equal(1, s:retry(id, "twitter", 2000))
        local t = by_provider(s:job(id)).twitter
        assert.same({ "queued", 0, 2000 }, { t.state, t.attempts, t.nextAt })
        assert.is_nil(t.reason)
        assert.equal(1, s:retry(id, nil, 2000))
        local n, err, code = s:retry(id, nil, 2001)
        assert.same({ nil, "bad_state" }, { n, code })
        assert.truthy(err:find("no dead delivery", 1, true))
        assert.same({ nil, "job_unknown" }, { (s:retry("nope")), select(3, s:retry("nope")) })
    end)

    it("resolves only an unconfirmed delivery", function()
        local id = assert(s:enqueue(job()))
        local ok, err, code = s:resolve(id, "twitter", "sent", 1000)
        assert.same({ nil, "bad_state" }, { ok, code })
        assert.truthy(err:find("queued, not unconfirmed", 1, true))
        assert.same({ nil, "job_unknown" }, { (s:resolve(id, "vk", "sent")), select(3, s:resolve(id, "vk", "sent")) })
        assert.equal("bad_input", select(3, s:resolve(id, "twitter", "maybe")))
        assert.equal(2, #assert(s:claim("w", 1000, 60, 10)))
        assert(s:record(id, "twitter", "w", 1001, { state = "unconfirmed", errorCode = 504002, category = "transient" }))
        assert(s:record(id, "mastodon", "w", 1001, { state = "sent", postID = "9" }))
        assert.equal("unconfirmed", s:job(id).status)
        assert.is_true(s:resolve(id, "twitter", "sent", 1002))
        local t = by_provider(s:job(id)).twitter
        assert.same({ "sent", 1001 }, { t.state, t.sentAt })
        assert.is_nil(t.errorCode)
        assert.equal("sent", s:job(id).status)
    end)

    it("lists jobs newest first by UID and status, and prunes finished ones", function()
        local a = assert(s:enqueue(job({ now = 1000 })))
        local b = assert(s:enqueue(job({ now = 1001, UID = "u2" })))
        local c = assert(s:enqueue(job({ now = 1002 })))
        assert.equal(2, s:cancel(a, 1003))
        local l = assert(s:jobs{ UID = "u1" })
        assert.same({ c, a }, { l[1].jobID, l[2].jobID })
        assert.equal(2, #l[1].deliveries)
        assert.is_nil(l[1].params)
        assert.same({ a }, { s:jobs{ status = "cancelled" }[1].jobID })
        assert.equal(1, #s:jobs{ UID = "u1", status = "queued" })
        assert.equal(1, #s:jobs{ limit = 1 })
        assert.equal(3, #s:jobs())
        assert.equal(0, s:prune(1003)) -- changed at 1003: not before it
        assert.equal(1, s:prune(1004))
        assert.is_nil(s:job(a))
        assert.same({ b, c }, { s:job(b).jobID, s:job(c).jobID })
        assert.equal("4", E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
    end)

    it("two processes claiming at once never claim the same delivery", function()
        local ids = {}
        for i = 1, 60 do ids[i] = assert(s:enqueue(job({ providers = { "mastodon" } }))) end
        local script = K.path("claimer") .. ".lua"
        local f = assert(io.open(script, "wb"))
        f:write("package.cpath = " .. string.format("%q", K.ROOT .. "/" .. K.BUILD .. "/?.so;") .. " .. package.cpath\n",
            [[
local store = require("socialize.store")
local s = assert(store.open(arg[1], { plaintext = true }))
local n = 0
for _ = 1, 1000 do -- bounded
    local list = assert(s:claim(arg[2], 1000, 600, 3))
    if #list == 0 then break end
    for _, d in ipairs(list) do
        assert(s:record(d.jobID, d.provider, arg[2], 1001, { state = "sent", postID = arg[2] }))
        n = n + 1
    end
end
print(n)
]])
        f:close()
        local function cmd(w) return K.CHILD_LUA .. " " .. q(script) .. " " .. q(E.url) .. " " .. w end
        local out = run("(" .. cmd("A") .. " & " .. cmd("B") .. " & wait)")
        local a, b = out:match("^(%d+)%s+(%d+)$")
        assert.truthy(a and b, out)
        assert.equal(60, tonumber(a) + tonumber(b))
        assert.equal("60", E.raw("SELECT COUNT(*) FROM socialize_deliveries WHERE state = 'sent' AND attempts = 1"))
        assert.equal("60", E.raw("SELECT COUNT(*) FROM socialize_jobs WHERE status = 'sent'"))
    end)

    it("two processes enqueuing the same key at once make one job", function()
        local script = K.path("enqueuer") .. ".lua"
        local f = assert(io.open(script, "wb"))
        f:write("package.cpath = " .. string.format("%q", K.ROOT .. "/" .. K.BUILD .. "/?.so;") .. " .. package.cpath\n",
            [[
local store = require("socialize.store")
local s = assert(store.open(arg[1], { plaintext = true }))
local ids = {}
for i = 1, 20 do
    ids[assert(s:enqueue({ UID = "u1", method = "m", params = "{}", providers = { "a" }, key = "k" .. (i % 4),
        now = 1000 }))] = true
end
local n = 0
for _ in pairs(ids) do n = n + 1 end
print(n)
]])
        f:close()
        local function cmd() return K.CHILD_LUA .. " " .. q(script) .. " " .. q(E.url) end
        local out = run("(" .. cmd() .. " & " .. cmd() .. " & wait)")
        assert.equal("4\n4", out)
        assert.equal("4", E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        assert.equal("4", E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
    end)

    it("migrates a version 1 store to the outbox, keeping its connections", function()
        assert(s:put_connection({ UID = "u1", provider = "twitter", secrets = { token = "t" } }))
        s:close()
        E.raw("DROP TABLE socialize_deliveries; DROP TABLE socialize_jobs; DELETE FROM socialize_schema WHERE version = 2")
        s = assert(store.open(E.url, { plaintext = true }))
        assert.equal(2, s:info().schema)
        assert.equal("t", s:get_connection("u1", "twitter").secrets.token)
        assert(s:enqueue(job()))
    end)
end

describe("outbox store contract: SQLite #once", function()
    local E = sqlite_engine()
    contract(E)

    it("names a full store and writes no job without its deliveries (max_page_count as the disk limit)", function()
        local url = E.new_url()
        assert(store.open(url, { plaintext = true })):close()
        local pages = tonumber(E.raw("PRAGMA page_count"))
        local s = assert(store.open(url, { plaintext = true, maxPages = pages + 8 }))
        local big = '{"pad":"' .. ("x"):rep(3000) .. '"}'
        local n, id, err, code = 0, true, nil, nil
        while id and n < 100 do -- bounded: 8 more pages of 4 KiB fill long before
            n = n + 1
            id, err, code = s:enqueue(job({ params = big, providers = { "a", "b", "c" } }))
        end
        s:close()
        assert.equal("store_full", code)
        assert.truthy(err:find("full", 1, true))
        assert.truthy(n > 1 and n < 100, tostring(n))
        assert.equal(tostring(n - 1), E.raw("SELECT COUNT(*) FROM socialize_jobs"))
        assert.equal(tostring(3 * (n - 1)), E.raw("SELECT COUNT(*) FROM socialize_deliveries"))
    end)
end)

describe("outbox store contract: PostgreSQL #once", function()
    local E = { name = "postgresql" }
    local base
    K.use_postgres(function(url)
        base = url
        setmetatable(E, { __index = pg_engine(url) })
    end)
    contract(E)

    it("names a read-only database: reads work, writes change nothing", function()
        local url = E.new_url()
        local s = assert(store.open(url, { plaintext = true }))
        local id = assert(s:enqueue(job()))
        s:close()
        E.raw("ALTER DATABASE " .. E.db .. " SET default_transaction_read_only = on")
        s = assert(store.open(url, { plaintext = true }))
        assert.equal("queued", s:job(id).status)
        local r, err, code = s:enqueue(job())
        assert.same({ nil, "store_readonly" }, { r, code })
        assert.truthy(err:find("read-only", 1, true), err)
        assert.equal("store_readonly", select(3, s:claim("w", 1000, 60, 10)))
        assert.equal("store_readonly", select(3, s:cancel(id, 1000)))
        s:close()
        E.raw("ALTER DATABASE " .. E.db .. " SET default_transaction_read_only = off")
        s = assert(store.open(url, { plaintext = true }))
        assert.same({ "queued", 1 }, { s:job(id).status, #s:jobs() })
        s:close()
    end)

    it("skips a delivery another transaction has locked instead of waiting for it", function()
        local s = assert(store.open(E.new_url(), { plaintext = true }))
        local id = assert(s:enqueue(job()))
        local flag = K.path("locked") .. ".flag"
        local pid = run("setsid sh -c " .. q("(echo 'BEGIN;'; echo \"SELECT provider FROM socialize_deliveries"
            .. " WHERE provider = 'twitter' FOR UPDATE;\"; echo \"SELECT 'locked';\"; sleep 30) | psql -X -q -A -t "
            .. q(E.url)) .. " >" .. q(flag) .. " 2>&1 </dev/null & echo $!")
        assert.truthy(pid:match("^%d+$"), pid)
        local locked = false
        for _ = 1, 300 do -- bounded: 30 s
            local f = io.open(flag, "rb")
            local txt = f and f:read("*a") or ""
            if f then f:close() end
            if txt:find("locked", 1, true) then locked = true break end
            store.sleep(0.1)
        end
        local got, err = s:claim("w", 1000, 60, 10)
        run("kill -TERM -" .. pid)
        assert.is_true(locked)
        assert(got, err)
        assert.equal(1, #got)
        assert.same({ id, "mastodon" }, { got[1].jobID, got[1].provider })
        s:close()
        assert(base)
    end)
end)
