-- Queued publishes per second through the client (docs/delivery.md): the
-- same checks as a direct call, the targets resolved, one job and two
-- deliveries written per publish. In one run, each on a fresh store:
--   one publish per call (its own transaction), config.store.outboxSync
--   "full", then 1 (the default: a FULL commit at most once a second,
--   docs/store.md "Durability"), then "normal";
--   client:enqueueMany with batches of 10 and 100 (one transaction, so one
--   commit, per batch), "full" then "normal".
-- usage: lua5.4 bench/outbox_enqueue.lua DIR|postgresql://... [N]
--   DIR: a directory for the SQLite files (on the disk you mean to measure:
--   tmpfs takes the fsync away); a PostgreSQL URL: the same runs there
--   (outboxSync changes nothing on PostgreSQL).
-- Prints one line per run: publishes per second, and p50 / p99 / max of the
-- time per call (one publish, or one batch; to the microsecond with
-- LuaSocket, else to the millisecond).
local socialize = require("socialize")
local store = require("socialize.store")
local where, n = arg[1], tonumber(arg[2] or "3000")
assert(where, "usage: outbox_enqueue.lua DIR|postgresql://... [N]")
local pg = where:find("^postgres") ~= nil
-- microseconds from LuaSocket when it is there (as bench/client_luasocket.lua), else milliseconds
local has_socket, socket = pcall(require, "socket")
local function clock() return store.now_ms() / 1000 end
if has_socket and socket.gettime then clock = socket.gettime end

if not pg then
    local p = io.popen("stat -f -c %T " .. "'" .. where:gsub("'", "'\\''") .. "' 2>&1")
    print(string.format("SQLite files in %s (file system: %s)", where, (p:read("*a"):gsub("%s+$", ""))))
    p:close()
end

local runs = 0
local function new_client(sync)
    runs = runs + 1
    local url = pg and where or string.format("sqlite:%s/enqueue-%d-%s.db", where, runs, tostring(sync))
    local c = socialize.new { backend = "direct", store = { url = url, plaintext = true, outboxSync = sync },
        providers = { mastodon = {}, twitter = {} },
        connections = function() return { mastodon = { accessToken = "t", instance = "https://m.example" },
                                          twitter = { bearerToken = "b" } } end }
    assert(c:store())
    return c
end

local function params(i)
    return { UID = "u" .. (i % 100), userAction = { title = "Level " .. i .. " done", linkBack = "https://game.example/l" } }
end

-- cpu: this process's CPU seconds (os.clock) over the run: on a shared
-- machine the wall rate drops with the load, the CPU per publish much less
local function report(what, count, secs, cpu, lat)
    table.sort(lat)
    local function q(f) return lat[math.max(1, math.min(#lat, math.floor(#lat * f + 0.5)))] * 1000 end
    print(string.format("%-40s %6.0f publishes/s  CPU %4.0f us/publish  p50 %6.2f  p99 %6.2f  max %7.2f ms a call",
        what, count / secs, cpu / count * 1e6, q(0.5), q(0.99), lat[#lat] * 1000))
end

local function mode(sync) return type(sync) == "number" and sync .. " s (default)" or sync end

for _, sync in ipairs({ "full", 1, "normal" }) do
    local c = new_client(sync)
    local lat, t0, c0 = {}, clock(), os.clock()
    for i = 1, n do
        local b0 = clock()
        assert(c:publishUserAction(params(i), { deliver = "queued" }))
        lat[i] = clock() - b0
    end
    report("one per call, outboxSync " .. mode(sync), n, clock() - t0, os.clock() - c0, lat)
    c:close()
end

for _, sync in ipairs({ "full", "normal" }) do
    for _, batch in ipairs({ 10, 100 }) do
        local c = new_client(sync)
        local lat, i, t0, c0 = {}, 0, clock(), os.clock()
        while i < n do
            local list = {}
            for k = 1, batch do list[k] = { method = "publishUserAction", params = params(i + k) } end
            i = i + batch
            local b0 = clock()
            assert(c:enqueueMany(list))
            lat[#lat + 1] = clock() - b0
        end
        report(string.format("enqueueMany of %d, outboxSync %s", batch, sync), i, clock() - t0, os.clock() - c0, lat)
        c:close()
    end
end
