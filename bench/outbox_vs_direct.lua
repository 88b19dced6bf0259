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
-- writes "<operations> <seconds>" to `out`, timed after its set-up.
local CHILD = [[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local socialize = require("socialize")
local core = require("socialize.core")
local c = socialize.new(%s)
assert(c:store())
local out, secs, mode, count, id = %q, %s, %q, %d, %d
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
f:write(string.format("%%d %%.3f", n, (core.now_ms() - t0) / 1000))
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
    local n, s = (H.read(out) or ""):match("^(%d+) ([%d.]+)$")
    return tonumber(n) or 0, tonumber(s) or 0
end

-- P processes at once for WINDOW seconds: operations per second (each
-- process's count over its own time, summed)
local function rate(url, mode, procs)
    local list = {}
    for p = 1, procs do
        local file, out = script(url, mode, WINDOW, 0, p)
        list[p] = out
        os.execute("(exec " .. LUA .. " " .. q(file) .. " >" .. q(out .. ".log") .. " 2>&1) &")
    end
    local t0 = now()
    for _ = 1, (WINDOW + 60) * 10 do -- bounded: the window and a minute
        local all = true
        for _, out in ipairs(list) do if not H.read(out) then all = false end end
        if all then break end
        os.execute("sleep 0.1")
    end
    local total, ops = 0, 0
    for _, out in ipairs(list) do
        local n, s = result(out)
        ops = ops + n
        if s > 0 then total = total + n / s end
    end
    return total, ops, now() - t0
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
            local d = rate(url, "direct", procs)
            -- enough queued for the window at the direct rate (and some), each measure its own
            enqueue(c, math.min(math.floor(d * WINDOW * 1.3) + 200, 60000), "run" .. r .. "p" .. procs)
            local w, sent = rate(url, "work", procs)
            -- what the window did not drain is given to the next measure's workers: drain it now
            for _ = 1, 100000 do
                local sum = assert(c:work(2000))
                if sum.claimed == 0 then break end
            end
            say("%s, rep %d, %d process%s: direct %.0f calls/s, worker %.0f deliveries/s (%d sent): ratio %.2f; load %s",
                kind, r, procs, procs > 1 and "es" or "", d, w, sent, d > 0 and w / d or 0,
                run("cut -d' ' -f1 /proc/loadavg"))
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
        local ok, err = pcall(bench, "PostgreSQL", url)
        run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(pgdir))
        assert(ok, err)
    end
end
H.stop_all()
