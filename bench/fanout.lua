-- Fan-out benchmark: one publishUserAction to 4 and to 8 providers that each
-- take 50 ms (the sandbox delays every reply of each network), parallel
-- (curl multi) against sequential (one request at a time), measured side by
-- side in one run with interleaved repetitions.
--   make bench   (or: lua5.4 bench/fanout.lua)
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")
local curl = require("socialize.curl")

local REPS = tonumber(os.getenv("REPS") or "15")
local ALL = { "twitter", "facebook", "linkedin", "telegram", "vkontakte", "sina", "mastodon", "bluesky" }
local sb = H.start_sandbox()
local delays = {}
for _, n in ipairs(ALL) do delays[n] = 50 end
H.configure(sb, { delay_ms = delays })
local providers = H.sandbox_providers(sb)
local conns = { u1 = H.sandbox_connection(sb) }

local parallel = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns }
local session = curl.new {}
local sequential = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns,
    transport = function(req) return session:request(req) end }

local function params(n)
    return { UID = "u1", userAction = { title = "bench", linkBack = "https://game.example/" },
             enabledProviders = table.concat(ALL, ",", 1, n) }
end

local function time(c, p)
    local t0 = core.now_ms()
    local res, err = c:publishUserAction(p)
    assert(res, err and tostring(err.errorMessage or err))
    for _, r in ipairs(res.results or {}) do assert(r.status == "OK", tostring(r.provider) .. ": " .. tostring(r.errorMessage)) end
    return core.now_ms() - t0
end

local function median(t)
    table.sort(t)
    return t[math.floor(#t / 2) + 1]
end

for _, n in ipairs({ 4, 8 }) do
    local p = params(n)
    time(parallel, p); time(sequential, p) -- warm up connections and sessions
    local a, b = {}, {}
    for i = 1, REPS do
        a[i] = time(parallel, p)
        b[i] = time(sequential, p)
    end
    local pa, sq = median(a), median(b)
    print(string.format("fan-out of %d providers x 50 ms, median of %d interleaved runs", n, REPS))
    print(string.format("  parallel (curl multi, %d providers)  %6.1f ms", n, pa))
    print(string.format("  sequential (%d providers)            %6.1f ms", n, sq))
    print(string.format("  parallel / one provider (50 ms): %.2fx;  sequential / parallel: %.2fx", pa / 50, sq / pa))
end
H.stop_all()
