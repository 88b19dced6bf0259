-- The outbox's worker inside OpenResty (docs/openresty.md, "Queued
-- delivery"): started from init_worker_by_lua*, one claimant per nginx
-- worker, run by ngx.timer.every. Each run is client:work(budget) inside a
-- timer, where the resty transport's cosockets yield: the worker serves
-- requests while a network answers. With opts.concurrency above 1 (default
-- 4) a run is that many ngx.thread lanes, each calling client:work for one
-- delivery at a time: up to that many deliveries in flight per nginx
-- worker (the resty transport sends inside start, so the client's own
-- asynchronous driver would not overlap them). The store (SQLite file I/O, libpq) does
-- not yield: its calls block the nginx worker, and `measure` times them.
local ngx = ngx
local type, pairs, ipairs, pcall, tostring, tonumber, setmetatable, getmetatable = type, pairs, ipairs, pcall,
    tostring, tonumber, setmetatable, getmetatable
local floor, max = math.floor, math.max

local _M = {}

-- A monotonic clock in ms with sub-ms resolution (LuaJIT's FFI, as in
-- OpenResty), else nginx's cached clock, updated.
local clock_ms
do
    local ok, ffi = pcall(require, "ffi")
    if ok and pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } sz_timespec;"
        .. " int clock_gettime(int clk, sz_timespec *tp);") then
        local ts = ffi.new("sz_timespec")
        clock_ms = function()
            ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
            return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
        end
    else
        clock_ms = function() ngx.update_time(); return ngx.now() * 1000 end
    end
end

-- The store's calls, timed: the methods of the store's type wrapped (once
-- per nginx worker) to add up how long each call took. Nothing in them
-- yields: every millisecond counted blocked this nginx worker.
local timed = setmetatable({}, { __mode = "k" }) -- the method tables wrapped
local function measure_store(client, ops)
    local st = client:store()
    local mt = st and getmetatable(st)
    local methods = type(mt) == "table" and mt.__index
    if type(methods) ~= "table" or timed[methods] then return end
    timed[methods] = true
    for k, f in pairs(methods) do
        if type(f) == "function" and k ~= "with_lock" then -- with_lock runs the caller's function
            methods[k] = function(...)
                local t0 = clock_ms()
                local a, b, c, d = f(...)
                local ms = clock_ms() - t0
                local o = ops[k]
                if not o then o = { n = 0, ms = 0, max = 0 }; ops[k] = o end
                o.n, o.ms = o.n + 1, o.ms + ms
                if ms > o.max then o.max = ms end
                return a, b, c, d
            end
        end
    end
end

local COUNTS = { "claimed", "sent", "retrying", "unconfirmed", "dead", "waiting_reconnect", "lost", "released" }

