-- Queued delivery (docs/delivery.md): publishUserAction, setStatus and
-- sendNotification with { deliver = "queued" } write a job into the client's
-- store, one delivery per target network; client:work(budget_ms) claims the
-- due deliveries and sends each through the direct backend for that one
-- network, then records its outcome with the retry policy of its category.
-- What each network offers (an idempotency key, a read-back of the
-- account's recent posts) comes from core.provider_info: this file names
-- no network.
local core = require("socialize.core")
local errors = require("socialize.errors")
local validate = require("socialize.validate")
local policy = require("socialize.policy")
local direct = require("socialize.direct")

local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall
local floor, max, min, random = math.floor, math.max, math.min, math.random

local E = errors.codes

local _M = {}

--- The outbox of a client: { client = the client (its store), engine = its
-- engine, async = its poll loop (socialize.async), worker = this client's
-- worker id, made on first use }. Every
-- function below takes it as `client`.
function _M.new(client, engine, async)
    return { client = client, engine = engine, async = async }
end

_M.METHODS = {
    ["socialize.publishUserAction"] = "publish",
    ["socialize.setStatus"] = "status",
    ["socialize.sendNotification"] = "notify",
}

-- The defaults of config.outbox (docs/delivery.md).
_M.DEFAULTS = {
    lease = 60,                 -- seconds a claimed delivery is a worker's
    batch = 5,                  -- deliveries per claim
    maxAttempts = 12,           -- then dead
    reconnectWindow = 7 * 86400, -- seconds an auth_expired delivery waits for a reconnect
    recheck = 300,              -- seconds between the checks for that reconnect
    idempotencyWindow = 3000,   -- seconds a resend with the same key is safe (a network keeps keys about 1 h)
    readbackDelay = 30,         -- seconds an unconfirmed post settles before its first read-back
    readbackRecheck = 300,      -- seconds between read-back checks that failed
    readbackChecks = 5,         -- read-back checks at most, then left for the host
}
-- A read-back takes a post created at most this many seconds before the job
-- (the network's clock against ours).
_M.READBACK_SKEW = 120
_M.MAX_KEY = 200
_M.MAX_UID, _M.MAX_PARAMS = 1024, 1048576 -- the store's (SZ_STORE_MAX_ID, SZ_OUTBOX_MAX_PARAMS)
_M.DEDUP_WINDOW = 86400

-- Categories that never retry: dead at once.
local FINAL = { content_invalid = true, permission_missing = true, duplicate = true, unsupported = true,
                provider_discontinued = true, not_connected = true }

local function named(code, name, details)
    local e = errors.new(code, details)
    e.error = name
    return e
end

local function store_error(msg, name)
    return named(E.GENERAL_SERVER_ERROR, name or "store", "the store: " .. tostring(msg))
end

local function settings(client)
    local o = client.engine:settings().config.outbox or {}
    local s = {}
    for k, v in pairs(_M.DEFAULTS) do s[k] = o[k] or v end
    return s
end

-- Unix seconds: config.now when set (so tests move it), else the system's.
local function now_s(client)
    local n = client.engine:settings().config.now
    if n then return floor(n()) end
    return floor(core.now_ms() / 1000)
end

-- The client's store, or nil and the error (named no_store without config.store).
local function store_of(client)
    local st, err, name = client.client:store()
    if st then return st end
    if err == nil then
        return nil, named(E.NOT_SUPPORTED, "no_store", "Not supported: queued delivery needs config.store (docs/store.md)")
    end
    return nil, store_error(err, name)
end

-- core.provider_info of a name, kept: it describes the compiled-in network
-- (the same for the process's life) and builds a table on each call, which
-- cost a delivery about 200,000 instructions when asked four times
local infos = {}
local function provider_info(provider)
    if type(provider) ~= "string" then return nil end
    local info = infos[provider]
    if info == nil then
        info = core.provider_info(provider) or false
        infos[provider] = info
    end
    return info or nil
end

local function idempotent(provider)
    local info = provider_info(provider)
    return info ~= nil and type(info.idempotency) == "table" and info.idempotency.kind ~= "none"
end
_M.idempotent = idempotent

-- A delivery whose unconfirmed post may be looked for among the account's
-- recent posts: the network reads back (provider_info(name).readback) and
-- the call posts a text (a publish or a status, not a notification).
local READ_BACK_METHODS = { ["socialize.publishUserAction"] = true, ["socialize.setStatus"] = true }
local function can_read_back(d)
    if idempotent(d.provider) or not READ_BACK_METHODS[d.method] then return false end
    local info = provider_info(d.provider)
    return info ~= nil and type(info.readback) == "table" and info.readback.offered == true
end
_M.can_read_back = can_read_back

--- The rule by which a recent post's text and the text a job would post are
-- compared (docs/delivery.md "Reading back"): every http(s) URL removed
-- (networks shorten or move links: t.co, link cards), the HTML entities
-- &lt; &gt; &amp; decoded, runs of ASCII whitespace made one space, the ends
-- trimmed. nil for a non-string.
function _M.normalise(s)
    if type(s) ~= "string" then return nil end
    s = s:gsub("[Hh][Tt][Tt][Pp][Ss]?://[^%s]*", " ")
    s = s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&")
    s = s:gsub("%s+", " ")
    s = s:gsub("^ ", ""):gsub(" $", "")
    return s
end

-- The schedule of an unconfirmed delivery's read-back: its first check after
-- readbackDelay, the last one readbackChecks - 1 rechecks later.
local function read_back_plan(o, now, cfg)
    o.nextAt = now + cfg.readbackDelay
    o.waitUntil = o.nextAt + (cfg.readbackChecks - 1) * cfg.readbackRecheck
    return o
end

-- The options of a queued call: at (Unix seconds), key (the dedup key).
local function check_opts(opts)
    for k in pairs(opts) do
        if k ~= "deliver" and k ~= "at" and k ~= "key" and k ~= "tx" then
            return nil, errors.invalid("options." .. tostring(k), "is not an option (deliver, at, key, tx)")
        end
    end
    if opts.deliver ~= "queued" then
        return nil, errors.invalid("deliver", "must be \"queued\"")
    end
    local at = opts.at
    if at ~= nil and (type(at) ~= "number" or at ~= at or at == math.huge or at == -math.huge) then
        return nil, errors.invalid("at", "must be a Unix time in seconds (got " .. (type(at) == "number" and
            tostring(at) or "a " .. type(at)) .. ")")
    end
    local key = opts.key
    if key ~= nil then
        if type(key) ~= "string" or key == "" then
            return nil, errors.invalid("key", "must be a non-empty string")
        end
        if #key > _M.MAX_KEY then
            return nil, errors.invalid("key", "is " .. #key .. " bytes; at most " .. _M.MAX_KEY)
        end
        -- (json_encode answers nil for bytes that are not UTF-8)
        local enc = core.json_encode(key)
        if key:find("\0", 1, true) or not enc or not core.json_decode(enc) then
            return nil, errors.invalid("key", "must be UTF-8 without NUL bytes")
        end
    end
    return true
end

-- The networks the direct call would go to, from the user's connections
-- (read from the store as they are: nothing is refreshed at enqueue).
local function target_names(client, ctx, p, action)
    local conn
    if ctx.config.connections == nil and ctx.config.store ~= nil then
        local st, err = store_of(client)
        if not st then return nil, err end
        local list, lerr, lcode = st:list_connections(p.UID)
        if not list then return nil, store_error(lerr, lcode) end
        conn = {}
        for _, rec in ipairs(list) do conn[rec.provider] = true end
    else
        conn = direct.connections(ctx, p.UID)
    end
    if type(conn) ~= "table" then
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: no connections for UID " .. tostring(p.UID))
    end
    local names = direct.targets(conn, p, action)
    if #names == 0 then
        return nil, errors.new(E.NOT_CONNECTED, "Not connected: UID " .. tostring(p.UID)
            .. " has no connection to the enabled providers")
    end
    return names
end

-- params that carry credentials besides the secret fields
local CREDENTIAL_PARAMS = { connections = true, oauth_token = true, userKey = true }

-- The checks of a queued call, nothing written: the job to write
-- { st, p, full, names, text, now, at, key, tx } | nil, err. Checked
-- exactly as the direct call.
local function prepare(client, method, params, opts)
    local ok, oerr = check_opts(opts)
    if not ok then return nil, oerr end
    local eng = client.engine
    local s = eng:settings()
    if s.backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: queued delivery needs the direct backend "
            .. "(config.backend = \"direct\")")
    end
    if s.nul_field then return nil, errors.invalid(s.nul_field, "contains a NUL byte") end
    local vok, p, err = pcall(validate.check, method, params, { auth = s.auth, backend = s.backend })
    if not vok then return nil, errors.invalid("params", "could not be read (a table's metatable raised an error)") end
    if not p then return nil, err end
    -- the params are stored in clear: a credential among them is refused
    for k in pairs(p) do
        if type(k) == "string" and (policy.secret_field(k) or CREDENTIAL_PARAMS[k]) then
            return nil, errors.invalid("params." .. k, "is a credential: queued params are stored in clear "
                .. "(credentials belong in the config or the store)")
        end
    end
    local full = validate.full_name(method)
    local action = _M.METHODS[full]
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local names, terr = target_names(client, eng:context(), p, action)
    if not names then return nil, terr end
    local text, jmsg = core.json_encode(p)
    if not text then
        return nil, errors.invalid("params", "cannot be queued: " .. tostring(jmsg)
            .. " (queue media by URL or file path, not by bytes)")
    end
    -- the store's own limits, checked before any write: a batch in the
    -- host's transaction (enqueueMany) never finds one at its i-th write,
    -- after the earlier ones were written
    local uid = tostring(p.UID)
    if #uid > _M.MAX_UID then
        return nil, errors.invalid("UID", "is " .. #uid .. " bytes; at most " .. _M.MAX_UID .. " can be queued")
    end
    if #text > _M.MAX_PARAMS then
        return nil, errors.invalid("params", "are " .. #text .. " bytes as JSON; at most " .. _M.MAX_PARAMS
            .. " can be queued")
    end
    local now = now_s(client)
    local at = opts.at and floor(max(min(opts.at, 9e15), -9e15)) or now
    return { st = st, p = p, full = full, names = names, text = text, now = now, at = at, key = opts.key,
             tx = opts.tx }
end

-- the job written: st:enqueue's answer (id, existed, code)
local function write(job, tx)
    return job.st:enqueue({ UID = tostring(job.p.UID), method = job.full, params = job.text, providers = job.names,
        key = job.key, window = _M.DEDUP_WINDOW, now = job.now, runAt = job.at, tx = tx })
end

-- st:enqueue's error as the call's; true second when it is about tx (the
-- option, not one call of a batch)
local function write_error(msg, code)
    -- the host's transaction (store:transaction, docs/delivery.md)
    if code == "no_transaction" or tostring(msg):find("^tx:") then
        return errors.invalid("tx", (tostring(msg):gsub("^tx: ", "", 1))), true
    end
    if code == "in_transaction" then
        return errors.new(E.MISSING_PARAMETER, "Missing required parameter: tx (the store is inside "
            .. "store:transaction: pass its tx to write in it)"), true
    end
    if code == "txn_failed" then return store_error(msg, code), true end -- the host's tx failed before
    if code == "bad_input" then return errors.invalid("params", tostring(msg)) end
    return store_error(msg, code)
end

-- the call's answer once the job is written
local function written(job, id, existed)
    local status, run_at, names = "queued", job.at > job.now and job.at or job.now, job.names
    if existed then
        -- the first job's: its own time and networks, not this call's
        local j = job.st:job(id)
        if j then
            status, run_at = j.status or status, j.runAt or run_at
            if type(j.deliveries) == "table" and #j.deliveries > 0 then
                names = {}
                for i, d in ipairs(j.deliveries) do names[i] = d.provider end
            end
        end
    end
    return { errorCode = 0, statusCode = 200, statusReason = "OK", jobID = id, status = status,
             providers = names, deduplicated = existed or nil, runAt = run_at }
end

--- A queued call: { errorCode = 0, jobID, status = "queued", providers } |
-- nil, err. Checked exactly as the direct call; nothing is stored on error.
function _M.enqueue(client, method, params, opts)
    local job, err = prepare(client, method, params, opts)
    if not job then return nil, err end
    local id, existed, code = write(job, job.tx)
    if not id then return nil, write_error(existed, code) end
    client.idle_until = nil -- a work{ idle } claims again at once
    return written(job, id, existed)
end

_M.MAX_BATCH = 1000
local BATCH_METHODS = {}
for full in pairs(_M.METHODS) do
    BATCH_METHODS[full], BATCH_METHODS[full:gsub("^socialize%.", "")] = full, full
end

-- err about calls[i]: its details name the call, err.index = i
local function at_index(err, i)
    local d, name = tostring(err.errorDetails or err.errorMessage or ""), "calls[" .. i .. "]"
    if not d:find(name, 1, true) then err.errorDetails = d .. " (" .. name .. ")" end
    err.index = i
    return err
end

-- The calls of a batch as plain tables { method, params, at, key } | nil,
-- err (named, with the index). seen(i): the call being read (its index
-- for an error a metatable raises).
local function read_calls(calls, seen)
    local n = #calls
    if type(n) ~= "number" or n ~= n or n < 1 or n > _M.MAX_BATCH then
        return nil, errors.invalid("calls", "holds " .. tostring(n) .. " calls; 1 to " .. _M.MAX_BATCH)
    end
    local count = 0
    for k in pairs(calls) do
        count = count + 1
        if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) or count > n then
            return nil, errors.invalid("calls", "must be a list (a key " .. tostring(k) .. " is not an index)")
        end
    end
    local out = {}
    for i = 1, n do
        seen(i)
        local c = calls[i]
        if type(c) ~= "table" then
            return nil, at_index(errors.invalid("calls[" .. i .. "]", "must be a table { method, params, at?, key? }"), i)
        end
        local fields = 0
        for k in pairs(c) do
            fields = fields + 1
            if (k ~= "method" and k ~= "params" and k ~= "at" and k ~= "key") or fields > 4 then
                return nil, at_index(errors.invalid("calls[" .. i .. "]." .. tostring(k),
                    "is not a field (method, params, at, key)"), i)
            end
        end
        out[i] = { method = c.method, params = c.params, at = c.at, key = c.key }
    end
    seen(nil)
    return out
end

--- Many queued calls at once (client:enqueueMany, docs/delivery.md "Many
-- at once"): calls = { { method = name, params = {...}, at = t?, key = k? },
-- ... }, all checked first, then written in one transaction (the store's
-- own, committed with config.store.outboxSync; or the host's, opts.tx).
-- { errorCode = 0, results = { <each call's answer>, ... } } | nil, err:
-- on error nothing is written and err.index names the call.
function _M.enqueue_many(client, calls, opts)
    if opts ~= nil and type(opts) ~= "table" then return nil, errors.invalid("options", "must be a table") end
    opts = opts or {}
    for k in pairs(opts) do
        if k ~= "tx" then return nil, errors.invalid("options." .. tostring(k), "is not an option (tx)") end
    end
    if type(calls) ~= "table" then
        return nil, errors.new(E.MISSING_PARAMETER, "Missing required parameter: calls (a list of "
            .. "{ method, params, at?, key? })")
    end
    -- calls and each call read once into plain tables: a metatable that
    -- raises (__len, __pairs, __index) is bad input, not a raise; every loop
    -- bounded by the batch's size
    local at_i
    local rok, list, rerr = pcall(read_calls, calls, function(i) at_i = i end)
    if not rok then
        local e = errors.invalid(at_i and ("calls[" .. at_i .. "]") or "calls",
            "could not be read (a table's metatable raised an error)")
        return nil, at_i and at_index(e, at_i) or e
    end
    if not list then return nil, rerr end
    calls = list
    local n = #calls
    -- what no call can fix: answered without an index
    if client.engine:settings().backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: queued delivery needs the direct backend "
            .. "(config.backend = \"direct\")")
    end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local jobs = {}
    for i = 1, n do
        local c = calls[i]
        local full = type(c.method) == "string" and BATCH_METHODS[c.method]
        if not full then
            return nil, at_index(errors.invalid("calls[" .. i .. "].method", "must be publishUserAction, "
                .. "setStatus or sendNotification"), i)
        end
        if type(c.params) ~= "table" then
            return nil, at_index(errors.invalid("calls[" .. i .. "].params", "must be a table"), i)
        end
        local job, err = prepare(client, full, c.params, { deliver = "queued", at = c.at, key = c.key, tx = opts.tx })
        if not job then return nil, at_index(err, i) end
        jobs[i] = job
    end
    local ids, failed = {}, nil
    local function write_all(tx)
        for i, job in ipairs(jobs) do
            local id, existed, code = write(job, tx)
            if not id then
                local e, about_tx = write_error(existed, code)
                failed = about_tx and e or at_index(e, i)
                return nil, failed.errorDetails, code
            end
            ids[i] = { id, existed }
        end
        return true
    end
    local ok, msg, code
    if opts.tx ~= nil then
        ok = write_all(opts.tx) -- a failed write fails the host's transaction: only a rollback is left
    else
        ok, msg, code = st:outbox_transaction(write_all)
    end
    if not ok then return nil, failed or write_error(msg, code) end
    client.idle_until = nil
    local results = {}
    for i, job in ipairs(jobs) do results[i] = written(job, ids[i][1], ids[i][2]) end
    return { errorCode = 0, statusCode = 200, statusReason = "OK", results = results }
end

---------------------------------------------------------------------------
-- the worker
---------------------------------------------------------------------------
local function backoff(n)
    n = max(1, min(n, 1000))
    return max(1, floor(n ^ 4 * (0.9 + 0.2 * random()) + 0.5))
end
_M.backoff = backoff

local function worker_id(client)
    local id = client.worker
    if not id then
        id = "w-" .. core.random_hex(8)
        client.worker = id
    end
    return id
end

-- The store's blocked-until for this delivery (the provider as a whole, or
-- this UID on it): Unix seconds or nil. Inside a work call (a blocking one,
-- or an asynchronous one starting its deliveries), from the entries read
-- once after its claim (client.blocks, kept up to date with the blocks this
-- worker writes); else one read.
local function blocked_until(client, st, provider, uid, now)
    local bl = client.blocks
    if bl then
        local b = max(bl[provider .. "\0"] or 0, bl[provider .. "\0uid:" .. uid] or 0)
        return b > now and b or nil
    end
    local b = st:blocked(provider, "", now, "uid:" .. uid) -- both keys, one read: the later
    return type(b) == "number" and b or nil
end

-- The blocked-until entries in force, keyed provider .. "\0" .. key; nil
-- when there are too many to keep (or the read failed): read per delivery.
local MAX_BLOCKS = 500
local function read_blocks(st, now)
    local ok, list = pcall(st.blocked_list, st, now, MAX_BLOCKS)
    if not ok or type(list) ~= "table" or #list >= MAX_BLOCKS then return nil end
    local bl = {}
    for _, e in ipairs(list) do
        local k = tostring(e.provider) .. "\0" .. tostring(e.key)
        bl[k] = max(bl[k] or 0, tonumber(e["until"]) or 0)
    end
    return bl
end

-- A text from a network made fit for the store: no NUL, UTF-8 (else its
-- bytes above 127 replaced), at most n bytes (default 1000).
local function cut(s, n)
    s = tostring(s or ""):gsub("%z", "?")
    if not core.json_encode(s) then s = s:gsub("[\128-\255]", "?") end
    n = n or 1000
    if #s > n then
        s = s:sub(1, n)
        while #s > 0 and not core.json_encode(s) do s = s:sub(1, -2) end -- a character cut in two
    end
    return s
end
_M.cut = cut

---------------------------------------------------------------------------
-- sendNotification: one message per recipient (docs/delivery.md
-- "Notifications to several recipients")
---------------------------------------------------------------------------
local NOTIFY = "socialize.sendNotification"
local PROGRESS = '{"recipients":' -- how a notification's progress record begins
-- the store's limit of a postID (SZ_OUTBOX_MAX_POST_ID): a progress record
-- or the post ids of many recipients
local MAX_POST_ID = 65536
_M.MAX_POST_ID = MAX_POST_ID
-- the bytes one recipient's outcome may add to it (a post id of 200 bytes or
-- a reason of 300, each JSON-escaped: \u00XX at worst), kept free before a
-- send so that its outcome is always recorded
local OUTCOME_ROOM = 2048

--- The progress record of a notification delivery, kept in its postID while
-- some recipient is still open: { recipients = n, sent = { ["i"] = postID },
-- failed = { ["i"] = { category, reason } }, unconfirmed = { ["i"] = time |
-- true }, sending = { ["i"] = time } }, keyed by the recipient's position
-- (1-based) in the job's recipients. `sending` holds the intents: written
-- (durably) before that recipient's message is sent, replaced by its
-- outcome after the reply; one left by a worker that died is in doubt. nil
-- for any other postID (none yet, or the final list of post ids).
function _M.progress(d)
    if d.method ~= NOTIFY or type(d.postID) ~= "string" or d.postID:sub(1, #PROGRESS) ~= PROGRESS then return nil end
    local p = core.json_decode(d.postID)
    if type(p) ~= "table" then return nil end
    for _, k in ipairs({ "sent", "failed", "unconfirmed", "sending" }) do
        if type(p[k]) ~= "table" then p[k] = {} end
    end
    -- (the store's bytes: a sent entry is its post id, a string ("" for none); a
    -- failed entry is { category, reason } whatever it held)
    for k, v in pairs(p.sent) do
        if type(v) ~= "string" then p.sent[k] = type(v) == "number" and cut(v, 200) or "" end
    end
    for k, f in pairs(p.failed) do
        local cat, why = type(f) == "table" and f[1], type(f) == "table" and f[2]
        if type(cat) ~= "string" or core.category_code(cat) == 0 then -- (0: not a category)
            cat = "content_invalid"
        end
        p.failed[k] = { cat, type(why) == "string" and why ~= "" and why or "?" }
    end
    return p
end

-- A list of post ids as a postID that never reads as a progress record (a
-- network's id shaped like one: its first byte made "?"), since a delivery
-- resolved sent by the host keeps its progress, and client:job decodes it.
local function not_progress(s)
    if s:sub(1, #PROGRESS) == PROGRESS then return "?" .. s:sub(2) end
    return s
end

local function split_recipients(list)
    local out = {}
    if type(list) == "string" then
        for item in list:gmatch("[^,]+") do
            out[#out + 1] = item
            if #out >= 100000 then break end
        end
    end
    return out
end

-- The recipients of this attempt: { all = the job's recipients, send = their
-- positions, names = their UIDs, prog = the progress so far }. First, every
-- intent without an outcome (an attempt whose worker died between the intent
-- and the record) becomes in doubt (unconfirmed). Never one already
-- messaged; on the worker's own attempts neither one whose failure was
-- final nor one in doubt, unless the network has an idempotency key and its
-- message went out within idempotencyWindow (resent with the same key); a
-- delivery queued again by the host sends to the ones in doubt when there
-- are any (client:resolve "resend"), else to every one not messaged
-- (client:retry of a dead one).
local function notify_plan(d, params, now, cfg)
    local all = split_recipients(params.recipients)
    local prog = _M.progress(d) or { sent = {}, failed = {}, unconfirmed = {}, sending = {} }
    prog.recipients = #all
    local n = 0
    for k, t in pairs(prog.sending) do
        n = n + 1
        if n > #all then break end
        if prog.sent[k] == nil and prog.failed[k] == nil then prog.unconfirmed[k] = tonumber(t) or true end
    end
    prog.sending = {}
    local fresh, idem = d.prevState == "queued", idempotent(d.provider)
    local doubt = false
    for i = 1, #all do
        local k = tostring(i)
        if prog.unconfirmed[k] ~= nil and prog.sent[k] == nil then doubt = true break end
    end
    local send, names = {}, {}
    for i, uid in ipairs(all) do
        local k = tostring(i)
        local u, f, go = prog.unconfirmed[k], prog.failed[k], false
        if prog.sent[k] ~= nil then
            go = false
        elseif fresh and doubt then -- the host's resend: the ones in doubt (and any never tried)
            go = f == nil
        elseif fresh then
            go = true
        elseif f ~= nil then
            go = false
        elseif u ~= nil then
            go = idem and (type(u) ~= "number" or now - u <= cfg.idempotencyWindow)
        else
            go = true
        end
        if go then
            prog.failed[k], prog.unconfirmed[k] = nil, nil
            send[#send + 1], names[#names + 1] = i, uid
        end
    end
    return { all = all, send = send, names = names, prog = prog }
end
_M.notify_plan = notify_plan

-- A progress record as JSON for the store (its caller checks the length
-- against the store's postID limit).
local function progress_text(prog)
    local function obj(t) -- an empty table as {} (json_encode would make it [])
        if next(t) == nil then return "{}" end
        return core.json_encode(t)
    end
    local text = PROGRESS .. prog.recipients .. ',"sent":' .. obj(prog.sent) .. ',"failed":' .. obj(prog.failed)
        .. ',"unconfirmed":' .. obj(prog.unconfirmed) .. ',"sending":' .. obj(prog.sending or {}) .. "}"
    return text
end

-- A text a network answered, made fit for the store: the credentials of the
-- delivery's own call redacted as its errors are (secrets: the function
-- direct.call or direct.recent gives, which makes the list on first use),
-- then cut to n bytes.
local function clean(s, secrets, n)
    s = tostring(s or "")
    if secrets and #s >= 4 then s = policy.scrub(s, secrets()) end
    return cut(s, n)
end

local function rdetails(rr)
    return tostring(rr.errorDetails or rr.errorMessage or rr.category)
end

-- One recipient's result (item = { r, recipient }, its texts scrubbed with
-- secrets) written into the progress; acc gathers the attempt's { retry,
-- any_request }.
local function apply_recipient(plan, acc, i, item, idem, now, secrets)
    local prog = plan.prog
    local k, rr = tostring(i), type(item.r) == "table" and item.r or {}
    prog.sending[k] = nil
    if rr.ok then
        prog.sent[k] = clean(rr.postID ~= nil and tostring(rr.postID) or "", secrets, 200)
        acc.any_request = true
        return
    end
    local cat = rr.category or "transient"
    local maybe = rr.unconfirmed or (cat == "transient" and (rr.providerStatus or 0) >= 500 and rr.sent_create)
    if rr.sent_create or rr.providerStatus or rr.unconfirmed then acc.any_request = true end
    local details = clean("recipient " .. tostring(item.recipient) .. ": " .. rdetails(rr), secrets, 1000)
    if maybe and not idem then
        prog.unconfirmed[k] = now
    elseif FINAL[cat] then
        prog.failed[k] = { cat, cut(details, 300) }
    else
        if maybe then prog.unconfirmed[k] = now end -- resent with the key on the worker's next attempt
        -- the one that sets the delay: an unconfirmed first (resent with the key), then
        -- the longest retryAfter, then the first
        local retry = acc.retry
        local pick = not retry or (maybe and not retry.maybe)
            or (not retry.maybe and (tonumber(rr.retryAfter) or 0) > (tonumber(retry.r.retryAfter) or 0))
        if pick then acc.retry = { r = rr, details = details, maybe = maybe } end
    end
end

--- The outcome of a notification's attempt from its progress (acc: what
-- apply_recipient gathered; acc.stop: why recipients were left unsent, a
-- retry). Every recipient messaged: sent, postID their ids in the
-- recipients' order. Else the progress goes in postID and: a recipient to
-- retry (transient, rate_limited, auth_expired, an unconfirmed one on a
-- network with a key) makes the delivery retry by that category's rules;
-- else one in doubt leaves it unconfirmed (for the host); else, only final
-- failures left, it is dead, its reason naming each.
local function notify_summary(d, plan, acc, now)
    local prog = plan.prog
    local all, nsent, failed_list, unconf = #plan.all, 0, {}, 0
    for i = 1, all do
        local k = tostring(i)
        if prog.sent[k] ~= nil then nsent = nsent + 1 end
        if prog.failed[k] ~= nil then failed_list[#failed_list + 1] = prog.failed[k] end
        if prog.unconfirmed[k] then unconf = unconf + 1 end
    end
    if nsent == all and all > 0 then
        local ids = {}
        for i = 1, all do
            local id = prog.sent[tostring(i)]
            if id ~= "" then ids[#ids + 1] = id end
        end
        return { state = "sent", postID = not_progress(cut(table.concat(ids, ","), MAX_POST_ID)) }
    end
    local head = nsent .. " of " .. all .. " recipients messaged"
    local o
    local retry = acc.retry or acc.stop
    if acc.too_big then -- (with the progress: who got it is kept)
        o = { state = "dead", errorCode = E.INTERNAL, category = "content_invalid",
              reason = cut(head .. "; the progress of so many recipients does not fit the store: not retried") }
    elseif retry then
        local rr = retry.r
        o = { errorCode = rr.errorCode, category = rr.category or "transient",
              reason = cut(head .. "; " .. retry.details),
              retryAfter = tonumber(rr.retryAfter), status = rr.providerStatus, reconnect = rr.reconnect,
              unconfirmed = retry.maybe or nil, sent_create = acc.any_request or nil }
        if rr.storeError and not acc.any_request then -- the store, not the network: not an attempt
            o = { state = "retrying", nextAt = now + backoff(d.attempts), errorCode = E.GENERAL_SERVER_ERROR,
                  category = "transient", release = true, reason = o.reason }
        end
    elseif unconf > 0 then
        o = { state = "unconfirmed", nextAt = 0, errorCode = E.REQUEST_TIMEOUT, category = "transient",
              reason = cut(head .. "; " .. unconf .. " in doubt (the request was sent, or its worker died before "
                  .. "recording the reply): left for the host (client:resolve)") }
    else
        local parts, first = {}, failed_list[1]
        for n, f in ipairs(failed_list) do
            if n > 20 then parts[#parts + 1] = "..." break end
            parts[#parts + 1] = tostring(f[2]) .. " (" .. tostring(f[1]) .. ")"
        end
        local cat = type(first) == "table" and first[1] or "content_invalid"
        o = { state = "dead", errorCode = core.category_code(cat), category = cat,
              reason = cut(head .. "; " .. #failed_list .. " failed for good: " .. table.concat(parts, "; ")) }
    end
    local text = progress_text(prog)
    if o and #text <= MAX_POST_ID then
        o.progress = text
    else -- too many to remember: given up rather than message one twice
        o = { state = "dead", errorCode = E.INTERNAL, category = "content_invalid",
              reason = cut(head .. "; the progress of so many recipients does not fit the store: not retried") }
    end
    return o
end

-- The outcome of a notification whose raw result lists this attempt's
-- recipients (perRecipient, in plan.send's order; nil: nothing sent).
local function notify_outcome(d, plan, raw, now, cfg, secrets)
    local acc, idem = {}, idempotent(d.provider)
    for j, item in ipairs(raw and raw.perRecipient or {}) do
        local i = plan.send[j]
        if not i then break end
        apply_recipient(plan, acc, i, item, idem, now, secrets)
    end
    return notify_summary(d, plan, acc, now)
end
_M.notify_outcome = notify_outcome

-- The outcome of a direct call that has no per-recipient result (res or
-- err as the call answered; e: its one provider's entry; raw: its result).
local function plain_outcome(d, res, err, raw, now, secrets)
    local out = res or err or {}
    local e = type(out.providerErrorCodes) == "table" and out.providerErrorCodes[1] or nil
    if res and e and (e.errorCode or 0) == 0 then
        local id = type(res.providerPostIDs) == "table" and res.providerPostIDs[d.provider] or nil
        id = id ~= nil and clean(id, secrets, 1024) or nil
        if id and d.method == NOTIFY then id = not_progress(id) end
        return { state = "sent", postID = id }
    end
    if not e and out.storeError then -- the store could not read the connections: nothing sent, not an attempt
        return { state = "retrying", nextAt = now + backoff(d.attempts), errorCode = E.GENERAL_SERVER_ERROR,
                 category = "transient", release = true,
                 reason = cut("not sent: the store could not read the connections (" .. tostring(out.storeError)
                     .. "): " .. tostring(out.errorDetails)) }
    end
    if not e then -- decided before any network: no connection, a parameter
        local code = out.errorCode or E.INTERNAL
        return { state = "dead", errorCode = code, category = code == E.NOT_CONNECTED and "not_connected"
                 or "content_invalid", reason = cut(out.errorDetails or out.errorMessage) }
    end
    local r = { errorCode = e.errorCode, category = e.category or "transient", reason = cut(e.errorDetails),
                retryAfter = tonumber(e.retryAfter), status = e.providerStatus, reconnect = e.reconnect }
    r.unconfirmed = raw and raw.unconfirmed or nil
    r.sent_create = raw and raw.sent_create or nil
    return r
end

-- A queued notification, one recipient after the other: before each send its
-- intent is written to the store (with the outcome of the one before, in one
-- transaction, the delivery's lease extended), after it its outcome; a
-- recipient whose intent the store did not take is not sent to (the attempt
-- stops there). A worker that dies anywhere leaves every recipient either
-- recorded (sent, failed, in doubt), or with an intent and no outcome (in
-- doubt: notify_plan), or untouched (sent to by the next attempt).
local function send_notification(client, st, d, p, plan, now, cfg, driver)
    local eng = client.engine
    local acc, idem, prog = {}, idempotent(d.provider), plan.prog
    local worker = cfg.worker
    for j, i in ipairs(plan.send) do
        local k, uid = tostring(i), plan.names[j]
        prog.sending[k] = now_s(client)
        local text = progress_text(prog)
        if #text + OUTCOME_ROOM > MAX_POST_ID then -- (its outcome would not fit after the send)
            prog.sending[k] = nil
            acc.too_big = true
            break
        end
        local ok, perr, pcode = false, "no worker", "bad_input"
        if worker then ok, perr, pcode = st:progress(d.jobID, d.provider, worker, now_s(client), cfg.lease, text) end
        if not ok then
            -- not recorded, so not sent (a lost lease: another worker has it)
            prog.sending[k] = nil
            acc.stop = { r = { errorCode = E.GENERAL_SERVER_ERROR, category = "transient", storeError = pcode },
                         details = cut("not sent to recipient " .. tostring(uid) .. ": the store could not record "
                             .. "the intent (" .. tostring(pcode) .. "): " .. tostring(perr), 600) }
            break
        end
        local one = {}
        for key, v in pairs(p) do one[key] = v end
        one.recipients = uid
        local ctx = eng:context(driver)
        ctx.retry = policy.config(false) -- the outbox retries, later, by its own policy
        local raw, secrets
        ctx.on_results = function(results, once) raw, secrets = results and results[1], once end
        local res, err = direct.call(ctx, d.method, one)
        local item = raw and type(raw.perRecipient) == "table" and raw.perRecipient[1] or nil
        if not item then
            -- decided for the sender, before any network (its connection): nothing sent
            prog.sending[k] = nil
            local r = plain_outcome(d, res, err, raw, now, secrets)
            if j == 1 then
                r.progress = progress_text(prog)
                return r
            end
            acc.stop = { r = { errorCode = r.errorCode, category = r.category == "not_connected" and "transient"
                               or r.category, storeError = r.release and "store" or nil },
                         details = cut("not sent to recipient " .. tostring(uid) .. ": " .. tostring(r.reason), 600) }
            break
        end
        apply_recipient(plan, acc, i, item, idem, now_s(client), secrets)
        local rr = type(item.r) == "table" and item.r or {}
        -- the sender's authorization expired: the others would fail the same
        if not rr.ok and rr.category == "auth_expired" then break end
    end
    return notify_summary(d, plan, acc, now)
end

-- Sends one claimed delivery through the direct backend for its provider
-- alone: the outcome table for store:record. driver: nil (the transport,
-- blocking) or the poll loop's (client:work{ async = true }).
local function send_one(client, d, now, cfg, driver, st)
    local eng = client.engine
    local s = eng:settings()
    local params = core.json_decode(d.params)
    if type(params) ~= "table" then
        return { state = "dead", errorCode = E.INVALID_PARAMETER, category = "content_invalid",
                 reason = "the queued parameters are damaged" }
    end
    params.enabledProviders = d.provider
    params.disabledProviders = nil
    local plan
    if d.method == NOTIFY then
        plan = notify_plan(d, params, now, cfg)
        if #plan.send == 0 then return notify_outcome(d, plan, nil, now, cfg) end
        params.recipients = plan.names -- only those not messaged yet
    end
    local p, verr = validate.check(d.method, params, { auth = s.auth, backend = s.backend })
    if not p then
        return { state = "dead", errorCode = verr.errorCode, category = "content_invalid", reason = cut(verr.errorDetails) }
    end
    if plan and st then return send_notification(client, st, d, p, plan, now, cfg, driver) end
    local ctx = eng:context(driver)
    ctx.retry = policy.config(false) -- the outbox retries, later, by its own policy
    local raw, secrets
    ctx.on_results = function(results, once) raw, secrets = results and results[1], once end
    local res, err = direct.call(ctx, d.method, p)
    if plan and raw and type(raw.perRecipient) == "table" then return notify_outcome(d, plan, raw, now, cfg, secrets) end
    return plain_outcome(d, res, err, raw, now, secrets)
end

-- The outcome of one attempt, by the category of its failure (docs/delivery.md).
local function decide(client, st, d, r, now, cfg)
    if r.state then return r end
    local idem = idempotent(d.provider)
    local o = { errorCode = r.errorCode, category = r.category, reason = r.reason }
    -- sent, and no reply (or a server error on a network without a key): the
    -- post may exist; resent only with the same key
    if r.unconfirmed or (r.category == "transient" and (r.status or 0) >= 500 and r.sent_create and not idem) then
        o.state = "unconfirmed"
        o.nextAt = 0
        if idem and d.attempts < cfg.maxAttempts then o.nextAt = now + backoff(d.attempts) end
        if r.resent then -- the resend after a read-back that found nothing: once only
            o.reason = cut(tostring(r.reason) .. " (resent once after a read-back found no such post;"
                .. " left for the host)")
        elseif can_read_back(d) then
            read_back_plan(o, now, cfg)
        end
        return o
    end
    if FINAL[r.category] then
        o.state = "dead"
        return o
    end
    if r.category == "auth_expired" then
        o.state = "waiting_reconnect"
        -- the window of this reconnect wait (a waitUntil of a read-back is not one)
        o.waitUntil = (d.waitUntil and d.waitUntil > 0 and d.category == "auth_expired") and d.waitUntil
            or now + cfg.reconnectWindow
        o.nextAt = min(now + cfg.recheck, o.waitUntil)
        if now >= o.waitUntil then
            o.state = "dead"
            o.reason = cut("not reconnected within " .. cfg.reconnectWindow .. " s: " .. tostring(r.reason))
        end
        return o
    end
    -- held back by the client's own rate-limit table (another delivery to the
    -- same account was answered with a rate limit): nothing was sent, so not
    -- an attempt; due again once that limit is over
    if r.category == "rate_limited" and not r.status and not r.sent_create then
        local at = now + max(1, floor(min(r.retryAfter or 1, policy.MAX_BLOCK) + 0.999))
        local b = blocked_until(client, st, d.provider, d.UID, now)
        o.state, o.nextAt, o.release = "retrying", b and max(at, b) or at, true
        return o
    end
    -- transient, rate_limited and anything else the policy may retry
    if d.attempts >= cfg.maxAttempts then
        o.state = "dead"
        o.reason = cut("gave up after " .. d.attempts .. " attempts: " .. tostring(r.reason))
        return o
    end
    local at = now + backoff(d.attempts)
    if r.retryAfter and r.retryAfter > 0 then
        at = max(at, now + floor(min(r.retryAfter, policy.MAX_BLOCK) + 0.999))
        -- other workers (other processes) wait for it too
        local till = now + floor(min(r.retryAfter, policy.MAX_BLOCK) + 0.999)
        st:block(d.provider, "uid:" .. d.UID, till)
        local bl = client.blocks
        if bl then
            local k = d.provider .. "\0uid:" .. d.UID
            bl[k] = max(bl[k] or 0, till)
        end
    end
    local b = blocked_until(client, st, d.provider, d.UID, now)
    if b then at = max(at, b) end
    o.state = "retrying"
    o.nextAt = at
    return o
end

-- A delivery whose user may have reconnected since auth expired: true when
-- the stored connection was written after the failure (or connections come
-- from the host, which may hold a new token), false when it is still the old
-- one; nil when the store could not answer (checked again later, even past
-- waitUntil: a reconnect it could not see is no reason to give up); a
-- reconnect is looked for every cfg.recheck seconds until waitUntil.
local function reconnected(client, st, d, cfg)
    if client.engine:settings().config.connections ~= nil then return true end
    local rec, err = st:get_connection(d.UID, d.provider)
    if rec == nil and err ~= nil then return nil end
    local since = (d.waitUntil or 0) - cfg.reconnectWindow
    return type(rec) == "table" and (rec.updatedAt or 0) >= since
end

--- An unconfirmed delivery read back (docs/delivery.md "Reading back"):
-- its text, as the network's renderer makes it, looked for among the
-- account's recent posts created since its job (less READBACK_SKEW): found,
-- it is sent with that post's id (the check is not an attempt); not found,
-- it is resent once (this claim's attempt); the read-back failing, it stays
-- unconfirmed and is checked again readbackRecheck seconds later while that
-- is before its waitUntil, else it is left for the host. The outcome.
function _M.check_back(client, st, d, now, cfg, driver)
    local keep = { state = "unconfirmed", errorCode = d.errorCode, category = d.category or "transient",
                   release = true }
    local function host(why)
        keep.nextAt = 0
        keep.reason = cut(why .. ": left for the host (client:resolve)")
        return keep
    end
    local params = core.json_decode(d.params)
    local eng = client.engine
    local ctx = eng:context(driver)
    local text = type(params) == "table" and direct.rendered(ctx, d.method, params, d.provider) or nil
    local want = _M.normalise(text)
    if not want or want == "" then
        return host("not read back: the post has no text to look for once its links are removed")
    end
    -- checked again readbackRecheck (or ra) seconds later while before its
    -- waitUntil, else left for the host
    local function again(why, ra)
        local at = now + cfg.readbackRecheck
        if ra and ra > 0 then at = max(at, now + floor(min(ra, policy.MAX_BLOCK) + 0.999)) end
        if not d.waitUntil or d.waitUntil <= 0 or at > d.waitUntil then
            return host(why .. " (after " .. cfg.readbackChecks .. " checks at most)")
        end
        keep.nextAt, keep.waitUntil = at, d.waitUntil
        keep.reason = cut(why .. "; checked again at " .. at)
        return keep
    end
    -- the job's time: without it an older post with the same text would match
    local job, jerr = st:job(d.jobID)
    if type(job) ~= "table" or type(job.createdAt) ~= "number" then
        return again(cut("not read back: the store did not answer the job's time: " .. tostring(jerr), 600))
    end
    local since = job.createdAt - _M.READBACK_SKEW
    ctx.retry = policy.config(false)
    local r, rsecrets = direct.recent(ctx, d.provider, d.UID)
    if type(r) == "table" and r.ok and type(r.data) == "table" and type(r.data.posts) == "table" then
        local best
        for i, p in ipairs(r.data.posts) do
            if i > 1000 then break end
            if type(p) == "table" and type(p.id) == "string" and p.id ~= "" and _M.normalise(p.text) == want
                and (type(p.createdAt) ~= "number" or p.createdAt >= since)
                and (not best or (tonumber(p.createdAt) or 0) < (tonumber(best.createdAt) or 0)) then
                best = p -- the earliest of the matches
            end
        end
        if best then
            return { state = "sent", postID = clean(best.id, rsecrets, 1024), release = true }
        end
        -- "not posted" only when the list reaches back to the job: fewer posts
        -- than asked (the account's whole history), or a dated post older
        -- than the job; else the post may be further down a busy account's
        -- timeline and a resend could post it twice
        local listed, asked = tonumber(r.data.listed) or #r.data.posts, tonumber(r.data.asked) or 0
        local reaches = listed < asked
        if not reaches then
            for i, p in ipairs(r.data.posts) do
                if i > 1000 then break end
                if type(p) == "table" and type(p.createdAt) == "number" and p.createdAt < since then
                    reaches = true
                    break
                end
            end
        end
        if not reaches then
            return host("not read back: the account's " .. listed .. " latest posts are all newer than the job, "
                .. "so the post may be further back")
        end
        -- not posted: resent once, a normal attempt
        local ok, rr
        if driver then -- it yields to the poll loop: no pcall (see process)
            ok, rr = true, send_one(client, d, now, cfg, driver)
        else
            ok, rr = pcall(send_one, client, d, now, cfg)
        end
        if not ok then
            rr = { errorCode = E.INTERNAL, category = "transient", reason = cut(eng:scrub(rr)), unconfirmed = true }
        end
        rr.resent = true
        return decide(client, st, d, rr, now_s(client), cfg)
    end
    local why = cut("the read-back failed: " .. tostring(type(r) == "table" and r.errorDetails or r), 600)
    local cat = type(r) == "table" and r.category or "transient"
    if cat ~= "transient" and cat ~= "rate_limited" then return host(why) end
    return again(why, type(r) == "table" and tonumber(r.retryAfter) or nil)
end

-- The outcome of one claimed delivery: sent (or not, by the rules), not
-- yet recorded.
local function outcome(client, st, d, cfg, driver)
    local now = now_s(client)
    local prev = d.prevState
    -- a delivery waiting for a reconnect: true, false, or nil (the store did not answer)
    local back
    if prev == "waiting_reconnect" then back = reconnected(client, st, d, cfg) end
    local idem = idempotent(d.provider)
    local o
    -- (a notification is taken over per recipient: notify_plan)
    if prev == "sending" and not idem and d.method ~= NOTIFY then
        -- a worker's lease ran out mid-delivery (a crash): the request may have gone out
        o = { state = "unconfirmed", nextAt = 0, category = "transient",
              reason = "the worker's lease ran out during the delivery: the request may have been sent" }
        if can_read_back(d) then read_back_plan(o, now, cfg) end
    elseif prev == "unconfirmed" and can_read_back(d) then
        o = _M.check_back(client, st, d, now, cfg, driver)
    elseif (prev == "unconfirmed" or prev == "sending") and d.sentAt and d.sentAt > 0
        and now - d.sentAt > cfg.idempotencyWindow and d.method ~= NOTIFY then
        o = { state = "unconfirmed", nextAt = 0, category = "transient",
              reason = "past the idempotency key's window (" .. cfg.idempotencyWindow .. " s): not resent" }
    elseif prev == "waiting_reconnect" and back ~= true then
        if now >= (d.waitUntil or 0) and back == false then
            o = { state = "dead", errorCode = d.errorCode, category = "auth_expired",
                  reason = cut("not reconnected within " .. cfg.reconnectWindow .. " s: " .. tostring(d.reason)) }
        else -- (the store not answering: checked again recheck s later, even past waitUntil)
            o = { state = "waiting_reconnect", nextAt = back == nil and now + cfg.recheck
                      or min(now + cfg.recheck, d.waitUntil),
                  waitUntil = d.waitUntil, errorCode = d.errorCode, category = d.category, reason = d.reason,
                  release = true }
        end
    else
        local b = blocked_until(client, st, d.provider, d.UID, now)
        if b then -- blocked by a rate limit: not an attempt
            o = { state = "retrying", nextAt = b, errorCode = d.errorCode, category = "rate_limited",
                  reason = "not sent: blocked until " .. b .. " (an earlier rate limit)", release = true }
        else
            local ok, r
            if driver then -- it yields to the poll loop: no pcall (Lua 5.1 cannot yield across one);
                ok, r = true, send_one(client, d, now, cfg, driver, st) -- a raise is recorded by work's callback
            else
                ok, r = pcall(send_one, client, d, now, cfg, nil, st)
            end
            if not ok then
                r = { errorCode = E.INTERNAL, category = "transient", reason = cut(client.engine:scrub(r)) }
            end
            o = decide(client, st, d, r, now_s(client), cfg)
            -- a notification's progress (who got it) kept with every outcome but the final list
            if type(r) == "table" and r.progress and o.state ~= "sent" then o.postID = r.progress end
        end
    end
    return o
end

local function record_failed(client, d, rcode, rerr)
    local log = client.engine:settings().config.log
    if log then pcall(log, { event = "outbox", provider = d.provider, jobID = d.jobID, error = rcode,
                             details = tostring(rerr) }) end
    return rcode == "lease_lost" and "lost" or "error"
end

-- Outcomes the store could not take (full, read-only, gone, busy: not a
-- lost lease, not a refused outcome) are kept here, in memory, in their
-- order, and recorded by the next work call before it claims anything (or
-- by client:close()): a delivery sent while the disk was full keeps its
-- post id instead of ending unconfirmed when its lease runs out. Until
-- then the delivery stays leased (`sending`) in the store; a process that
-- dies meanwhile leaves it to the lease's rules. At most MAX_UNRECORDED:
-- beyond, the oldest is dropped (logged) and left to those rules.
local MAX_UNRECORDED = 10000
local MAX_RECORD = 100 -- outcomes per store:record_many (SZ_OUTBOX_MAX_CLAIM)

local function keep_unrecorded(client, worker, d, o, rcode, rerr)
    local list = client.unrecorded or {}
    client.unrecorded = list
    if #list >= MAX_UNRECORDED then
        local old = table.remove(list, 1)
        record_failed(client, old[1], "unrecorded_dropped", "outbox: more than " .. MAX_UNRECORDED
            .. " outcomes waiting for the store: this one is left to its lease")
    end
    list[#list + 1] = { d, o, worker }
    if rcode then client.unrecorded_err = { rerr, rcode } end
end

local function store_failed(rcode)
    return rcode ~= nil and rcode ~= "lease_lost" and rcode ~= "bad_input" and rcode ~= "job_unknown"
end

-- One outcome recorded alone: its state, "lost" or "error".
local function record_one(client, st, d, worker, o)
    local pok, rok, rerr, rcode = pcall(st.record, st, d.jobID, d.provider, worker, now_s(client), o)
    if not pok then rok, rerr, rcode = nil, rok, "bad_input" end
    if not rok then
        if store_failed(rcode) then keep_unrecorded(client, worker, d, o, rcode, rerr) end
        return record_failed(client, d, rcode, rerr)
    end
    return o.state
end

-- The outcomes a work call finished together ({ d, o } each), recorded in
-- one transaction (store:record_many), each still only by the lease's
-- holder: { state | "lost" | "error" } in their order. Should the batch be
-- refused as a whole (an outcome the store will not take), each is recorded
-- alone, so that one bad outcome costs no other.
local function record_batch(client, st, worker, done)
    local states = {}
    if #done == 0 then return states end
    local items = {}
    for i, x in ipairs(done) do
        local o = x[2]
        items[i] = { jobID = x[1].jobID, provider = x[1].provider, state = o.state, postID = o.postID,
                     nextAt = o.nextAt, waitUntil = o.waitUntil, errorCode = o.errorCode, category = o.category,
                     reason = o.reason, release = o.release }
    end
    local pok, res, rerr, rcode = pcall(st.record_many, st, worker, now_s(client), items)
    if pok and type(res) == "table" then
        for i, x in ipairs(done) do
            states[i] = res[i] == true and x[2].state or record_failed(client, x[1], "lease_lost", "outbox: this "
                .. "worker no longer holds the delivery (taken over or cancelled)")
        end
        return states
    end
    if pok and rcode ~= "bad_input" then -- the store failed: nothing was written; kept for later
        for i, x in ipairs(done) do
            if store_failed(rcode) then keep_unrecorded(client, worker, x[1], x[2], rcode, rerr) end
            states[i] = record_failed(client, x[1], rcode, rerr)
        end
        return states
    end
    for i, x in ipairs(done) do states[i] = record_one(client, st, x[1], worker, x[2]) end
    return states
end

-- The outcome of a delivery whose asynchronous task raised (or was ended
-- by client:close()): its request may have gone out, so it is unconfirmed
-- (resent with the same key where the network has one, else the host's).
local function raised_outcome(client, st, d, cfg, err)
    local r = { errorCode = E.INTERNAL, category = "transient", unconfirmed = true,
                reason = cut(client.engine:scrub(type(err) == "table" and tostring(err.errorDetails) or tostring(err))) }
    if d.method == NOTIFY then
        -- its progress in the store tells who is in doubt (an intent without an outcome) and who
        -- was never tried: the next attempt sends to those only (notify_plan)
        r.unconfirmed, r.reason = nil, cut("the attempt ended before its outcome was recorded: " .. r.reason)
    end
    local ok, o = pcall(decide, client, st, d, r, now_s(client), cfg)
    if not ok then o = { state = "retrying", nextAt = now_s(client) + backoff(d.attempts), errorCode = r.errorCode,
                         category = r.category, reason = r.reason } end
    return o
end

-- The outcomes of the asynchronous deliveries that finished in one
-- client:poll (or client:close()), recorded together once its callbacks
-- have run: each run of one worker's outcomes (at most MAX_RECORD) in one
-- transaction (store:record_many, each lease-checked on its own), then each
-- delivery's on_done with its state. Until then an outcome is in memory
-- only, as one a blocking work call gathers for its batch (the same rules
-- after a crash: the delivery is still `sending` under its lease).
local function flush_finished(client)
    local list = client.finished
    client.finished = nil -- (an on_done that closes the client records its own)
    if not list then return end
    local i = 1
    while i <= #list do
        local w, st, run = list[i].worker, list[i].st, {}
        while i <= #list and list[i].worker == w and list[i].st == st and #run < MAX_RECORD do
            run[#run + 1] = list[i]
            i = i + 1
        end
        local states = record_batch(client, st, w, run)
        for k, x in ipairs(run) do
            if x.on_done then
                local ok, e = pcall(x.on_done, states[k], x[1].jobID, x[1].provider)
                if not ok then client.engine:report("callback raised: " .. tostring(e)) end
            end
        end
    end
end

-- An asynchronous delivery's outcome, kept for flush_finished (registered
-- to run after the poll's callbacks).
local function finished(client, st, d, worker, o, on_done)
    local list = client.finished
    if not list then
        list = {}
        client.finished = list
        client.async:after(function() flush_finished(client) end)
    end
    list[#list + 1] = { d, o, worker = worker, st = st, on_done = on_done }
end

--- Records the outcomes kept while the store could not take them (oldest
-- first, in one transaction): true, or nil, the store's error (they stay
-- kept). Called by work before it claims, and by client:close().
function _M.flush_unrecorded(client, sum)
    local list = client.unrecorded
    if not list or #list == 0 then return true end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    client.unrecorded = nil
    local states, i = {}, 1
    while i <= #list do -- each run of one worker's outcomes (at most MAX_RECORD) in one transaction
        local w, run = list[i][3], {}
        while i <= #list and list[i][3] == w and #run < MAX_RECORD do
            run[#run + 1] = list[i]
            i = i + 1
        end
        for _, state in ipairs(record_batch(client, st, w, run)) do states[#states + 1] = state end
    end
    if client.unrecorded and #client.unrecorded > 0 then
        local e = client.unrecorded_err or {}
        local err = store_error(e[1], e[2])
        err.unrecorded = #client.unrecorded
        return nil, err
    end
    client.unrecorded_err = nil
    if sum then
        for _, state in ipairs(states) do sum[state] = (sum[state] or 0) + 1 end
        sum.recorded = (sum.recorded or 0) + #states
    end
    return true
end

-- A claimed delivery not started (the budget ran out): the outcome that
-- gives it back as it was.
local function given_back(client, d)
    local state = d.prevState
    local o = { state = state, nextAt = d.nextAt or 0, waitUntil = d.waitUntil, errorCode = d.errorCode,
                category = d.category, reason = d.reason, release = true }
    if state == "sending" and d.method == NOTIFY then
        -- taken over and not started: its progress says who is in doubt (the next attempt's plan)
        o.state, o.nextAt = "retrying", now_s(client)
    elseif state == "sending" then -- taken over: its previous attempt's outcome is unknown
        o.state, o.nextAt = "unconfirmed", idempotent(d.provider) and now_s(client) or 0
        o.reason = "the worker's lease ran out during the delivery: the request may have been sent"
        o.release = nil
        if can_read_back(d) then read_back_plan(o, now_s(client), settings(client)) end
    end
    return o
end

--- client:work(budget_ms [, opts]): claims due deliveries and sends them,
-- never starting one after budget_ms have passed. Returns a summary
-- { claimed, sent, retrying, unconfirmed, dead, waiting_reconnect, lost,
-- released, started, inflight } | nil, err. opts.async: each delivery is
-- started as a task of the poll loop (client:poll drives it and records its
-- outcome), at most opts.concurrency (else cfg.batch) in flight, the free
-- slots claimed together; work only claims and starts. opts.on_done(state, jobID, provider):
-- called from client:poll as each started delivery's outcome is recorded
-- (state: sent, retrying, unconfirmed, dead, waiting_reconnect; "lost" when
-- its lease was taken over; "error" when the store refused it: then kept and
-- counted by the work call that records it later).
-- opts.stop(): true ends the run before the next delivery (a host exiting).
-- opts.idle (ms): after a claim found nothing due, the calls of the next
-- idle ms claim nothing (a frame loop's idle cost), unless this client
-- enqueued, retried or resolved meanwhile.
function _M.work(client, budget_ms, opts)
    opts = opts or {}
    local idle = opts.idle
    -- (outcomes kept from a store that failed are recorded all the same, below)
    local idling = idle and client.idle_until and client.engine:now_ms() < client.idle_until
    if idling and not (client.unrecorded and #client.unrecorded > 0) then
        return { errorCode = 0, claimed = 0, sent = 0, retrying = 0, unconfirmed = 0, dead = 0, waiting_reconnect = 0,
                 lost = 0, released = 0, error = 0, started = 0, inflight = client.inflight or 0, idle = true }
    end
    client.blocks = nil -- a batch's entries only (a raise may have left them)
    local st, serr = store_of(client)
    if not st then return nil, serr end
    if client.engine:settings().backend ~= "direct" then
        return nil, errors.new(E.NOT_SUPPORTED, "Not supported: queued delivery needs the direct backend")
    end
    local cfg = settings(client)
    -- a lease outlives a delivery's calls (a read-back and its resend: two
    -- deadlines): no one takes over a delivery still being sent
    local call_s = floor(client.engine:settings().deadline + 0.999)
    cfg.lease = max(cfg.lease, 2 * call_s + 5)
    -- the ms of its lease a delivery needs left to be started: its calls and 5 s
    local function needs_ms(d)
        return ((d.prevState == "unconfirmed" and can_read_back(d)) and 2 or 1) * call_s * 1000 + 5000
    end
    local worker = opts.worker or worker_id(client)
    cfg.worker = worker -- (a notification's progress is written under this worker's lease)
    local eng = client.engine
    local deadline = eng:now_ms() + budget_ms
    local sum = { errorCode = 0, claimed = 0, sent = 0, retrying = 0, unconfirmed = 0, dead = 0,
                  waiting_reconnect = 0, lost = 0, released = 0, error = 0 }
    local async, stop, on_done = opts.async and client.async, opts.stop, opts.on_done
    local cap = opts.concurrency and floor(opts.concurrency) or cfg.batch
    sum.started, client.inflight = 0, client.inflight or 0
    local function stopped() return stop ~= nil and stop() end
    -- outcomes an earlier call could not record go first; while the store
    -- still refuses them nothing is claimed, so nothing more is sent
    local fok, ferr = _M.flush_unrecorded(client, sum)
    if not fok then return nil, ferr end
    if idling then -- recorded; still nothing claimed
        sum.inflight, sum.idle = client.inflight, true
        return sum
    end
    for _ = 1, 100000 do -- bounded; the budget ends it first
        if eng:now_ms() >= deadline or stopped() then break end
        -- asynchronous: as many as there are free slots (not `batch`: each is only started here,
        -- sent by poll, so none waits for another's send), in one claim (a transaction, an fsync
        -- on SQLite, whatever its size), at most MAX_RECORD (the store's SZ_OUTBOX_MAX_CLAIM),
        -- and no more than the budget left can start (by the ms a start took in this client, at
        -- least `batch`): one not started is given back, a claim and a record for nothing
        local batch = cfg.batch
        if async then
            batch = min(cap - client.inflight, MAX_RECORD)
            local per = client.start_ms
            if per and per > 0 then batch = min(batch, max(cfg.batch, floor((deadline - eng:now_ms()) / per))) end
        end
        if opts.limit then batch = min(batch, opts.limit - sum.claimed) end
        if batch < 1 then break end
        local claimed_ms = eng:now_ms()
        local list, cerr, ccode = st:claim(worker, now_s(client), cfg.lease, batch)
        if not list then return nil, store_error(cerr, ccode) end
        if #list == 0 then
            if idle then client.idle_until = eng:now_ms() + idle end
            break
        end
        sum.claimed = sum.claimed + #list
        -- the blocked-until entries read once for the claim; blocking: the
        -- outcomes recorded together (at the end, or when half the lease
        -- has passed since the claim: an outcome is only written in time)
        local done, given, starts_ms, started = {}, 0, eng:now_ms(), sum.started
        -- (asynchronous: the starts below run each delivery up to its first request, its
        -- blocked-until check included; the later steps, in poll, read the store)
        client.blocks = read_blocks(st, now_s(client))
        local function flush()
            for k, state in ipairs(record_batch(client, st, worker, done)) do
                if k > #done - given then break end -- the given back are counted as released
                sum[state] = (sum[state] or 0) + 1
            end
            done, given = {}, 0
        end
        for i, d in ipairs(list) do
            -- (blocking: the claim's later deliveries start after the earlier
            -- ones' sends; one its lease could not cover is given back, never
            -- sent while another worker may take it over)
            local late = i > 1 and eng:now_ms() - claimed_ms + needs_ms(d) > cfg.lease * 1000
            if eng:now_ms() >= deadline or (i > 1 and stopped()) or late then
                for k = i, #list do done[#done + 1] = { list[k], given_back(client, list[k]) } end
                given = #list - i + 1
                sum.released = sum.released + given
                break
            end
            if async then
                client.inflight = client.inflight + 1
                sum.started = sum.started + 1
                -- the outcome is recorded with the others this poll finishes (flush_finished)
                async:run(function(driver) return outcome(client, st, d, cfg, driver) end,
                    function(o, err)
                        client.inflight = client.inflight - 1
                        if type(o) ~= "table" then o = raised_outcome(client, st, d, cfg, err) end
                        finished(client, st, d, worker, o, on_done)
                    end)
            else
                done[#done + 1] = { d, outcome(client, st, d, cfg) }
                if eng:now_ms() - claimed_ms >= cfg.lease * 500 then
                    flush()
                    if client.unrecorded then -- the store refused: the rest given back, not sent
                        for k = i + 1, #list do keep_unrecorded(client, worker, list[k], given_back(client, list[k])) end
                        sum.released = sum.released + (#list - i)
                        break
                    end
                end
            end
        end
        flush()
        client.blocks = nil
        if sum.started > started then -- the ms a start takes (a moving average): the next claims' size
            local per = (eng:now_ms() - starts_ms) / (sum.started - started)
            client.start_ms = client.start_ms and (0.7 * client.start_ms + 0.3 * per) or per
        end
        if client.unrecorded and #client.unrecorded > 0 then break end
    end
    sum.inflight = client.inflight
    if client.unrecorded and #client.unrecorded > 0 and not async then
        -- sent, or given back, and not recorded: named, and kept for the next call
        local e = client.unrecorded_err or {}
        local err = store_error(e[1], e[2])
        err.unrecorded = #client.unrecorded
        err.summary = sum
        return nil, err
    end
    return sum
end

---------------------------------------------------------------------------
-- status and control
---------------------------------------------------------------------------
local function job_error(msg, code, what)
    if code == "job_unknown" then return named(E.INVALID_PARAMETER, code, "Invalid parameter value: jobID: " .. tostring(msg)) end
    if code == "job_sending" or code == "bad_state" or code == "bad_input" then
        return named(E.INVALID_PARAMETER, code, "Invalid parameter value: " .. what .. ": " .. tostring(msg))
    end
    return store_error(msg, code)
end

local function check_id(id, name)
    if type(id) ~= "string" or id == "" or id:find("\0", 1, true) or #id > 1024 then
        return nil, errors.invalid(name or "jobID", "must be a job's id (a string)")
    end
    return true
end

local function shape(j)
    j.errorCode = 0
    if type(j.params) == "string" then j.params = core.json_decode(j.params) end
    -- a notification still open: its progress record shown per recipient, not as a postID
    if j.method == NOTIFY and type(j.deliveries) == "table" then
        local all = split_recipients(type(j.params) == "table" and j.params.recipients or nil)
        for _, d in ipairs(j.deliveries) do
            local prog = type(d) == "table" and _M.progress({ method = j.method, postID = d.postID }) or nil
            if prog then
                local list = {}
                for i, uid in ipairs(all) do
                    local k, f = tostring(i), prog.failed[tostring(i)]
                    local r = { UID = uid, state = "pending" }
                    if prog.sent[k] ~= nil then
                        r.state, r.postID = "sent", prog.sent[k] ~= true and prog.sent[k] or nil
                    elseif f ~= nil then
                        r.state = "failed"
                        if type(f) == "table" then r.category, r.reason = f.category or f[1], f.reason or f[2] end
                    elseif prog.unconfirmed[k] ~= nil then
                        r.state = "unconfirmed"
                    elseif prog.sending[k] ~= nil then
                        -- an intent without its outcome: being sent now, or in doubt once the
                        -- attempt ended without its record
                        r.state = d.state == "sending" and "sending" or "unconfirmed"
                    end
                    list[i] = r
                end
                d.recipients, d.postID = list, nil
            end
        end
    end
    return j
end

_M.shape = shape

--- The job and each delivery's state | nil, err.
function _M.job(client, id)
    local ok, err = check_id(id)
    if not ok then return nil, err end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local j, msg, code = st:job(id)
    if j == nil and msg == nil then return nil, named(E.INVALID_PARAMETER, "job_unknown", "Invalid parameter value: jobID: no such job") end
    if not j then return nil, job_error(msg, code, "jobID") end -- bad_input (not UTF-8): 400006
    return shape(j)
end

-- a job's status sums up its deliveries (docs/delivery.md, "States")
_M.JOB_STATUSES = { queued = true, active = true, unconfirmed = true, sent = true, partial = true, dead = true,
                    cancelled = true }

--- { errorCode = 0, jobs = {...} } newest first | nil, err.
function _M.jobs(client, q)
    q = q or {}
    if type(q) ~= "table" then return nil, errors.invalid("query", "must be a table { UID?, status?, limit? }") end
    if q.UID ~= nil and (type(q.UID) ~= "string" or q.UID:find("\0", 1, true)) then
        return nil, errors.invalid("UID", "must be a string")
    end
    if q.status ~= nil and not _M.JOB_STATUSES[q.status] then
        return nil, errors.invalid("status", "must be one of queued, active, unconfirmed, sent, partial, dead, "
            .. "cancelled (got " .. (type(q.status) == "string" and ("%q"):format(q.status:sub(1, 40)) or type(q.status))
            .. ")")
    end
    local limit = q.limit
    if limit ~= nil and (type(limit) ~= "number" or limit ~= limit or limit < 1) then
        return nil, errors.invalid("limit", "must be a number >= 1")
    end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local list, msg, code = st:jobs({ UID = q.UID, status = q.status, limit = limit and floor(min(limit, 1000)) or 50 })
    if not list then
        if code == "bad_input" then return nil, errors.invalid("UID", tostring(msg)) end -- too long, not UTF-8
        return nil, store_error(msg, code)
    end
    return { errorCode = 0, jobs = list }
end

local function control(client, id, fn)
    local ok, err = check_id(id)
    if not ok then return nil, err end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    return fn(st, now_s(client))
end

--- Cancels what is not yet delivered: { errorCode = 0, jobID, cancelled = n } | nil, err
-- (err.error = "job_sending" while a delivery is being sent).
function _M.cancel(client, id)
    return control(client, id, function(st, now)
        local n, msg, code = st:cancel(id, now)
        if not n then return nil, job_error(msg, code, "jobID") end
        return { errorCode = 0, jobID = id, cancelled = n }
    end)
end

--- Queues the dead deliveries again: { errorCode = 0, jobID, retried = n } | nil, err.
function _M.retry(client, id, provider)
    if provider ~= nil and (type(provider) ~= "string" or provider:find("\0", 1, true)) then
        return nil, errors.invalid("provider", "must be a provider name")
    end
    return control(client, id, function(st, now)
        local n, msg, code = st:retry(id, provider, now)
        if not n then return nil, job_error(msg, code, provider and "provider" or "jobID") end
        client.idle_until = nil
        return { errorCode = 0, jobID = id, retried = n }
    end)
end

--- The host's decision on an unconfirmed delivery: "sent" or "resend".
function _M.resolve(client, id, provider, decision)
    if type(provider) ~= "string" or provider == "" or provider:find("\0", 1, true) then
        return nil, errors.invalid("provider", "must be a provider name")
    end
    if decision ~= "sent" and decision ~= "resend" then
        return nil, errors.invalid("decision", "must be \"sent\" or \"resend\"")
    end
    return control(client, id, function(st, now)
        local ok, msg, code = st:resolve(id, provider, decision, now)
        if not ok then return nil, job_error(msg, code, "provider") end
        client.idle_until = nil
        return { errorCode = 0, jobID = id, provider = provider, state = decision == "sent" and "sent" or "queued" }
    end)
end

--- The user connected (again) to provider: that UID's deliveries waiting
-- for a reconnect are due now. Best effort: the count, or nil and the error
-- (a client without a store has none).
function _M.reconnected(client, UID, provider)
    if type(UID) ~= "string" or type(provider) ~= "string" then return nil end
    local st = client.client:store()
    if not st then return nil end
    local ok, n = pcall(st.resume, st, UID, provider, now_s(client))
    return ok and n or nil
end

--- Deletes finished jobs unchanged for age seconds: { errorCode = 0, pruned = n }.
function _M.prune(client, age)
    if type(age) ~= "number" or age ~= age or age < 0 then
        return nil, errors.invalid("age", "must be a number of seconds >= 0")
    end
    local st, serr = store_of(client)
    if not st then return nil, serr end
    local n, msg, code = st:prune(now_s(client) - floor(min(age, 9e15)))
    if not n then return nil, store_error(msg, code) end
    return { errorCode = 0, pruned = n }
end

return _M
