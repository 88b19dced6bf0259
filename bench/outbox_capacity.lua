-- The queue's own capacity beside what the sandbox serves (issue 14: "delivery
-- limited by the sandbox, not the queue"; docs/PERFORMANCE.md "The queue
-- alone"). In one run:
--   1. the queue alone: P worker processes (client:work(500), claims of BATCH,
--      each claim's outcomes in one record_many) draining deliveries enqueued
--      beforehand, with a transport that answers at once (a function in the
--      same process returning a canned Mastodon status): deliveries/s, for
--      P = 1 and 4, on each store; and P processes calling
--      publishUserAction directly through the same transport (the client's
--      own cost, no queue); then the instructions of the client process per
--      delivery and per direct call under callgrind (the difference between
--      K and 2K operations: start-up cancels out);
--   2. what the sandbox serves at most to direct calls (P = 1 and 4 processes
--      calling publishUserAction against its Mastodon, no delay);
--   3. latency-bound: the sandbox holding each reply DELAY ms; one
--      `socialize worker --once --concurrency C` process against one process
--      making C direct asynchronous calls at once (client:poll), the same
--      number of statuses, each timed from its start to its exit.
-- Stores: a SQLite file on the disk under build/ (WAL, synchronous = FULL: an
-- fsync per claim and per outcome batch), the same on tmpfs (/dev/shm: the
-- statements' cost, no fsync), and a throwaway PostgreSQL (spec/pgcluster.sh,
-- fsync off).
--   make soak   (or: lua5.4 bench/outbox_capacity.lua)
-- env: CAP_STORES ("disk,tmpfs,postgresql"), CAP_WINDOW (4 s), CAP_REPS (2),
-- CAP_IR (300: K; 0 skips callgrind), CAP_BATCH (20), CAP_LEVELS ("16,64,256";
-- "" skips part 3), CAP_DELAY (50 ms), CAP_PROCS ("1,4").
local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local BUILD = os.getenv("BUILD") or "build/lua5.4"
local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local USERS = 1000
local INSTANCE = "https://queue-bench.example"
-- what the sandbox's Mastodon answers to a status (spec/fakes/networks/mastodon.py)
local CANNED = '{"id":"110000000000000001","url":"https://queue-bench.example/@user/110000000000000001",'
    .. '"content":"<p>status</p>","visibility":"public","media_attachments":[]}'

local function config(url, instance, batch)
    local conns = {}
    for i = 1, USERS do
        conns["s" .. i] = { mastodon = { accessToken = "md-token-s" .. i, instance = instance } }
    end
    return { backend = "direct", allowPrivateNetworks = true, timeout = 5, retry = false, connections = conns,
             providers = { mastodon = {} }, store = { url = url, keys = { KEY } }, outbox = { batch = batch } }
end

-- A child: bench/outbox_capacity.lua child MODE URL INSTANCE SECS COUNT ID OUT BATCH [CONC START_AT BUDGET]
-- MODE: "work" (client:work(500) in a loop), "awork" (client:work(50, { async
-- = true, concurrency = CONC }) and client:poll(0) in a loop), "direct" (publishUserAction one
-- after the other), "async" (COUNT direct calls, CONC at once); with the
-- instant transport when INSTANCE is INSTANCE above. For SECS seconds, or
-- with COUNT > 0 that many operations; writes "<ops> <seconds> <CPU ticks>"
-- to OUT, timed after its set-up.
if arg and arg[1] == "child" then
    local socialize = require("socialize")
    local core = require("socialize.core")
    local mode, url, instance = arg[2], arg[3], arg[4]
    local secs, count, id, out = tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7]), arg[8]
    local batch, conc, start_at = tonumber(arg[9]), tonumber(arg[10] or "1"), tonumber(arg[11] or "0")
    -- work's budget in ms (500 blocking, 50 asynchronous as `socialize worker` slices it; under
    -- callgrind, whose clock runs about 50 times slower, far more, so that no claim is given back)
    local budget = tonumber(arg[12] or "") or (mode == "awork" and 50 or 500)
    local cfg = config(url, instance, batch)
    if instance == INSTANCE then
        cfg.transport = function() return { status = 200, headers = {}, body = CANNED } end
    end
    local c = socialize.new(cfg)
    assert(c:store())
    local function cpu()
        local f = io.open("/proc/self/stat")
        local line = f and f:read("*l") or ""
        if f then f:close() end
        local u, s = line:match("^%d+ %(.*%) %S+" .. string.rep(" %S+", 10) .. " (%d+) (%d+)")
        return (tonumber(u) or 0) + (tonumber(s) or 0)
    end
    -- the processes of one measure start together (their set-up done), so that their windows overlap
    for _ = 1, 100000 do
        if core.now_ms() >= start_at then break end
        os.execute("sleep 0.005")
    end
    local c0, t0 = cpu(), core.now_ms()
    local stop, n = t0 + secs * 1000, 0
    if mode == "async" then
        local started, done = 0, 0
        local function one()
            started = started + 1
            c:publishUserAction({ UID = "s" .. (started % USERS + 1), userAction = { title = "async " .. started } },
                function(res)
                    done = done + 1
                    if res then n = n + 1 end
                end)
        end
        for _ = 1, math.min(conc, count) do one() end
        for _ = 1, 10000000 do
            if done >= count or core.now_ms() >= stop then break end
            c:poll(50)
            while started < count and started - done < conc do one() end
        end
    elseif mode == "awork" then -- the asynchronous worker (socialize worker --concurrency CONC's calls)
        local opts = { async = true, concurrency = conc, on_done = function(state)
            if state == "sent" then n = n + 1 end
        end }
        for _ = 1, 100000000 do
            if count > 0 and n >= count then break end
            if count == 0 and core.now_ms() >= stop then break end
            local sum = assert(c:work(budget, opts))
            local inflight = c:poll(0)
            if sum.claimed == 0 and inflight == 0 then
                if count > 0 then break end
                os.execute("sleep 0.02")
            end
        end
    else
        for i = 1, 100000000 do
            if count > 0 and n >= count then break end
            if count == 0 and core.now_ms() >= stop then break end
            if mode == "work" then
                local sum = assert(c:work(budget))
                n = n + sum.sent
                if sum.claimed == 0 then
                    if count > 0 then break end
                    os.execute("sleep 0.02")
                end
            else
                local res = c:publishUserAction({ UID = "s" .. ((i + id * 250) % USERS + 1),
                    userAction = { title = "status " .. id .. "-" .. i } })
                if res and res.errorCode == 0 then n = n + 1 end
            end
        end
    end
    local f = io.open(out, "wb")
    f:write(string.format("%d %.3f %d %.0f", n, (core.now_ms() - t0) / 1000, cpu() - c0, core.now_ms()))
    f:close()
    c:close()
    return
end

local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local STORES = os.getenv("CAP_STORES") or "disk,tmpfs,postgresql"
local WINDOW = tonumber(os.getenv("CAP_WINDOW") or "4")
local REPS = tonumber(os.getenv("CAP_REPS") or "2")
local K = tonumber(os.getenv("CAP_IR") or "300")
local BATCH = tonumber(os.getenv("CAP_BATCH") or "20")
local DELAY = tonumber(os.getenv("CAP_DELAY") or "50")
local ACONC = tonumber(os.getenv("CAP_ACONC") or "16")
local LEVELS, PROCS = {}, {}
for c in (os.getenv("CAP_LEVELS") or "16,64,256"):gmatch("%d+") do LEVELS[#LEVELS + 1] = tonumber(c) end
for c in (os.getenv("CAP_PROCS") or "1,4"):gmatch("%d+") do PROCS[#PROCS + 1] = tonumber(c) end
local LUA = BUILD:find("luajit", 1, true) and "luajit" or BUILD:find("5.1", 1, true) and "lua5.1" or "lua5.4"
local SELF = ROOT .. "/bench/outbox_capacity.lua"
local ENV = "env LUA_PATH=" .. "'" .. ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;' LUA_CPATH='" .. ROOT
    .. "/" .. BUILD .. "/?.so;;' "

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end
local function loadavg() return run("cut -d' ' -f1-3 /proc/loadavg") end
local function say(fmt, ...)
    print(string.format("queue capacity: " .. fmt, ...))
    io.stdout:flush()
end
local function median(t)
    local s = {}
    for i, v in ipairs(t) do s[i] = v end
    table.sort(s)
    local n = #s
    if n == 0 then return 0 end
    return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end
local function span(t)
    local lo, hi = math.huge, 0
    for _, v in ipairs(t) do lo, hi = math.min(lo, v), math.max(hi, v) end
    if #t == 0 then return "-" end
    return string.format("%.0f-%.0f", lo, hi)
end

-- a fresh sandbox for each repetition and part (a sandbox lives 600 s, spec/helper.lua)
local sb
local function new_sandbox(conf)
    H.stop_all()
    sb = H.start_sandbox()
    H.configure(sb, conf)
end
local dir = ROOT .. "/build/bench-capacity-" .. os.time() .. "-" .. math.random(1, 1e6)
assert(os.execute("mkdir -p " .. q(dir)))

local kids = 0
local function child_cmd(mode, url, instance, secs, count, id, conc, start_at, budget)
    kids = kids + 1
    local out = dir .. "/out-" .. kids
    os.remove(out)
    return ENV .. LUA .. " " .. q(SELF) .. " child " .. mode .. " " .. q(url) .. " " .. q(instance) .. " " .. secs
        .. " " .. count .. " " .. id .. " " .. q(out) .. " " .. BATCH .. " " .. (conc or 1) .. " "
        .. string.format("%.0f", start_at or 0) .. " " .. (budget or "-"), out
end
local function result(out)
    local n, s, c, e = (H.read(out) or ""):match("^(%d+) ([%d.]+) (%d+) (%d+)$")
    return tonumber(n) or 0, tonumber(s) or 0, tonumber(c) or 0, tonumber(e) or 0
end

-- P processes at once for WINDOW seconds, started together: operations per
-- second (all of them over the time from the common start to the last one's
-- end) and the CPU ms per operation
local TCK = tonumber(run("getconf CLK_TCK")) or 100
local function rate(url, instance, mode, procs, conc)
    local outs = {}
    local start_at = core.now_ms() + 1500 + 300 * procs -- after every one's set-up
    for p = 1, procs do
        local cmd, out = child_cmd(mode, url, instance, WINDOW, 0, p, conc, start_at)
        outs[p] = out
        os.execute("(" .. cmd .. " >" .. q(out .. ".log") .. " 2>&1) &")
    end
    for _ = 1, (WINDOW + 60) * 10 do -- bounded: the window and a minute
        local all = true
        for _, out in ipairs(outs) do if not H.read(out) then all = false end end
        if all then break end
        os.execute("sleep 0.1")
    end
    local ops, ticks, last = 0, 0, start_at
    for _, out in ipairs(outs) do
        local n, _, c, e = result(out)
        if n == 0 then io.stderr:write((H.read(out .. ".log") or "") .. "\n") end
        ops, ticks, last = ops + n, ticks + c, math.max(last, e)
    end
    return last > start_at and ops / ((last - start_at) / 1000) or 0, ops > 0 and ticks * 1000 / TCK / ops or 0
end

local function enqueue(url, n, tag)
    local c = socialize.new(config(url, INSTANCE, BATCH))
    local done = 0
    while done < n do
        local calls = {}
        for i = 1, math.min(500, n - done) do
            local k = done + i
            calls[i] = { method = "socialize.publishUserAction",
                         params = { UID = "s" .. (k % USERS + 1), userAction = { title = tag .. " " .. k } } }
        end
        assert(c:enqueueMany(calls))
        done = done + #calls
    end
    c:close()
end
local function purge(url)
    -- what a window did not drain is sent by the next: drained now, instantly
    local cfg = config(url, INSTANCE, 100)
    cfg.transport = function() return { status = 200, headers = {}, body = CANNED } end
    local c = socialize.new(cfg)
    for _ = 1, 100000 do
        local sum = assert(c:work(2000))
        if sum.claimed == 0 then break end
    end
    c:close()
end

-- instructions of one child under callgrind (the client process only)
local function ir(url, instance, mode, count, conc)
    local cmd = child_cmd(mode, url, instance, 600, count, 0, conc, 0, 60000)
    local cg = dir .. "/cg-" .. kids
    run(ENV .. "valgrind --tool=callgrind --callgrind-out-file=" .. q(cg) .. " " .. cmd:sub(#ENV + 1))
    local text = H.read(cg) or ""
    return tonumber(text:match("\nsummary: (%d+)") or text:match("\ntotals: (%d+)") or "")
end
local function ir_per(url, mode, conc)
    if mode ~= "direct" then enqueue(url, K, "ir1") end
    local a = ir(url, INSTANCE, mode, K, conc)
    if mode ~= "direct" then enqueue(url, 2 * K, "ir2") end
    local b = ir(url, INSTANCE, mode, 2 * K, conc)
    if not (a and b) then return nil end
    return (b - a) / K
end
local HAVE_CG = K > 0 and run("command -v valgrind") ~= ""

say("machine: %s cores, %s; %s; load average before: %s", run("nproc"),
    run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'"), LUA, loadavg())

-- the stores: name -> url, and how to end them
local stores, order = {}, {}
local pgdir
for kind in STORES:gmatch("[^,]+") do
    if kind == "disk" then
        stores[kind] = { name = "SQLite file on disk (WAL, FULL)", url = "sqlite:" .. dir .. "/cap.db" }
    elseif kind == "tmpfs" then
        local f = "/dev/shm/socialize-cap-" .. os.time() .. "-" .. math.random(1, 1e6) .. ".db"
        stores[kind] = { name = "SQLite file on tmpfs", url = "sqlite:" .. f, files = { f, f .. "-wal", f .. "-shm" } }
    elseif kind == "postgresql" then
        local out = run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " start")
        local d, url = out:match("([^\n]+)\n([^\n]+)$")
        assert(url and url:find("^postgresql:"), out)
        pgdir = d
        stores[kind] = { name = "PostgreSQL (Unix socket, fsync off)", url = url }
    end
    if stores[kind] then order[#order + 1] = kind end
end

local function finish()
    for _, kind in ipairs(order) do
        for _, f in ipairs(stores[kind].files or {}) do os.remove(f) end
    end
    if pgdir then run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(pgdir)) end
    os.execute("rm -rf " .. q(dir))
    H.stop_all()
end

local ok, err = pcall(function()
    -- 1 and 2, interleaved: per repetition, the sandbox's direct rate, then
    -- each store's queue alone, then the direct calls through the instant transport
    local res = {} -- res[key][procs] = { rates }
    local function add(key, procs, v)
        res[key] = res[key] or {}
        res[key][procs] = res[key][procs] or {}
        table.insert(res[key][procs], v)
    end
    local first = stores[order[1]]
    for r = 1, REPS do
        new_sandbox({ record = false })
        for _, procs in ipairs(PROCS) do
            local d = rate(first.url, sb.url("mastodon"), "direct", procs)
            add("sandbox", procs, d)
            say("rep %d, %d process(es): the sandbox serves direct calls %.0f/s (load %s)", r, procs, d,
                run("cut -d' ' -f1 /proc/loadavg"))
            for _, kind in ipairs(order) do
                local s = stores[kind]
                enqueue(s.url, math.min(60000, procs * WINDOW * 12000), "r" .. r .. "p" .. procs)
                local w, cpu = rate(s.url, INSTANCE, "work", procs)
                purge(s.url)
                add(kind, procs, w)
                say("rep %d, %d process(es): the queue alone, %s: %.0f deliveries/s (%.3f CPU ms a delivery in the "
                    .. "workers)", r, procs, s.name, w, cpu)
                enqueue(s.url, math.min(60000, procs * WINDOW * 12000), "a" .. r .. "p" .. procs)
                local a, acpu = rate(s.url, INSTANCE, "awork", procs, ACONC)
                purge(s.url)
                add("async " .. kind, procs, a)
                say("rep %d, %d process(es): the queue alone, asynchronous worker (concurrency %d), %s: %.0f "
                    .. "deliveries/s (%.3f CPU ms a delivery)", r, procs, ACONC, s.name, a, acpu)
            end
            local di, dcpu = rate(first.url, INSTANCE, "direct", procs)
            add("instant", procs, di)
            say("rep %d, %d process(es): direct calls through the instant transport: %.0f/s (%.3f CPU ms a call)",
                r, procs, di, dcpu)
        end
    end
    print(string.format("\nqueue capacity (%s, %d repetitions of %d s windows, claims of %d; load average now %s):",
        LUA, REPS, WINDOW, BATCH, loadavg()))
    print("| deliveries (or calls) per second | " .. table.concat((function()
        local h = {}
        for i, p in ipairs(PROCS) do h[i] = p .. " process" .. (p > 1 and "es" or "") .. " (median; range)" end
        return h
    end)(), " | ") .. " |")
    print("|---|" .. string.rep("---|", #PROCS))
    local function row(label, key)
        local cells = {}
        for i, p in ipairs(PROCS) do
            local t = res[key] and res[key][p] or {}
            cells[i] = string.format("%.0f (%s)", median(t), span(t))
        end
        print("| " .. label .. " | " .. table.concat(cells, " | ") .. " |")
    end
    for _, kind in ipairs(order) do row("the queue alone, " .. stores[kind].name, kind) end
    for _, kind in ipairs(order) do
        row("the queue alone, asynchronous worker (concurrency " .. ACONC .. "), " .. stores[kind].name, "async " .. kind)
    end
    row("direct calls, instant transport (no queue)", "instant")
    row("**the sandbox serving direct calls**", "sandbox")
    for _, kind in ipairs(order) do
        local cells = {}
        for i, p in ipairs(PROCS) do
            local sbm = median(res.sandbox and res.sandbox[p] or {})
            cells[i] = string.format("%.1fx", sbm > 0 and median(res[kind][p]) / sbm or 0)
        end
        print("| queue alone / sandbox, " .. stores[kind].name .. " | " .. table.concat(cells, " | ") .. " |")
    end

    if HAVE_CG then
        local d = ir_per(first.url, "direct")
        say("instructions (callgrind, client process, instant transport, %d against %d): a direct call %s", K, 2 * K,
            d and string.format("%.0f", d) or "?")
        for _, kind in ipairs(order) do
            local w = ir_per(stores[kind].url, "work")
            say("instructions, %s: a delivery %s (%s a direct call)", stores[kind].name,
                w and string.format("%.0f", w) or "?", (w and d) and string.format("%.2fx", w / d) or "?")
            local a = ir_per(stores[kind].url, "awork", ACONC)
            say("instructions, %s, asynchronous worker (concurrency %d): a delivery %s (%s a direct call)",
                stores[kind].name, ACONC, a and string.format("%.0f", a) or "?",
                (a and d) and string.format("%.2fx", a / d) or "?")
        end
    end

    -- 3: latency-bound, the sandbox holding each reply DELAY ms
    if #LEVELS > 0 then
        local lat = {}
        local lstores = {}
        for _, kind in ipairs(order) do if kind ~= "tmpfs" then lstores[#lstores + 1] = kind end end
        for r = 1, REPS do
            new_sandbox({ record = false, delay_ms = { mastodon = DELAY } })
            for _, conc in ipairs(LEVELS) do
                local jobs = math.max(400, conc * 12)
                local cmd, out = child_cmd("async", first.url, sb.url("mastodon"), 600, jobs, 0, conc)
                local t0 = core.now_ms()
                os.execute(cmd .. " >" .. q(out .. ".log") .. " 2>&1")
                local n = result(out)
                local dr = n / ((core.now_ms() - t0) / 1000)
                lat["direct"] = lat["direct"] or {}
                lat["direct"][conc] = lat["direct"][conc] or {}
                table.insert(lat["direct"][conc], dr)
                say("rep %d, a %d ms network, concurrency %d: direct asynchronous calls %.0f/s (%d of %d)", r, DELAY,
                    conc, dr, n, jobs)
                for _, kind in ipairs(lstores) do
                    local s = stores[kind]
                    enqueue(s.url, jobs, "lat" .. r .. "c" .. conc)
                    local wcfg = dir .. "/wcfg-" .. kind .. ".lua"
                    H.write(wcfg, string.format("local t = { backend = 'direct', allowPrivateNetworks = true, "
                        .. "timeout = 5, retry = false, providers = { mastodon = {} }, store = { url = %q, "
                        .. "keys = { %q } }, outbox = { batch = %d }, connections = {} }\n"
                        .. "for i = 1, %d do t.connections['s' .. i] = { mastodon = { accessToken = "
                        .. "'md-token-s' .. i, instance = %q } } end\nreturn t\n", s.url, KEY, BATCH, USERS,
                        sb.url("mastodon")))
                    local wout = dir .. "/wout-" .. kind
                    local t1 = core.now_ms()
                    os.execute("cd " .. q(ROOT) .. " && " .. ENV .. "SOCIALIZE_CONFIG=" .. q(wcfg) .. " " .. LUA
                        .. " bin/socialize --json worker --once --concurrency " .. conc .. " >" .. q(wout)
                        .. " 2>/dev/null")
                    local secs = (core.now_ms() - t1) / 1000
                    local wres = core.json_decode(H.read(wout) or "") or {}
                    local wr = (tonumber(wres.sent) or 0) / secs
                    purge(s.url)
                    lat[kind] = lat[kind] or {}
                    lat[kind][conc] = lat[kind][conc] or {}
                    table.insert(lat[kind][conc], wr)
                    say("rep %d, a %d ms network, concurrency %d: the worker on %s %.0f deliveries/s (%s of %d)", r,
                        DELAY, conc, s.name, wr, tostring(wres.sent), jobs)
                end
            end
        end
        print(string.format("\nlatency-bound (the sandbox holds each reply %d ms; one process each, timed from its "
            .. "start to its exit; median of %d; load average now %s):", DELAY, REPS, loadavg()))
        local head = { "| concurrency | direct asynchronous calls/s" }
        for _, kind in ipairs(lstores) do head[#head + 1] = "worker, " .. stores[kind].name .. " (vs direct)" end
        print(table.concat(head, " | ") .. " |")
        print("|---|---|" .. string.rep("---|", #lstores))
        for _, conc in ipairs(LEVELS) do
            local d = median(lat.direct[conc])
            local cells = { tostring(conc), string.format("%.0f (%s)", d, span(lat.direct[conc])) }
            for _, kind in ipairs(lstores) do
                local w = median(lat[kind][conc])
                cells[#cells + 1] = string.format("%.0f (%s; %.2fx)", w, span(lat[kind][conc]), d > 0 and w / d or 0)
            end
            print("| " .. table.concat(cells, " | ") .. " |")
        end
    end
end)
finish()
assert(ok, err)
