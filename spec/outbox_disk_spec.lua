-- The outbox on a real full disk and a real read-only file system (issue
-- 14's bad input): a small tmpfs mounted by the test (it runs as root, as
-- `make test` does), filled by enqueues, grown again, remounted read-only
-- and writable. Every job is written whole or not at all, every refusal is
-- named, nothing is sent while the store cannot record it, and nothing is
-- lost once the disk is usable again. The mount is always undone.
local H = require("spec.helper")
local K = require("spec.connect_kit")

local UA = { title = "Level 3 done", linkBack = "https://game.example/l3" }

-- a shell command that must succeed: its output
local function sh(cmd)
    local out = K.run(cmd .. "; echo \"rc=$?\"")
    assert(tonumber(out:match("rc=(%d+)$")) == 0, cmd .. ": " .. out)
    return out
end

-- a real tmpfs of `size` mounted for each test of the enclosing describe
-- (needs root: make test runs as root) and always unmounted after it:
-- { dir = function, sh, mount(options) }
local function use_tmpfs(prefix, size)
    local fs = { sh = sh }
    local dir
    before_each(function()
        dir = H.tmpdir .. "/" .. prefix .. "-" .. math.random(1, 1e9)
        sh("mkdir -p " .. K.q(dir))
        sh("mount -t tmpfs -o size=" .. size .. ",mode=0700 tmpfs " .. K.q(dir))
    end)
    after_each(function()
        K.run("umount -l " .. K.q(dir))
        K.run("rmdir " .. K.q(dir))
    end)
    function fs.dir() return dir end
    function fs.mount(opts) sh("mount -o remount," .. opts .. " " .. K.q(dir)) end
    return fs
end

