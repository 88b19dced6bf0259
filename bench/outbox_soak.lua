-- The outbox's soak (make soak, docs/PERFORMANCE.md "Queued delivery"):
-- DELIVERIES (default 100,000) queued deliveries to the sandbox's Mastodon,
-- which answers 5 % of the statuses with 503 and 0.5 % with 429 (a reset 1 s
-- later), on a SQLite file and on a throwaway PostgreSQL (spec/pgcluster.sh).
-- Measures: enqueues per second and their p99 latency; deliveries per
-- second with 1 worker process, then with 4 (each a client:work loop); the
-- sandbox's own rate for the same statuses without the queue (1 and 4
-- processes calling publishUserAction directly); the store's size. Passes
-- when every delivery is accounted for: sent, or retrying (waiting for its
-- backoff: attempt^4 s, so a delivery that failed three times waits 81 s),
-- none dead, none lost, none left sending, and at least 99 % sent, within
-- SOAK_SECONDS (default and at most 540: a sandbox lives 600 s) per store. OUTBOX_SOAK_WINDOW (default 20):
-- seconds of each rate measure. OUTBOX_SOAK_STORES: "postgresql,sqlite".
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local N = tonumber(os.getenv("DELIVERIES") or "100000")
-- each store's run (enqueue and delivery) within one sandbox's life (600 s, spec/helper.lua)
local LIMIT = math.min(tonumber(os.getenv("SOAK_SECONDS") or "540"), 540)
local WINDOW = tonumber(os.getenv("OUTBOX_SOAK_WINDOW") or "20")
local STORES = os.getenv("OUTBOX_SOAK_STORES") or "postgresql,sqlite"
local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local BUILD = os.getenv("BUILD") or "build/lua5.4"
local LUA = BUILD:find("luajit", 1, true) and "luajit" or BUILD:find("5.1", 1, true) and "lua5.1" or "lua5.4"
local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local USERS = 1000 -- a rate limit blocks one user, not the queue

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end
local function now() return core.now_ms() / 1000 end
local function sleep(s) os.execute(string.format("sleep %.2f", s)) end

local sb
local function new_sandbox() -- a fresh one for each part: a sandbox lives 600 s
    H.stop_all()
    sb = H.start_sandbox()
    H.configure(sb, { record = false, chaos = { mastodon = { boom = 0.05, ratelimit = 0.005, reset_s = 1 } } })
end
new_sandbox()
local dir = H.tmpdir .. "/outbox-soak-" .. os.time()
os.execute("mkdir -p " .. q(dir))

