-- A queued sendNotification to three recipients on the sandbox (docs/delivery.md
-- "Notifications to several recipients"), a worker loop until it is done,
-- client:job with each recipient's state, then the operator's view with the
-- socialize command (`socialize job ID`, `socialize --json job ID`, `socialize jobs`).
--
--   python3 spec/fakes/sandbox.py --ready /tmp/sandbox.json --lifetime 300 &
--   export SOCIALIZE_STORE_KEY=$(openssl rand -base64 32)
--   SANDBOX_PORTS=$(cat /tmp/sandbox.json) LUA_PATH='lua/?.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--       lua5.4 examples/newcomer2/notify_three.lua /tmp/notify.db
local socialize = require("socialize")
local core = require("socialize.core")

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally\")\n")
    os.exit(2)
end
if not os.getenv("SOCIALIZE_STORE_KEY") then
    io.stderr:write("SOCIALIZE_STORE_KEY is not set: export SOCIALIZE_STORE_KEY=$(openssl rand -base64 32)\n")
    os.exit(2)
end
local db = arg[1] or os.tmpname()
local tg = "http://127.0.0.1:" .. ports.telegram

-- The same config for this script and for the command: a config file (docs/cli.md
-- "Config file") that this script also loads.
local cfgfile = db .. ".config.lua"
local f = assert(io.open(cfgfile, "w"))
f:write(([[
return {
    backend = "direct",
    allowPrivateNetworks = true,
    providers = { telegram = { botToken = "123456:sandbox-bot-token", baseUrl = %q } },
    connections = {
        host = { telegram = { chatId = "-100777" } },
        friend1 = { telegram = { chatId = "555001" } },
    },
    store = %q,
}
]]):format(tg, "sqlite:" .. db))
f:close()
local config = dofile(cfgfile)
local client = socialize.new(config)

-- three recipients: one by UID (its connection gives its chatId), two by their
-- network id (a numeric recipient is the network's id itself: docs/api.md)
local job, err = client:sendNotification({
    UID = "host",
    recipients = { "friend1", "555002", "555003" },
    subject = "Raid tonight",
    body = "Raid starts at 21:00 https://game.example/raid",
}, { deliver = "queued", key = "raid:host:1" })
if not job then
    io.stderr:write("enqueue failed: ", tostring(err), "\n")
    os.exit(1)
end
print(("queued %s: status %s, providers %s"):format(job.jobID, job.status, table.concat(job.providers, ",")))

-- a second one: "nobody" has no connection and is not a network id, so it fails
-- for good (not_connected) while the two others get it (docs/delivery.md)
local job2, err2 = client:sendNotification({
    UID = "host",
    recipients = "friend1, 555004, nobody",
    body = "Raid moved to 22:00",
    enabledProviders = "telegram",
}, { deliver = "queued" })
if not job2 then
    io.stderr:write("enqueue failed: ", tostring(err2), "\n")
    os.exit(1)
end

-- before the first attempt: one delivery per network, no recipients yet
local before = assert(client:job(job.jobID)).deliveries[1]
print(("before work: %s %s, recipients %s"):format(before.provider, before.state, tostring(before.recipients)))

-- the worker loop, until nothing is due
local total = 0
for _ = 1, 20 do
    local s, werr = client:work(1000)
    if not s then
        io.stderr:write("work failed: ", tostring(werr), "\n")
        os.exit(1)
    end
    total = total + s.sent
    if s.claimed == 0 then break end
end
print("worker: sent " .. total)

for _, id in ipairs({ job.jobID, job2.jobID }) do
    local j = assert(client:job(id))
    print(("job %s: status %s"):format(j.jobID, j.status))
    for _, d in ipairs(j.deliveries) do
        print(("  %s: state %s, attempts %d, postID %s, category %s"):format(d.provider, d.state, d.attempts,
            tostring(d.postID), tostring(d.category)))
        print("    reason " .. tostring(d.reason))
        for i, r in ipairs(d.recipients or {}) do
            print(("    recipient %d %s: %s %s %s"):format(i, r.UID, r.state, tostring(r.postID), tostring(r.category)))
        end
    end
end
client:close()

-- the operator's view: the socialize command with the same config
local cli = os.getenv("SOCIALIZE") or "lua5.4 bin/socialize"
local function run(args)
    local p = io.popen(cli .. " --config " .. cfgfile .. " " .. args .. " 2>&1; echo \"(exit $?)\"")
    local out = p:read("*a")
    p:close()
    io.write("$ socialize ", args, "\n", out)
end
run("job " .. job.jobID)
run("--json job " .. job.jobID)
run("job " .. job2.jobID .. " --json")
run("jobs")
print("ok")
