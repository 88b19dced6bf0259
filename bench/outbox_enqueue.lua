-- Queued publishes per second through the client (docs/delivery.md): the
-- same check as a direct call, the targets resolved, one job and two
-- deliveries written; one transaction per publish, or `batch` publishes per
-- transaction through store:transaction and { deliver = "queued", tx = tx }
-- (one commit, so one fsync on SQLite, per batch).
-- usage: lua5.4 bench/outbox_enqueue.lua STORE_URL [N]
-- Prints "batch <size> <publishes per second> p99 <ms per transaction>".
local socialize = require("socialize")
local store = require("socialize.store")
local url, n = arg[1], tonumber(arg[2] or "3000")
assert(url, "usage: outbox_enqueue.lua STORE_URL [N]")
local c = socialize.new { backend = "direct", store = { url = url, plaintext = true },
    providers = { mastodon = {}, twitter = {} },
    connections = function() return { mastodon = { accessToken = "t", instance = "https://m.example" },
                                      twitter = { bearerToken = "b" } } end }
local st = assert(c:store())
local function clock() return store.now_ms() / 1000 end

for _, batch in ipairs({ 1, 10, 100 }) do
    local lat, i, t0 = {}, 0, clock()
    while i < n do
        local b0 = clock()
        assert(st:transaction(function(tx)
            for _ = 1, batch do
                i = i + 1
                assert(c:publishUserAction({ UID = "u" .. (i % 100),
                    userAction = { title = "Level " .. i .. " done", linkBack = "https://game.example/l" } },
                    { deliver = "queued", tx = tx }))
            end
        end))
        lat[#lat + 1] = clock() - b0
    end
    table.sort(lat)
    print(string.format("batch %d %.0f p99 %.1f", batch, n / (clock() - t0),
        lat[math.max(1, math.floor(#lat * 0.99))] * 1000))
end
c:close()