describe("the outbox on a real disk that fills up or turns read-only #once", function()
    local sb, dir
    H.use_sandbox(function(s) sb = s end)

    local fs = use_tmpfs("disk", "320k")
    local mount = fs.mount
    before_each(function() dir = fs.dir() end)

    local function sent_statuses()
        return #K.requests(sb, "/api/v1/statuses")
    end

    local function client(url)
        return K.client(sb, nil, nil, url, { connections = { u1 = H.sandbox_connection(sb) } })
    end

    local function publish(c, ua)
        return c:publishUserAction({ UID = "u1", userAction = ua or UA, enabledProviders = "mastodon,telegram" },
            { deliver = "queued" })
    end

    it("a full disk: the refused enqueue leaves nothing, nothing is claimed or sent, all delivered once it has room",
        function()
            local url = "sqlite:" .. dir .. "/full.db"
            local c = client(url)
            local big = { title = "Level 3 done", description = ("x"):rep(3000) }
            local ok, res, err = 0, true, nil
            for _ = 1, 1000 do -- bounded: 320 KiB fill long before
                res, err = publish(c, big)
                if not res then break end
                ok = ok + 1
            end
            assert.is_nil(res)
            assert.same({ 500001, "store_full" }, { err.errorCode, err.error })
            assert.truthy(err.errorDetails:find("full", 1, true), err.errorDetails)
            assert.truthy(ok >= 1 and ok < 1000, tostring(ok))
            local jobs = assert(c:jobs({ limit = 1000 })).jobs
            assert.equal(ok, #jobs) -- the refused one left nothing
            for _, j in ipairs(jobs) do
                assert.same({ "queued", 2 }, { j.status, #j.deliveries })
            end
            -- a claim may still fit (rows change in place) while its outcomes
            -- do not: the sends' outcomes are kept in memory, named, and no
            -- further claim is made while the store refuses them
            local before = sent_statuses()
            local w, werr = c:work(2000)
            assert.is_nil(w)
            assert.same({ 500001, "store_full" }, { werr.errorCode, werr.error })
            local kept = werr.unrecorded or 0
            local sent_now = sent_statuses() - before
            -- on this file system the claim fits and the outcomes do not (5 of 6 claimed)
            assert.truthy(kept > 0, "the claim was refused: this case is not reached")
            assert.equal(kept, werr.summary.claimed) -- every claimed one kept, none lost
            local r, cerr = c:cancel(jobs[#jobs].jobID)
            assert.is_nil(r)
            assert.truthy(cerr.error == "store_full" or cerr.error == "job_sending", cerr.error)
            -- still full: the kept outcomes are refused again, nothing claimed or sent
            w, werr = c:work(2000)
            assert.same({ nil, "store_full" }, { w, werr.error })
            assert.equal(kept, werr.unrecorded or 0)
            assert.equal(before + sent_now, sent_statuses())
            -- room again: the kept outcomes recorded first, then the rest sent;
            -- each network got each job once
            mount("size=8m")
            local sum = assert(c:work(10000))
            assert.same({ ok * 2, 0, 0, kept }, { sum.sent, sum.dead, sum.unconfirmed, sum.recorded or 0 })
            assert.equal(before + ok, sent_statuses())
            for _, j in ipairs(assert(c:jobs({ limit = 1000 })).jobs) do
                assert.equal("sent", j.status)
                for _, d in ipairs(j.deliveries) do assert.truthy(d.postID, j.jobID .. " " .. d.provider) end
            end
            assert(publish(c)) -- and the store takes new jobs
            c:close()
        end)

    it("a read-only file system: jobs readable, every write refused by name, delivered once writable", function()
        local url = "sqlite:" .. dir .. "/ro.db"
        local c = client(url)
        local job = assert(publish(c))
        c:close() -- a clean close: the WAL checkpointed and removed
        mount("ro")
        local before = sent_statuses()
        c = client(url)
        assert.same({ "queued", 1 }, { assert(c:job(job.jobID)).status, #assert(c:jobs()).jobs })
        local r, err = publish(c)
        assert.is_nil(r)
        assert.same({ 500001, "store_readonly" }, { err.errorCode, err.error })
        assert.truthy(err.errorDetails:find("read-only", 1, true), err.errorDetails)
        r, err = c:work(1000)
        assert.same({ nil, "store_readonly" }, { r, err.error })
        r, err = c:cancel(job.jobID)
        assert.same({ nil, "store_readonly" }, { r, err.error })
        assert.equal(before, sent_statuses())
        c:close()
        mount("rw")
        c = client(url)
        assert.equal(2, assert(c:work(5000)).sent)
        assert.equal(before + 1, sent_statuses())
        assert.equal("sent", assert(c:job(job.jobID)).status)
        c:close()
    end)

    it("read-only after a crash: the -wal's commits are read; without its -shm the store is refused by name", function()
        local url = "sqlite:" .. dir .. "/crash.db"
        local path = K.script("disk-crash", [[
local c = socialize.new { backend = "direct", store = { url = arg[1], keys = { arg[2] } },
    providers = { mastodon = { instance = "https://m.example" } },
    connections = { u1 = { mastodon = { token = "t" } } } }
for i = 1, 2 do
    local r = assert(c:publishUserAction({ UID = "u1", userAction = { title = "crash " .. i },
        enabledProviders = "mastodon" }, { deliver = "queued" }))
    io.write(r.jobID, " ")
end
os.exit(0, false) -- no close: the -wal and -shm files stay, as after a kill -9
]])
        local ids = K.run(K.CHILD_LUA .. " " .. K.q(path) .. " " .. K.q(url) .. " " .. K.q(K.KEY))
        assert.matches("^%x+ %x+$", ids)
        assert.equal("crash.db\ncrash.db-shm\ncrash.db-wal", K.run("ls " .. K.q(dir)))
        mount("ro")
        local c = client(url)
        local jobs = assert(c:jobs()).jobs
        assert.equal(2, #jobs) -- both commits, read from the -wal
        local r, err = publish(c)
        assert.same({ nil, "store_readonly" }, { r, err.error })
        c:close()
        -- the -shm gone (say, copied without it): its -wal cannot be read there
        mount("rw")
        sh("rm " .. K.q(dir .. "/crash.db-shm"))
        mount("ro")
        c = client(url)
        r, err = c:jobs()
        assert.is_nil(r)
        assert.same({ 500001, "store_readonly" }, { err.errorCode, err.error })
        assert.truthy(err.errorDetails:find("-wal", 1, true), err.errorDetails)
        c:close()
        mount("rw") -- writable again: nothing was lost
        c = client(url)
        assert.equal(2, #assert(c:jobs()).jobs)
        c:close()
    end)
end)

-- The store opened on a read-only file system by a path SQLite reads in its
-- own way: through a symlink (SQLite keeps the -wal and -shm files by the
-- file the link names), a path starting with "//" (in a file: URI, the start
-- of a host name), and bytes a URI reserves.
describe("the SQLite store on a read-only file system: odd paths #once", function()
    local store = require("socialize.store")
    local dir

    local fs = use_tmpfs("rofs", "1m")
    local mount = fs.mount
    before_each(function() dir = fs.dir() end)

    local function token(url)
        local s, err, name = store.open(url, { keys = { K.KEY } })
        if not s then return nil, name, err end
        local r, gerr, gname = s:get_connection("u", "twitter")
        s:close()
        if not r then return nil, gname, gerr end
        return r.secrets.accessToken
    end

    it("through a symlink: its target's -wal without -shm refused by name, never its older checkpoint read", function()
        local s = assert(store.open("sqlite:" .. dir .. "/real.db", { keys = { K.KEY } }))
        assert(s:put_connection({ UID = "u", provider = "twitter", account = "a", secrets = { accessToken = "v1-checkpointed" } }))
        s:close() -- checkpointed: the file holds v1
        local path = K.script("rofs-crash", [[
local st = assert(require("socialize.store").open(arg[1], { keys = { arg[2] } }))
assert(st:put_connection({ UID = "u", provider = "twitter", account = "a", secrets = { accessToken = "v2-in-the-wal" } }))
os.exit(0, false) -- no close: v2 only in the -wal
]])
        assert.equal("", K.run(K.CHILD_LUA .. " " .. K.q(path) .. " " .. K.q("sqlite:" .. dir .. "/real.db") .. " " .. K.q(K.KEY)))
        sh("ln -s real.db " .. K.q(dir .. "/link.db"))
        mount("ro")
        assert.same({ "v2-in-the-wal" }, { token("sqlite:" .. dir .. "/link.db") }) -- the -wal read, by the link
        mount("rw")
        sh("rm " .. K.q(dir .. "/real.db-shm"))
        mount("ro")
        for _, p in ipairs({ "/real.db", "/link.db" }) do
            local v, name, err = token("sqlite:" .. dir .. p)
            assert.same({ nil, "store_readonly" }, { v, name }, p)
            assert.truthy(err:find("-wal", 1, true), err)
        end
        mount("rw")
        assert.equal("v2-in-the-wal", token("sqlite:" .. dir .. "/link.db"))
    end)

    it("paths starting with //, through ./ and a symlink, with % ? # space and UTF-8: each read", function()
        local names = { "plain.db", "pct%41x.db", "q?x#y.db", "sp ace.db", "\195\169t\195\169.db" }
        for _, n in ipairs(names) do
            local s = assert(store.open("sqlite:" .. dir .. "/" .. n, { keys = { K.KEY } }))
            assert(s:put_connection({ UID = "u", provider = "twitter", account = "a", secrets = { accessToken = "tok " .. n } }))
            s:close()
        end
        sh("ln -s plain.db " .. K.q(dir .. "/link.db"))
        mount("ro")
        assert.equal("/", dir:sub(1, 1))
        for _, n in ipairs(names) do
            for _, prefix in ipairs({ dir .. "/", "/" .. dir .. "/", dir .. "/./" }) do
                assert.same({ "tok " .. n }, { token("sqlite:" .. prefix .. n) }, prefix .. n)
            end
        end
        assert.same({ "tok plain.db" }, { token("sqlite:/" .. dir .. "/link.db") })
        local none, _, name = store.open("sqlite:" .. dir .. "/none.db", { keys = { K.KEY } })
        assert.same({ nil, "store_io" }, { none, name }) -- no such file: it cannot be made there
    end)
end)

describe("the outbox when PostgreSQL goes away in the middle of a batch #once", function()
    local sb, base, n = nil, nil, 0
    H.use_sandbox(function(s) sb = s end)
    K.use_postgres(function(url) base = url end)

    local function pg(action)
        local dir = assert(base:match("host=([^&]+)"))
        local out = K.run("sh " .. K.q(K.ROOT .. "/spec/pgcluster.sh") .. " " .. action .. " " .. K.q(dir)
            .. "; echo rc=$?")
        assert(out:match("rc=0$"), action .. ": " .. out)
    end

    it("sent deliveries keep their outcomes in memory and record them once it is back; none sent twice", function()
        n = n + 1
        K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("CREATE DATABASE gone" .. n))
        local url = (base:gsub("/postgres%?", "/gone" .. n .. "?"))
        local responses, killed = 0, false
        local c = K.client(sb, nil, nil, url, {
            connections = { u1 = H.sandbox_connection(sb) },
            log = function(ev) -- the server stops right after the third post's reply
                if ev.event == "response" then
                    responses = responses + 1
                    if responses == 3 and not killed then
                        killed = true
                        pg("kill")
                    end
                end
            end })
        local ids = {}
        for i = 1, 6 do
            ids[i] = assert(c:publishUserAction({ UID = "u1", userAction = { title = "gone " .. i },
                enabledProviders = "mastodon" }, { deliver = "queued" })).jobID
        end
        local before = #K.requests(sb, "/api/v1/statuses")
        local w, err = c:work(10000)
        assert.is_true(killed)
        assert.is_nil(w)
        assert.equal(500001, err.errorCode)
        assert.equal("store_gone", err.error)
        local kept = err.unrecorded
        assert.truthy(kept and kept >= 3, tostring(kept))
        local posted = #K.requests(sb, "/api/v1/statuses") - before
        assert.equal(kept, posted) -- every post sent is kept, none other sent
        -- still gone: nothing claimed, nothing sent
        w, err = c:work(2000)
        assert.same({ nil, "store_gone", kept }, { w, err.error, err.unrecorded })
        assert.equal(before + posted, #K.requests(sb, "/api/v1/statuses"))
        pg("up")
        local sum = assert(c:work(10000))
        assert.same({ 6, kept, 0, 0 }, { sum.sent, sum.recorded, sum.unconfirmed, sum.error })
        assert.equal(before + 6, #K.requests(sb, "/api/v1/statuses")) -- each job posted once
        for _, id in ipairs(ids) do
            local j = assert(c:job(id))
            assert.equal("sent", j.status)
            assert.truthy(j.deliveries[1].postID)
        end
        c:close()
    end)
end)
