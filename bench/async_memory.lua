-- Memory per in-flight asynchronous call: 1,000 calls started at once
-- against an endpoint that holds every request (spec/fakes/faults.py /slow),
-- resident memory measured before and while they are all in flight.
local H = dofile("spec/helper.lua")
local socialize = require("socialize")

local N = tonumber(os.getenv("INFLIGHT") or "1000")
local F = H.start_faults()

local function rss_kb()
    local f = io.open("/proc/self/status")
    local s = f:read("*a")
    f:close()
    return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local client = socialize.new { apiKey = "3_benchApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
    url = F.http .. "/slow", timeout = 30, retry = false }
-- warm up: code paths, one connection, the allocator
client:setStatus({ UID = "u", status = "warm" }, function() end)
while client:poll(50) > 0 do end
collectgarbage()
collectgarbage()
local before, lua_before = rss_kb(), collectgarbage("count")
local done = 0
for i = 1, N do
    client:publishUserAction({ UID = "user_" .. i, userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } },
        function() done = done + 1 end)
end
-- let every transfer connect and send its request
for _ = 1, 40 do client:poll(25) end
collectgarbage()
local during, lua_during = rss_kb(), collectgarbage("count")
local fds = #client:fds()
while client:poll(100) > 0 do end
print(string.format("inflight %d (sockets watched: %d), RSS %d -> %d kB: %.1f kB per call (Lua heap %.1f kB per call), %d callbacks",
    N, fds, before, during, (during - before) / N, (lua_during - lua_before) / N, done))
H.stop_all()
