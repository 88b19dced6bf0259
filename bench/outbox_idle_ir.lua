-- Instructions of a game loop's frame with nothing due: client:work(2,
-- { async = true }) then client:poll(0) (MODE "claim"), the same with
-- idle = 1000 (MODE "idle": the claim skipped), or poll(0) alone (MODE
-- "poll"). bench/run runs it under callgrind with N = 0 and N = 2000 and
-- takes the difference / N. usage: lua5.4 bench/outbox_idle_ir.lua URL N MODE
local socialize = require("socialize")
local url, n, mode = arg[1], tonumber(arg[2]), arg[3] or "claim"
local c = socialize.new { backend = "direct", providers = { telegram = { botToken = "1:x" } },
                          store = { url = url, keys = { "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } },
                          connections = function() return { telegram = { chatId = "1" } } end }
-- one job, sent in the future: the tables exist, nothing is due
assert(c:publishUserAction({ UID = "u1", userAction = { title = "later" } },
    { deliver = "queued", at = os.time() + 86400 }))
assert(c:work(10, { async = true }))
local opts = { async = true, idle = mode == "idle" and 1000 or nil }
assert(c:work(2, opts))
for _ = 1, n do
    if mode ~= "poll" then c:work(2, opts) end
    c:poll(0)
end
c:close()
