-- Scaling of the instructions per call (issue 15 target 5), run under
-- callgrind by bench/run; the instructions of a run with M = 0 are the
-- fixed cost subtracted, so (I(M) - I(0)) / M is the cost of one call.
--   lua5.4 bench/scaling.lua inflight K M   M asynchronous calls (Gigya backend)
--       started K at a time, every batch answered before the next; against
--       bench/hold_server.py answering at once
--   lua5.4 bench/scaling.lua providers N M  M blocking publishUserAction calls
--       to N providers of the sandbox (direct backend), in parallel per call;
--       SCALING_LOG=1 sets a config.log hook (a no-op)
local mode, a, m = arg[1], tonumber(arg[2]), tonumber(arg[3])
local socialize = require("socialize")
local core = require("socialize.core")

local function slurp(p)
    local f = io.open(p)
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

if mode == "inflight" then
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local srv = io.popen("python3 bench/hold_server.py --ready '" .. dir .. "/ready' --count '" .. dir
        .. "/count' --release '" .. dir .. "/release' --hold 0 --lifetime 600 & echo $!")
    local pid = srv:read("*l")
    local t0 = core.now_ms()
    while not slurp(dir .. "/ready") do
        assert(core.now_ms() - t0 < 10000, "hold_server.py did not start")
        os.execute("sleep 0.05")
    end
    local port = slurp(dir .. "/ready"):match('"http": (%d+)')
    local client = socialize.new { apiKey = "3_benchApiKey", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==",
        url = "http://127.0.0.1:" .. port, timeout = 120, retry = false }
    -- warm up with as many connections as the largest batch, so that M = 0
    -- and M > 0 differ only by the calls (connections are reused after)
    local function batch(k)
        local ok = 0
        for i = 1, k do
            client:publishUserAction({ UID = "user_" .. i, userAction = { title = "Level 3 done", linkBack = "https://game.example/l3" } },
                function(res) if res then ok = ok + 1 end end)
        end
        while client:poll(100) > 0 do end
        return ok
    end
    assert(batch(a) == a, "warm-up calls failed")
    local done = 0
    while done < m do
        local k = math.min(a, m - done)
        assert(batch(k) == k, "calls failed")
        done = done + k
    end
    client:close()
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.execute("rm -rf '" .. dir .. "'")
elseif mode == "providers" then
    local H = dofile("spec/helper.lua")
    local ALL = { "twitter", "facebook", "linkedin", "telegram", "vkontakte", "sina", "mastodon", "bluesky" }
    local sb = H.start_sandbox()
    -- SCALING_LOG=1: with a config.log hook (every round's requests then
    -- need the call's redaction list: the log events are scrubbed)
    local log = os.getenv("SCALING_LOG") == "1" and function() end or nil
    local c = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
        connections = { u1 = H.sandbox_connection(sb) }, log = log }
    local p = { UID = "u1", userAction = { title = "bench", linkBack = "https://game.example/" },
                enabledProviders = table.concat(ALL, ",", 1, a) }
    assert(c:publishUserAction(p)) -- warm up: connections, sessions
    for _ = 1, m do assert(c:publishUserAction(p)) end
    H.stop_all()
else
    error("usage: scaling.lua inflight K M | providers N M")
end
