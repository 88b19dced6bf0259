-- A newcomer's game server (plain Lua 5.4), written from docs/delivery.md ("Many at once",
-- "The worker", "In the host's own transaction") and docs/store.md ("Durability"):
--   1. the end of a round: 500 publishes for several players queued in one call
--      (client:enqueueMany) on a SQLite store with outboxSync = "normal", drained by a worker
--      loop (client:work), each job's final state printed;
--   2. one enqueue inside the host's own store:transaction, next to the host's own row, and
--      one transaction rolled back (no row, no job).
-- Against the sandbox only: SANDBOX_PORTS, SOCIALIZE_STORE (sqlite:...). The players'
-- tokens come from config.connections (the sandbox's Telegram and Mastodon accounts).
local socialize = require("socialize")
local core = require("socialize.core")

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally\")\n")
    os.exit(2)
end
local url = assert(os.getenv("SOCIALIZE_STORE"), "SOCIALIZE_STORE is not set")
local base = function(n) return "http://127.0.0.1:" .. ports[n] end

local PLAYERS, PER_PLAYER = 5, 100
local connections = {}
for p = 1, PLAYERS do
    connections["player" .. p] = {
        telegram = { chatId = "-100777" },
        mastodon = { accessToken = "md-token", instance = base("mastodon") },
    }
end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox is on 127.0.0.1
    timeout = 10,
    providers = { telegram = { botToken = "123456:sandbox-bot-token", baseUrl = base("telegram") },
                  mastodon = {} },
    connections = connections,
    -- no keys: this store holds no secret (the tokens are in config.connections)
    store = { url = url, outboxSync = "normal" },
}

local function check(v, err, what)
    if not v then print((what or "call") .. " FAILED: " .. tostring(err)); os.exit(1) end
    return v
end

local store = check(client:store())
print("store outboxSync " .. tostring(store:info().outboxSync))

-- 1. 500 publishes at once, all or nothing
local round = os.time()
local calls = {}
for p = 1, PLAYERS do
    for i = 1, PER_PLAYER do
        calls[#calls + 1] = { method = "publishUserAction",
            params = { UID = "player" .. p, userAction = { title = "Round " .. round .. ": player " .. p .. " scored " .. i } },
            key = "round:" .. round .. ":" .. p .. ":" .. i }
    end
end
-- a bad element first: the whole batch is refused, with the index of the culprit
local bad = { calls[1], { method = "publishUserAction", params = { UID = "player1" }, at = "soon" } }
local none, berr = client:enqueueMany(bad)
assert(none == nil and berr.errorCode == 400006 and berr.index == 2, tostring(berr))
print(string.format("bad batch refused: index %d, %s", berr.index, tostring(berr)))
assert(#check(client:jobs { UID = "player1" }).jobs == 0)

local res = check(client:enqueueMany(calls), nil, "enqueueMany")
assert(#res.results == #calls)
local providers = table.concat(res.results[1].providers, ",")
print(string.format("queued %d jobs, first %s to %s", #res.results, res.results[1].status, providers))

-- the same batch again: every key already queued, nothing new
local again = check(client:enqueueMany(calls))
local dedup = 0
for i, r in ipairs(again.results) do
    if r.deduplicated and r.jobID == res.results[i].jobID then dedup = dedup + 1 end
end
print(string.format("the same batch again: %d deduplicated", dedup))

-- the worker loop: work until a slice claims nothing (bounded)
local totals, slices = { claimed = 0, released = 0, sent = 0, retrying = 0, unconfirmed = 0, dead = 0 }, 0
repeat
    local w = check(client:work(1000), nil, "work")
    slices = slices + 1
    for k in pairs(totals) do totals[k] = totals[k] + (w[k] or 0) end
until w.claimed == 0 or slices > 2000
-- a claimed delivery the slice had no budget left to start is given back (released)
print(string.format("worker: claimed %d, released %d, sent %d, retrying %d, unconfirmed %d, dead %d",
    totals.claimed, totals.released, totals.sent, totals.retrying, totals.unconfirmed, totals.dead))

local by = {}
for i, r in ipairs(res.results) do
    local job = check(client:job(r.jobID))
    local parts = {}
    for _, d in ipairs(job.deliveries) do parts[#parts + 1] = d.provider .. " " .. d.state end
    table.sort(parts)
    print(string.format("  job %3d %s %s (%s)", i, r.jobID, job.status, table.concat(parts, ", ")))
    by[job.status] = (by[job.status] or 0) + 1
end
local summary = {}
for s, n in pairs(by) do summary[#summary + 1] = s .. " " .. n end
table.sort(summary)
print("final states: " .. table.concat(summary, ", "))

-- 2. the host's own transaction: its row and the post, both or neither
assert(store:transaction(function(tx)
    assert(tx:exec("CREATE TABLE IF NOT EXISTS rounds (id INTEGER PRIMARY KEY, winner TEXT, post_job TEXT)"))
end))
local ok, terr = store:transaction(function(tx)
    assert(tx:exec("INSERT INTO rounds (id, winner) VALUES ($1, $2)", round, "player3"))
    local job, jerr = client:publishUserAction({ UID = "player3", userAction = { title = "Player 3 won round " .. round } },
        { deliver = "queued", key = "winner:" .. round, tx = tx })
    if not job then return nil, jerr end
    assert(tx:exec("UPDATE rounds SET post_job = $1 WHERE id = $2", job.jobID, round))
    return job.jobID
end)
local winnerJob = check(ok, terr, "transaction")
local rows = check(store:transaction(function(tx) return tx:query("SELECT winner, post_job FROM rounds WHERE id = $1", round) end))
print(string.format("round %d saved: winner %s, post job %s", round, rows[1].winner, tostring(rows[1].post_job == winnerJob)))

-- a transaction the host rolls back: no row, no job
local rb, rberr = store:transaction(function(tx)
    assert(tx:exec("INSERT INTO rounds (id, winner) VALUES ($1, $2)", round + 1, "player4"))
    assert(client:publishUserAction({ UID = "player4", userAction = { title = "Never happened" } },
        { deliver = "queued", key = "winner:" .. (round + 1), tx = tx }))
    return nil, "round cancelled"
end)
assert(rb == nil and rberr == "round cancelled")
local gone = check(store:transaction(function(tx) return tx:query("SELECT id FROM rounds WHERE id = $1", round + 1) end))
local p4 = check(client:jobs { UID = "player4", limit = 1000 }).jobs
print(string.format("rolled back: %d rows, player4 has %d jobs", #gone, #p4))

local w = check(client:work(1000))
print(string.format("worker: claimed %d, sent %d", w.claimed, w.sent))
print("winner job " .. check(client:job(winnerJob)).status)
store:close()
print("ok")
