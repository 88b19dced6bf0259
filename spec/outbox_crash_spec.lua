-- The outbox's crash test (issue 14, docs/delivery.md "What is tested"):
-- 1,000 publishes queued to the sandbox, worker processes running
-- client:work in a loop, one of them killed with SIGKILL at random points 20
-- times (and, besides, killing itself inside a store transaction: between a
-- send and the record of its outcome, and inside a claim), restarted each
-- time. At the end, from the sandbox's recorded requests and the store:
-- every delivery to a network with an idempotency key is `sent` and its post
-- was created exactly once; on the others a post was created at most once,
-- and a delivery whose post was created but not recorded is `unconfirmed`;
-- every job is there with all its deliveries, none left open. On SQLite (2
-- workers) and on PostgreSQL (4 workers); the odd-numbered workers (the one
-- that kills itself among them) are concurrent ones, as `socialize worker`
-- runs by default (client:work{ async, concurrency = BATCH } + client:poll),
-- the others blocking client:work loops. Bounded: every loop has a limit,
-- every child is killed at the end.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")

local JOBS = tonumber(os.getenv("SOCIALIZE_CRASH_JOBS") or "1000")
local KILLS = tonumber(os.getenv("SOCIALIZE_CRASH_KILLS") or "20")
local BATCH = 5
-- each job goes to one network with an idempotency key and one without, in turn
local PAIRS = { { "mastodon", "twitter" }, { "vkontakte", "facebook" }, { "mastodon", "telegram" },
                { "vkontakte", "linkedin" }, { "mastodon", "facebook" }, { "vkontakte", "twitter" } }
-- the request that creates the post, per network
local CREATE = { mastodon = "/api/v1/statuses", vkontakte = "/method/wall.post", twitter = "/2/tweets",
                 facebook = "/feed", telegram = "/sendMessage", linkedin = "/rest/posts" }

local function sleep(s) os.execute("sleep " .. string.format("%.2f", s)) end

