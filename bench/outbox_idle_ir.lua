-- Instructions of client:work(budget, { async = true }) with nothing due (a
-- game loop's frame): bench/run runs it under callgrind with N = 0 and
-- N = 2000 and takes the difference / N. usage: lua5.4 bench/outbox_idle_ir.lua URL N
local socialize = require("socialize")
local url, n = arg[1], tonumber(arg[2])
local c = socialize.new { backend = "direct", providers = { telegram = { botToken = "1:x" } },
                          store = { url = url, keys = { "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" } },
                          connections = function() return { telegram = { chatId = "1" } } end }
-- one job, sent in the future: the tables exist, nothing is due
assert(c:publishUserAction({ UID = "u1", status = "x", userAction = { title = "later" } },
    { deliver = "queued", at = os.time() + 86400 }))
assert(c:work(10, { async = true }))
for _ = 1, n do
    c:work(2, { async = true })
    c:poll(0)
end
c:close()
