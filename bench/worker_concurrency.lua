-- One `socialize worker` process, --concurrency 1 against 16 (and 4, 64),
-- delivering queued statuses to the sandbox's Mastodon, which holds every
-- reply 50 ms (a real network's 100-500 ms a post, scaled down): with one
-- delivery at a time the worker, not the network, is the limit (issue 14;
-- docs/PERFORMANCE.md "Concurrent worker").
-- Each run: a fresh SQLite store (on the disk under build/, so each claim
-- and record waits for its fsync), JOBS jobs of one delivery enqueued
-- beforehand (enqueueMany), then `socialize --json worker --once
-- --concurrency C` timed from its start to its exit (its start-up
-- included). Interleaved, REPS times; the median deliveries/s, and the most
-- requests the sandbox was handling at once.
--   make soak   (or: lua5.4 bench/worker_concurrency.lua)
-- env: WC_JOBS (400), WC_REPS (2), WC_DELAY (50 ms), WC_LEVELS ("1,4,16,64")
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local JOBS = tonumber(os.getenv("WC_JOBS") or "400")
local REPS = tonumber(os.getenv("WC_REPS") or "2")
local DELAY = tonumber(os.getenv("WC_DELAY") or "50")
local LEVELS = {}
for c in (os.getenv("WC_LEVELS") or "1,4,16,64"):gmatch("%d+") do LEVELS[#LEVELS + 1] = tonumber(c) end
local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local BUILD = os.getenv("BUILD") or "build/lua5.4"
local LUA = BUILD:find("luajit", 1, true) and "luajit" or BUILD:find("5.1", 1, true) and "lua5.1" or "lua5.4"
local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local USERS = 50

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end
local function loadavg() return (slurp("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)") end

local sb = H.start_sandbox()
H.configure(sb, { delay_ms = { mastodon = DELAY } })
local dir = ROOT .. "/build/bench-worker-" .. os.time() .. "-" .. math.random(1, 1e6)
assert(os.execute("mkdir -p " .. q(dir)))

local function config_text(db)
    local conns = {}
    for i = 1, USERS do
        conns[#conns + 1] = string.format("[%q] = { mastodon = { accessToken = %q, instance = %q } }",
            "w" .. i, "md-token-w" .. i, sb.url("mastodon"))
    end
    return string.format([[
return { backend = "direct", allowPrivateNetworks = true, timeout = 5, retry = false,
         providers = { mastodon = {} }, connections = { %s },
         store = { url = %q, keys = { %q } } }
]], table.concat(conns, ", "), "sqlite:" .. db, KEY)
end

-- one run: the store, its jobs, the worker; deliveries/s and the most in flight at the sandbox
local function run(conc, rep)
    local db = dir .. "/c" .. conc .. "-" .. rep .. ".db"
    local cfg = dir .. "/c" .. conc .. "-" .. rep .. ".lua"
    local f = assert(io.open(cfg, "w"))
    f:write(config_text(db))
    f:close()
    local c = socialize.new(dofile(cfg))
    local done = 0
    while done < JOBS do
        local calls = {}
        for i = 1, math.min(100, JOBS - done) do
            local n = done + i
            calls[i] = { method = "setStatus", params = { UID = "w" .. (n % USERS + 1), status = "Run " .. conc
                .. "/" .. rep .. " status " .. n } }
        end
        assert(c:enqueueMany(calls))
        done = done + #calls
    end
    c:close()
    H.reset(sb)
    H.configure(sb, { delay_ms = { mastodon = DELAY } })
    local out = dir .. "/out-" .. conc .. "-" .. rep
    local cmd = "cd " .. q(ROOT) .. " && env LUA_PATH=" .. q(ROOT .. "/lua/?.lua;;") .. " LUA_CPATH="
        .. q(ROOT .. "/" .. BUILD .. "/?.so;;") .. " SOCIALIZE_CONFIG=" .. q(cfg) .. " " .. LUA
        .. " bin/socialize --json worker --once --concurrency " .. conc .. " >" .. q(out) .. " 2>/dev/null"
    local t0 = core.now_ms()
    os.execute(cmd)
    local secs = (core.now_ms() - t0) / 1000
    local res = core.json_decode(slurp(out) or "") or {}
    assert(res.sent == JOBS, "concurrency " .. conc .. ": sent " .. tostring(res.sent) .. " of " .. JOBS)
    local most = 0
    for _, r in ipairs(H.requests(sb)) do
        if r.network == "mastodon" then most = math.max(most, r.inflight or 0) end
    end
    return JOBS / secs, most, secs
end

local function median(t)
    local s = {}
    for i, v in ipairs(t) do s[i] = v end
    table.sort(s)
    local n = #s
    return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end

local before = loadavg()
local rates, mosts = {}, {}
for _, conc in ipairs(LEVELS) do rates[conc], mosts[conc] = {}, 0 end
for rep = 1, REPS do
    for _, conc in ipairs(LEVELS) do
        local rate, most, secs = run(conc, rep)
        rates[conc][#rates[conc] + 1] = rate
        mosts[conc] = math.max(mosts[conc], most)
        io.stderr:write(string.format("  rep %d, --concurrency %d: %d deliveries in %.2f s, %.1f/s, %d in flight "
            .. "at most\n", rep, conc, JOBS, secs, rate, most))
    end
end
local after = loadavg()
print(string.format("one worker process (%s), %d queued statuses to a sandbox network holding each reply %d ms, "
    .. "SQLite store on disk, median of %d; load average before %s, after %s", LUA, JOBS, DELAY, REPS, before, after))
print("| --concurrency | deliveries/s | vs 1 | most requests in flight at the sandbox |")
print("|---|---|---|---|")
local base = median(rates[LEVELS[1]])
for _, conc in ipairs(LEVELS) do
    local m = median(rates[conc])
    print(string.format("| %d | %.1f | %.1fx | %d |", conc, m, m / base, mosts[conc]))
end
os.execute("rm -rf " .. q(dir))
H.stop_all()
