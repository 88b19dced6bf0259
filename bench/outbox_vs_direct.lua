-- Queued delivery against the direct call, side by side in one run (issue 14:
-- "delivery limited by the sandbox, not the queue"; docs/PERFORMANCE.md
-- "Queued delivery"). Against one sandbox (no faults), with the same
-- configuration and the same params (a status to the sandbox's Mastodon, one
-- account per user):
--   * direct: P processes calling publishUserAction for WINDOW seconds;
--   * worker: P processes running client:work(500) for WINDOW seconds on
--     deliveries enqueued beforehand (one job of one delivery each);
-- for P = 1 and 4, interleaved, REPS times; then the instructions per
-- direct call and per delivery (callgrind, the client process only: the
-- difference between K and 2K operations, so the start-up cancels out).
-- Stores: a SQLite file on tmpfs (/dev/shm: the statements' cost, no fsync)
-- and a throwaway PostgreSQL (spec/pgcluster.sh).
-- env: OVD_STORES ("sqlite,postgresql"), OVD_WINDOW (8 s), OVD_REPS (2),
-- OVD_IR (300: K; 0 skips callgrind), OVD_BATCH (20, config.outbox.batch).
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local STORES = os.getenv("OVD_STORES") or "sqlite,postgresql"
local WINDOW = tonumber(os.getenv("OVD_WINDOW") or "8")
local REPS = tonumber(os.getenv("OVD_REPS") or "2")
local K = tonumber(os.getenv("OVD_IR") or "300")
local BATCH = tonumber(os.getenv("OVD_BATCH") or "20")
local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local BUILD = os.getenv("BUILD") or "build/lua5.4"
local LUA = BUILD:find("luajit", 1, true) and "luajit" or BUILD:find("5.1", 1, true) and "lua5.1" or "lua5.4"
local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local USERS = 1000

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end
local function now() return core.now_ms() / 1000 end

local sb = H.start_sandbox()
H.configure(sb, { record = false })
local dir = H.tmpdir .. "/outbox-vs-direct-" .. os.time()
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
        conns["s" .. i] = { mastodon = { accessToken = "md-token-s" .. i, instance = sb.url("mastodon") } }
    end
    return { backend = "direct", allowPrivateNetworks = true, timeout = 5, retry = false, connections = conns,
             providers = { mastodon = {} }, store = { url = url, keys = { KEY } }, outbox = { batch = BATCH } }
end

-- A child: `mode` ("direct" or "work") for `secs` seconds (or, with
-- count > 0, `count` operations: direct calls, or deliveries drained);
-- writes "<operations> <seconds> <CPU ticks>" to `out`, timed (and its own
-- CPU time counted) after its set-up.
local CHILD = [[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local socialize = require("socialize")
local core = require("socialize.core")
local c = socialize.new(%s)
assert(c:store())
local out, secs, mode, count, id = %q, %s, %q, %d, %d
local function cpu() -- this process's CPU time in clock ticks (utime + stime)
    local f = io.open("/proc/self/stat")
    local line = f and f:read("*l") or ""
    if f then f:close() end
    local u, s = line:match("^%%d+ %%(.*%%) %%S+" .. string.rep(" %%S+", 10) .. " (%%d+) (%%d+)")
    return (tonumber(u) or 0) + (tonumber(s) or 0)
end
local c0 = cpu()
local t0 = core.now_ms()
local stop, n = t0 + secs * 1000, 0
for i = 1, 100000000 do
    if count > 0 and n >= count then break end
    if count == 0 and core.now_ms() >= stop then break end
    if mode == "work" then
        local sum = assert(c:work(500))
        n = n + sum.sent
        if sum.claimed == 0 then
            if count > 0 then break end
            os.execute("sleep 0.02")
        end
    else
        local res = c:publishUserAction({ UID = "s" .. ((i + id * 250) %% 1000 + 1),
            userAction = { title = "status " .. id .. "-" .. i } })
        if res and res.errorCode == 0 then n = n + 1 end
    end
end
local f = io.open(out, "wb")
f:write(string.format("%%d %%.3f %%d", n, (core.now_ms() - t0) / 1000, cpu() - c0))
f:close()
c:close()
]]

local kids = 0
local function script(url, mode, secs, count, id)
    kids = kids + 1
    local out = dir .. "/out-" .. kids
    local file = dir .. "/child-" .. kids .. ".lua"
    local f = assert(io.open(file, "wb"))
    f:write(CHILD:format(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;", ROOT .. "/" .. BUILD .. "/?.so;",
        lit(config(url)), out, tostring(secs), mode, count, id))
    f:close()
    return file, out
end

local function result(out)
    local n, s, c = (H.read(out) or ""):match("^(%d+) ([%d.]+) (%d+)$")
    return tonumber(n) or 0, tonumber(s) or 0, tonumber(c) or 0
end

-- CPU time (issue 14: who takes the two cores?). Every process's
-- utime + stime, its ppid and the cutime + cstime of the children it reaped,
-- read from /proc/PID/stat in one pass; in clock ticks.
local TCK = tonumber(run("getconf CLK_TCK")) or 100
local NPROC = tonumber(run("nproc")) or 1
local function snapshot()
    local p = assert(io.popen("cat /proc/[0-9]*/stat 2>/dev/null"))
    local t = {}
    for line in p:lines() do
        local pid, comm, rest = line:match("^(%d+) %((.*)%) (.*)$")
        if pid then
            local f = {}
            for x in rest:gmatch("%S+") do f[#f + 1] = x end
            t[tonumber(pid)] = { comm = comm, ppid = tonumber(f[2]), cpu = (tonumber(f[12]) or 0) + (tonumber(f[13]) or 0),
                                 reaped = (tonumber(f[14]) or 0) + (tonumber(f[15]) or 0) }
        end
    end
    p:close()
    -- the machine's busy ticks (all CPUs): user nice system irq softirq steal
    local f = io.open("/proc/stat")
    local l = f and f:read("*l") or ""
    if f then f:close() end
    local v = {}
    for x in l:gmatch("%d+") do v[#v + 1] = tonumber(x) end
    t.busy = (v[1] or 0) + (v[2] or 0) + (v[3] or 0) + (v[6] or 0) + (v[7] or 0) + (v[8] or 0)
    return t
end
-- the CPU of the process `root` and all its descendants (live ones, and the
-- exited ones its children reaped: a PostgreSQL backend that ended is counted
-- in the postmaster's cutime), in ticks
local function tree(snap, root, mark)
    if not root or not snap[root] then return 0 end
    local kids = {}
    for pid, s in pairs(snap) do
        if type(s) == "table" then
            kids[s.ppid] = kids[s.ppid] or {}
            table.insert(kids[s.ppid], pid)
        end
    end
    local total, stack, seen = 0, { root }, 0
    while #stack > 0 and seen < 100000 do
        local pid = table.remove(stack)
        seen = seen + 1
        total = total + snap[pid].cpu + snap[pid].reaped
        if mark then mark[pid] = true end
        for _, k in ipairs(kids[pid] or {}) do stack[#stack + 1] = k end
    end
    return total
end
local SANDBOX = tonumber((H.read(H.key("fakes.pids")) or ""):match("%d+"))
local SELF = tonumber((H.read("/proc/self/stat") or ""):match("^%d+"))
local PG_PID -- the postmaster of the throwaway cluster, when one runs

-- P processes at once for WINDOW seconds: operations per second (each
-- process's count over its own time, summed)
local function rate(url, mode, procs)
    local list, pids = {}, {}
    local s0 = snapshot()
    for p = 1, procs do
        local file, out = script(url, mode, WINDOW, 0, p)
        list[p] = out
        local pp = assert(io.popen("(exec " .. LUA .. " " .. q(file) .. " >" .. q(out .. ".log") .. " 2>&1) & echo $!"))
        pids[p] = tonumber(pp:read("*a"):match("%d+"))
        pp:close()
    end
    local t0 = now()
    for _ = 1, (WINDOW + 60) * 10 do -- bounded: the window and a minute
        local all = true
        for _, out in ipairs(list) do if not H.read(out) then all = false end end
        if all then break end
        os.execute("sleep 0.1")
    end
    local s1 = snapshot()
    local wall = now() - t0
    local total, ops, ticks = 0, 0, 0
    for _, out in ipairs(list) do
        local n, s, c = result(out)
        ops, ticks = ops + n, ticks + c
        if s > 0 then total = total + n / s end
    end
    local ms = 1000 / TCK
    local cpu = { sandbox = (tree(s1, SANDBOX) - tree(s0, SANDBOX)) * ms, clients = ticks * ms,
                  pg = PG_PID and (tree(s1, PG_PID) - tree(s0, PG_PID)) * ms or 0,
                  busy = (s1.busy - s0.busy) * ms, wall = wall * 1000, ops = ops }
    cpu.other = math.max(0, cpu.busy - cpu.sandbox - cpu.clients - cpu.pg)
    -- what else ran (other users of the shared machine), by command name,
    -- the sandbox's, PostgreSQL's and this benchmark's own processes left out
    local ours, by = {}, {}
    tree(s1, SANDBOX, ours)
    tree(s1, PG_PID, ours)
    tree(s1, SELF, ours)
    for _, pid in pairs(pids) do ours[pid] = true end
    for pid, p in pairs(s1) do
        if type(p) == "table" and not ours[pid] then
            local before = s0[pid] and s0[pid].cpu or 0 -- a kernel worker's name changes with its work
            local comm = p.comm:match("^kworker") and "kworker" or p.comm
            by[comm] = (by[comm] or 0) + math.max(0, p.cpu - before) * ms
        end
    end
    local top = {}
    for comm, v in pairs(by) do if v >= 50 then top[#top + 1] = { comm, v } end end
    table.sort(top, function(a, b) return a[2] > b[2] end)
    local names = {}
    for i = 1, math.min(4, #top) do names[i] = string.format("%s %.1f s", top[i][1], top[i][2] / 1000) end
    cpu.others = #names > 0 and table.concat(names, ", ") or "none over 0.05 s"
    return total, ops, wall, cpu
end

-- "CPU ms per operation: sandbox a, clients b, PostgreSQL c, rest d; sandbox
-- at x% of a core, the machine's 2 cores busy y%"
local function cpu_line(c)
    local per = function(v) return c.ops > 0 and v / c.ops or 0 end
    return string.format("CPU ms per op: sandbox %.3f, %s %.3f, PostgreSQL %.3f, everything else %.3f;"
        .. " sandbox at %.0f%% of a core, all cores busy %.0f%%",
        per(c.sandbox), c.mode, per(c.clients), per(c.pg), per(c.other),
        100 * c.sandbox / c.wall, 100 * c.busy / (c.wall * NPROC))
end

local function enqueue(c, n, tag)
    for i = 1, n do
        assert(c:publishUserAction({ UID = "s" .. (i % USERS + 1), userAction = { title = tag .. " " .. i } },
            { deliver = "queued" }))
    end
end

-- instructions of one child run under callgrind (the client process only)
local function ir(url, mode, count)
    local file = script(url, mode, 600, count, 0)
    local cg = dir .. "/cg-" .. kids
    run("valgrind --tool=callgrind --callgrind-out-file=" .. q(cg) .. " " .. LUA .. " " .. q(file))
    local f = io.open(cg)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    return tonumber(text:match("\nsummary: (%d+)") or text:match("\ntotals: (%d+)") or "")
end

local function say(fmt, ...)
    print(string.format("outbox vs direct: " .. fmt, ...))
    io.stdout:flush()
end

say("machine: %s; load before: %s", run("nproc") .. " cores", run("cut -d' ' -f1-3 /proc/loadavg"))

local function bench(kind, url)
    local c = socialize.new(config(url))
    assert(c:store())
    for r = 1, REPS do
        for _, procs in ipairs({ 1, 4 }) do
            local d, _, _, dc = rate(url, "direct", procs)
            -- enough queued for the window at the direct rate (and some), each measure its own
            enqueue(c, math.min(math.floor(d * WINDOW * 1.3) + 200, 60000), "run" .. r .. "p" .. procs)
            local w, sent, _, wc = rate(url, "work", procs)
            -- what the window did not drain is given to the next measure's workers: drain it now
            for _ = 1, 100000 do
                local sum = assert(c:work(2000))
                if sum.claimed == 0 then break end
            end
            say("%s, rep %d, %d process%s: direct %.0f calls/s, worker %.0f deliveries/s (%d sent): ratio %.2f; load %s",
                kind, r, procs, procs > 1 and "es" or "", d, w, sent, d > 0 and w / d or 0,
                run("cut -d' ' -f1 /proc/loadavg"))
            dc.mode, wc.mode = "clients", "workers"
            say("%s, rep %d, %d process%s, direct: %s", kind, r, procs, procs > 1 and "es" or "", cpu_line(dc))
            say("%s, rep %d, %d process%s, worker: %s", kind, r, procs, procs > 1 and "es" or "", cpu_line(wc))
            say("%s, rep %d, %d process%s: other processes' CPU during the direct window: %s; the worker window: %s",
                kind, r, procs, procs > 1 and "es" or "", dc.others, wc.others)
        end
    end
    if K > 0 and run("command -v valgrind") ~= "" then
        local a = ir(url, "direct", K)
        local b = ir(url, "direct", 2 * K)
        enqueue(c, K, "ir1")
        local wa = ir(url, "work", K)
        enqueue(c, 2 * K, "ir2")
        local wb = ir(url, "work", 2 * K)
        if a and b and wa and wb then
            local per_d, per_w = (b - a) / K, (wb - wa) / K
            say("%s, instructions (callgrind, client process): %.0f per direct call, %.0f per delivery: ratio %.2f",
                kind, per_d, per_w, per_w / per_d)
        else
            say("%s, instructions: callgrind gave no totals", kind)
        end
    end
    c:close()
end

for kind in STORES:gmatch("[^,]+") do
    if kind == "sqlite" then
        local file = "/dev/shm/socialize-ovd-" .. os.time() .. ".db"
        local ok, err = pcall(bench, "SQLite (tmpfs)", "sqlite:" .. file)
        for _, f in ipairs({ file, file .. "-wal", file .. "-shm" }) do os.remove(f) end
        assert(ok, err)
    elseif kind == "postgresql" then
        local out = run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " start")
        local pgdir, url = out:match("([^\n]+)\n([^\n]+)$")
        assert(url and url:find("^postgresql:"), out)
        PG_PID = tonumber((H.read(pgdir .. "/data/postmaster.pid") or ""):match("^(%d+)"))
        local ok, err = pcall(bench, "PostgreSQL", url)
        run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(pgdir))
        assert(ok, err)
    end
end
H.stop_all()
