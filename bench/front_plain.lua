-- The client's front with a canned transport in a hot loop, in a plain Lua
-- (luajit or lua5.x): validation, build + sign, reply parse, the response
-- model, no I/O (the same work as bench/front_loop.lua's /front_loop inside
-- nginx). Prints CPU microseconds per call for each of ROUNDS rounds.
-- Usage: luajit bench/front_plain.lua [N] [ROUNDS]   (run from the root,
-- with LUA_PATH/LUA_CPATH reaching lua/ and the build's modules;
-- SOCIALIZE_FFI=0: config.ffi = false)
local socialize = require("socialize")
local N = tonumber(arg and arg[1]) or 20000
local ROUNDS = tonumber(arg and arg[2]) or 5
local REPLY = '{"callId":"bench0000000000000000000000000000","errorCode":0,"apiVersion":2,"statusCode":200,"statusReason":"OK","time":"2026-11-23T00:00:00.000Z","providerPostIDs":{"facebook":"1647395831_1001"}}'
local res = { status = 200, headers = { date = os.date("!%a, %d %b %Y %H:%M:%S GMT") }, body = REPLY }
local cfg = { apiKey = "3_k", secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", retry = false,
    transport = { request = function() return res end, request_many = function() return { res } end } }
if os.getenv("SOCIALIZE_FFI") == "0" then cfg.ffi = false end -- config.ffi (LuaJIT): the C API path
local c = socialize.new(cfg)
local A = { title = "Level 3 done", linkBack = "https://game.example/l3" }
local function loop(n)
    for _ = 1, n do assert(c:publishUserAction { UID = "user_123", userAction = A }) end
end
loop(N) -- warm-up (traces compiled)
for r = 1, ROUNDS do
    local c0 = os.clock()
    loop(N)
    print(string.format("round %d: %.2f us/call cpu", r, (os.clock() - c0) / N * 1e6))
end
