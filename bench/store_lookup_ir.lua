-- Instructions per store lookup: bench/run runs it under callgrind with N = 0
-- and N = 1000 (get_connection then list_connections of a one-record UID, N
-- each) and takes the difference / 2N. usage: lua5.4 bench/store_lookup_ir.lua URL N
local store = require("socialize.store")
local url, n = arg[1], tonumber(arg[2])
local s = assert(store.open(url, { keys = { "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } }))
for i = 1, 100 do
    assert(s:put_connection({ UID = "bench-" .. i, provider = "twitter", account = tostring(i),
        fields = { handle = "@user" .. i }, secrets = { accessToken = "access-token-" .. i }, expiresAt = 1900000000 }))
end
for i = 1, n do assert(s:get_connection("bench-" .. (i % 100 + 1), "twitter")) end
for i = 1, n do assert(s:list_connections("bench-" .. (i % 100 + 1))) end
s:close()
