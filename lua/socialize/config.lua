-- The client's configuration: every setting checked (unknown keys, types,
-- ranges, NaN), and what the engine derives from it. check() raises with a
-- message and no position; socialize.new re-raises it at its caller.
local core = require("socialize.core")
local policy = require("socialize.policy")
local ffi_path = require("socialize.ffi") -- build = false where the FFI is not there

local type, pairs, ipairs, tostring, error, pcall = type, pairs, ipairs, tostring, error, pcall
local floor = math.floor
local find, format = string.find, string.format
local os_time = os.time

local _M = {}

local function argcheck(cond, msg)
    if not cond then error("bad argument #1 to 'new' (" .. msg .. ")", 0) end
end

local CONFIG_STRINGS = { "apiKey", "secret", "userKey", "privateKey", "accessToken", "dataCenter",
                         "apiDomain", "url", "cafile", "auth", "sdk", "backend", "restyUpstream" }
local AUTH_MODES = { signed = true, secret = true, oauth2 = true, jwt = true, none = true }

local function api_domain(config)
    if config.apiDomain and config.apiDomain ~= "" then
        return config.apiDomain
    end
    local dc = config.dataCenter
    if dc == nil or dc == "" then dc = "us1" end
    if find(dc, ".", 1, true) then return dc end
    if dc == "cn1" then return "cn1.gigya-api.cn" end
    return dc .. ".gigya.com"
end

-- Every config setting (docs/api.md); anything else is a typo.
local CONFIG_KEYS = { "apiKey", "secret", "userKey", "privateKey", "accessToken", "auth", "dataCenter", "apiDomain",
                      "url", "cafile", "timeout", "connectTimeout", "deadline", "maxReplyBytes", "retryExpired",
                      "transport", "onError", "retry", "log", "allowPrivateNetworks", "resolver", "clock", "now",
                      "sleep", "nonce", "sdk", "backend", "providers", "connections", "shortener", "media", "store",
                      "outbox", "restyUpstream", "ffi", "http2" }
