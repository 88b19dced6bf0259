-- The `socialize` command (bin/socialize, docs/cli.md): its whole code, so
-- that it runs without a process of its own in tests:
--
--   local cli = require("socialize.cli")
--   local code = cli.main({ "connections", "--uid", "u1" }, { stdout = ..., stderr = ..., stdin = ... })
--
-- main(argv, env) never calls os.exit: it returns the exit code (EXIT
-- below). env replaces the process's streams and environment: stdout,
-- stderr, stdin (file-like: write / read / flush), getenv(name), isatty(fd).
-- Every byte it writes goes through the scrubber: no configured secret is
-- ever printed, whatever a network or the library answers.
local socialize = require("socialize")
local core = require("socialize.core")
local policy = require("socialize.policy")
local errors = require("socialize.errors")

local type, pairs, ipairs, tostring, tonumber, pcall, error, select, next = type, pairs, ipairs, tostring, tonumber,
    pcall, error, select, next
local format, rep, concat, sort = string.format, string.rep, table.concat, table.sort
local floor = math.floor

local _M = {}

--- Exit codes (docs/cli.md).
local EXIT = {
    ok = 0,          -- done
    failed = 1,      -- the call failed (Gigya's code on stderr), or a signature is not valid
    usage = 2,       -- a bad command line: unknown command or flag, missing value
    config = 3,      -- no config, a config file that does not load, a missing env variable, socialize.new refused it
    timeout = 4,     -- connect: no callback came within --timeout
    interrupted = 5, -- SIGINT or SIGTERM: the work in flight was finished first
    unsupported = 6, -- the library has no outbox (client:work) in this build
}
_M.EXIT = EXIT

local VERSION = socialize._VERSION

local function curl_helpers()
    local ok, c = pcall(require, "socialize.curl")
    if ok and type(c) == "table" and c.cli_signals then return c end
    return nil
end

---------------------------------------------------------------------------
-- Errors carried up to main: { exit = code, msg = text, result = err table }
---------------------------------------------------------------------------
local Fail = {}
local function fail(code, msg, result) error(setmetatable({ exit = code, msg = msg, result = result }, Fail), 0) end
local function usage(msg) fail(EXIT.usage, msg) end

---------------------------------------------------------------------------
-- Commands and their flags
---------------------------------------------------------------------------
-- kind: "string" (one value), "list" (repeatable; commas split too for
-- providers), "bool" (no value), "number".
local GLOBAL_FLAGS = { config = "string", json = "bool", help = "bool", version = "bool" }

local MEDIA = { uid = "string", title = "string", link = "string", description = "string", message = "string",
                image = "list", provider = "list" }
local function with(t, more)
    local out = {}
    for k, v in pairs(t) do out[k] = v end
    for k, v in pairs(more or {}) do out[k] = v end
    return out
end

local COMMANDS = {
    publish = { flags = with(MEDIA, { at = "string", queued = "bool", key = "string" }), required = { "uid", "title" },
                args = "", summary = "publish a UserAction (now, or queued in the outbox)" },
    status = { flags = { uid = "string", provider = "list", at = "string", queued = "bool", key = "string" },
               required = { "uid" }, args = "TEXT",
               summary = "set the user's status on the connected networks (now, or queued)" },
    preview = { flags = MEDIA, required = { "uid", "title" }, args = "",
                summary = "what publish would post on each network, sending nothing (direct backend)" },
    connect = { flags = { uid = "string", redirect = "string", paste = "bool", page = "string", timeout = "number",
                          port = "number", scopes = "string" },
                required = { "uid" }, args = "PROVIDER [field=value ...]",
                summary = "connect a user to a network (prints the authorization URL, then waits for the callback)" },
    connections = { flags = { uid = "string" }, required = { "uid" }, args = "",
                    summary = "the user's connections (getUserInfo identities)" },
    disconnect = { flags = { uid = "string", all = "bool" }, required = { "uid" }, args = "[PROVIDER]",
                   summary = "remove a connection (revoked where the network can)" },
    call = { flags = {}, args = "METHOD [key=value | key:=json ...]", summary = "any Gigya method (gigya backend)" },
    sign = { flags = { uid = "string", friend = "string", timestamp = "string", ["body-file"] = "string",
                       ["secret-env"] = "string" },
             args = "request METHOD URL [key=value ...] | user | friend | webhook",
             summary = "compute a Gigya signature (request, user, friend, webhook)" },
    validate = { flags = { uid = "string", friend = "string", timestamp = "string", signature = "string",
                           window = "number", ["body-file"] = "string", ["secret-env"] = "string",
                           ["max-age"] = "number" },
                 args = "user | friend | webhook | login [key=value ...]",
                 summary = "check a Gigya signature or a messenger login (exit 0 valid, 1 not valid)" },
    worker = { flags = { budget = "number", grace = "number", once = "bool", idle = "number",
                         concurrency = "number" }, args = "",
               summary = "deliver queued jobs until SIGTERM/SIGINT (outbox)" },
    jobs = { flags = { status = "string", uid = "string", limit = "number" }, args = "",
             summary = "list the outbox's jobs" },
    job = { flags = {}, args = "ID", summary = "one job and its deliveries" },
    retry = { flags = { provider = "string" }, args = "ID",
              summary = "deliver a failed job (or one network of it) again" },
    cancel = { flags = {}, args = "ID", summary = "cancel a job not yet sent" },
    resolve = { flags = {}, args = "ID PROVIDER sent|resend", summary = "settle an unconfirmed delivery" },
    help = { flags = {}, args = "[COMMAND]", summary = "this help, or one command's" },
}
_M.COMMANDS = COMMANDS
local ORDER = { "publish", "status", "preview", "connect", "connections", "disconnect", "call", "sign", "validate",
                "worker", "jobs", "job", "retry", "cancel", "resolve", "help" }

local function flag_names(cmd)
    local out = {}
    for k in pairs(COMMANDS[cmd].flags) do out[#out + 1] = "--" .. k end
    for k in pairs(GLOBAL_FLAGS) do out[#out + 1] = "--" .. k end
    sort(out)
    return out
end

local FLAG_HELP = {
    uid = "the user's UID", title = "the UserAction's title", link = "its link (linkBack)",
    description = "its description", message = "its user message (userMessage)",
    image = "an image: an http(s) URL or a local file (repeatable)",
    provider = "network(s), comma-separated (repeatable)", queued = "queue it in the outbox",
    at = "queue it for: Unix seconds, YYYY-MM-DDTHH:MM:SSZ or +N[smhd]", key = "the outbox's dedup key",
    redirect = "the redirect URI (a http://127.0.0.1:PORT/ one is listened on)",
    paste = "read the callback URL from stdin instead of listening", page = "the page to publish as (its id)",
    timeout = "seconds to wait for the callback (300)", port = "the listener's port (0: any free one)",
    scopes = "the scopes to ask (else the network's)", all = "every connection of the UID",
    friend = "the friend's UID", timestamp = "Unix seconds (sign: default now)",
    ["body-file"] = "the body's file (default: stdin)", ["secret-env"] = "the environment variable holding the secret",
    signature = "the signature to check", window = "seconds the timestamp may be off",
    ["max-age"] = "seconds the login may be old (86400)", budget = "milliseconds per client:work slice (1000)",
    grace = "seconds to finish the work in flight after a signal (30)", once = "stop when nothing is due",
    concurrency = "deliveries in flight at once (16; 1: one after the other)",
    idle = "milliseconds to sleep when nothing is due (1000)", status = "only jobs in this status",
    limit = "how many (50)", config = "the config file (else SOCIALIZE_CONFIG)",
    json = "one JSON document on stdout", help = "this help", version = "the version",
}

_M.FLAG_HELP = FLAG_HELP

local function help_text(cmd)
    if cmd and COMMANDS[cmd] then
        local c = COMMANDS[cmd]
        local fl = {}
        for _, f in ipairs(flag_names(cmd)) do
            local kind = COMMANDS[cmd].flags[f:sub(3)] or GLOBAL_FLAGS[f:sub(3)]
            local left = f .. (kind == "bool" and "" or kind == "number" and " N" or " VALUE")
            fl[#fl + 1] = format("  %-20s %s", left, FLAG_HELP[f:sub(3)] or "")
        end
        return format("usage: socialize %s%s [flags]\n%s\nrequired: %s\nflags:\n%s\nsee docs/cli.md\n", cmd,
            c.args ~= "" and (" " .. c.args) or "",
            c.summary, c.required and ("--" .. concat(c.required, ", --")) or "none", concat(fl, "\n"))
    end
    local lines = { "usage: socialize [--config FILE] [--json] COMMAND [args] [flags]", "",
                    "commands:" }
    for _, name in ipairs(ORDER) do
        lines[#lines + 1] = format("  %-12s %s", name, COMMANDS[name].summary)
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "config: --config FILE or SOCIALIZE_CONFIG (a Lua file returning the table socialize.new"
    lines[#lines + 1] = "takes, or a JSON file); a string value \"env:NAME\" is read from the environment"
    lines[#lines + 1] = "variable NAME."
    lines[#lines + 1] = "exit codes: 0 ok, 1 the call failed, 2 usage, 3 config, 4 timeout, 5 interrupted, 6 not in this build."
    lines[#lines + 1] = "socialize help COMMAND: its flags. docs/cli.md: everything."
    return concat(lines, "\n") .. "\n"
end

--- Parses argv: { cmd, args = {...}, flags = {...} } or raises a usage
-- error naming the flag.
function _M.parse(argv)
    local out = { args = {}, flags = {} }
    local i, n = 1, #argv
    local rest = false
    while i <= n do
        local a = argv[i]
        if type(a) ~= "string" then usage("argument " .. i .. " is not a string") end
        if not rest and a == "--" then
            rest = true
        elseif not rest and a:sub(1, 2) == "--" and #a > 2 then
            local name, value = a:match("^%-%-([^=]+)=(.*)$")
            name = name or a:sub(3)
            local kind = GLOBAL_FLAGS[name]
            if not kind and out.cmd then kind = COMMANDS[out.cmd].flags[name] end
            if not kind then
                if out.cmd then
                    usage(format("unknown flag --%s for %s (flags: %s)", name:gsub("[^%w%-_]", "?"), out.cmd,
                        concat(flag_names(out.cmd), " ")))
                end
                usage(format("unknown flag --%s (before the command: --config, --json, --help, --version)",
                    (name:gsub("[^%w%-_]", "?"))))
            end
            if kind == "bool" then
                if value ~= nil then usage("--" .. name .. " takes no value") end
                out.flags[name] = true
            else
                if value == nil then
                    i = i + 1
                    value = argv[i]
                    if value == nil then usage("--" .. name .. " needs a value") end
                end
                if kind == "number" then
                    local v = tonumber(value)
                    if not v or v ~= v or v < 0 or v == math.huge then
                        usage("--" .. name .. " must be a number >= 0, got " .. value:sub(1, 40))
                    end
                    value = v
                end
                if kind == "list" then
                    local l = out.flags[name] or {}
                    l[#l + 1] = value
                    out.flags[name] = l
                else
                    if out.flags[name] ~= nil then usage("--" .. name .. " given twice") end
                    out.flags[name] = value
                end
            end
        elseif not rest and a == "-h" then
            out.flags.help = true
        elseif not out.cmd then
            if not COMMANDS[a] then
                usage(format("unknown command %q (commands: %s)", a:sub(1, 40), concat(ORDER, ", ")))
            end
            out.cmd = a
        else
            out.args[#out.args + 1] = a
        end
        i = i + 1
    end
    return out
end

---------------------------------------------------------------------------
-- Output: the scrubber, tables, JSON
---------------------------------------------------------------------------
local Out = {}
Out.__index = Out

function Out:write(stream, s)
    s = policy.scrub(s, self.secrets)
    stream:write(s)
    if stream.flush then stream:flush() end
end
function Out:print(s) self:write(self.stdout, s .. "\n") end
function Out:err(s) self:write(self.stderr, "socialize: " .. s .. "\n") end

-- A progress line on stderr, only when stderr is a terminal: rewritten in
-- place, erased by done().
function Out:progress(s)
    if not self.tty then return end
    self:write(self.stderr, "\r\027[K" .. s)
    self.progressing = true
end
function Out:progress_done()
    if self.progressing then self:write(self.stderr, "\r\027[K") end
    self.progressing = false
end

local function scalar(v)
    local t = type(v)
    if t == "string" then return v end
    if t == "number" then
        if v == floor(v) and v > -1e15 and v < 1e15 then return format("%d", v) end
        return tostring(v)
    end
    if t == "boolean" then return tostring(v) end
    if v == nil or v == core.null then return "" end
    if t == "table" then
        local s = core.json_encode(v)
        return s or "?"
    end
    return "?"
end

local function date(t)
    return type(t) == "number" and t > 0 and t < 2 ^ 33 and os.date("!%Y-%m-%dT%H:%M:%SZ", t) or ""
end

local function printable(s)
    return (scalar(s):gsub("[%c]", " "))
end

--- rows (a list of lists of values) under headers, columns aligned.
function Out:table(headers, rows)
    local w = {}
    for i, h in ipairs(headers) do w[i] = #h end
    local cells = {}
    for r, row in ipairs(rows) do
        cells[r] = {}
        for i = 1, #headers do
            local c = printable(row[i])
            if #c > 120 then c = c:sub(1, 117) .. "..." end
            cells[r][i] = c
            if #c > w[i] then w[i] = #c end
        end
    end
    local function line(t)
        local parts = {}
        for i = 1, #headers do parts[i] = t[i] .. (i < #headers and rep(" ", w[i] - #t[i]) or "") end
        self:print((concat(parts, "  "):gsub("%s+$", "")))
    end
    line(headers)
    for _, c in ipairs(cells) do line(c) end
end

--- A response table as "key  value" lines, scalar fields only, sorted.
function Out:fields(t, skip)
    local keys = {}
    for k, v in pairs(t) do
        if type(k) == "string" and not (skip and skip[k]) and type(v) ~= "table" and type(v) ~= "function" then
            keys[#keys + 1] = k
        end
    end
    sort(keys)
    local rows = {}
    for _, k in ipairs(keys) do rows[#rows + 1] = { k, t[k] } end
    if #rows > 0 then self:table({ "FIELD", "VALUE" }, rows) end
end

-- the fields that are lists: an empty one is written [] (a Lua table
-- cannot tell), so that a script can iterate over it
local LIST_FIELDS = { jobs = true, deliveries = true, identities = true, previews = true, providerErrorCodes = true,
                      providers = true, dropped = true, media = true, mediaIDs = true, pages = true,
                      mediaFailed = true }

-- a copy fit for JSON: functions and userdata dropped, depth bounded
local function plain(v, depth, key)
    depth = depth or 0
    local t = type(v)
    if t == "table" then
        if depth > 32 then return "..." end
        local out = {}
        for k, x in pairs(v) do
            if type(k) == "string" or type(k) == "number" then out[k] = plain(x, depth + 1, k) end
        end
        local mt = getmetatable(v)
        if type(mt) == "table" and mt.__jsontype then
            setmetatable(out, { __jsontype = mt.__jsontype })
        elseif LIST_FIELDS[key] and next(out) == nil then
            out = socialize.array()
        end
        return out
    end
    if t == "string" or t == "number" or t == "boolean" or v == core.null then return v end
    return nil
end

function Out:json(v)
    self.json_done = true
    local s, msg = core.json_encode(plain(v))
    if not s then
        s = core.json_encode({ errorCode = errors.codes.GENERAL_SERVER_ERROR,
                               errorMessage = "cannot encode the answer: " .. tostring(msg) })
    end
    self:print(s)
end

---------------------------------------------------------------------------
-- The config file
---------------------------------------------------------------------------
local MAX_DEPTH = 20

-- Replaces every string "env:NAME" in t (recursively) by the variable's
-- value; a variable unset or empty is a config error naming it. The values
-- read are returned as secrets (whatever field they went to).
local function expand_env(t, getenv, path, read, depth)
    if depth > MAX_DEPTH then fail(EXIT.config, path .. ": nested too deep") end
    for k, v in pairs(t) do
        local p = path .. (type(k) == "number" and ("[" .. k .. "]") or ("." .. tostring(k)))
        if type(v) == "string" then
            local name = v:match("^env:(.*)$")
            if name then
                if not name:match("^[%a_][%w_]*$") then
                    fail(EXIT.config, p .. ": \"env:\" must be followed by a variable name (letters, digits, _)")
                end
                local val = getenv(name)
                if val == nil or val == "" then
                    fail(EXIT.config, format("%s: the environment variable %s is not set", p, name))
                end
                t[k] = val
                read[#read + 1] = val
            end
        elseif type(v) == "table" then
            expand_env(v, getenv, p, read, depth + 1)
        end
    end
end

local function json_nulls(t, depth)
    if depth > MAX_DEPTH then return end
    for k, v in pairs(t) do
        if v == core.null then t[k] = nil
        elseif type(v) == "table" then json_nulls(v, depth + 1) end
    end
end

local function read_file(path, what, max)
    local f, err = io.open(path, "rb")
    if not f then fail(EXIT.config, what .. ": cannot open " .. path .. ": " .. tostring(err)) end
    local s = f:read(max + 1)
    f:close()
    s = s or ""
    if #s > max then fail(EXIT.config, what .. ": " .. path .. " is over " .. max .. " bytes") end
    return s
end

-- A Lua config file runs in an empty environment (no os, io, require),
-- text only, and at most some ten million VM instructions.
local function run_lua_config(text, path)
    if text:sub(1, 1) == "\27" then fail(EXIT.config, path .. ": a compiled chunk is not a config file") end
    local env = {}
    local chunk, err
    if setfenv then -- 5.1, LuaJIT
        chunk, err = loadstring(text, "@" .. path)
        if chunk then setfenv(chunk, env) end
    else
        chunk, err = load(text, "@" .. path, "t", env)
    end
    if not chunk then fail(EXIT.config, "config " .. tostring(err)) end
    if jit then jit.off(chunk, true) end -- compiled code runs no count hook
    local co = coroutine.create(chunk)
    debug.sethook(co, function() error("runs too long (a config file returns a table)", 0) end, "", 10000000)
    local ok, v = coroutine.resume(co)
    if not ok then fail(EXIT.config, "config " .. path .. ": " .. tostring(v)) end
    if type(v) ~= "table" then fail(EXIT.config, "config " .. path .. " must return a table, not " .. type(v)) end
    return v
end

--- Loads the config: the table for socialize.new and the secrets read
-- from the environment. opts: config (path) or nil; getenv.
function _M.load_config(path, getenv)
    if path == nil or path == "" then path = getenv("SOCIALIZE_CONFIG") end
    if path == nil or path == "" then
        fail(EXIT.config, "no config: pass --config FILE or set SOCIALIZE_CONFIG (docs/cli.md)")
    end
    local text = read_file(path, "config", 1048576)
    local cfg
    if path:match("%.json$") or text:match("^%s*{") then
        local v, msg = core.json_decode(text)
        if type(v) ~= "table" then
            fail(EXIT.config, "config " .. path .. ": not a JSON object" .. (msg and (": " .. tostring(msg)) or ""))
        end
        json_nulls(v, 0)
        cfg = v
    else
        cfg = run_lua_config(text, path)
    end
    local read = {}
    expand_env(cfg, getenv, "config", read, 0)
    return cfg, read
end

-- every secret of the config (its secret fields, its providers', the
-- store's keys) and every value read from the environment, in each of
-- their encodings and in those of their percent-encoded form (a base
-- string encodes its parameters twice)
local function add_secrets(list, values)
    local extra = {}
    for _, v in ipairs(values) do
        policy.secrets(extra, { secret = v })
        local e = core.url_encode(v)
        if e and e ~= v then policy.secrets(extra, { secret = e }) end
    end
    return policy.merge_secrets(list, extra)
end

local function secrets_of(cfg, read)
    local values = {}
    for _, v in ipairs(policy.secrets({}, cfg)) do values[#values + 1] = v end
    for _, app in pairs(type(cfg.providers) == "table" and cfg.providers or {}) do
        for _, v in ipairs(policy.secrets({}, app)) do values[#values + 1] = v end
    end
    -- the password of a PostgreSQL URL (user:password@), as written and decoded
    local url = type(cfg.store) == "table" and cfg.store.url or cfg.store
    local pw = type(url) == "string" and url:match("^postgres%a*://[^:/@]*:([^/]*)@")
    if pw and pw ~= "" then
        values[#values + 1] = pw
        values[#values + 1] = policy.pct_decode(pw)
    end
    if type(cfg.store) == "table" then
        for _, k in ipairs(type(cfg.store.keys) == "table" and cfg.store.keys or {}) do
            if type(k) == "string" then values[#values + 1] = k end
        end
    end
    for _, v in ipairs(read or {}) do values[#values + 1] = v end
    return add_secrets({}, values)
end
_M.secrets_of = secrets_of

---------------------------------------------------------------------------
-- Helpers of the commands
---------------------------------------------------------------------------
local function check_call(res, err)
    if res == nil then
        local msg = tostring(err)
        if type(err) == "table" and err.errorCode == nil then msg = tostring(err.errorMessage or err) end
        fail(EXIT.failed, msg, type(err) == "table" and err or { errorMessage = msg })
    end
    return res
end

local function providers_of(flags)
    if not flags.provider then return nil end
    local out = {}
    for _, v in ipairs(flags.provider) do
        for p in v:gmatch("[^,%s]+") do out[#out + 1] = p end
    end
    return concat(out, ",")
end

-- "1767000000", "2026-12-07T15:00:00Z" (UTC), "+90s", "+10m", "+2h", "+1d"
function _M.parse_time(s, now)
    local n = tonumber(s)
    if n then
        if n ~= n or n < 0 or n >= 2 ^ 33 then return nil end
        return n
    end
    local d, unit = s:match("^%+(%d+)([smhd])$")
    if d then
        local mul = { s = 1, m = 60, h = 3600, d = 86400 }
        local t = now + tonumber(d) * mul[unit]
        if t >= 2 ^ 33 then return nil end -- past the year 2242
        return t
    end
    local Y, M, D, h, mi, sec = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):?(%d*)Z$")
    if Y then
        Y, M, D, h, mi, sec = tonumber(Y), tonumber(M), tonumber(D), tonumber(h), tonumber(mi), tonumber(sec) or 0
        if M < 1 or M > 12 or D < 1 or D > 31 or h > 23 or mi > 59 or sec > 59 then return nil end
        -- the core's date arithmetic (an HTTP date; it does not check the weekday)
        local months = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }
        local t = core.parse_http_date(format("Mon, %02d %s %04d %02d:%02d:%02d GMT", D, months[M], Y, h, mi, sec))
        if not t or tonumber(os.date("!%d", t)) ~= D then return nil end -- 31 February
        return floor(t)
    end
    return nil
end

local function user_action(flags)
    local ua = { title = flags.title, linkBack = flags.link, description = flags.description,
                 userMessage = flags.message }
    if flags.image then
        local items = socialize.array()
        for _, src in ipairs(flags.image) do
            items[#items + 1] = { type = "image", src = src }
        end
        ua.mediaItems = items
    end
    return ua
end

local function media_params(flags)
    return { UID = flags.uid, userAction = user_action(flags), enabledProviders = providers_of(flags) }
end

-- Runs fn(callback) as an asynchronous call, polling the client, with a
-- progress line on a terminal; the call's res, err.
local function run_async(ctx, what, start)
    local done, res, err = false, nil, nil
    start(function(r, e) done, res, err = true, r, e end)
    local t0 = os.time()
    while not done do
        ctx.client:poll(200)
        if not done then ctx.out:progress(format("%s... %ds", what, os.time() - t0)) end
    end
    ctx.out:progress_done()
    return res, err
end

-- The per-network lines of a publish/status answer.
local function show_delivery(ctx, res)
    local rows = {}
    local ids = type(res.providerPostIDs) == "table" and res.providerPostIDs or {}
    if type(res.providerErrorCodes) == "table" then
        for _, e in ipairs(res.providerErrorCodes) do
            if type(e) == "table" then
                local notes = {}
                if type(e.dropped) == "table" and #e.dropped > 0 then
                    notes[#notes + 1] = "dropped " .. concat(e.dropped, ",")
                end
                if e.truncated then notes[#notes + 1] = "text cut" end
                rows[#rows + 1] = { e.provider, e.errorCode == 0 and "sent" or "failed",
                    ids[e.provider] or "",
                    e.errorCode ~= 0 and (scalar(e.errorCode) .. " " .. scalar(e.errorMessage or "") ..
                        (e.errorDetails and (": " .. scalar(e.errorDetails)) or "")) or concat(notes, "; ") }
            end
        end
    end
    if #rows > 0 then
        ctx.out:table({ "PROVIDER", "RESULT", "POST ID", "DETAILS" }, rows)
    else
        ctx.out:fields(res)
    end
end

local function need_outbox(ctx, method)
    if type(ctx.client[method]) ~= "function" then
        fail(EXIT.unsupported, "this build of the library has no outbox (client:" .. method ..
            "): see docs/cli.md, \"Outbox\"")
    end
end

local function one_arg(p, what)
    if #p.args ~= 1 then
        usage(p.cmd .. " takes " .. what .. (#p.args == 0 and "" or (", got " .. #p.args .. " arguments")))
    end
    return p.args[1]
end

-- key=value arguments (key:=json parses the value as JSON)
local function kv_args(args, from, what)
    local t = {}
    for i = from, #args do
        local a = args[i]
        local k, j = a:match("^([^=:]+):=(.*)$")
        local v
        if k then
            local msg
            v, msg = core.json_decode(j)
            if v == nil then usage(format("%s %s: not JSON (%s)", what, k, tostring(msg))) end
        else
            k, v = a:match("^([^=]+)=(.*)$")
            if not k then usage(format("%s: %q is not key=value", what, a:sub(1, 60))) end
        end
        if t[k] ~= nil then usage(format("%s: %s given twice", what, k)) end
        t[k] = v
    end
    return t
end

---------------------------------------------------------------------------
-- The commands. Each gets ctx = { p (parsed), out, client (when it needs
-- one), cfg, env } and returns an exit code.
---------------------------------------------------------------------------
local run = {}

-- --queued, --at or --key: the call goes into the outbox (docs/delivery.md); nil otherwise
local function enqueue(ctx, method, params)
    local f = ctx.p.flags
    if not (f.queued or f.at ~= nil or f.key ~= nil) then return nil end
    need_outbox(ctx, "work")
    local opts = { deliver = "queued", key = f.key }
    if f.at then
        opts.at = _M.parse_time(f.at, os.time())
        if not opts.at then
            usage("--at must be Unix seconds, YYYY-MM-DDTHH:MM:SSZ or +N[smhd], got " .. f.at:sub(1, 40))
        end
    end
    local res, err = ctx.client[method](ctx.client, params, opts)
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if not ctx.json then
        ctx.out:table({ "JOB", "STATUS", "PROVIDERS", "RUN AT" }, { { res.jobID, res.status,
            type(res.providers) == "table" and concat(res.providers, ",") or "", date(res.runAt) } })
        if res.deduplicated then
            ctx.out:err("--key " .. tostring(f.key) .. " was used within 24 hours: this is that job, nothing new was queued")
        end
    end
    return EXIT.ok
end

-- publishUserAction or setStatus, now: the networks' answers
local function deliver(ctx, method, what, params)
    local res, err = run_async(ctx, what, function(cb) ctx.client[method](ctx.client, params, cb) end)
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if not ctx.json then show_delivery(ctx, res) end
    return EXIT.ok
end

function run.publish(ctx)
    if #ctx.p.args > 0 then usage("publish takes no arguments (text goes in --title, --description, --message)") end
    local params = media_params(ctx.p.flags)
    return enqueue(ctx, "publishUserAction", params) or deliver(ctx, "publishUserAction", "publishing", params)
end

function run.status(ctx)
    local text = one_arg(ctx.p, "one TEXT")
    local params = { UID = ctx.p.flags.uid, status = text, enabledProviders = providers_of(ctx.p.flags) }
    return enqueue(ctx, "setStatus", params) or deliver(ctx, "setStatus", "setting the status", params)
end

function run.preview(ctx)
    if #ctx.p.args > 0 then usage("preview takes no arguments") end
    local params = media_params(ctx.p.flags)
    local res, err = ctx.client:preview(params)
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if ctx.json then return EXIT.ok end
    local rows = {}
    for _, p in ipairs(type(res.previews) == "table" and res.previews or {}) do
        local media = {}
        for _, m in ipairs(type(p.media) == "table" and p.media or {}) do
            media[#media + 1] = scalar(m.kind) .. (m.errorDetails and ("!" .. scalar(m.errorDetails)) or "")
        end
        rows[#rows + 1] = { p.provider, scalar(p.length) .. "/" .. scalar(p.max), p.truncated and "cut" or "",
            concat(media, ","), type(p.dropped) == "table" and concat(p.dropped, ",") or "",
            p.errorCode and (scalar(p.errorCode) .. " " .. scalar(p.errorDetails)) or p.text }
    end
    ctx.out:table({ "PROVIDER", "LENGTH", "CUT", "MEDIA", "DROPPED", "TEXT" }, rows)
    return EXIT.ok
end

-- the loopback redirect: its port and path, or nil for another URL
local function loopback(url)
    local host, port, path = url:match("^http://([^/:]+):(%d+)(/[^?#]*)")
    if not host then
        host, path = url:match("^http://([^/:]+)(/[^?#]*)")
        port = "80"
    end
    if host == "127.0.0.1" or host == "localhost" then return tonumber(port), path end
    return nil
end

local function choose_page(ctx, id)
    local f = ctx.p.flags
    local pages = type(id.pages) == "table" and id.pages or {}
    local page = f.page
    if not page then
        ctx.out:write(ctx.out.stderr, "this connection publishes as one of these pages:\n")
        for i, pg in ipairs(pages) do
            ctx.out:write(ctx.out.stderr, format("  %d) %s (%s)\n", i, printable(pg.name), printable(pg.id)))
        end
        ctx.out:write(ctx.out.stderr, "page (number or id): ")
        local line = ctx.env.stdin:read("*l")
        if not line or line:match("^%s*$") then usage("several pages: choose one with --page ID") end
        line = line:match("^%s*(.-)%s*$")
        local n = tonumber(line)
        page = n and pages[n] and pages[n].id or line
    end
    return check_call(ctx.client:selectPage { UID = f.uid, provider = id.provider, pageId = tostring(page) })
end

local function show_identity(ctx, id)
    if ctx.json then return ctx.out:json(id) end
    ctx.out:table({ "PROVIDER", "ACCOUNT", "NICKNAME", "EXPIRES", "SCOPES" },
        { { id.provider, id.providerUID, id.nickname, date(id.expiresAt), id.scopes } })
end

function run.connect(ctx)
    local p, f = ctx.p, ctx.p.flags
    if #p.args < 1 then usage("connect takes a PROVIDER") end
    local params = kv_args(p.args, 2, "connect")
    -- a field value "env:NAME" is read from the environment (a password is never typed on the command line)
    local read = {}
    expand_env(params, ctx.env.getenv, "connect", read, 0)
    ctx.out.secrets = add_secrets(ctx.out.secrets, read)
    params.UID, params.provider, params.scopes = f.uid, p.args[1], f.scopes
    local listener, path
    local redirect = f.redirect
    if not f.paste then
        local helpers = curl_helpers()
        if not helpers then fail(EXIT.unsupported, "no loopback listener in this build: use --paste") end
        local port = f.port or 0
        if redirect then
            port, path = loopback(redirect)
            if not port then
                usage("--redirect " .. redirect:sub(1, 80) .. " is not a http://127.0.0.1:PORT/ URL: add --paste")
            end
        else
            path = "/callback"
        end
        local l, lport = helpers.cli_listen(port)
        if not l then fail(EXIT.failed, lport) end
        listener = l
        redirect = redirect or format("http://127.0.0.1:%d%s", lport, path)
    elseif not redirect then
        redirect = "http://127.0.0.1/callback"
    end
    params.redirectURI = redirect
    local start, serr = ctx.client:connect(params)
    if not start and listener then listener:close() end
    check_call(start, serr)
    if start.url == nil then -- a network that connects in one step: the identity
        if listener then listener:close() end
        show_identity(ctx, start)
        return EXIT.ok
    end
    local say = ctx.json and ctx.out.stderr or ctx.out.stdout
    ctx.out:write(say, "open this URL in a browser and authorize:\n" .. start.url .. "\n")
    local back
    if listener then
        ctx.out:write(say, "waiting for the callback on " .. redirect .. " ...\n")
        local helpers = curl_helpers()
        helpers.cli_signals(0)
        -- only the callback carrying this connect's state ends the wait: another
        -- local process's request (a forged or stale callback) gets a 404
        local want = type(start.state) == "string" and start.state:match("^%x+$") and "state=" .. start.state or nil
        local target, why = listener:accept((f.timeout or 300) * 1000, path, want)
        listener:close()
        if not target then
            if why == "interrupted" then fail(EXIT.interrupted, "interrupted: no connection made") end
            if why == "timeout" then fail(EXIT.timeout, "no callback within " .. (f.timeout or 300) .. " s") end
            fail(EXIT.failed, "the callback listener failed: " .. tostring(why))
        end
        back = target
    else
        ctx.out:write(say, "then paste the URL the browser was sent to (the address bar):\n")
        back = ctx.env.stdin:read("*l")
        if not back or back:match("^%s*$") then usage("no callback URL on standard input") end
        back = back:match("^%s*(.-)%s*$")
    end
    local q = back:match("%?([^#]*)") or back
    local id = check_call(ctx.client:finishConnect(q))
    if id.pending == "selectPage" then id = choose_page(ctx, id) end
    show_identity(ctx, id)
    return EXIT.ok
end

function run.connections(ctx)
    if #ctx.p.args > 0 then usage("connections takes no arguments") end
    local res, err = ctx.client:getUserInfo { UID = ctx.p.flags.uid }
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if ctx.json then return EXIT.ok end
    local rows = {}
    for _, i in ipairs(type(res.identities) == "table" and res.identities or {}) do
        rows[#rows + 1] = { i.provider, i.providerUID, i.nickname, i.isExpiredSession and "expired" or "ok",
            date(i.expiresAt), i.scopes }
    end
    ctx.out:table({ "PROVIDER", "ACCOUNT", "NICKNAME", "SESSION", "EXPIRES", "SCOPES" }, rows)
    return EXIT.ok
end

function run.disconnect(ctx)
    local p = ctx.p
    if #p.args > 1 then usage("disconnect takes one PROVIDER (or --all)") end
    if #p.args == 0 and not p.flags.all then usage("disconnect: name a PROVIDER, or --all for every connection") end
    if #p.args == 1 and p.flags.all then usage("disconnect: a PROVIDER or --all, not both") end
    local res, err = ctx.client:removeConnection { UID = p.flags.uid, provider = p.args[1] }
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if not ctx.json then
        local revoked = {}
        for k, v in pairs(type(res.revoked) == "table" and res.revoked or {}) do
            if v then revoked[#revoked + 1] = k end
        end
        sort(revoked)
        ctx.out:table({ "REMOVED", "REVOKED" }, { { res.removed, concat(revoked, ",") } })
    end
    return EXIT.ok
end

function run.call(ctx)
    local p = ctx.p
    if #p.args < 1 then usage("call takes a METHOD") end
    local params = kv_args(p.args, 2, "call")
    local res, err = run_async(ctx, p.args[1], function(cb) ctx.client:call(p.args[1], params, cb) end)
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if not ctx.json then ctx.out:fields(res) end
    return EXIT.ok
end

-- The secret for sign/validate: --secret-env NAME, else config.secret.
local function sig_secret(ctx)
    local name = ctx.p.flags["secret-env"]
    if name then
        local v = ctx.env.getenv(name)
        if v == nil or v == "" then
            fail(EXIT.config, "--secret-env: the environment variable " .. name .. " is not set")
        end
        ctx.out.secrets = add_secrets(ctx.out.secrets, { v })
        return v
    end
    local cfg = ctx.load()
    if type(cfg.secret) ~= "string" or cfg.secret == "" then
        fail(EXIT.config, "no secret: config.secret (\"env:NAME\") or --secret-env NAME")
    end
    return cfg.secret
end

local function need(ctx, ...)
    for i = 1, select("#", ...) do
        local k = select(i, ...)
        if ctx.p.flags[k] == nil then
            usage(ctx.p.cmd .. " " .. tostring(ctx.p.args[1]) .. ": --" .. k .. " is required")
        end
    end
end

local function body_of(ctx)
    local path = ctx.p.flags["body-file"]
    if path and path ~= "-" then
        local f, err = io.open(path, "rb")
        if not f then usage("--body-file: cannot open " .. path .. ": " .. tostring(err)) end
        local s = f:read(16777217) or ""
        f:close()
        if #s > 16777216 then usage("--body-file: over 16 MiB") end
        return s
    end
    return ctx.env.stdin:read("*a") or ""
end

function run.sign(ctx)
    local p, f = ctx.p, ctx.p.flags
    local what = p.args[1]
    local out
    if what == "request" then
        if #p.args < 3 then usage("sign request METHOD URL [key=value ...]") end
        local params = kv_args(p.args, 4, "sign request")
        local sig, base = socialize.signature.sign(sig_secret(ctx), p.args[2], p.args[3], params)
        check_call(sig, base)
        out = { signature = sig, baseString = base }
    elseif what == "user" or what == "friend" then
        if #p.args > 1 then usage("sign " .. what .. " takes flags only") end
        need(ctx, "uid")
        if what == "friend" then need(ctx, "friend") end
        local ts = f.timestamp or format("%d", os.time())
        if not ts:match("^%d+$") then usage("--timestamp must be Unix seconds") end
        local base = what == "user" and (ts .. "_" .. f.uid) or (ts .. "_" .. f.friend .. "_" .. f.uid)
        local sig, msg, code = core.hmac_sha1(sig_secret(ctx), base)
        if not sig then fail(EXIT.failed, tostring(code) .. " " .. tostring(msg)) end
        out = { signature = sig, timestamp = ts, baseString = base }
    elseif what == "webhook" then
        if #p.args > 1 then usage("sign webhook takes flags only (the body: --body-file or stdin)") end
        local secret = sig_secret(ctx)
        local sig, msg, code = core.hmac_sha1(secret, body_of(ctx))
        if not sig then fail(EXIT.failed, tostring(code) .. " " .. tostring(msg)) end
        out = { signature = sig }
    else
        usage("sign request | user | friend | webhook (socialize help sign)")
    end
    if ctx.json then ctx.out:json(out) else ctx.out:print(out.signature) end
    return EXIT.ok
end

function run.validate(ctx)
    local p, f = ctx.p, ctx.p.flags
    local what = p.args[1]
    local ok
    if what == "user" or what == "friend" then
        if #p.args > 1 then usage("validate " .. what .. " takes flags only") end
        need(ctx, "uid", "timestamp", "signature")
        if what == "friend" then need(ctx, "friend") end
        if what == "user" then
            ok = socialize.validateUserSignature(f.uid, f.timestamp, sig_secret(ctx), f.signature, f.window)
        else
            ok = socialize.validateFriendSignature(f.uid, f.timestamp, f.friend, sig_secret(ctx), f.signature, f.window)
        end
    elseif what == "webhook" then
        if #p.args > 1 then usage("validate webhook takes flags only (the body: --body-file or stdin)") end
        need(ctx, "signature")
        local secret = sig_secret(ctx)
        ok = socialize.validateWebhookSignature(body_of(ctx), secret, f.signature)
    elseif what == "login" then
        -- a messenger's login widget data (key=value ...), checked with the bot token
        -- of the network's app in the config: --secret-env NAME, else the one app with botToken
        local data = kv_args(p.args, 2, "validate login")
        local token
        if f["secret-env"] then
            token = sig_secret(ctx)
        else
            local cfg = ctx.load()
            for _, app in pairs(type(cfg.providers) == "table" and cfg.providers or {}) do
                if type(app) == "table" and type(app.botToken) == "string" then token = app.botToken end
            end
            if not token then
                fail(EXIT.config, "no bot token: config.providers.<network>.botToken or --secret-env NAME")
            end
        end
        local age = f["max-age"]
        ok = socialize.validateTelegramLogin(data, token, age)
    else
        usage("validate user | friend | webhook | login (socialize help validate)")
    end
    if ctx.json then ctx.out:json({ valid = ok == true }) else ctx.out:print(ok and "valid" or "not valid") end
    return ok and EXIT.ok or EXIT.failed
end

---------------------------------------------------------------------------
-- Outbox
---------------------------------------------------------------------------
local function show_job(ctx, job)
    if ctx.json then return ctx.out:json(job) end
    ctx.out:table({ "JOB", "STATUS", "UID", "METHOD", "RUN AT", "KEY" },
        { { job.jobID, job.status, job.UID, job.method, date(job.runAt), job.key or "" } })
    local rows = {}
    for _, d in ipairs(type(job.deliveries) == "table" and job.deliveries or {}) do
        local why = ""
        if d.errorCode then
            why = scalar(d.errorCode) .. " " .. scalar(d.category or "") .. ": " .. scalar(d.reason or "")
        end
        rows[#rows + 1] = { d.provider, d.state, d.attempts, d.postID or "", date(d.nextAt), why }
    end
    if #rows > 0 then
        ctx.out:print("")
        ctx.out:table({ "PROVIDER", "STATE", "ATTEMPTS", "POST ID", "NEXT AT", "ERROR" }, rows)
    end
end

local function job_id(ctx) return one_arg(ctx.p, "one job ID") end

-- A worker's work call that failed: refused for good (no store, not the
-- direct backend: 400096; --once) exits 1; a store that failed (busy,
-- restarting, full) is said on stderr and tried again, backing off: the
-- wait in ms (the failures-th in a row), and what the call did before the
-- store failed (its err.summary: its outcomes kept, recorded later).
local function work_failed(ctx, err, failures, total, idle)
    ctx.out:progress_done()
    if ctx.p.flags.once or (type(err) == "table" and err.errorCode == errors.codes.NOT_SUPPORTED) then
        check_call(nil, err)
    end
    total.errors = (total.errors or 0) + 1
    local wait = math.min(idle * 2 ^ math.min(failures, 10), 30000)
    ctx.out:err(format("worker: %s (trying again in %d ms)", tostring(err), wait))
    return wait, type(err) == "table" and type(err.summary) == "table" and err.summary or {}
end

-- the counts client:work answers, summed over the worker's run
local WORK_KEYS = { "claimed", "sent", "retrying", "unconfirmed", "dead", "waiting_reconnect", "lost", "released" }

-- a worker's totals: each of WORK_KEYS at 0, and no slice yet
local function new_totals()
    local total = { slices = 0 }
    for _, k in ipairs(WORK_KEYS) do total[k] = 0 end
    return total
end

-- adds the counts of one client:work answer (or its err.summary) to total
local function add_counts(total, r)
    for _, k in ipairs(WORK_KEYS) do
        if type(r[k]) == "number" then total[k] = total[k] + r[k] end
    end
end

-- The end of a worker's run: the outcomes a failed store refused get one
-- last try when flush_opts is given (a zero budget claims nothing), the
-- ones still refused are said on stderr; then the totals (a line, or JSON
-- with --json). The exit code.
local function worker_stopped(ctx, helpers, total, flush_opts)
    if flush_opts then
        local r, ferr = ctx.client:work(0, flush_opts)
        if r then add_counts(total, r) end
        if type(ferr) == "table" and (ferr.unrecorded or 0) > 0 then
            total.unrecorded = ferr.unrecorded
            ctx.out:err(format("worker: %d outcomes could not be recorded (%s); their deliveries stay leased by "
                .. "this worker until the lease runs out, then follow the lease's rules (docs/delivery.md)",
                ferr.unrecorded, tostring(ferr)))
        end
    end
    local sig = helpers.cli_signaled()
    total.signal = sig or nil
    if ctx.json then
        ctx.out:json(total)
    else
        ctx.out:print(format("worker stopped%s: %d sent, %d retrying, %d unconfirmed, %d dead",
            sig and (" on signal " .. sig) or "", total.sent, total.retrying, total.unconfirmed, total.dead))
    end
    return sig and EXIT.interrupted or EXIT.ok
end

-- Signals: a plain Lua process cannot catch them, so socialize.curl's
-- cli_signals installs a C handler that only sets a flag (and, on the
-- first signal, arms alarm(grace)); the loop runs client:work in slices of
-- --budget ms and looks at the flag between slices and, through opts.stop,
-- before each delivery. A slice starts no delivery after its budget or the
-- signal, and finishes the one in flight: that is the clean shutdown. A delivery outlasting the grace period is cut by
-- SIGALRM (its lease then lets another worker take it over); a second
-- signal ends the process at once.
--
-- --concurrency N (default 16) above 1: client:work(slice, { async = true,
-- concurrency = N }) claims and starts deliveries as tasks of the poll
-- loop and client:poll sends, receives and records them, up to N in
-- flight; the outcomes are counted as poll records them (opts.on_done).
-- On a signal nothing more is claimed and the loop polls until the ones
-- in flight finish; those still running a second before --grace ends are
-- cut by client:close(), which records them unconfirmed (resent with the
-- same key where the network has one, else read back or the host's).
local CONCURRENCY = 16
local MAX_CONCURRENCY = 1000

function run.worker(ctx)
    need_outbox(ctx, "work")
    local f = ctx.p.flags
    if #ctx.p.args > 0 then usage("worker takes no arguments") end
    local budget = f.budget or 1000
    local idle = f.idle or 1000
    local conc = f.concurrency or CONCURRENCY
    if conc ~= conc or conc < 1 or conc > MAX_CONCURRENCY or conc ~= math.floor(conc) then
        usage("--concurrency: a whole number from 1 to " .. MAX_CONCURRENCY)
    end
    if conc > 1 then return run.worker_concurrent(ctx, conc, budget, idle) end
    local helpers = curl_helpers()
    if not helpers then fail(EXIT.unsupported, "no signal handling in this build (socialize.curl)") end
    helpers.cli_signals(f.grace or 30)
    ctx.out:write(ctx.out.stderr, format("socialize worker: running (SIGTERM or SIGINT: stops after the work in "
        .. "flight, within %d s)\n", f.grace or 30))
    local total = new_totals()
    local failures = 0
    -- a signal also ends the slice: no delivery is started after it (the claimed ones are given back)
    local wopts = { stop = function() return helpers.cli_signaled() and true or false end }
    while not helpers.cli_signaled() do
        local r, err = ctx.client:work(budget, wopts)
        if r == nil then
            failures = failures + 1
            local wait
            wait, r = work_failed(ctx, err, failures, total, idle)
            helpers.cli_sleep(wait)
        else
            failures = 0
        end
        total.slices = total.slices + 1
        add_counts(total, r)
        ctx.out:progress(format("worker: %d sent, %d retrying, %d unconfirmed, %d dead", total.sent, total.retrying,
            total.unconfirmed, total.dead))
        if (r.claimed or 0) == 0 then
            if f.once then break end
            helpers.cli_sleep(idle) -- nothing due: wait, cut short by a signal
        end
    end
    ctx.out:progress_done()
    return worker_stopped(ctx, helpers, total, {})
end

-- the worker with up to conc deliveries in flight (above)
function run.worker_concurrent(ctx, conc, budget, idle)
    local f = ctx.p.flags
    local helpers = curl_helpers()
    if not helpers then fail(EXIT.unsupported, "no signal handling in this build (socialize.curl)") end
    local grace = f.grace or 30
    helpers.cli_signals(grace)
    ctx.out:write(ctx.out.stderr, format("socialize worker: running, up to %d deliveries at once (SIGTERM or "
        .. "SIGINT: stops after the work in flight, within %d s)\n", conc, grace))
    local total = new_totals()
    total.concurrency = conc
    local client = ctx.client
    -- an outcome counted as poll records it; one the store refused ("error")
    -- is counted by the work call that records it later
    local function on_done(state)
        if state == "error" then
            total.errors = (total.errors or 0) + 1
        elseif type(total[state]) == "number" then
            total[state] = total[state] + 1
        end
    end
    local function signaled() return helpers.cli_signaled() and true or false end
    -- a slice claims and starts, then the poll loop runs: a short one, so
    -- the transfers started are driven while the next ones are claimed
    local wopts = { async = true, concurrency = conc, on_done = on_done, stop = signaled }
    local slice = math.min(budget, 50)
    local function progress(inflight)
        ctx.out:progress(format("worker: %d sent, %d retrying, %d unconfirmed, %d dead, %d in flight", total.sent,
            total.retrying, total.unconfirmed, total.dead, inflight))
    end
    local failures, inflight = 0, 0
    while not signaled() do
        local r, err = client:work(slice, wopts)
        if r == nil then
            failures = failures + 1
            local wait
            wait, r = work_failed(ctx, err, failures, total, idle)
            -- what is in flight goes on meanwhile
            local t_end = core.now_ms() + wait
            repeat
                if client:poll(math.min(wait, 100)) == 0 then helpers.cli_sleep(math.min(wait, 100)) end
            until signaled() or core.now_ms() >= t_end
        else
            failures = 0
        end
        total.slices = total.slices + 1
        add_counts(total, r)
        inflight = client:poll(0)
        progress(inflight)
        if (r.claimed or 0) == 0 or inflight >= conc then
            if inflight == 0 then
                if f.once then break end
                helpers.cli_sleep(idle) -- nothing due, nothing in flight: wait, cut short by a signal
            else
                -- full, or nothing more due: wait for the network (at most idle ms)
                inflight = client:poll(math.min(idle, 100))
            end
        end
    end
    -- the shutdown (or --once): the ones in flight finish, within the grace period
    -- cut before SIGALRM: a second before --grace ends (half of a shorter one)
    local t0, cut_ms = core.now_ms(), grace * 1000 - math.min(1000, grace * 500)
    while inflight > 0 do
        inflight = client:poll(100)
        progress(inflight)
        if signaled() and core.now_ms() - t0 >= cut_ms then break end
    end
    ctx.out:progress_done()
    if inflight > 0 then
        total.cut = inflight
        ctx.out:err(format("worker: %d deliveries still in flight after the grace period: recorded unconfirmed "
            .. "(docs/delivery.md)", inflight))
        client:close() -- each in-flight task answered "closed": on_done counts its outcome
    end
    -- (after a cut the client was closed: nothing left to flush)
    return worker_stopped(ctx, helpers, total, inflight == 0 and wopts or nil)
end

function run.jobs(ctx)
    need_outbox(ctx, "jobs")
    if #ctx.p.args > 0 then usage("jobs takes no arguments") end
    local f = ctx.p.flags
    local res, err = ctx.client:jobs { UID = f.uid, status = f.status, limit = f.limit or 50 }
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if ctx.json then return EXIT.ok end
    local rows = {}
    for _, j in ipairs(type(res.jobs) == "table" and res.jobs or {}) do
        rows[#rows + 1] = { j.jobID, j.status, j.UID, j.method, date(j.runAt), j.key or "" }
    end
    ctx.out:table({ "JOB", "STATUS", "UID", "METHOD", "RUN AT", "KEY" }, rows)
    return EXIT.ok
end

function run.job(ctx)
    need_outbox(ctx, "job")
    local res, err = ctx.client:job(job_id(ctx))
    if ctx.json and not res then ctx.out:json(err) end
    check_call(res, err)
    show_job(ctx, res)
    return EXIT.ok
end

local function simple(ctx, res, err)
    if ctx.json then ctx.out:json(res or err) end
    check_call(res, err)
    if not ctx.json then
        if type(res) == "table" then ctx.out:fields(res) else ctx.out:print(scalar(res)) end
    end
    return EXIT.ok
end

function run.retry(ctx)
    need_outbox(ctx, "retry")
    return simple(ctx, ctx.client:retry(job_id(ctx), ctx.p.flags.provider))
end

function run.cancel(ctx)
    need_outbox(ctx, "cancel")
    return simple(ctx, ctx.client:cancel(job_id(ctx)))
end

function run.resolve(ctx)
    need_outbox(ctx, "resolve")
    local a = ctx.p.args
    if #a ~= 3 or (a[3] ~= "sent" and a[3] ~= "resend") then usage("resolve ID PROVIDER sent|resend") end
    return simple(ctx, ctx.client:resolve(a[1], a[2], a[3]))
end

-- commands that need no client (sign, validate: a secret at most)
local NO_CLIENT = { help = true, sign = true, validate = true }

local function std_env()
    local helpers = curl_helpers()
    return {
        stdout = io.stdout, stderr = io.stderr, stdin = io.stdin, getenv = os.getenv,
        isatty = function(fd) return helpers and helpers.cli_isatty(fd) or false end,
    }
end

--- Runs the command line argv (a list of strings, without the program's
-- name): the exit code.
function _M.main(argv, env)
    env = env or std_env()
    local out = setmetatable({ stdout = env.stdout, stderr = env.stderr, secrets = {},
                               tty = env.isatty and env.isatty(2) or false }, Out)
    local ctx = { out = out, env = env }
    local ok, code = pcall(function()
        local p = _M.parse(argv)
        ctx.p, ctx.json = p, p.flags.json
        if p.flags.version then
            if ctx.json then out:json({ version = VERSION }) else out:print("socialize " .. VERSION) end
            return EXIT.ok
        end
        if not p.cmd or p.flags.help or p.cmd == "help" then
            local which = p.cmd == "help" and p.args[1] or (p.cmd ~= "help" and p.cmd) or nil
            if which and not COMMANDS[which] then usage("no command " .. which:sub(1, 40)) end
            out:write(p.cmd and out.stdout or out.stderr, help_text(which))
            return p.cmd and EXIT.ok or EXIT.usage
        end
        for _, r in ipairs(COMMANDS[p.cmd].required or {}) do
            if p.flags[r] == nil then usage(format("%s: --%s is required", p.cmd, r)) end
        end
        local cfg_cache
        ctx.load = function()
            if not cfg_cache then
                local cfg, read = _M.load_config(p.flags.config, env.getenv)
                out.secrets = policy.merge_secrets(out.secrets, secrets_of(cfg, read))
                cfg_cache = cfg
            end
            return cfg_cache
        end
        if not NO_CLIENT[p.cmd] then
            local cfg = ctx.load()
            if p.flags.image then
                for _, src in ipairs(p.flags.image) do
                    if not src:match("^[hH][tT][tT][pP][sS]?://") then
                        -- a local file named on the command line: read by the library (its checks, its caps)
                        local m = type(cfg.media) == "table" and cfg.media or {}
                        cfg.media = with(m, { allowFiles = true })
                        break
                    end
                end
            end
            local cok, client = pcall(socialize.new, cfg)
            if not cok then
                fail(EXIT.config, "config: " .. tostring(client):gsub("^bad argument #1 to 'new' %((.*)%)$", "%1"))
            end
            ctx.client, ctx.cfg = client, cfg
        end
        local rc = run[p.cmd](ctx)
        return rc
    end)
    if ctx.client then pcall(function()
        local st = rawget(ctx.client, "_store")
        ctx.client:close()
        if st then st:close() end
    end) end
    if ok then return code end
    out:progress_done()
    if getmetatable(code) == Fail then
        -- --json: the failed call's error table is the document, when none was written yet
        if ctx.json and type(code.result) == "table" and not out.json_done then out:json(code.result) end
        out:err(code.msg)
        if code.exit == EXIT.usage and ctx.p and ctx.p.cmd then
            out:write(out.stderr, "(socialize help " .. ctx.p.cmd .. ")\n")
        end
        return code.exit
    end
    if tostring(code):find("interrupted!", 1, true) then -- the interpreter's own SIGINT handler (lua.c)
        out:err("interrupted")
        return EXIT.interrupted
    end
    out:err("internal error: " .. tostring(code))
    return EXIT.failed
end

return _M
