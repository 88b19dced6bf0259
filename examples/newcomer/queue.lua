-- A newcomer's queued delivery (plain Lua 5.4), written from docs/delivery.md and docs/api.md:
-- a user connected to X (the authorization URL followed by the library's HTTP client), then
--   1. a publish queued for later (deliver = "queued", at = a few seconds on), a worker run
--      before and after that time (client:work), the job's status;
--   2. another job cancelled;
--   3. the same dedup key enqueued twice.
-- Against the sandbox only: SANDBOX_PORTS, SOCIALIZE_STORE (sqlite:), SOCIALIZE_STORE_KEY.
local socialize = require("socialize")
local core = require("socialize.core")
local curl = require("socialize.curl")

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally\")\n")
    os.exit(2)
end
local UID = os.getenv("NEWCOMER_UID") or "newcomer_queue_user"

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox is on 127.0.0.1
    timeout = 10,
    providers = { twitter = { baseUrl = "http://127.0.0.1:" .. ports.twitter,
                              clientId = ports.oauth.twitter.clientId,
                              clientSecret = ports.oauth.twitter.clientSecret } },
    store = { url = assert(os.getenv("SOCIALIZE_STORE"), "SOCIALIZE_STORE is not set") }, -- key: SOCIALIZE_STORE_KEY
}

local function check(v, err, what)
    if not v then print(what .. " FAILED: " .. tostring(err)); os.exit(1) end
    return v
end

-- connect (docs/connections.md), the browser's redirect taken by the library's HTTP client
local start = check(client:connect { UID = UID, provider = "twitter", redirectURI = "https://game.example/callback/twitter" })
local res = check(curl.new { timeout = 10 }:request { method = "GET", url = start.url, headers = {} })
local id = check(client:finishConnect(res.headers.location), nil, "finishConnect")
print("connected twitter as " .. tostring(id.nickname))

local function show(jobID)
    local job = check(client:job(jobID))
    local parts = {}
    for _, d in ipairs(job.deliveries) do
        parts[#parts + 1] = d.provider .. " " .. d.state .. (d.postID and (" post " .. d.postID) or "")
    end
    print(string.format("  job %s: %s (%s)", jobID, job.status, table.concat(parts, ", ")))
    return job
end

-- 1. queued for later
local at = os.time() + 2
local job = check(client:publishUserAction({ UID = UID, userAction = { title = "Later, level 2" } },
    { deliver = "queued", at = at }))
print(string.format("queued job %s, status %s, providers %s, runAt %d", job.jobID, job.status,
    table.concat(job.providers, ","), job.runAt))
local w = check(client:work(1000))
print(string.format("worker before its time: claimed %d, sent %d", w.claimed, w.sent))
assert(show(job.jobID).status == "queued")
os.execute("sleep 3") -- plain Lua has no sleep
w = check(client:work(1000))
print(string.format("worker after its time: claimed %d, sent %d", w.claimed, w.sent))
assert(show(job.jobID).status == "sent")

-- 2. another job, cancelled before its time
local other = check(client:publishUserAction({ UID = UID, userAction = { title = "Never mind" } },
    { deliver = "queued", at = os.time() + 3600 }))
local c = check(client:cancel(other.jobID))
print(string.format("cancelled job %s: %d deliveries", other.jobID, c.cancelled))
assert(show(other.jobID).status == "cancelled")

-- 3. a dedup key twice: the second enqueue answers the first job
local key = "level-2:" .. UID .. ":" .. os.time()
local first = check(client:publishUserAction({ UID = UID, userAction = { title = "Once only" } },
    { deliver = "queued", key = key }))
local second = check(client:publishUserAction({ UID = UID, userAction = { title = "Once only" } },
    { deliver = "queued", key = key }))
print(string.format("dedup key %q: first %s, second %s, deduplicated %s", key, first.jobID, second.jobID,
    tostring(second.deduplicated)))
assert(first.jobID == second.jobID and second.deduplicated == true)
w = check(client:work(1000))
print(string.format("worker: claimed %d, sent %d", w.claimed, w.sent))
assert(show(first.jobID).status == "sent")

local list = check(client:jobs { UID = UID })
print("jobs of " .. UID .. ": " .. #list.jobs)
for _, j in ipairs(list.jobs) do print(string.format("  %s %s", j.jobID, j.status)) end
client:store():close()
print("ok")
