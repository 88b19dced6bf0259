-- LuaJIT, the Gigya backend against the local fake Gigya server
-- (docs/api.md "Trying it locally: the fake Gigya server"): the same blocking
-- calls with config.ffi left at its default and set to false, each with and
-- without a config.log hook. docs/api.md promises "the same requests, byte for
-- byte" (ffi) and "the same answers and errors" (with or without log), so the
-- answers (less callId and time, which the server makes up) and what the
-- server received (less nonce, timestamp and sig) must be equal.
--
--   LUA_PATH='lua/?.lua;;' LUA_CPATH='build/luajit/?.so;;' luajit examples/newcomer2/gigya_ffi.lua
-- It starts the fake server itself (python3, on 127.0.0.1, at most 60 s) and stops it.
local socialize = require("socialize")
local core = require("socialize.core")

assert(jit, "run it with luajit: config.ffi only matters there")
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
local SECRET = "ZGVtby1wYXJ0bmVyLXNlY3JldA==" -- base64 of "demo-partner-secret"
local f = assert(io.open(dir .. "/conf.json", "w"))
f:write(core.json_encode({ partners = { ["3_demoApiKey"] = SECRET },
    users = { user_123 = { providers = { "facebook", "twitter" }, nickname = "Demo User" } } }))
f:close()
os.execute("python3 spec/fakes/fake_gigya.py --config " .. dir .. "/conf.json --ready " .. dir
    .. "/ready --lifetime 60 >" .. dir .. "/server.log 2>&1 &")
local ready
for _ = 1, 100 do
    local r = io.open(dir .. "/ready")
    ready = r and r:read("*a")
    if r then r:close() end
    if ready and ready ~= "" then break end
    os.execute("sleep 0.05")
end
local url = "http://127.0.0.1:" .. assert(core.json_decode(ready)).http
local function curl(args)
    local p = io.popen("curl -s " .. args)
    local out = p:read("*a")
    p:close()
    return out
end

-- the calls: two that succeed, one refused before sending, one the server refuses
local CALLS = {
    { "publishUserAction", { UID = "user_123", enabledProviders = "facebook,twitter",
        userAction = { title = "Level 3 done", linkBack = "https://game.example/l3", userMessage = "é 🚀" } } },
    { "getUserInfo", { UID = "user_123", includeAllIdentities = true } },
    { "setStatus", { UID = "user_123" } },                     -- no status: 400002, nothing sent
    { "publishUserAction", { UID = "user_123", userAction = { title = "x" } }, "wrong" },
}

local function clean(t)
    if type(t) ~= "table" then return t end
    local c = {}
    for k, v in pairs(t) do
        if k ~= "callId" and k ~= "time" then c[k] = clean(v) end
    end
    return c
end

local function run(ffi, log)
    curl("-X POST " .. url .. "/__reset")
    local events = {}
    local answers = {}
    for i, call in ipairs(CALLS) do
        local client = socialize.new {
            apiKey = "3_demoApiKey",
            secret = call[3] == "wrong" and "d3Jvbmctc2VjcmV0" or SECRET,
            url = url, ffi = ffi,
            log = log and function(e) events[#events + 1] = e.event .. " " .. tostring(e.method or e.status) end or nil,
        }
        local res, err = client[call[1]](client, call[2])
        local a = core.json_encode({ ok = res ~= nil, res = clean(res), err = clean(err and {
            errorCode = err.errorCode, errorMessage = err.errorMessage, errorDetails = err.errorDetails,
            statusCode = err.statusCode }) })
        -- what the server makes up or what changes with each call: post ids, the
        -- nonce and timestamp it echoes, the user signature of this second
        answers[i] = a:gsub("_%x%x%x%x%x%x%x%x%x%x%x%x\"", "_<id>\""):gsub("nonce%%3D[%d_]+", "nonce%%3D<n>")
            :gsub("timestamp%%3D%d+", "timestamp%%3D<t>"):gsub('"UIDSignature":"[^"]*"', '"UIDSignature":"<s>"')
            :gsub('"signatureTimestamp":"%d+"', '"signatureTimestamp":"<t>"')
    end
    local got = core.json_decode(curl(url .. "/__requests"))
    local sent = {}
    for _, r in ipairs(got) do
        local p = {}
        for k, v in pairs(r.params) do
            if k ~= "nonce" and k ~= "timestamp" and k ~= "sig" then p[k] = v end
        end
        sent[#sent + 1] = r.path .. " " .. core.json_encode(p)
    end
    return answers, table.concat(sent, "\n"), events
end

local base_answers, base_sent = run(nil, false)
for i, a in ipairs(base_answers) do print(("call %d (%s): %s"):format(i, CALLS[i][1], a)) end
print("the server received:\n" .. base_sent)
local failed = false
for _, v in ipairs({ { nil, true }, { false, false }, { false, true } }) do
    local answers, sent, events = run(v[1], v[2])
    local name = ("ffi=%s log=%s"):format(tostring(v[1] ~= false), tostring(v[2]))
    local same = table.concat(answers, "\n") == table.concat(base_answers, "\n") and sent == base_sent
    print(("%s: %s%s"):format(name, same and "the same answers and requests" or "DIFFERENT",
        v[2] and (", log events: " .. table.concat(events, ", ")) or ""))
    if not same then
        failed = true
        for i, a in ipairs(answers) do print(("  call %d: %s"):format(i, a)) end
        print("  received:\n" .. sent)
    end
end
curl("-X POST " .. url .. "/__shutdown")
os.execute("rm -rf " .. dir)
print(failed and "FAILED" or "ok")
os.exit(failed and 1 or 0)
