-- A queued notification to three recipients whose worker is killed with
-- SIGKILL at each point of its attempt (docs/delivery.md "Notifications to
-- several recipients"): inside the first intent's transaction, after the
-- first intent (before the first send), inside the second one (the first
-- recipient messaged, its outcome not committed), after it (between
-- recipients), and inside the record of the attempt (after the last send).
-- Another worker then takes the delivery over. From the sandbox's recorded
-- requests: each recipient got the message at most once, and exactly the
-- recipients the crash left in doubt (an intent without an outcome) are
-- `unconfirmed` in client:job, the others sent; the host's resend messages
-- only those. Blocking and concurrent workers, on the two networks that
-- offer notifications (Telegram, X: neither has an idempotency key nor a
-- read-back of messages), on a SQLite file and on PostgreSQL. Each child is bounded (timeout) and waited for.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local socialize = require("socialize")

-- a Lua literal of a table of strings, numbers and booleans
local function lit(v)
    local t = type(v)
    if t == "table" then
        local out = {}
        for k, x in pairs(v) do out[#out + 1] = "[" .. lit(k) .. "]=" .. lit(x) end
        table.sort(out)
        return "{" .. table.concat(out, ",") .. "}"
    elseif t == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

-- the worker: one attempt, killed (SIGKILL, by itself) at CRASH =
-- "<progress|record>:<n>:<before|after>": inside the nth such store
-- transaction before its COMMIT, or right after it returned; MARKER written first
local WORKER = [[
local cfg, marker = %s, %q
local unpack = table.unpack or unpack
local c = socialize.new(cfg)
local st = assert(c:store())
local crash = assert(os.getenv("CRASH"))
local kind, n, when = crash:match("^(%%a+):(%%d+):(%%a+)$")
n = tonumber(n)
local function die()
    local f = assert(io.open(marker, "wb"))
    f:write(crash)
    f:close()
    f = io.open("/proc/self/stat")
    local pid = f:read("*l"):match("^(%%d+)")
    f:close()
    os.execute("kill -9 " .. pid)
    os.exit(3) -- (never reached)
end
local idx = getmetatable(st).__index
local seen, inside = 0, false
for _, name in ipairs({ "progress", "record", "record_many" }) do
    local orig = idx[name]
    idx[name] = function(...)
        local counts = name == kind or (kind == "record" and name == "record_many")
        if counts then seen = seen + 1 end
        inside = counts and seen == n and when == "before"
        local r = { orig(...) }
        inside = false
        if counts and seen == n and when == "after" and r[1] then die() end
        return unpack(r, 1, 4)
    end
end
st:_before_commit(function()
    if inside then die() end
    return true
end)
if os.getenv("CONCURRENT") then
    assert(c:work(1000, { async = true, concurrency = 2 }))
    for _ = 1, 200 do if c:poll(100) == 0 then break end end
else
    assert(c:work(10000))
end
c:close()
]]

local function cases(new_url, get_sb)
    local n = 0
    -- each network with notifications: the recipient's connection field, and
    -- whether a recorded request is a message to that recipient
    local NETS = {
        telegram = { field = "chatId", to = function(r, id)
            return (r.path or ""):find("sendMessage", 1, true) and (r.body or ""):find('"chat_id":%s*"' .. id .. '"')
        end },
        twitter = { field = "userId", to = function(r, id)
            return r.method == "POST" and r.path == "/2/dm_conversations/with/" .. id .. "/messages"
        end },
    }
    local net -- the network of the current case
    local function to_chat(sb, id)
        local k = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.network == net and NETS[net].to(r, id) then k = k + 1 end
        end
        return k
    end

    -- one crash: the states of the three recipients after the takeover
    -- (client:job), and the messages each chat got
    local function crash(point, concurrent, network)
        net = network
        n = n + 1
        local sb = get_sb()
        local chats = {}
        local conns = { u1 = H.sandbox_connection(sb) }
        for i = 1, 3 do
            chats[i] = tostring(700000 + n * 10 + i) .. (concurrent and "1" or "0")
            conns["f" .. i] = { [net] = { [NETS[net].field] = chats[i] } }
        end
        local cfg = { backend = "direct", allowPrivateNetworks = true, providers = H.sandbox_providers(sb),
                      timeout = 2, store = { url = new_url(), keys = { K.KEY } }, connections = conns,
                      outbox = { lease = 60 } }
        local c = socialize.new(cfg)
        local job = assert(c:sendNotification({ UID = "u1", recipients = "f1,f2,f3", body = "Join me",
            enabledProviders = net }, { deliver = "queued" }))
        c:close()
        local marker = H.tmpdir .. "/notify-crash-" .. n .. "-" .. math.random(1, 1e9)
        local script = K.script("notify-crash", WORKER:format(lit(cfg), marker))
        local out = K.run("CRASH=" .. K.q(point) .. (concurrent and " CONCURRENT=1" or "") .. " timeout 60 "
            .. K.CHILD_LUA .. " " .. K.q(script))
        assert.equal(point, H.read(marker), "the worker did not die at " .. point .. ": " .. out)
        -- taken over once its lease ran out (an hour later on this worker's clock)
        cfg.now = function() return os.time() + 3600 end
        c = socialize.new(cfg)
        local sum = assert(c:work(10000))
        assert.equal(1, sum.claimed)
        local d = assert(c:job(job.jobID)).deliveries[1]
        local states = {}
        if d.recipients then
            for i, r in ipairs(d.recipients) do states[i] = r.state end
        else
            states = { d.state, d.state, d.state }
        end
        local got = { to_chat(sb, chats[1]), to_chat(sb, chats[2]), to_chat(sb, chats[3]) }
        return c, job, d, states, got, chats, sb
    end

    for _, combo in ipairs({ { "telegram", false }, { "telegram", true }, { "twitter", false }, { "twitter", true } }) do
        local concurrent = combo[2]
        local how = " (" .. combo[1] .. (concurrent and ", a concurrent worker)" or ")")
        it("killed inside the first intent's transaction: nothing sent, all sent once by the takeover" .. how, function()
            local c, _, d, states, got = crash("progress:1:before", concurrent, combo[1])
            assert.same({ "sent", { "sent", "sent", "sent" }, { 1, 1, 1 } }, { d.state, states, got })
            c:close()
        end)

        it("killed after the first intent, before the first send: that recipient in doubt, not messaged; "
            .. "the host's resend messages it alone" .. how, function()
            local c, job, d, states, got, chats, sb = crash("progress:1:after", concurrent, combo[1])
            assert.same({ "unconfirmed", { "unconfirmed", "sent", "sent" }, { 0, 1, 1 } }, { d.state, states, got })
            assert.truthy(d.reason:find("2 of 3 recipients messaged; 1 in doubt", 1, true), d.reason)
            assert.equal(0, assert(c:work(10000)).claimed) -- the host's, never resent by the worker
            assert(c:resolve(job.jobID, net, "resend"))
            assert.equal(1, assert(c:work(10000)).sent)
            assert.same({ 1, 1, 1 }, { to_chat(sb, chats[1]), to_chat(sb, chats[2]), to_chat(sb, chats[3]) })
            d = assert(c:job(job.jobID)).deliveries[1]
            assert.matches("^[^,]+,[^,]+,[^,]+$", d.postID) -- the three message ids
            c:close()
        end)

        it("killed after the first send, before its outcome was committed: that recipient in doubt (it got it), "
            .. "the others sent once" .. how, function()
            local c, _, d, states, got = crash("progress:2:before", concurrent, combo[1])
            assert.same({ "unconfirmed", { "unconfirmed", "sent", "sent" }, { 1, 1, 1 } }, { d.state, states, got })
            c:close()
        end)

        it("killed between recipients (the first recorded, the second's intent written): the second in doubt"
            .. how, function()
            local c, job, d, states, got, chats, sb = crash("progress:2:after", concurrent, combo[1])
            assert.same({ "unconfirmed", { "sent", "unconfirmed", "sent" }, { 1, 0, 1 } }, { d.state, states, got })
            assert(c:resolve(job.jobID, net, "resend"))
            assert.equal(1, assert(c:work(10000)).sent)
            assert.same({ 1, 1, 1 }, { to_chat(sb, chats[1]), to_chat(sb, chats[2]), to_chat(sb, chats[3]) })
            c:close()
        end)

        it("killed after the last send, inside the record: the last recipient in doubt, nobody messaged twice"
            .. how, function()
            local c, _, d, states, got = crash("record:1:before", concurrent, combo[1])
            assert.same({ "unconfirmed", { "sent", "sent", "unconfirmed" }, { 1, 1, 1 } }, { d.state, states, got })
            c:close()
        end)
    end
end

describe("a notification's worker killed mid-attempt, on SQLite #fakes", function()
    local sb
    H.use_sandbox(function(s) sb = s end)
    cases(function() return K.db("notify-crash") end, function() return sb end)
end)

describe("a notification's worker killed mid-attempt, on PostgreSQL #once", function()
    local sb, base, n = nil, nil, 0
    H.use_sandbox(function(s) sb = s end)
    K.use_postgres(function(url) base = url end)
    local function new_db()
        n = n + 1
        K.run("psql -X -q -v ON_ERROR_STOP=1 " .. K.q(base) .. " -c " .. K.q("CREATE DATABASE nc" .. n))
        return (base:gsub("/postgres%?", "/nc" .. n .. "?"))
    end
    cases(new_db, function() return sb end)
end)
