-- Reliability policy: what may be retried and when, the blocked-until table
-- fed by the networks' rate-limit signals, the log hook, and the redaction
-- of secrets from everything the library shows.
local type, pairs, ipairs, tostring, error, select = type, pairs, ipairs, tostring, error, select
local min, random = math.min, math.random
local find, gsub, sub = string.find, string.gsub, string.sub
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

-- Networks whose create call carries an idempotency key (Mastodon's
-- Idempotency-Key header, VK's guid): a 5xx may be retried there.
local IDEMPOTENT = { mastodon = true, vkontakte = true }

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
function _M.retry_delay(policy, provider, r, n, sent)
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
    if r.category == "transient" and (r.providerStatus or 0) >= 500 and IDEMPOTENT[provider] then
        return _M.backoff(policy, n)
    end
    return nil
end

---------------------------------------------------------------------------
-- Blocked-until table: per (provider, app) and (provider, account)
---------------------------------------------------------------------------
local ACCOUNT_FIELDS = { "userId", "ownerId", "personId", "author", "pageId", "identifier", "chatId",
                         "token", "accessToken", "bearerToken" }

function _M.keys(provider, app, user)
    local appid = app.consumerKey or app.botToken or app.baseUrl or "default"
    local acct
    for _, f in ipairs(ACCOUNT_FIELDS) do
        if user[f] ~= nil then acct = tostring(user[f]) break end
    end
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
    for k in pairs(tbl) do
        if provider == nil or (account == nil and sub(k, 1, #provider + 1) == provider .. "\0")
            or k == provider .. "\0acct\0" .. tostring(account) then
            tbl[k] = nil
            n = n + 1
        end
    end
    return n
end

--- Records a rate limit the network reported (a reset is capped at MAX_BLOCK).
function _M.block(tbl, keys, r, now)
    if (r.category ~= "rate_limited" and r.category ~= "quota_exhausted") or not r.retryAfter then return end
    local k = r.scope == "app" and keys[1] or keys[2]
    local wait = r.retryAfter
    if type(wait) ~= "number" or wait ~= wait or wait <= 0 then return end
    if wait > _M.MAX_BLOCK then wait = _M.MAX_BLOCK end -- capped: a host can also clear it (unblock)
    local until_ = now + wait
    if not tbl[k] or tbl[k] < until_ then tbl[k] = until_ end
end

---------------------------------------------------------------------------
-- Redaction
---------------------------------------------------------------------------
local SECRET_FIELDS = { "secret", "privateKey", "accessToken", "token", "tokenSecret", "bearerToken",
                        "appPassword", "consumerSecret", "appSecret", "botToken", "accessJwt", "refreshJwt",
                        "password" }

--- Every secret value in these tables (config, provider configs, connection).
function _M.secrets(list, ...)
    list = list or {}
    for i = 1, select("#", ...) do
        local t = select(i, ...)
        if type(t) == "table" then
            for _, f in ipairs(SECRET_FIELDS) do
                local v = t[f]
                if type(v) == "string" and #v >= 4 then list[#list + 1] = v end
            end
        end
    end
    return list
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

--- text with every secret replaced by [redacted].
function _M.scrub(text, secrets)
    if type(text) ~= "string" or not secrets then return text end
    for _, v in ipairs(secrets) do
        if find(text, v, 1, true) then text = plain_replace(text, v, "[redacted]") end
    end
    return text
end

--- Scrubs the text fields of a response or error table in place.
function _M.scrub_result(t, secrets)
    if type(t) ~= "table" then return t end
    t.errorDetails = _M.scrub(t.errorDetails, secrets)
    t.errorMessage = _M.scrub(t.errorMessage, secrets)
    if type(t.providerErrorCodes) == "table" then
        for _, e in ipairs(t.providerErrorCodes) do
            e.errorDetails = _M.scrub(e.errorDetails, secrets)
        end
    end
    return t
end

--- A URL fit for logs: query values and bot tokens in paths removed.
function _M.redact_url(url)
    if type(url) ~= "string" then return url end
    url = gsub(url, "/bot[^/]+/", "/bot[redacted]/")
    url = gsub(url, "([?&][^=&]+)=[^&]*", "%1=[redacted]")
    return url
end

---------------------------------------------------------------------------
-- Private networks: URLs that come from connection data (a Mastodon
-- instance, a Bluesky PDS) must not point into the host's own networks.
---------------------------------------------------------------------------
local function ipv4(h)
    local a, b, c, d = h:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then return nil end
    return tonumber(a), tonumber(b), tonumber(c), tonumber(d)
end

--- True when the URL's host is loopback, private, link-local or unspecified
-- (literal addresses and localhost; names are checked again by libcurl).
function _M.private_url(url)
    if type(url) ~= "string" then return true end
    local host = url:match("^%a+://%[([^%]]+)%]") or url:match("^%a+://([^/:?#]+)")
    if not host then return true end
    host = host:lower()
    if host == "localhost" or host:match("%.localhost$") or host == "::1" or host == "::"
        or host:match("^fe[89ab]") or host:match("^f[cd]") then
        return true
    end
    local a, b = ipv4(host)
    if not a then return false end
    return a == 127 or a == 10 or a == 0 or (a == 172 and b >= 16 and b <= 31) or (a == 192 and b == 168)
        or (a == 169 and b == 254) or (a == 100 and b >= 64 and b <= 127)
end

return _M
