-- Soak test (make soak): CALLS calls (default 100,000) through the
-- asynchronous API at CONCURRENCY (default 256) against the sandbox, a mix of
-- successes and errors. Passes when every call got exactly one result and
-- resident memory stayed flat; bounded by SOAK_SECONDS (default 600).
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local CALLS = tonumber(os.getenv("CALLS") or "100000")
local CONC = tonumber(os.getenv("CONCURRENCY") or "256")
local LIMIT = tonumber(os.getenv("SOAK_SECONDS") or "600")

local sb = H.start_sandbox()
H.configure(sb, { record = false })

local function rss_kb()
    local f = io.open("/proc/self/status")
    local s = f:read("*a")
    f:close()
    return tonumber(s:match("VmRSS:%s*(%d+)"))
end

local conns = {
    ok = { telegram = { chatId = "-100777" } },
    blocked = { telegram = { chatId = "-100blocked" } },     -- 403: permission_missing
}
local client = socialize.new { backend = "direct", allowPrivateNetworks = true, retry = false, timeout = 30,
    providers = { telegram = { botToken = "123456:sandbox-bot-token", baseUrl = sb.url("telegram") } },
    connections = conns }

-- call id -> result seen; filled up front, so that its growth does not
-- count as the library's
local results = {}
for i = 1, CALLS do results[i] = false end
local started, done, ok, failed, dup = 0, 0, 0, 0, 0
local kinds = {}
local samples = {}
local t0 = core.now_ms()

local function start_one()
    started = started + 1
    local id = started
    local uid = (id % 10 == 0) and "blocked" or "ok" -- one call in ten fails
    client:publishUserAction({ UID = uid, userAction = { title = "soak " .. id } }, function(res, err)
        if results[id] then dup = dup + 1 end
        results[id] = true
        done = done + 1
        if res then ok = ok + 1 else
            failed = failed + 1
            local e = err.providerErrorCodes and err.providerErrorCodes[1]
            local k = e and (e.category .. " " .. tostring(e.providerStatus or e.errorCode)) or tostring(err.errorCode)
            kinds[k] = (kinds[k] or 0) + 1
        end
        if done % 10000 == 0 then
            collectgarbage()
            samples[#samples + 1] = rss_kb()
            io.write(string.format("  %6d calls  %7.1f s  RSS %6d kB\n", done, (core.now_ms() - t0) / 1000,
                samples[#samples]))
            io.flush()
        end
    end)
end

for _ = 1, math.min(CONC, CALLS) do start_one() end
while done < CALLS do
    client:poll(50)
    while started < CALLS and started - done < CONC do start_one() end
    if (core.now_ms() - t0) / 1000 > LIMIT then
        print(string.format("soak: stopped at the %d s limit with %d of %d calls done", LIMIT, done, CALLS))
        break
    end
end
while client:poll(50) > 0 and (core.now_ms() - t0) / 1000 < LIMIT + 30 do end
H.stop_all()

local secs = (core.now_ms() - t0) / 1000
local missing = 0
for i = 1, started do if not results[i] then missing = missing + 1 end end
-- flat: after warm-up (the first two samples), no sample is more than 10 % +
-- 2 MB above the warm-up level
local base, peak = samples[2] or samples[1] or 0, 0
for i = 2, #samples do if samples[i] > peak then peak = samples[i] end end
local flat = #samples < 2 or peak <= base * 1.10 + 2048
print(string.format("soak: %d calls in %.1f s (%.0f calls/s), %d ok, %d errors, %d missing results, %d duplicate results",
    started, secs, started / secs, ok, failed, missing, dup))
for k, v in pairs(kinds) do print(string.format("soak:   %6d x %s", v, k)) end
print(string.format("soak: RSS after warm-up %d kB, peak %d kB: %s", base, peak, flat and "flat" or "GROWING"))
local pass = done == CALLS and missing == 0 and dup == 0 and flat and failed == CALLS / 10
print(string.format("soak: %d passed, %d failed", pass and 1 or 0, pass and 0 or 1))
os.exit(pass and 0 or 1)
