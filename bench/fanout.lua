-- Fan-out benchmark: one publishUserAction to four providers that each take
-- 50 ms, parallel (curl multi) against sequential (one request at a time),
-- measured side by side in one run with interleaved repetitions.
--   make bench   (or: lua5.4 bench/fanout.lua)
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")
local curl = require("socialize.curl")

local REPS = tonumber(os.getenv("REPS") or "15")
local sb = H.start_sandbox()
H.configure(sb, { delay_ms = { twitter = 50, facebook = 50, linkedin = 50, telegram = 50 } })
local providers = H.sandbox_providers(sb)
local conns = { u1 = H.sandbox_connection(sb) }
local params = { UID = "u1", userAction = { title = "bench", linkBack = "https://game.example/" },
                 enabledProviders = "twitter,facebook,linkedin,telegram" }

local parallel = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns }
local session = curl.new {}
local sequential = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns,
    transport = function(req) return session:request(req) end }

local function time(c)
    local t0 = core.now_ms()
    assert(c:publishUserAction(params))
    return core.now_ms() - t0
end

local function median(t)
    table.sort(t)
    return t[math.floor(#t / 2) + 1]
end

time(parallel); time(sequential) -- warm up connections
local a, b = {}, {}
for i = 1, REPS do
    a[i] = time(parallel)
    b[i] = time(sequential)
end
local pa, sq = median(a), median(b)
print(string.format("fan-out of 4 providers x 50 ms, median of %d interleaved runs", REPS))
print(string.format("  parallel (curl multi)  %6.1f ms", pa))
print(string.format("  sequential             %6.1f ms", sq))
print(string.format("  parallel / one provider (50 ms): %.2fx;  sequential / parallel: %.2fx", pa / 50, sq / pa))
H.stop_all()