_M.KEYS = CONFIG_KEYS

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
    a, b = a:lower(), b:lower()
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
        local cur = { [0] = i }
        for j = 1, #b do
            local cost = a:byte(i) == b:byte(j) and 0 or 1
            cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
        end
        prev = cur
    end
    return prev[#b]
end

local function suggest(name, valid)
    local best, bd
    for _, v in ipairs(valid) do
        local d = distance(name, v)
        if not bd or d < bd then best, bd = v, d end
    end
    if best and bd <= math.max(2, floor(#name / 3)) then return " (did you mean " .. best .. "?)" end
    return ""
end

local function printable(k)
    if type(k) ~= "string" then return "[" .. tostring(type(k)) .. " key]" end
    return (k:gsub("[^%w_%-%.]", "?"))
end

-- Raises when t has a key that valid (a list) does not hold, naming the
-- first such key (by its printable form), a near miss and the valid ones.
local function known_keys(t, valid, what, prefix)
    local set, bad = {}, nil
    for _, n in ipairs(valid) do set[n] = true end
    for k in pairs(t) do
        if (type(k) ~= "string" or not set[k]) and (bad == nil or printable(k) < printable(bad)) then bad = k end
    end
    if bad ~= nil then
        argcheck(false, format("%s%s is not %s%s; valid: %s", prefix, printable(bad), what,
            type(bad) == "string" and suggest(bad, valid) or "", table.concat(valid, ", ")))
    end
end

-- Unknown config keys and unknown networks under `providers` raise, naming
-- the valid ones (the networks come from the C core's adapter list).
local function check_known_keys(config)
    known_keys(config, CONFIG_KEYS, "a setting", "config.")
    if type(config.providers) == "table" then
        known_keys(config.providers, core.provider_names(), "a network", "config.providers.")
    end
end

-- The first config string (in CONFIG_KEYS order) holding a NUL byte: the
-- client is built, but every call answers 400006 naming it.
local function nul_config_field(config)
    for _, k in ipairs(CONFIG_KEYS) do
        local v = config[k]
        if type(v) == "string" and find(v, "\0", 1, true) then return "config." .. k end
    end
    return nil
end

-- Numeric options: NaN and infinities are refused everywhere (top level,
-- retry.*, providers.*.*); the known ones must also lie in their range.
local NUMBER_RANGES = {
    timeout = { 0.001, 86400 },        -- seconds
    connectTimeout = { 0.001, 86400 }, -- seconds
    deadline = { 0.001, 86400 },       -- seconds, a whole call with its retries
    maxReplyBytes = { 1, 1073741824 }, -- 1 GiB
}

local function finite_numbers(t, prefix)
    for k, v in pairs(t) do
        if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
            argcheck(false, format("%s%s must be a finite number, not %s", prefix, tostring(k),
                v ~= v and "NaN" or tostring(v)))
        end
    end
end

local CLOCK_MAX = 2 ^ 33 -- Unix seconds (year 2242)
_M.CLOCK_MAX = CLOCK_MAX

local function check_numbers(config)
    finite_numbers(config, "config.")
    if type(config.retry) == "table" then finite_numbers(config.retry, "config.retry.") end
    if type(config.providers) == "table" then
        for name, app in pairs(config.providers) do
            if type(app) == "table" then finite_numbers(app, "config.providers." .. tostring(name) .. ".") end
        end
    end
    for k, r in pairs(NUMBER_RANGES) do
        local v = config[k]
        argcheck(v == nil or (type(v) == "number" and v >= r[1] and v <= r[2]),
            format("config.%s must be a number from %s to %s", k, tostring(r[1]), tostring(r[2])))
    end
    for _, k in ipairs({ "now", "sleep" }) do
        argcheck(config[k] == nil or type(config[k]) == "function", format("config.%s must be a function", k))
    end
end

local function is_transport(t)
    return t == nil or t == "curl" or t == "resty" or type(t) == "function"
        or (type(t) == "table" and (type(t.request) == "function" or type(t.request_many) == "function"))
end

--- Checks config (raising, without a position, on a bad setting) and
-- returns the settings the client is made of:
--   config (the table itself), backend, auth, apiDomain, retryExpired,
--   retry (policy.config), deadline (seconds), nul_field (a config string
--   holding NUL, or nil), clock (Unix seconds; a garbage reading of
--   config.clock falls back to os.time), user_clock (config.clock or nil),
--   nonce, secrets (every secret of config and providers, in every encoding).
-- config.store: "sqlite:/path/file.db" or "postgresql://...", or a table
-- { url = ..., keys = { base64, ... }, plaintext = bool, busyTimeout = ms,
-- blockedRefresh = seconds, outboxSync = "full" | "normal" | seconds (default 1) }
-- (docs/store.md). Opened on first use, by client:store().
local STORE_KEYS = { "url", "keys", "plaintext", "busyTimeout", "blockedRefresh", "outboxSync" }
local function store_url_ok(u)
    return type(u) == "string" and (u:sub(1, 7) == "sqlite:" or u:sub(1, 13) == "postgresql://"
        or u:sub(1, 11) == "postgres://")
end
local function check_store(st)
    if st == nil then return end
    local msg = "config.store must be \"sqlite:/path/to/file.db\", \"postgresql://...\" or a table with url (docs/store.md)"
    if type(st) == "string" then return argcheck(store_url_ok(st), msg) end
    argcheck(type(st) == "table" and store_url_ok(st.url), msg)
    known_keys(st, STORE_KEYS, "a store setting", "config.store.")
    argcheck(st.keys == nil or type(st.keys) == "table", "config.store.keys must be a list of Base64 keys")
    for i, k in ipairs(st.keys or {}) do
        argcheck(type(k) == "string", "config.store.keys[" .. i .. "] must be a string (Base64 of 32 bytes)")
    end
    argcheck(st.plaintext == nil or type(st.plaintext) == "boolean", "config.store.plaintext must be a boolean")
    argcheck(st.busyTimeout == nil or (type(st.busyTimeout) == "number" and st.busyTimeout > 0),
        "config.store.busyTimeout must be a positive number of milliseconds")
    argcheck(st.blockedRefresh == nil or (type(st.blockedRefresh) == "number" and st.blockedRefresh >= 0
        and st.blockedRefresh <= 86400), "config.store.blockedRefresh must be a number of seconds from 0 to 86400")
    local sync = st.outboxSync
    argcheck(sync == nil or sync == "full" or sync == "normal"
        or (type(sync) == "number" and sync > 0 and sync <= 3600),
        "config.store.outboxSync must be \"full\", \"normal\" or seconds (0 < N <= 3600) (docs/store.md \"Durability\")")
end

-- config.outbox: the queued delivery's settings (docs/delivery.md), each a
-- positive number.
local OUTBOX_KEYS = { "lease", "batch", "maxAttempts", "reconnectWindow", "recheck", "idempotencyWindow",
                      "readbackDelay", "readbackRecheck", "readbackChecks" }
_M.OUTBOX_KEYS = OUTBOX_KEYS
local function check_outbox(o)
    if o == nil then return end
    argcheck(type(o) == "table", "config.outbox must be a table (docs/delivery.md)")
    known_keys(o, OUTBOX_KEYS, "an outbox setting", "config.outbox.")
    for _, k in ipairs(OUTBOX_KEYS) do
        local v = o[k]
        argcheck(v == nil or (type(v) == "number" and v >= 1 and v < 2 ^ 31),
            "config.outbox." .. k .. " must be a number from 1 to 2^31")
    end
end

function _M.check(config)
    check_known_keys(config)
    check_numbers(config)
    for _, k in ipairs(CONFIG_STRINGS) do
        local v = config[k]
        argcheck(v == nil or type(v) == "string", "config." .. k .. " must be a string")
    end
    for _, k in ipairs({ "timeout", "connectTimeout", "maxReplyBytes" }) do
        local v = config[k]
        argcheck(v == nil or (type(v) == "number" and v > 0), "config." .. k .. " must be a positive number")
    end
    for _, k in ipairs({ "clock", "nonce" }) do
        argcheck(config[k] == nil or type(config[k]) == "function", "config." .. k .. " must be a function")
    end
    local up = config.restyUpstream
    argcheck(up == nil or (#up >= 2 and #up <= 256 and up:find("^/[%w_%-%./]*/$") ~= nil),
        "config.restyUpstream must be an internal location's prefix, \"/\" + [A-Za-z0-9_.-/] + \"/\" (docs/openresty.md)")
    argcheck(is_transport(config.transport),
        "config.transport must be \"curl\", \"resty\", a function or a transport table (docs/api.md)")
    local backend = config.backend or "gigya"
    argcheck(backend == "gigya" or backend == "direct", "config.backend must be \"gigya\" or \"direct\"")
    argcheck(config.providers == nil or type(config.providers) == "table",
        "config.providers must be a table keyed by network")
    for name, v in pairs(config.providers or {}) do
        argcheck(type(name) == "string" and type(v) == "table", "config.providers." .. tostring(name) .. " must be a table")
    end
    argcheck(config.connections == nil or type(config.connections) == "table"
        or type(config.connections) == "function",
        "config.connections must be a table keyed by UID, a function(UID) or a store with :get(UID)")
    argcheck(config.shortener == nil or type(config.shortener) == "function", "config.shortener must be a function(url)")
    check_store(config.store)
    check_outbox(config.outbox)
    local m = config.media
    argcheck(m == nil or type(m) == "table", "config.media must be a table (docs/media.md)")
    if m then
        for k in pairs(m) do
            argcheck(k == "partial" or k == "resize" or k == "maxBytes" or k == "allowFiles",
                "config.media." .. tostring(k) .. " is not a setting (partial, resize, maxBytes, allowFiles)")
        end
        argcheck(m.partial == nil or m.partial == "allow" or m.partial == "fail",
            "config.media.partial must be \"allow\" or \"fail\"")
        argcheck(m.resize == nil or type(m.resize) == "function",
            "config.media.resize must be a function(bytes, mime, limit)")
        argcheck(m.allowFiles == nil or type(m.allowFiles) == "boolean", "config.media.allowFiles must be a boolean")
        local mb = m.maxBytes
        argcheck(mb == nil or (type(mb) == "number" and mb >= 1) or type(mb) == "table",
            "config.media.maxBytes must be a positive number or a table of them by network")
        if type(mb) == "table" then
            known_keys(mb, core.provider_names(), "a network", "config.media.maxBytes.")
            for k, v in pairs(mb) do
                argcheck(type(k) == "string" and type(v) == "number" and v >= 1,
                    "config.media.maxBytes." .. tostring(k) .. " must be a positive number")
            end
        end
    end
    local auth = config.auth
    if auth == nil then
        if config.privateKey then auth = "jwt"
        elseif config.accessToken then auth = "oauth2"
        else auth = "signed" end
    end
    argcheck(AUTH_MODES[auth], "config.auth must be signed, secret, oauth2, jwt or none")
    argcheck(config.onError == nil or type(config.onError) == "function", "config.onError must be a function(message)")
    argcheck(config.log == nil or type(config.log) == "function", "config.log must be a function(event)")
    argcheck(config.allowPrivateNetworks == nil or type(config.allowPrivateNetworks) == "boolean",
        "config.allowPrivateNetworks must be a boolean")
    argcheck(config.http2 == nil or type(config.http2) == "boolean", "config.http2 must be a boolean")
    argcheck(config.ffi == nil or type(config.ffi) == "boolean", "config.ffi must be a boolean")
    argcheck(config.resolver == nil or type(config.resolver) == "function",
        "config.resolver must be a function(name) returning a list of addresses")
    local ok_retry, retry = pcall(policy.config, config.retry)
    argcheck(ok_retry, (tostring(retry):gsub("^.-: ", "")))

    local use_ffi = config.ffi ~= false
    local s = {
        config = config,
        backend = backend,
        auth = auth,
        apiDomain = api_domain(config),
        retryExpired = config.retryExpired ~= false,
        retry = retry,
        deadline = config.deadline or config.timeout or 10,
        nul_field = nul_config_field(config),
        clock = config.clock or (use_ffi and ffi_path.time) or os_time,
        user_clock = config.clock,
        nonce = config.nonce or (use_ffi and ffi_path.nonce) or core.nonce,
        -- the Gigya request built through LuaJIT's FFI (socialize.ffi), where it loads
        ffi_build = use_ffi and ffi_path.build or nil,
        now_ms = use_ffi and ffi_path.now_ms or core.now_ms, -- the wall clock in ms
    }
    if config.clock then
        -- a clock that answers garbage fails the call (engine) before anything
        -- is sent; a later garbage reading falls back to os.time
        local user_clock = config.clock
        s.clock = function()
            local t = user_clock()
            if type(t) == "number" and t >= 0 and t < CLOCK_MAX then return t end
            return os_time()
        end
    end
    s.secrets = policy.secrets({}, config)
    for _, app in pairs(config.providers or {}) do policy.secrets(s.secrets, app) end
    if type(config.store) == "table" then
        for _, k in ipairs(config.store.keys or {}) do policy.secrets(s.secrets, { secret = k }) end
    end
    return s
end

return _M
