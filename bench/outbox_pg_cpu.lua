-- PostgreSQL's CPU per delivery of the outbox, without a network (issue 14,
-- docs/PERFORMANCE.md "Queued against direct, side by side"): a throwaway
-- cluster (spec/pgcluster.sh) with pg_stat_statements loaded; N jobs of one
-- delivery enqueued, then drained by one process the way a blocking worker
-- does (claims of BATCH, each claim's outcomes in one record_many); the CPU
-- time of the cluster's processes (the postmaster and its children, from
-- /proc/PID/stat) and of this process over the drain, per delivery; then the
-- drain's statements by total time (pg_stat_statements).
-- env: PGCPU_N (5000), PGCPU_BATCH (20), PGCPU_REPS (3).
local store = require("socialize.store")

local N = tonumber(os.getenv("PGCPU_N") or "5000")
local BATCH = tonumber(os.getenv("PGCPU_BATCH") or "20")
local REPS = tonumber(os.getenv("PGCPU_REPS") or "3")
local ROOT = os.getenv("SOCIALIZE_ROOT") or "."

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    return (out:gsub("%s+$", ""))
end
local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

local TCK = tonumber(run("getconf CLK_TCK")) or 100
-- ticks of `root` and its descendants (live ones, and the reaped: in cutime)
local function tree_cpu(root)
    local p = assert(io.popen("cat /proc/[0-9]*/stat 2>/dev/null"))
    local snap, kids = {}, {}
    for line in p:lines() do
        local pid, rest = line:match("^(%d+) %(.*%) (.*)$")
        if pid then
            local f = {}
            for x in rest:gmatch("%S+") do f[#f + 1] = x end
            pid = tonumber(pid)
            snap[pid] = (tonumber(f[12]) or 0) + (tonumber(f[13]) or 0) + (tonumber(f[14]) or 0) + (tonumber(f[15]) or 0)
            local pp = tonumber(f[2])
            kids[pp] = kids[pp] or {}
            table.insert(kids[pp], pid)
        end
    end
    p:close()
    local total, stack, n = 0, { root }, 0
    while #stack > 0 and n < 100000 do
        local pid = table.remove(stack)
        n = n + 1
        total = total + (snap[pid] or 0)
        for _, k in ipairs(kids[pid] or {}) do stack[#stack + 1] = k end
    end
    return total
end
local function self_cpu()
    local line = read("/proc/self/stat") or ""
    local u, s = line:match("^%d+ %(.*%) %S+" .. string.rep(" %S+", 10) .. " (%d+) (%d+)")
    return (tonumber(u) or 0) + (tonumber(s) or 0)
end

local out = run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " start")
local dir, url = out:match("([^\n]+)\n([^\n]+)$")
assert(url and url:find("^postgresql:"), out)
local psql = "psql -X -q -A -t -h " .. q(dir) .. " -p 54329 -U socialize postgres -c "
local ok, err = pcall(function()
    run(psql .. q("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
    run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " kill " .. q(dir))
    run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " up " .. q(dir))
    local pss = run(psql .. q("CREATE EXTENSION pg_stat_statements"))
    local pm = tonumber((read(dir .. "/data/postmaster.pid") or ""):match("^(%d+)"))
    assert(pm, "no postmaster.pid")
    local s = assert(store.open(url, { plaintext = true }))
    local params = '{"userAction":{"title":"a status"}}'
    local now = 1000
    for rep = 1, REPS do
        for i = 1, N do
            assert(s:enqueue({ UID = "u" .. (i % 1000), method = "socialize.publishUserAction", params = params,
                               providers = { "mastodon" }, now = now }))
        end
        run(psql .. q("SELECT pg_stat_statements_reset()"))
        local p0, c0, done = tree_cpu(pm), self_cpu(), 0
        for _ = 1, N do -- bounded: at least one a claim
            local list = assert(s:claim("w1", now, 60, BATCH))
            if #list == 0 then break end
            local items = {}
            for i, d in ipairs(list) do
                items[i] = { jobID = d.jobID, provider = d.provider, state = "sent", postID = "p" .. i }
            end
            local res = assert(s:record_many("w1", now, items))
            for i = 1, #items do assert(res[i] == true, "lost lease") end
            done = done + #list
        end
        local pgms, cms = (tree_cpu(pm) - p0) * 1000 / TCK, (self_cpu() - c0) * 1000 / TCK
        print(string.format("outbox pg cpu: rep %d, %d deliveries (batch %d): PostgreSQL %.3f CPU ms per delivery,"
            .. " this process %.3f", rep, done, BATCH, pgms / math.max(done, 1), cms / math.max(done, 1)))
        now = now + 1
    end
    s:close()
    if pss == "" then
        print(run(psql .. q("SELECT calls, round(total_exec_time::numeric, 1) AS ms, rows,"
            .. " shared_blks_hit + shared_blks_dirtied AS blks, left(regexp_replace(query, '\\s+', ' ', 'g'), 150)"
            .. " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12")))
    else
        print("outbox pg cpu: pg_stat_statements not loaded: " .. pss)
    end
end)
run("sh " .. q(ROOT .. "/spec/pgcluster.sh") .. " stop " .. q(dir))
assert(ok, err)