local function lit(v)
    local t = type(v)
    if t == "table" then
        local out = {}
        for k, x in pairs(v) do out[#out + 1] = "[" .. lit(k) .. "]=" .. lit(x) end
        return "{" .. table.concat(out, ",") .. "}"
    elseif t == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

local function config(url)
    local conns = {}
    for i = 1, USERS do
        -- an account each: a rate limit holds back that account's deliveries only
        conns["s" .. i] = { mastodon = { accessToken = "md-token-s" .. i, instance = sb.url("mastodon") } }
    end
    return { backend = "direct", allowPrivateNetworks = true, timeout = 5, retry = false, connections = conns,
             providers = { mastodon = {} }, store = url and { url = url, keys = { KEY } } or nil,
             outbox = { batch = 20 } }
end

-- a child process running `body` with `cfg` as its client's configuration;
-- it stops at the stop file or after `secs`, and writes its count to `out`
local CHILD = [[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local socialize = require("socialize")
local c = socialize.new(%s)
local stopfile, out, secs, mode = %q, %q, %d, %q
local stop, n = os.time() + secs, 0
for i = 1, 100000000 do
    if os.time() > stop then break end
    if mode == "work" or i %% 20 == 0 then -- (a work call runs up to 500 ms: 20 of them outlived a window)
        local f = io.open(stopfile)
        if f then f:close() break end
    end
    if mode == "work" then
        local sum = c:work(500)
        if sum then n = n + sum.sent end
        if sum and sum.claimed == 0 then os.execute("sleep 0.05") end
    else
        local res = c:publishUserAction({ UID = "s" .. (i %% 1000 + 1), userAction = { title = "direct " .. i } })
        if res then n = n + 1 end
    end
end
local f = io.open(out, "wb")
f:write(tostring(n))
f:close()
c:close()
]]

local kids = 0
local function spawn(cfg, mode, secs)
    kids = kids + 1
    local stopfile = dir .. "/stop"
    local out = dir .. "/out-" .. kids
    local script = dir .. "/child-" .. kids .. ".lua"
    local f = assert(io.open(script, "wb"))
    f:write(CHILD:format(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;", ROOT .. "/" .. BUILD .. "/?.so;",
        lit(cfg), stopfile, out, secs, mode))
    f:close()
    local pid = tonumber(run("exec " .. LUA .. " " .. q(script) .. " >" .. q(out .. ".log") .. " 2>&1 & echo $!"))
    return { pid = assert(pid), out = out }
end

local function stop_all(list)
    H.write(dir .. "/stop", "stop")
    for _ = 1, 100 do -- at most 10 s
        local any = false
        for _, k in ipairs(list) do
            local f = io.open("/proc/" .. k.pid .. "/stat")
            local st = f and f:read("*l") or ""
            if f then f:close() end
            if st ~= "" and not st:match("^%d+ %b() Z") then any = true end
        end
        if not any then break end
        sleep(0.1)
    end
    for _, k in ipairs(list) do os.execute("kill -9 " .. k.pid .. " 2>/dev/null") end
    os.remove(dir .. "/stop")
    local n = 0
    for _, k in ipairs(list) do n = n + (tonumber(H.read(k.out) or "") or 0) end
    return n
end

local report = {}
local function say(fmt, ...)
    local line = string.format(fmt, ...)
    print("outbox soak: " .. line)
    io.stdout:flush()
    report[#report + 1] = line
end

-- the sandbox alone: direct calls, no queue
for _, procs in ipairs({ 1, 4 }) do
    local list = {}
    for _ = 1, procs do list[#list + 1] = spawn(config(nil), "direct", WINDOW) end
    local t0 = now()
    sleep(WINDOW)
    local n = stop_all(list)
    say("sandbox alone, %d process%s calling publishUserAction: %.0f statuses/s (%d published in %.1f s)",
        procs, procs > 1 and "es" or "", n / (now() - t0), n, now() - t0)
end

-- n publishes queued through c, one call a job of one delivery, reported as kind's
-- enqueue (rate and latency); stops at the LIMIT seconds since t_start. Returns how many.
local function enqueue(c, kind, n, t_start)
    local lat = {}
    local t0 = now()
    for i = 1, n do
        local a = core.now_ms()
        assert(c:publishUserAction({ UID = "s" .. (i % USERS + 1), userAction = { title = "soak " .. i } },
            { deliver = "queued" }))
        lat[i] = core.now_ms() - a
        if now() - t_start > LIMIT then
            say("%s: enqueue stopped at the %d s limit after %d", kind, LIMIT, i)
            n = i
            break
        end
    end
    local secs = now() - t0
    table.sort(lat)
    say("%s: enqueue %d deliveries in %.1f s: %.0f/s, latency (a 1 ms clock) p50 %.0f ms, p99 %.0f ms, max %.0f ms",
        kind, n, secs, n / secs, lat[math.floor(n * 0.5)], lat[math.floor(n * 0.99)], lat[n])
    return n
end

local failed = false
local function soak(kind, url, count_sql, size_of)
    new_sandbox()
    local t_store = now()
    local c = socialize.new(config(url))
    assert(c:store())
    -- the store's own outboxSync (SQLite: the default 1, a FULL commit at most once a second)
    local sync = c:store():info().outboxSync
    N = enqueue(c, kind .. (kind == "SQLite" and ", outboxSync = " .. tostring(sync) .. " (default)" or ""), N, t_store)
    say("%s: store size with %d queued: %s", kind, N, size_of())
    local function states()
        local out = {}
        for state, n in run(count_sql):gmatch("(%a+)|(%d+)") do out[state] = tonumber(n) end
        return out
    end
    -- deliver: WINDOW seconds with 1 worker, WINDOW with 4, then the rest
    -- with whichever was faster
    local start = now()
    local function workers(procs, window, label)
        local before = states().sent or 0
        local list = {}
        for _ = 1, procs do list[#list + 1] = spawn(config(url), "work", LIMIT) end
        local w0, tail = now(), nil
        for _ = 1, LIMIT * 2 do -- bounded: LIMIT seconds
            sleep(0.5)
            local s = states()
            if window and now() - w0 >= window then break end
            if not window and (s.queued or 0) + (s.sending or 0) == 0 and not tail then
                tail = now()
                say("%s: all but %d delivered after %.0f s; the rest wait for their backoff", kind,
                    s.retrying or 0, tail - start)
            end
            if (s.queued or 0) + (s.sending or 0) + (s.retrying or 0) == 0 then break end
            if (tail and now() - tail > 30) or now() - t_store > LIMIT then break end -- 30 s of the backoff's tail
        end
        local n = (states().sent or 0) - before
        local secs = now() - w0
        stop_all(list)
        if label then say("%s: %s: %.0f deliveries sent/s (%d in %.1f s)", kind, label, n / secs, n, secs) end
        return n / secs
    end
    local r1 = workers(1, WINDOW, "1 worker")
    local r4 = workers(4, WINDOW, "4 workers")
    workers(r1 > r4 and 1 or 4, nil, nil)
    local s = states()
    local parts = {}
    for state, n in pairs(s) do parts[#parts + 1] = state .. " " .. n end
    table.sort(parts)
    say("%s: after %.0f s of delivery: %s", kind, now() - start, table.concat(parts, ", "))
    say("%s: store size with %d delivered: %s", kind, N, size_of())
    if (s.sent or 0) + (s.retrying or 0) ~= N or (s.sent or 0) < 0.99 * N then failed = true end
    c:close()
end

-- SQLite's enqueue with outboxSync = "full" (every commit fsynced) and "normal" (no fsync
-- by the enqueue) (docs/store.md "Durability") beside the soak's own below, which runs with
-- the default (1: a FULL commit at most once a second): the same publish, one call a job,
-- each on a file of its own in the same directory
local function enqueue_mode(n, sync)
    local file = dir .. "/soak-" .. sync .. ".db"
    local cfg = config("sqlite:" .. file)
    cfg.store.outboxSync = sync
    local c = socialize.new(cfg)
    assert(c:store())
    enqueue(c, 'SQLite, outboxSync = "' .. sync .. '"', n, now())
    c:close()
    for _, f in ipairs({ file, file .. "-wal", file .. "-shm" }) do os.remove(f) end
end

for kind in STORES:gmatch("[^,]+") do
    if kind == "sqlite" then
        enqueue_mode(math.min(N, 20000), "full")
        enqueue_mode(math.min(N, 20000), "normal")
        local file = dir .. "/soak.db"
        soak("SQLite", "sqlite:" .. file,
            "sqlite3 " .. q(file) .. " 'SELECT state, COUNT(*) FROM socialize_deliveries GROUP BY state'",
            function()
                local sz = 0
                for _, f in ipairs({ file, file .. "-wal" }) do
                    local h = io.open(f, "rb")
                    if h then sz = sz + h:seek("end") h:close() end
                end
                return string.format("%.1f MB (file and WAL)", sz / 1e6)
            end)
    elseif kind == "postgresql" then
        local out = run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " start")
        local pgdir, url = out:match("([^\n]+)\n([^\n]+)$")
        assert(url and url:find("^postgresql:"), out)
        local ok, err = pcall(soak, "PostgreSQL", url,
            "psql -X -q -A -t " .. q(url) .. " -c 'SELECT state, COUNT(*) FROM socialize_deliveries GROUP BY state'",
            function()
                return string.format("%.1f MB (the two tables with their indexes)", tonumber(run("psql -X -q -A -t "
                    .. q(url) .. " -c \"SELECT pg_total_relation_size('socialize_jobs') + "
                    .. "pg_total_relation_size('socialize_deliveries')\"")) / 1e6)
            end)
        run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(pgdir))
        assert(ok, err)
    end
end
H.stop_all()
print(string.format("outbox soak: %d passed, %d failed", failed and 0 or 1, failed and 1 or 0))
os.exit(failed and 1 or 0)
