-- examples/newcomer2/: a second newcomer's programs, written from the docs only
-- and run as a user would: notify_three.lua (a queued sendNotification to three
-- recipients on the sandbox, a worker loop, client:job with each recipient's
-- state, then `socialize job`, `socialize --json job`, `socialize jobs`),
-- gigya_ffi.lua (LuaJIT: the Gigya backend against the fake Gigya server with
-- and without config.ffi and config.log, the same answers and requests) and
-- openresty/run.sh (Debian's nginx with its Lua module publishing through the
-- Gigya backend to the fake Gigya server, ffi at its default; started on a free
-- port in a temporary directory and stopped).
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")

local build = os.getenv("BUILD") or "build/lua5.4"
local lua = os.getenv("LUA") or (build:match("luajit") and "luajit") or (build:match("5%.1") and "lua5.1") or "lua5.4"

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

describe("newcomer2 examples #once", function()
    local sb
    setup(function() sb = H.start_sandbox() end)
    teardown(function() H.stop_all() end)
    before_each(function() H.reset(sb) end)

    it("notify_three.lua: every recipient messaged once, each one's state in client:job and the command", function()
        local db = H.tmpdir .. "/newcomer2-notify.db"
        os.remove(db)
        local out, code = sh("SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE_STORE_KEY='" .. K.KEY
            .. "' SOCIALIZE='" .. lua .. " bin/socialize' LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. build .. "/?.so;;' "
            .. lua .. " examples/newcomer2/notify_three.lua " .. db)
        assert.are.equal(0, code, out)
        assert.matches("queued %x+: status queued, providers telegram\n", out)
        assert.matches("before work: telegram queued, recipients nil\n", out, 1, true)
        -- one delivery sent (job 1) and one dead (job 2): deliveries, not recipients
        assert.matches("worker: sent 1\n", out, 1, true)
        -- job 1: sent, postID the message ids in the recipients' order, no recipients list
        assert.matches("status sent\n  telegram: state sent, attempts 1, postID 555001:%d+,555002:%d+,555003:%d+, category nil\n"
            .. "    reason nil\n", out)
        -- job 2: dead, the two messaged kept, the one with no connection failed for good
        assert.matches("status dead\n  telegram: state dead, attempts 1, postID nil, category not_connected\n"
            .. "    reason 2 of 3 recipients messaged; 1 failed for good: recipient nobody: telegram: "
            .. "the recipient has no chatId %(not_connected%)\n"
            .. "    recipient 1 friend1: sent 555001:%d+ nil\n    recipient 2 555004: sent 555004:%d+ nil\n"
            .. "    recipient 3 nobody: failed nil not_connected\n", out)
        -- the command: the human table, --json before and after the command, jobs
        assert.matches("telegram  sent   1         555001:%d+,555002:%d+,555003:%d+", out)
        assert.matches('"recipients":[{"UID":"friend1","postID":"555001:', out, 1, true)
        assert.matches('{"UID":"nobody","category":"not_connected","reason":"recipient nobody: telegram: the recipient has no chatId","state":"failed"}', out, 1, true)
        local _, jobs = out:find("$ socialize jobs\n", 1, true)
        assert.truthy(jobs, out)
        -- newest first to the second: two jobs of the same second come in their ids' order
        local listed = out:sub(jobs + 1)
        assert.matches("^JOB +STATUS +UID +METHOD +RUN AT +KEY\n%x+  %a+ +host  socialize.sendNotification [^\n]*\n"
            .. "%x+  %a+ +host  socialize.sendNotification [^\n]*\n%(exit 0%)\nok\nexit=0\n$", listed)
        assert.matches("\n%x+  sent    host  socialize.sendNotification  [%d:TZ-]+  raid:host:1\n", listed)
        assert.matches("\n%x+  dead    host  socialize.sendNotification  [%d:TZ-]+ *\n", listed)
        assert.is_nil(out:find("(exit [1-9]", 1, true), out)
        assert.is_nil(out:find("sandbox-bot-token", 1, true))
        -- the sandbox got each recipient's message once: 3 + 2
        local sent = K.requests(sb, "/sendMessage", true)
        local chats = {}
        for _, r in ipairs(sent) do
            local body = r.json or core.json_decode(r.body or "") or r.params or {}
            local chat = tostring(body.chat_id)
            chats[chat] = (chats[chat] or 0) + 1
        end
        assert.are.same({ ["555001"] = 2, ["555002"] = 1, ["555003"] = 1, ["555004"] = 1 }, chats)
    end)

    it("gigya_ffi.lua (LuaJIT): the same answers and requests with and without ffi and log", function()
        local out, code = sh("LUA_PATH='lua/?.lua;;' LUA_CPATH='build/luajit/?.so;;' luajit examples/newcomer2/gigya_ffi.lua")
        assert.are.equal(0, code, out)
        assert.matches('call 1 (publishUserAction): {"ok":true,', out, 1, true)
        assert.matches('"providerPostIDs":{"facebook":"facebook_<id>","twitter":"twitter_<id>"}', out, 1, true)
        assert.matches('call 3 (setStatus): {"err":{"errorCode":400002,"errorDetails":"Missing required parameter: status"', out, 1, true)
        assert.matches('call 4 (publishUserAction): {"err":{"errorCode":403003,', out, 1, true)
        local LOG = "log events: request POST, response 200, request POST, response 200, request POST, response 200"
        assert.matches("ffi=true log=true: the same answers and requests, " .. LOG .. "\n", out, 1, true)
        assert.matches("ffi=false log=false: the same answers and requests\n", out, 1, true)
        assert.matches("ffi=false log=true: the same answers and requests, " .. LOG .. "\nok\n", out, 1, true)
        -- three requests reached the server (the 400002 was refused before sending)
        local _, n = out:match("the server received:\n(.-)ffi="):gsub("/socialize%.", "")
        assert.are.equal(3, n)
    end)

    it("openresty/run.sh: nginx publishes through the Gigya backend over cosockets, ffi on, then stops", function()
        local out, code = sh("timeout 60 sh examples/newcomer2/openresty/run.sh")
        assert.are.equal(0, code, out)
        assert.matches('published: {"apiVersion":2,"callId":"%x+","curlLoaded":false,"errorCode":0,"ffi":true,', out)
        assert.matches('unknown user: {"curlLoaded":false,"errorCode":403005,"errorDetails":"Unauthorized user: nobody"', out, 1, true)
        assert.matches('no uid: {"curlLoaded":false,"errorCode":400002,"errorDetails":"Missing required parameter: UID"', out, 1, true)
        assert.matches("the server received:\n  POST /socialize.publishUserAction UID=ada sig=yes\n"
            .. "  POST /socialize.publishUserAction UID=nobody sig=yes\nerror.log:\nok\n", out, 1, true)
        -- nginx and the fake server stopped, the temporary directory removed
        local dir, npid, gpid = out:match("nginx in (%S+), pid (%d+), fake Gigya pid (%d+)\n")
        assert.truthy(dir, out)
        assert.matches("^gone\nexit=0", sh("test ! -e " .. dir .. " && echo gone"))
        for _, pid in ipairs({ npid, gpid }) do
            -- the fake server was started by run.sh's shell: reaped with it
            local s = sh("kill -0 " .. pid)
            assert.is_nil(s:match("exit=0"), pid .. " still runs")
        end
    end)
end)