-- One lane of a run: client:work claiming one delivery per call (limit 1),
-- call after call, until nothing is due, the run's budget is spent or the
-- nginx worker exits. Its sends yield (cosockets), so the lanes of a run
-- have up to one delivery each in flight. lane.first: what its first claim
-- found (set before the lane's first yield: the store does not yield).
local function run_lane(client, budget, t0, work_opts, lane)
    local acc = {}
    for _, k in pairs(COUNTS) do acc[k] = 0 end
    for _ = 1, 100000 do -- bounded; the budget ends it first
        local left = budget - (clock_ms() - t0)
        if left <= 0 or work_opts.stop() then break end
        local ok, sum, err = pcall(client.work, client, left, work_opts)
        if not (ok and sum) then
            lane.first = lane.first or 0
            return acc, tostring(ok and err or sum)
        end
        for _, k in pairs(COUNTS) do acc[k] = acc[k] + (sum[k] or 0) end
        lane.first = lane.first or sum.claimed or 0
        if (sum.claimed or 0) == 0 then break end
    end
    lane.first = lane.first or 0
    return acc
end

--- Starts the outbox worker of this nginx worker: client_or_config is a
-- socialize client or its config (a client is made from it). opts:
-- interval (seconds between runs, default 1), budget (ms of starting
-- deliveries per run, default 1000), worker (an id for the leases; default
-- "nginx-<pid>-<random>"), measure (time the store's calls), stats
-- (the name of a lua_shared_dict: each run writes this worker's stats there
-- as JSON under its pid), concurrency (deliveries in flight at once per
-- nginx worker, default 4: that many ngx.thread lanes, each sending one
-- delivery at a time; 1: one after the other). Returns the worker
-- { stats(), stop() } | nil, err.
function _M.start(client_or_config, opts)
    opts = opts or {}
    if type(opts) ~= "table" then return nil, "opts must be a table" end
    local interval = opts.interval or 1
    local budget = opts.budget or 1000
    local concurrency = opts.concurrency or 4
    if type(concurrency) ~= "number" or not (concurrency >= 1 and concurrency <= 1000)
        or concurrency ~= floor(concurrency) then
        return nil, "opts.concurrency must be a whole number from 1 to 1000"
    end
    if type(interval) ~= "number" or not (interval >= 0.001 and interval <= 86400) then
        return nil, "opts.interval must be a number of seconds from 0.001 to 86400"
    end
    if type(budget) ~= "number" or not (budget >= 0 and budget <= 3600000) then
        return nil, "opts.budget must be a number of ms from 0 to 3600000"
    end
    if type(ngx) ~= "table" or not ngx.timer then return nil, "not inside nginx (no ngx.timer)" end
    local core = require("socialize.core")
    local client = client_or_config
    local mt = type(client) == "table" and getmetatable(client)
    if not (mt and mt.__name == "socialize.Client") then
        if type(client_or_config) ~= "table" then return nil, "a socialize client or its config expected" end
        local ok, c = pcall(require("socialize").new, client_or_config)
        if not ok then return nil, tostring(c) end
        client = c
    end
    local id = opts.worker or ("nginx-" .. ngx.worker.pid() .. "-" .. core.random_hex(4))
    local dict = opts.stats and ngx.shared[opts.stats]
    if opts.stats and not dict then return nil, "opts.stats: no lua_shared_dict " .. tostring(opts.stats) end
    local stats = { worker = id, pid = ngx.worker.pid(), runs = 0, skipped = 0, errors = 0, started = 0,
                    runMs = 0, runMaxMs = 0, ops = {}, concurrency = concurrency, lanesMax = 0 }
    for _, k in pairs(COUNTS) do stats[k] = 0 end
    local running, stopped = false, false
    local function exiting() return stopped or ngx.worker.exiting() end
    local work_opts = { worker = id, stop = exiting }
    local lane_opts = { worker = id, stop = exiting, limit = 1 }

    -- a run of `concurrency` lanes: the next lane is started only while the
    -- last one's first claim found a delivery (an empty queue costs one claim)
    local function run_lanes(t0)
        local lanes, errs, total = {}, {}, {}
        for _, k in pairs(COUNTS) do total[k] = 0 end
        for i = 1, concurrency do
            local lane = {}
            local th, serr = ngx.thread.spawn(run_lane, client, budget, t0, lane_opts, lane)
            if not th then errs[#errs + 1] = "ngx.thread.spawn: " .. tostring(serr); break end
            lanes[i] = th
            if lane.first == 0 then break end
        end
        stats.lanesMax = max(stats.lanesMax, #lanes)
        for _, th in ipairs(lanes) do
            local ok, acc, err = ngx.thread.wait(th)
            if ok and type(acc) == "table" then
                for _, k in pairs(COUNTS) do total[k] = total[k] + (acc[k] or 0) end
                if err then errs[#errs + 1] = err end
            else
                errs[#errs + 1] = tostring(acc)
            end
        end
        if #errs > 0 then return nil, table.concat(errs, "; "), total end
        return total
    end

    local function run(premature)
        if premature or exiting() then return end
        if running then -- the previous run is still going: this tick is skipped
            stats.skipped = stats.skipped + 1
            if dict then dict:set(tostring(stats.pid), core.json_encode(stats)) end
            return
        end
        running = true
        if opts.measure then pcall(measure_store, client, stats.ops) end
        local t0 = clock_ms()
        local ok, sum, err, part
        if concurrency > 1 then
            ok, sum, err, part = pcall(run_lanes, t0)
        else
            ok, sum, err = pcall(client.work, client, budget, work_opts)
        end
        local ms = clock_ms() - t0
        running = false
        stats.runs = stats.runs + 1
        stats.runMs = stats.runMs + ms
        stats.runMaxMs = max(stats.runMaxMs, ms)
        if ok and sum then
            for _, k in pairs(COUNTS) do stats[k] = stats[k] + (sum[k] or 0) end
        else
            if type(part) == "table" then -- what the lanes did before one failed
                for _, k in pairs(COUNTS) do stats[k] = stats[k] + (part[k] or 0) end
            end
            stats.errors = stats.errors + 1
            -- a store error, never a secret (the client scrubs its errors)
            ngx.log(ngx.ERR, "socialize outbox worker ", id, ": ", tostring(ok and err or sum))
        end
        if dict then dict:set(tostring(stats.pid), core.json_encode(stats)) end
    end

    local ok, terr = ngx.timer.every(interval, run)
    if not ok then return nil, "ngx.timer.every: " .. tostring(terr) end
    local w = {}
    function w.stats() return stats end
    function w.stop() stopped = true end -- the run in progress finishes its delivery, then ends
    function w.running() return running end
    w.interval, w.budget, w.concurrency = interval, floor(budget), concurrency
    return w
end

return _M
