-- Reliability policy: what may be retried and when, the blocked-until table
-- fed by the networks' rate-limit signals, the log hook, and the redaction
-- of secrets from everything the library shows.
local type, pairs, ipairs, tostring, error, select = type, pairs, ipairs, tostring, error, select
local min, random = math.min, math.random
local find, gsub, sub, match, gmatch = string.find, string.gsub, string.sub, string.match, string.gmatch
local tonumber = tonumber

local _M = {}

_M.DEFAULT = {
    retries = 2,         -- extra requests after the first (2: at most three requests)
    baseDelay = 0.25,    -- seconds; doubled per retry, with jitter
    maxDelay = 8,        -- cap of one backoff
    maxRetryAfter = 10,  -- a network asking to wait longer is reported, not waited for
}

-- Accepted range of each retry setting (a value outside is refused).
_M.RANGES = {
    retries = { 0, 100 },
    baseDelay = { 0, 3600 },
    maxDelay = { 0, 3600 },
    maxRetryAfter = { 0, 86400 },
}

--- Longest a rate-limit reset is honoured in the blocked-until table: a
-- network asking for more (97,999,347 s was seen) blocks for 24 hours.
_M.MAX_BLOCK = 86400

-- What the core says of each network (core.provider_info): its account and
-- app key fields, its secret fields, its idempotency mechanism.
local core = require("socialize.core")
local INFO = {}
for _, n in ipairs(core.provider_names()) do INFO[n] = core.provider_info(n) end

-- Networks whose create call carries an idempotency key (a header or a
-- parameter, per provider_info): a 5xx may be retried there.
local function idempotent(provider)
    local i = INFO[provider]
    return i ~= nil and i.idempotency.kind ~= "none"
end

--- The effective policy from config.retry (nil: defaults, false: none).
-- `attempts` is the deprecated name of `retries` (same meaning: extra
-- requests after the first). The result carries both names.
function _M.config(c)
    if c == false then
        return { retries = 0, attempts = 0, baseDelay = 0, maxDelay = 0, maxRetryAfter = 0 }
    end
    local p = {}
    for k, v in pairs(_M.DEFAULT) do p[k] = v end
    if c ~= nil then
        if type(c) ~= "table" then
            error("config.retry must be false or a table", 4)
        end
        for k, v in pairs(c) do
            local name = k == "attempts" and "retries" or k
            if _M.DEFAULT[name] == nil then
                error("config.retry." .. tostring(k) .. " is not a retry setting", 4)
            end
            local range = _M.RANGES[name]
            if type(v) ~= "number" or v ~= v or v < range[1] or v > range[2] then
                error("config.retry." .. k .. " must be a number from " .. range[1] .. " to " .. range[2], 4)
            end
            if name == "retries" and v ~= math.floor(v) then
                error("config.retry." .. k .. " must be a whole number", 4)
            end
            p[name] = v
        end
        if c.attempts ~= nil and c.retries ~= nil and c.attempts ~= c.retries then
            error("config.retry.attempts (deprecated) and config.retry.retries disagree", 4)
        end
    end
    p.attempts = p.retries -- the deprecated name, for code that still reads it
    return p
end

--- Backoff before attempt n (1-based): base * 2^(n-1), capped, with jitter
-- in [50%, 100%] so that many clients do not retry in step.
function _M.backoff(policy, n)
    local d = min(policy.maxDelay, policy.baseDelay * 2 ^ (n - 1))
    return d * (0.5 + random() * 0.5)
end

