-- The outbox's worker inside OpenResty (docs/openresty.md, "Queued
-- delivery"): started from init_worker_by_lua*, one claimant per nginx
-- worker, run by ngx.timer.every. Each run is client:work(budget) inside a
-- timer, where the resty transport's cosockets yield: the worker serves
-- requests while a network answers. The store (SQLite file I/O, libpq) does
-- not yield: its calls block the nginx worker, and `measure` times them.
local ngx = ngx
local type, pairs, pcall, tostring, tonumber, setmetatable, getmetatable = type, pairs, pcall, tostring, tonumber,
    setmetatable, getmetatable
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

--- Starts the outbox worker of this nginx worker: client_or_config is a
-- socialize client or its config (a client is made from it). opts:
-- interval (seconds between runs, default 1), budget (ms of starting
-- deliveries per run, default 1000), worker (an id for the leases; default
-- "nginx-<pid>-<random>"), measure (time the store's calls), stats
-- (the name of a lua_shared_dict: each run writes this worker's stats there
-- as JSON under its pid). Returns the worker { stats(), stop() } | nil, err.
function _M.start(client_or_config, opts)
    opts = opts or {}
    if type(opts) ~= "table" then return nil, "opts must be a table" end
    local interval = opts.interval or 1
    local budget = opts.budget or 1000
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
                    runMs = 0, runMaxMs = 0, ops = {} }
    for _, k in pairs(COUNTS) do stats[k] = 0 end
    local running, stopped = false, false
    local function exiting() return stopped or ngx.worker.exiting() end
    local work_opts = { worker = id, stop = exiting }

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
        local ok, sum, err = pcall(client.work, client, budget, work_opts)
        local ms = clock_ms() - t0
        running = false
        stats.runs = stats.runs + 1
        stats.runMs = stats.runMs + ms
        stats.runMaxMs = max(stats.runMaxMs, ms)
        if ok and sum then
            for _, k in pairs(COUNTS) do stats[k] = stats[k] + (sum[k] or 0) end
        else
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
    w.interval, w.budget = interval, floor(budget)
    return w
end

return _M
