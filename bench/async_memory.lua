-- Memory per in-flight asynchronous call: N calls (INFLIGHT, default 1,000)
-- started at once against bench/hold_server.py, which reads every request
-- whole and answers none until told to; resident memory and the Lua heap
-- measured before the calls and once the server has received all N
-- requests (every call connected, sent, and waiting for its reply).
--   INFLIGHT=10000 lua5.4 bench/async_memory.lua
-- HOLD=https: against bench/hold_nginx.sh's HTTPS listener instead (nginx,
-- HTTP/2 by ALPN, its own self-signed certificate as `cafile`); HOLD=nginx:
-- its HTTP/1.1 listener. HTTP2=1: the client's `http2` option on.
local socialize = require("socialize")
local core = require("socialize.core")

local N = tonumber(os.getenv("INFLIGHT") or "1000")
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local ready, countf, release = dir .. "/ready", dir .. "/count", dir .. "/release"
local HOLD = os.getenv("HOLD") or "python"
local pid
if HOLD == "python" then
    local srv = io.popen("python3 bench/hold_server.py --ready '" .. ready .. "' --count '" .. countf
        .. "' --release '" .. release .. "' --hold 60 --lifetime 120 & echo $!")
    pid = srv:read("*l")
else
    assert(HOLD == "https" or HOLD == "nginx", "HOLD: python, nginx or https")
    assert(os.execute("sh bench/hold_nginx.sh start '" .. dir .. "'"))
end
local function slurp(p)
    local f = io.open(p)
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end
local t0 = core.now_ms()
while not slurp(ready) do
    assert(core.now_ms() - t0 < 10000, "hold_server.py did not start")
    os.execute("sleep 0.05")
end
local port = slurp(ready):match(HOLD == "https" and '"https": (%d+)' or '"http": (%d+)')

local function rss_kb()
    return tonumber(slurp("/proc/self/status"):match("VmRSS:%s*(%d+)"))
end
local function received() return tonumber(slurp(countf) or "0") or 0 end

local client = socialize.new { apiKey = "3_benchApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
    url = (HOLD == "https" and "https" or "http") .. "://127.0.0.1:" .. port, timeout = 60, retry = false,
    cafile = HOLD == "https" and dir .. "/cert.pem" or nil, http2 = os.getenv("HTTP2") and true or nil }
-- warm up: code paths, one connection, the allocator
local f = io.open(release, "w"); f:close()
client:setStatus({ UID = "u", status = "warm" }, function() end)
while client:poll(50) > 0 do end
os.remove(release)
collectgarbage()
collectgarbage()
local before, lua_before = rss_kb(), collectgarbage("count")
local base = 1 -- the warm-up request
local done = 0
for i = 1, N do
    client:publishUserAction({ UID = "user_" .. i, userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } },
        function() done = done + 1 end)
end
-- until the server has every request (at most 60 s)
t0 = core.now_ms()
while received() - base < N and core.now_ms() - t0 < 60000 do client:poll(20) end
local got = received() - base
collectgarbage()
collectgarbage()
local during, lua_during = rss_kb(), collectgarbage("count")
local fds = #client:fds()
local conns = tonumber(slurp(dir .. "/conns") or "") -- nginx: the connections it accepted
if os.getenv("MEMORY_HOLD") then -- a heap profiler's snapshot point (bench/run: massif)
    io.stderr:write("holding\n")
    local m = io.open(os.getenv("MEMORY_MAPS") or "/dev/null", "w")
    if m then m:write(slurp("/proc/self/maps")); m:close() end
    os.execute("sleep " .. os.getenv("MEMORY_HOLD"))
end
f = io.open(release, "w"); f:close()
while client:poll(100) > 0 do end
print(string.format(HOLD .. (os.getenv("HTTP2") and ", http2" or "") .. ": inflight %d (requests received by the server: %d, sockets watched: %d), RSS %d -> %d kB:"
    .. " %.1f kB per call (Lua heap %.2f kB per call), %d callbacks%s",
    N, got, fds, before, during, (during - before) / N, (lua_during - lua_before) / N, done,
    conns and string.format(", connections at the server: %d", conns) or ""))
if pid then os.execute("kill " .. pid .. " 2>/dev/null") else os.execute("sh bench/hold_nginx.sh stop '" .. dir .. "'") end
os.execute("rm -rf '" .. dir .. "'")