--- Seconds to wait before retrying a direct-delivery failure, or nil when it
-- must not be retried. `sent` is false when the request never left.
-- safe: the request can be repeated without posting twice (a media upload
-- step: at worst an unused upload, which the network expires), so any
-- transient failure of it is retried, whatever the network's create call.
function _M.retry_delay(policy, provider, r, n, sent, safe)
    if n > policy.retries then return nil end
    if not sent then
        return _M.backoff(policy, n) -- connection failed before anything was sent
    end
    if r.category == "rate_limited" then
        if r.retryAfter then
            if not (r.retryAfter <= policy.maxRetryAfter) then return nil end -- also NaN
            return r.retryAfter + random() * 0.1
        end
        return _M.backoff(policy, n)
    end
    if r.category == "transient" and (safe or ((r.providerStatus or 0) >= 500 and idempotent(provider))) then
        return _M.backoff(policy, n)
    end
    return nil
end

---------------------------------------------------------------------------
-- Blocked-until table: per (provider, app) and (provider, account)
---------------------------------------------------------------------------
-- The secret fields (filled with the redaction's list below): an account or
-- an app named by one of them is keyed by a hash of it, so the table (and
-- the store's copy of it) holds no token.
local SECRET_SET = {}
local char, byte_ = string.char, string.byte

local function hashed(v)
    return "#" .. core.hmac_sha1("c29jaWFsaXplLWJsb2NrZWQtdW50aWw=", v) -- Base64 of "socialize-blocked-until"
end

local function key_id(f, v)
    v = tostring(v)
    if SECRET_SET[f] then return hashed(v) end
    return v
end

-- The account and the app of a connection: the first field present of the
-- network's accountFields and appKeyFields (provider_info).
function _M.keys(provider, app, user)
    local info = INFO[provider] or { accountFields = {}, appKeyFields = {} }
    local appid, acct
    for _, f in ipairs(info.appKeyFields) do
        if app[f] ~= nil then appid = key_id(f, app[f]) break end
    end
    for _, f in ipairs(info.accountFields) do
        if user[f] ~= nil then acct = key_id(f, user[f]) break end
    end
    appid = appid or "default"
    return provider .. "\0app\0" .. tostring(appid), provider .. "\0acct\0" .. tostring(acct or "?")
end

--- Seconds still blocked for these keys, or nil.
function _M.blocked(tbl, keys, now)
    local wait
    for _, k in ipairs(keys) do
        local until_ = tbl[k]
        if until_ then
            if until_ > now then
                local w = until_ - now
                if not wait or w > wait then wait = w end
            else
                tbl[k] = nil
            end
        end
    end
    return wait
end

--- Forgets rate limits: all of them, a provider's, or one account's
-- (the account id as in the connection: userId, chatId, ...). Returns how
-- many entries were cleared.
function _M.unblock(tbl, provider, account)
    local n = 0
    local a1, a2
    if account ~= nil then
        a1 = provider .. "\0acct\0" .. tostring(account)
        a2 = provider .. "\0acct\0" .. hashed(tostring(account))
    end
    for k in pairs(tbl) do
        if provider == nil or (account == nil and sub(k, 1, #provider + 1) == provider .. "\0")
            or k == a1 or k == a2 then
            tbl[k] = nil
            n = n + 1
        end
    end
    return n
end

--- Records a rate limit the network reported (a reset is capped at
-- MAX_BLOCK). Returns the key and its new until time when it changed.
function _M.block(tbl, keys, r, now)
    if (r.category ~= "rate_limited" and r.category ~= "quota_exhausted") or not r.retryAfter then return end
    local k = r.scope == "app" and keys[1] or keys[2]
    local wait = r.retryAfter
    if type(wait) ~= "number" or wait ~= wait or wait <= 0 then return end
    if wait > _M.MAX_BLOCK then wait = _M.MAX_BLOCK end -- capped: a host can also clear it (unblock)
    local until_ = now + wait
    if not tbl[k] or tbl[k] < until_ then
        tbl[k] = until_
        return k, until_
    end
end

-- The store's blocked-until table (docs/store.md) keeps the provider and the
-- rest of a key apart, the rest percent-encoded (it holds NUL bytes).
local function pct_byte(c) return string.format("%%%02X", byte_(c)) end
local function unpct(h) return char(tonumber(h, 16)) end

--- provider, store key of a table key (nil when it has no provider part).
function _M.store_key(k)
    local i = find(k, "\0", 1, true)
    if not i or i == 1 then return nil end
    return sub(k, 1, i - 1), (gsub(sub(k, i + 1), "[^%w%-%._~#+/=]", pct_byte))
end

--- The table key of a store entry.
function _M.from_store(provider, skey)
    return provider .. "\0" .. (gsub(skey, "%%(%x%x)", unpct))
end

--- The store keys of one account (as given to unblock): as given, and hashed.
function _M.account_store_keys(provider, account)
    local _, a = _M.store_key(provider .. "\0acct\0" .. tostring(account))
    local _, b = _M.store_key(provider .. "\0acct\0" .. hashed(tostring(account)))
    return a, b
end

---------------------------------------------------------------------------
-- Redaction
---------------------------------------------------------------------------
-- Gigya's own secrets and the usual OAuth ones, then every network's
-- secretFields (provider_info).
local SECRET_FIELDS = { "secret", "privateKey", "password", "refreshToken", "clientSecret" }
do
    local seen = {}
    for _, f in ipairs(SECRET_FIELDS) do seen[f] = true end
    for _, n in ipairs(core.provider_names()) do
        for _, f in ipairs(INFO[n].secretFields) do
            if not seen[f] then seen[f] = true; SECRET_FIELDS[#SECRET_FIELDS + 1] = f end
        end
    end
end
for _, f in ipairs(SECRET_FIELDS) do SECRET_SET[f] = true end

--- Whether `name` is a secret field (redacted, never stored in clear).
function _M.secret_field(name) return SECRET_SET[name] == true end

local byte, format, lower = string.byte, string.format, string.lower

-- RFC 3986 percent-encoding with upper-case hex (what the core sends).
local PCT, PCT_LOWER = {}, {} -- byte -> "%XX"; "%XX" -> "%xx" (tables for gsub: no function call per byte)
for b = 0, 255 do
    PCT[string.char(b)] = format("%%%02X", b)
    PCT_LOWER[format("%%%02X", b)] = format("%%%02x", b)
end
local function pct(s)
    return (gsub(s, "[^%w%-%._~]", PCT))
end

-- The escapes of the bytes '[%c"\\/]' for JSON, by `/` escaped or not and
-- the hex case of \uXXXX (tables for gsub).
local JSON_ESC = {}
for _, slash in ipairs({ true, false }) do
    JSON_ESC[slash] = {}
    for _, hexcase in ipairs({ "\\u%04x", "\\u%04X" }) do
        local t = { ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = slash and "\\/" or "/", ["\n"] = "\\n",
                    ["\r"] = "\\r", ["\t"] = "\\t", ["\b"] = "\\b", ["\f"] = "\\f" }
        for b = 0, 127 do
            local c = string.char(b)
            if t[c] == nil and c:find("%c") then t[c] = format(hexcase, b) end
        end
        JSON_ESC[slash][hexcase] = t
    end
end

-- JSON string escaping of s, with `/` escaped or not, non-ASCII raw or as
-- \uXXXX (UTF-16, lower or upper hex).
local function json_esc(s, slash, ascii, hexcase)
    local out = gsub(s, '[%c"\\/]', JSON_ESC[slash][hexcase])
    if ascii then
        out = gsub(out, "[\194-\244][\128-\191]*", function(seq)
            local c1 = byte(seq, 1)
            local n = #seq
            local cp
            if n == 2 then cp = (c1 - 192) * 64 + (byte(seq, 2) - 128)
            elseif n == 3 then cp = ((c1 - 224) * 64 + (byte(seq, 2) - 128)) * 64 + (byte(seq, 3) - 128)
            elseif n == 4 then
                cp = (((c1 - 240) * 64 + (byte(seq, 2) - 128)) * 64 + (byte(seq, 3) - 128)) * 64 + (byte(seq, 4) - 128)
            else return seq end
            if cp < 65536 then return format(hexcase, cp) end
            cp = cp - 65536
            return format(hexcase, 55296 + math.floor(cp / 1024)) .. format(hexcase, 56320 + cp % 1024)
        end)
    end
    return out
end

--- Every encoding in which the library sends (or a network echoes) value:
-- raw, percent-encoded (upper and lower hex, `+` for space as in forms),
-- JSON-escaped (`\/` or `/`, \uXXXX for control and non-ASCII characters).
local enc_cache, enc_count = {}, 0 -- value -> its encodings (bounded: cleared at 512)

function _M.encodings(v)
    local cached = enc_cache[v]
    if cached then return cached end
    if enc_count >= 512 then enc_cache, enc_count = {}, 0 end
    local out = _M.encodings_of(v)
    enc_cache[v], enc_count = out, enc_count + 1
    return out
end

-- (uncached; the cache above keeps the last 512 values' lists, read only)
function _M.encodings_of(v)
    local out, seen = {}, {}
    local function add(x)
        if not seen[x] then seen[x] = true out[#out + 1] = x end
    end
    add(v)
    local p = pct(v)
    local pl = gsub(p, "%%%x%x", PCT_LOWER)
    add(p)
    add(pl)
    add((gsub(p, "%%20", "+")))
    add((gsub(pl, "%%20", "+")))
    -- the hex case changes nothing without a control byte (raw, or \uXXXX
    -- when not ASCII-only) or a non-ASCII byte (ASCII-only): those forms,
    -- equal to one made already, are not made again
    local ctl, high = find(v, "%c") ~= nil, find(v, "[\128-\255]") ~= nil
    for _, slash in ipairs({ true, false }) do
        add(json_esc(v, slash, false, "\\u%04x"))
        if ctl then add(json_esc(v, slash, false, "\\u%04X")) end
        if high then
            add(json_esc(v, slash, true, "\\u%04x"))
            add(json_esc(v, slash, true, "\\u%04X"))
        end
    end
    return out
end

-- The shortest value redacted: a text shorter than this holds no secret.
local MIN_SECRET = 4
_M.MIN_SECRET = MIN_SECRET

local function by_length(a, b)
    if #a ~= #b then return #a > #b end
    return a < b
end

--- Adds every secret value of these tables (config, provider configs, a
-- connection entry, a session) to list, in each of its encodings, longest
-- first. Values shorter than 4 bytes are not secrets worth a redaction.
function _M.secrets(list, ...)
    list = list or {}
    if _M.secrets_into(list, ...) then table.sort(list, by_length) end
    return list
end

--- As secrets, unsorted (returns whether anything was added): for a list
-- gathered from many tables, sorted once by sort_secrets at the end.
function _M.secrets_into(list, ...)
    local seen = {}
    for _, v in ipairs(list) do seen[v] = true end
    local added = false
    for i = 1, select("#", ...) do
        local t = select(i, ...)
        if type(t) == "table" then
            for _, f in ipairs(SECRET_FIELDS) do
                local v = t[f]
                if type(v) == "string" and #v >= MIN_SECRET then
                    for _, e in ipairs(_M.encodings(v)) do
                        if not seen[e] then
                            seen[e] = true
                            list[#list + 1] = e
                            added = true
                        end
                    end
                end
            end
        end
    end
    return added
end

--- Appends the raw secret values of t (no encodings) to out: what a
-- memo of the secrets list compares (socialize.direct).
function _M.secret_values(out, t)
    if type(t) ~= "table" then return out end
    for _, f in ipairs(SECRET_FIELDS) do
        local v = t[f]
        if type(v) == "string" and #v >= MIN_SECRET then out[#out + 1] = v end
    end
    return out
end

--- Sorts a list gathered with secrets_into (longest first); returns it.
function _M.sort_secrets(list)
    table.sort(list, by_length)
    return list
end

--- secrets plus the Authorization header values of reqs (the credentials
-- after the scheme, an OAuth 1.0a oauth_signature), in
-- every encoding; a new list when anything is added.
function _M.auth_secrets(reqs, secrets)
    local found = {}
    for _, req in ipairs(reqs or {}) do
        local h = type(req) == "table" and req.headers
        if type(h) == "table" then
            for k, v in pairs(h) do
                if type(k) == "string" and #k == 13 and lower(k) == "authorization" and type(v) == "string" then
                    -- the scheme word ("Bearer", "OAuth") is no secret
                    found[#found + 1] = { accessToken = match(v, "^%S+%s+(.+)$") or v }
                    for sig in gmatch(v, 'oauth_signature="([^"]*)"') do
                        found[#found + 1] = { accessToken = sig }
                        found[#found + 1] = { accessToken = _M.pct_decode(sig) }
                    end
                end
            end
        end
    end
    if #found == 0 then return secrets end
    -- a signature is new on every request: its encodings are made, not
    -- cached (they would push the connections' stable values out of the cache)
    local extra, seen = {}, {}
    for _, t in ipairs(found) do
        local v = t.accessToken
        if type(v) == "string" and #v >= MIN_SECRET then
            for _, e in ipairs(enc_cache[v] or _M.encodings_of(v)) do
                if not seen[e] then seen[e] = true extra[#extra + 1] = e end
            end
        end
    end
    table.sort(extra, by_length)
    return _M.merge_secrets(secrets, extra)
end

local function is_sorted(l)
    for i = 2, #l do
        if by_length(l[i], l[i - 1]) then return false end
    end
    return true
end

--- A copy of list a with the values of list b added (longest first). Two
-- sorted lists (what secrets, merge_secrets and url_secrets give) are
-- merged in one pass; anything else is sorted whole.
function _M.merge_secrets(a, b)
    a, b = a or {}, b or {}
    if is_sorted(a) and is_sorted(b) then
        local out, seen, i, j, na, nb = {}, {}, 1, 1, #a, #b
        while i <= na or j <= nb do
            local x
            if j > nb or (i <= na and not by_length(b[j], a[i])) then
                x, i = a[i], i + 1
            else
                x, j = b[j], j + 1
            end
            if not seen[x] then
                seen[x] = true
                out[#out + 1] = x
            end
        end
        return out
    end
    local out, seen = {}, {}
    for _, l in ipairs({ a or {}, b or {} }) do
        for _, v in ipairs(l) do
            if not seen[v] then seen[v] = true out[#out + 1] = v end
        end
    end
    table.sort(out, by_length)
    return out
end

local function plain_replace(s, what, with)
    local out, i = {}, 1
    while true do
        local a, b = find(s, what, i, true)
        if not a then break end
        out[#out + 1] = sub(s, i, a - 1)
        out[#out + 1] = with
        i = b + 1
    end
    out[#out + 1] = sub(s, i)
    return table.concat(out)
end

--- text with every secret replaced by [redacted]; and a text that ends
-- with the start of one (4 bytes or more: a network's message cut to its
-- length by the core, a transport's error cut to its buffer, right inside
-- an echoed token) with that start replaced.
function _M.scrub(text, secrets)
    if type(text) ~= "string" or not secrets then return text end
    for _, v in ipairs(secrets) do
        if find(text, v, 1, true) then text = plain_replace(text, v, "[redacted]") end
    end
    local n = #text
    if n < MIN_SECRET then return text end
    -- the text's last 4 bytes, looked for in each secret: where they end
    -- its first k bytes (k < its length), the text may end with that start
    local last = sub(text, n - MIN_SECRET + 1)
    for _, v in ipairs(secrets) do
        local len, best = #v, 0
        local j = find(v, last, 1, true)
        while j and j + MIN_SECRET - 1 < len do
            local k = j + MIN_SECRET - 1
            if k <= n and sub(text, n - k + 1) == sub(v, 1, k) then best = k end
            j = find(v, last, j + 1, true)
        end
        if best > 0 then
            text = sub(text, 1, n - best) .. "[redacted]"
            n = #text
            last = sub(text, n - MIN_SECRET + 1)
        end
    end
    return text
end

--- Scrubs the text fields of a response or error table in place. secrets:
-- the list, or a function that makes it, called only when a text field is
-- long enough to hold a secret (a call that succeeded shows only "OK": no
-- list is made for it).
function _M.scrub_result(t, secrets)
    if type(t) ~= "table" then return t end
    local function scrub(text)
        if type(text) ~= "string" or #text < MIN_SECRET then return text end
        if type(secrets) == "function" then secrets = secrets() end
        return _M.scrub(text, secrets)
    end
    t.errorDetails = scrub(t.errorDetails)
    t.errorMessage = scrub(t.errorMessage)
    if type(t.providerErrorCodes) == "table" then
        for _, e in ipairs(t.providerErrorCodes) do
            e.errorDetails = scrub(e.errorDetails)
            e.errorMessage = scrub(e.errorMessage)
            -- the items left out under config.media.partial = "allow": each
            -- names the network's refusal, which may echo a credential
            if type(e.mediaFailed) == "table" then
                for _, f in ipairs(e.mediaFailed) do
                    if type(f) == "table" then f.errorDetails = scrub(f.errorDetails) end
                end
            end
        end
    end
    return t
end

--- Percent-decoding (for an OAuth signature, sent encoded).
function _M.pct_decode(s)
    return (gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- A URL fit for logs: query values and bot tokens in paths removed.
function _M.redact_url(url)
    if type(url) ~= "string" then return url end
    url = gsub(url, "/bot[^/]+/", "/bot[redacted]/")
    url = gsub(url, "([?&][^=&]+)=[^&]*", "%1=[redacted]")
    return url
end

--- The values of a request URL a transport's error may quote (an upload
-- URL's signature in its query, a bot token in its path), longest first:
-- what redact_url removes, as secrets for scrub. Values shorter than 8
-- bytes ("STATUS", "true") are words an error may use, not signatures.
function _M.url_secrets(url)
    local out, seen = {}, {}
    if type(url) ~= "string" then return out end
    local function add(v)
        if #v >= 8 and not seen[v] then seen[v] = true out[#out + 1] = v end
    end
    for v in gmatch(url, "/bot([^/]+)/") do add(v) add(_M.pct_decode(v)) end
    local q = match(url, "%?([^#]*)")
    if q then
        for v in gmatch(q, "[^=&]+=([^&]*)") do add(v) add(_M.pct_decode(v)) end
    end
    table.sort(out, by_length)
    return out
end

---------------------------------------------------------------------------
-- Private networks: URLs that come from connection data (a network's
-- provider_info urlField: a server, a data host) -- and any other URL the library did not choose
-- itself -- go through ONE guard, the core's sz_url_check: http(s) only, no
-- user information, no control byte, space, backslash or percent-encoded
-- host, a valid port, and no literal or localhost host in a loopback,
-- private, link-local or reserved range. Names are checked again at connect
-- time by the transport (request field `guard`, docs/RELIABILITY.md).
---------------------------------------------------------------------------

--- host, port, scheme, family when the URL may be connected to; otherwise
-- nil, reason, code (400002 missing, 400006 invalid). With allow_private,
-- a well-formed URL whose host is only a private address or localhost
-- passes (the answer is then just true).
function _M.check_url(url, allow_private)
    local core = require("socialize.core")
    local host, port, scheme, family = core.check_url(url)
    if host then return host, port, scheme, family end
    local reason, code, blocked = port, scheme, family
    if allow_private and blocked then
        return true
    end
    return nil, reason, code
end

--- True (and the reason) when the guard refuses the URL.
function _M.private_url(url)
    local ok, reason = _M.check_url(url)
    if ok then return false end
    return true, reason
end

return _M
