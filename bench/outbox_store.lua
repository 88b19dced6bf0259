-- Outbox throughput in the store (docs/delivery.md): enqueues (one job with
-- two deliveries, one transaction each), then claims of 50 with each
-- outcome recorded (one transaction per claim and per outcome).
-- usage: lua5.4 bench/outbox_store.lua URL [N]
-- Prints one line per measure: "<name> <operations per second>".
local store = require("socialize.store")
local url, n = arg[1], tonumber(arg[2] or "2000")
assert(url, "usage: outbox_store.lua URL [N]")
local s = assert(store.open(url, { plaintext = true }))
local function clock() return store.now_ms() / 1000 end
local params = '{"UID":"u","userAction":{"title":"Level 3 done","linkBack":"https://game.example/l3"}}'

local t0 = clock()
for i = 1, n do
    assert(s:enqueue({ UID = "bench-" .. (i % 100), method = "socialize.publishUserAction", params = params,
        providers = { "twitter", "mastodon" }, now = 1000 }))
end
print(string.format("enqueue %.0f", n / (clock() - t0)))

t0 = clock()
local done = 0
for _ = 1, n do -- bounded: 2n deliveries, 50 a claim
    local list = assert(s:claim("bench", 1000, 60, 50))
    if #list == 0 then break end
    for _, d in ipairs(list) do
        assert(s:record(d.jobID, d.provider, "bench", 1001, { state = "sent", postID = "1" }))
        done = done + 1
    end
end
assert(done == 2 * n, "delivered " .. done)
print(string.format("claim+record %.0f", done / (clock() - t0)))
s:close()
