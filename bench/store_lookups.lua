-- Store throughput: connection lookups (get_connection, secrets unsealed),
-- puts (sealed, one transaction each) and lease cycles (with_lock around a
-- lookup), and the lookup a publish makes (list_connections: all of a UID's
-- connections). usage: lua5.4 bench/store_lookups.lua URL [N]
-- Prints one line per measure: "<name> <ops per second>".
local store = require("socialize.store")
local url, n = arg[1], tonumber(arg[2] or "2000")
assert(url, "usage: store_lookups.lua URL [N]")
local s = assert(store.open(url, { keys = { "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }))
local clock = os.clock and function() return store.now_ms() / 1000 end

local function rate(name, count, fn)
    local t0 = clock()
    for i = 1, count do fn(i) end
    local dt = clock() - t0
    print(string.format("%s %.0f", name, count / dt))
end

local users = 100
rate("put", n, function(i)
    assert(s:put_connection({ UID = "bench-" .. (i % users), provider = "twitter", account = tostring(i),
        fields = { handle = "@user" .. i }, secrets = { accessToken = "access-token-" .. i,
        refreshToken = "refresh-token-" .. i }, expiresAt = 1900000000 }))
end)
rate("get", n * 5, function(i)
    assert(s:get_connection("bench-" .. (i % users), "twitter"))
end)
-- what a publish reads: every connection of the UID (list_connections)
rate("list", n * 5, function(i)
    assert(s:list_connections("bench-" .. (i % users)))
end)
rate("with_lock", n, function(i)
    assert(s:with_lock("bench-" .. (i % users), "twitter", function(c) return c end))
end)
s:close()