-- a Lua literal of a table of strings, numbers and booleans
local function lit(v)
    local t = type(v)
    if t == "table" then
        local out = {}
        for k, x in pairs(v) do out[#out + 1] = "[" .. lit(k) .. "]=" .. lit(x) end
        table.sort(out)
        return "{" .. table.concat(out, ",") .. "}"
    elseif t == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

local function idempotent(name)
    return core.provider_info(name).idempotency.kind ~= "none"
end

-- the state of a process: "alive", or nil once it is gone (a zombie counts as gone)
local function alive(pid)
    local f = io.open("/proc/" .. pid .. "/stat")
    if not f then return nil end
    local s = f:read("*l") or ""
    f:close()
    local state = s:match("^%d+ %b() (%a)")
    return state and state ~= "Z" and "alive" or nil
end

local function kill(pid) os.execute("kill -9 " .. pid .. " 2>/dev/null") end

-- the worker: client:work in a loop until the stop file appears (or its
-- time limit). CRASH=record:N:NET:MARKER / claim:N:any:MARKER: it kills
-- itself (SIGKILL) inside the Nth such store transaction (records: of a post
-- sent to a network with an idempotency key, NET "idempotent", or without,
-- "plain"), before its COMMIT, after writing the MARKER file.
local WORKER = [[
local cfg, stopfile, limit = %s, %q, %d
local c = socialize.new(cfg)
local st = assert(c:store())
local crash = os.getenv("CRASH")
if crash then
    -- net: "idempotent" / "plain": only the records of a sent post to such a network count
    local kind, n, net, marker = crash:match("^(%%a+):(%%d+):(%%a+):(.+)$")
    n = tonumber(n)
    local core = require("socialize.core")
    local idx = getmetatable(st).__index
    local inside, seen = false, 0
    local function leave(...) inside = false return ... end
    local function counts(provider, o) -- a sent post to a network of that kind
        return type(o) == "table" and o.state == "sent"
            and (core.provider_info(provider).idempotency.kind ~= "none") == (net == "idempotent")
    end
    local orig = idx[kind]
    idx[kind] = function(...)
        local a = { ... } -- record(st, jobID, provider, worker, now, outcome)
        inside = kind ~= "record" or counts(a[3], a[6])
        return leave(orig(...))
    end
    if kind == "record" then -- a blocking worker records its batch's outcomes together
        local many = idx.record_many
        idx.record_many = function(...)
            local a = { ... } -- record_many(st, worker, now, outcomes)
            for _, o in ipairs(type(a[4]) == "table" and a[4] or {}) do
                if counts(o.provider, o) then inside = true end
            end
            return leave(many(...))
        end
    end
    st:_before_commit(function()
        if not inside then return true end
        seen = seen + 1
        if seen < n then return true end
        local f = io.open("/proc/self/stat")
        local pid = f:read("*l"):match("^(%%d+)")
        f:close()
        f = io.open(marker, "wb")
        f:write(kind)
        f:close()
        os.execute("kill -9 " .. pid)
        return true
    end)
end
local stop = os.time() + limit
-- CONCURRENT=n: the concurrent worker of `socialize worker` (work{ async } + poll, n in flight)
local conc = tonumber(os.getenv("CONCURRENT") or "")
local wopts = conc and { async = true, concurrency = conc } or nil
for _ = 1, 1000000 do
    if os.time() > stop then break end
    local f = io.open(stopfile)
    if f then f:close() break end
    if conc then
        local sum = c:work(50, wopts)
        local inflight = c:poll(0)
        if sum and (sum.claimed == 0 or inflight >= conc) then
            if inflight == 0 then os.execute("sleep 0.1") else c:poll(100) end
        end
    else
        local sum = c:work(300)
        if sum and sum.claimed == 0 then os.execute("sleep 0.1") end
    end
end
for _ = 1, 100 do if c:poll(100) == 0 then break end end
c:close()
]]

local function crash_test(url, workers, get_sb)
    local sb = get_sb()
    local conn = H.sandbox_connection(sb)
    local cfg = { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
                  timeout = 1, store = { url = url, keys = { K.KEY } },
                  connections = { u1 = conn, u2 = conn, u3 = conn },
                  outbox = { lease = 1, batch = BATCH } }
    local c = require("socialize").new(cfg)
    local st = assert(c:store())
    -- 8 ms a request per worker: the deliveries last at least 2 * JOBS * 8 ms
    -- (16 s) whatever the machine, long enough for every kill to land in them
    local delay = {}
    for net in pairs(CREATE) do delay[net] = 8 * workers end
    H.configure(sb, { delay_ms = delay })

    -- 1. the queue
    local jobs = {}
    for i = 1, JOBS do
        local pair = PAIRS[(i - 1) % #PAIRS + 1]
        local tag = string.format("job%05dz", i)
        local res = assert(c:publishUserAction({ UID = "u" .. (i % 3 + 1), userAction = { title = "Crash test " .. tag },
            enabledProviders = pair[1] .. "," .. pair[2] }, { deliver = "queued" }))
        jobs[tag] = { id = res.jobID, providers = pair }
    end

    -- 2. the workers, killed and restarted
    local dir = H.tmpdir .. "/crash-" .. math.random(1, 1e9)
    os.execute("mkdir -p " .. K.q(dir))
    local stopfile = dir .. "/stop"
    local script = K.script("crash-worker", WORKER:format(lit(cfg), stopfile, 150))
    local pids, starts = {}, 0
    local function start(i, crash)
        starts = starts + 1
        local env = crash and ("CRASH=" .. K.q(crash) .. " ") or ""
        if i % 2 == 1 then env = env .. "CONCURRENT=" .. BATCH .. " " end
        local pid = K.run(env .. "exec " .. K.CHILD_LUA .. " " .. K.q(script) .. " >>" .. K.q(dir .. "/w" .. i .. ".log")
            .. " 2>&1 & echo $!")
        pids[i] = assert(tonumber(pid), pid)
    end
    local function open_jobs()
        local n = 0
        for _, j in ipairs(assert(st:jobs({ limit = JOBS }))) do
            if j.status ~= "sent" and j.status ~= "unconfirmed" then n = n + 1 end
        end
        return n
    end
    for i = 1, workers do start(i) end
    local ok, err = pcall(function()
        local kills, pending_at = 0, {}
        -- inside a transaction: between a send and the record of its outcome
        -- (twice), then inside a claim; each restarted
        local function self_kill(kind)
            local marker = dir .. "/crashed-" .. kind:gsub(":", "-")
            kill(pids[1])
            start(1, kind .. ":" .. marker)
            local died
            for _ = 1, 200 do -- at most 20 s
                if not alive(pids[1]) then died = true break end
                sleep(0.1)
            end
            if not died then kill(pids[1]) end
            assert(H.read(marker), "the worker did not kill itself inside a " .. kind .. " transaction: " .. marker)
            pending_at[#pending_at + 1] = open_jobs()
            start(1)
        end
        local SELF = { [7] = "record:2:idempotent", [14] = "record:3:plain", [KILLS] = "claim:2:any" }
        for k = 1, KILLS do
            sleep(0.1 + math.random() * 0.2)
            local i = math.random(1, workers)
            kill(pids[i])
            kills = kills + 1
            local open = open_jobs()
            pending_at[#pending_at + 1] = open
            assert.truthy(open > 0, "kill " .. k .. " came after the last delivery")
            start(i)
            if SELF[k] then self_kill(SELF[k]) end
        end
        print(string.format("\ncrash test (%s, %d workers): %d kills, %d self-kills; open jobs at each kill: %s",
            url:match("^%a+"), workers, kills, 3, table.concat(pending_at, " ")))
        -- 3. the rest delivered, the crashed leases taken over (bounded)
        local t0 = os.time()
        for i = 1, 240 do -- at most about 2 minutes
            local open = open_jobs()
            if open == 0 then break end
            if os.getenv("SOCIALIZE_CRASH_VERBOSE") and i % 10 == 0 then
                print(string.format("  %3d s: %d jobs open", os.time() - t0, open))
            end
            sleep(0.5)
        end
    end)
    H.write(stopfile, "stop")
    for _ = 1, 50 do
        local any = false
        for i = 1, workers do if alive(pids[i]) then any = true end end
        if not any then break end
        sleep(0.1)
    end
    for i = 1, workers do kill(pids[i]) end
    H.configure(sb, { delay_ms = {} })
    assert(ok, err)

    -- 4. what the networks got
    local created, sends, keys = {}, {}, {} -- tag..network -> posts created / create requests / idempotency key
    for _, r in ipairs(H.requests(sb)) do
        local path = CREATE[r.network]
        if path and r.method == "POST" and (r.path or ""):sub(-#path) == path then
            local tag = (r.body or ""):match("job%d%d%d%d%dz")
            assert(tag and jobs[tag], "a post of no job: " .. tostring(r.body))
            local k = tag .. " " .. r.network
            sends[k] = (sends[k] or 0) + 1
            if idempotent(r.network) then -- each send of a delivery carries the same key
                local key = r.network == "mastodon" and r.headers["idempotency-key"] or (r.body or ""):match("guid=([^&]+)")
                assert.truthy(key, k .. ": no idempotency key")
                assert.equal(keys[k] or key, key, k)
                keys[k] = key
            end
            if r.status and r.status < 300 and not r.deduplicated then created[k] = (created[k] or 0) + 1 end
        end
    end

    -- 5. the store: every job, every delivery
    local counts = { sent = 0, unconfirmed = 0, resent = 0, posted_unconfirmed = 0 }
    local n = 0
    for tag, want in pairs(jobs) do
        n = n + 1
        local j = assert(c:job(want.id))
        local names = { j.deliveries[1] and j.deliveries[1].provider, j.deliveries[2] and j.deliveries[2].provider }
        table.sort(names)
        local wanted = { want.providers[1], want.providers[2] }
        table.sort(wanted)
        assert.same({ tag, wanted }, { tag, names }) -- its two deliveries, no more
        local status = "sent"
        for _, d in ipairs(j.deliveries) do
            if d.state == "unconfirmed" then status = "unconfirmed" end
            local k = tag .. " " .. d.provider
            local posts = created[k] or 0
            if idempotent(d.provider) then
                assert.same({ k, "sent", 1 }, { k, d.state, posts })
                assert.truthy(d.postID, k)
                if (sends[k] or 0) > 1 then counts.resent = counts.resent + 1 end
            else
                assert.truthy(d.state == "sent" or d.state == "unconfirmed", k .. ": " .. d.state)
                assert.truthy(posts <= 1, k .. ": " .. posts .. " posts")
                assert.equal(posts, sends[k] or 0, k) -- never sent twice
                if d.state == "sent" then assert.equal(1, posts, k) end
                if d.state == "unconfirmed" and posts == 1 then counts.posted_unconfirmed = counts.posted_unconfirmed + 1 end
            end
            assert.is_nil(d.leaseOwner, k)
            counts[d.state] = counts[d.state] + 1
        end
        assert.equal(status, j.status, tag) -- the job's status sums up its deliveries
    end
    assert.equal(JOBS, n)
    -- each kill orphans at most one claim of BATCH deliveries (or BATCH in flight)
    assert.truthy(counts.unconfirmed <= (KILLS + 3) * BATCH, counts.unconfirmed)
    -- the self-kills after a sent post: resent with its key (and answered with
    -- the first post), and posted but not recorded (so unconfirmed)
    assert.truthy(counts.resent >= 1 and counts.posted_unconfirmed >= 1, counts.resent .. " " .. counts.posted_unconfirmed)
    print(string.format("crash test: %d deliveries sent, %d unconfirmed (posted or not, never twice), "
        .. "%d of them posted; %d resent with their idempotency key; %d worker starts", counts.sent, counts.unconfirmed,
        counts.posted_unconfirmed, counts.resent, starts))
    c:close()
end

describe("the outbox under kill -9 #once", function()
    local sb
    H.use_sandbox(function(s) sb = s end)

    it("on SQLite, 2 workers: nothing lost, nothing sent twice", function()
        crash_test(K.db("crash"), 2, function() return sb end)
    end)

    describe("on PostgreSQL", function()
        local base
        K.use_postgres(function(url) base = url end)
        it("4 workers: nothing lost, nothing sent twice", function()
            crash_test(base, 4, function() return sb end)
        end)
    end)
end)
