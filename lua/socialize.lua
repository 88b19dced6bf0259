-- socialize: Gigya's socialize share API for Lua.
--
--   local socialize = require("socialize")
--   local client = socialize.new{ apiKey = "...", secret = "...", dataCenter = "eu1" }
--   local res, err = client:publishUserAction{ UID = "u1", userAction = { title = "Hi" } }
--   if not res then print(tostring(err)) end   -- "403003 Invalid request signature: ..."
--
-- Calls return the Gigya response table when errorCode is 0, otherwise nil and
-- the response table as an error (with a __tostring). Wrong argument types raise.
--
-- This file is the public face: signatures, validators, the named error
-- codes and the module-level calls. The client is socialize.client (config,
-- engine, gigya, direct, async behind it).
local core = require("socialize.core")
local errors = require("socialize.errors")
local client = require("socialize.client")
local util = require("socialize.util")

local type, ipairs, tostring, error = type, ipairs, tostring, error
local select = select
local setmetatable, getmetatable = setmetatable, getmetatable
local find, format = string.find, string.format
local os_time, os_getenv = os.time, os.getenv

local _M = {
    _NAME = "socialize",
    _VERSION = core._VERSION,
    null = core.null, -- JSON null, in parameters and in replies
    Error = errors.Error,
    errors = errors.codes, -- socialize.errors.INVALID_PARAMETER == 400006, ...
}

local ARRAY_MT = { __jsontype = "array" }

--- Marks a table as a JSON array, so that an empty one encodes as [].
function _M.array(t)
    return setmetatable(t or {}, ARRAY_MT)
end

local argcheck, argtype = util.argcheck, util.argtype

---------------------------------------------------------------------------
-- Signatures
---------------------------------------------------------------------------
local signature = {}
_M.signature = signature

--- RFC 3986 percent-encoding with upper-case hex over the UTF-8 bytes.
function signature.encode(s)
    if type(s) == "number" then s = tostring(s) end
    argtype(s, 1, "encode", "string")
    local e, msg, code = core.url_encode(s)
    if not e then return nil, errors.new(code, msg) end -- out of memory
    return e
end

--- Gigya's base string: METHOD & enc(normalized url) & enc(sorted query).
-- Returns the string, or nil and an error (bad url, bad parameter value).
function signature.baseString(method, url, params)
    argtype(method, 1, "baseString", "string")
    argtype(url, 2, "baseString", "string")
    argtype(params, 3, "baseString", "table")
    local b, msg, code = core.base_string(method, url, params)
    if not b then return nil, errors.new(code, msg) end
    return b
end

--- Signs method + url + params with the Base64 secret. Returns the signature
-- and the base string, or nil and an error.
function signature.sign(secret, method, url, params)
    argtype(secret, 1, "sign", "string")
    argtype(method, 2, "sign", "string")
    argtype(url, 3, "sign", "string")
    argtype(params, 4, "sign", "table")
    local base, msg, code = core.base_string(method, url, params)
    if not base then return nil, errors.new(code, msg) end
    local sig
    sig, msg, code = core.hmac_sha1(secret, base)
    if not sig then return nil, errors.new(code, msg) end
    return sig, base
end

---------------------------------------------------------------------------
-- Validators (constant-time comparison)
---------------------------------------------------------------------------
-- A number timestamp must be whole Unix seconds: NaN, +-inf, a fraction,
-- a negative number or one beyond 2^53 gives nil (the signature is invalid),
-- never an error and never a rounded value.
local function ts_string(ts, n, fname)
    if type(ts) == "number" then
        if ts ~= ts or ts < 0 or ts >= 9007199254740992 or ts % 1 ~= 0 then
            return nil
        end
        return format("%.0f", ts)
    end
    argtype(ts, n, fname, "string")
    return ts
end

local function window_arg(w, n, fname)
    if w == nil then return nil end
    argcheck(type(w) == "number" and w >= 0, n, fname, "window must be a number of seconds >= 0")
    return w
end

-- True when one of the values holds a NUL byte: no UID, timestamp, secret
-- or signature can, so the validators answer false instead of comparing a
-- silently cut value.
local function has_nul(...)
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        if type(v) == "string" and find(v, "\0", 1, true) then return true end
    end
    return false
end

--- True when signature = Base64(HMAC-SHA1(secret, timestamp .. "_" .. UID)) and,
-- with windowSeconds, |now - timestamp| <= windowSeconds.
function _M.validateUserSignature(UID, timestamp, secret, sig, windowSeconds)
    argtype(UID, 1, "validateUserSignature", "string")
    timestamp = ts_string(timestamp, 2, "validateUserSignature")
    argtype(secret, 3, "validateUserSignature", "string")
    if sig == nil or timestamp == nil then return false end
    argtype(sig, 4, "validateUserSignature", "string")
    if has_nul(UID, timestamp, secret, sig) then return false end
    return core.validate_user(UID, timestamp, secret, sig,
        window_arg(windowSeconds, 5, "validateUserSignature"), os_time())
end

--- True when signature = Base64(HMAC-SHA1(secret, timestamp .. "_" .. friendUID .. "_" .. UID)).
function _M.validateFriendSignature(UID, timestamp, friendUID, secret, sig, windowSeconds)
    argtype(UID, 1, "validateFriendSignature", "string")
    timestamp = ts_string(timestamp, 2, "validateFriendSignature")
    argtype(friendUID, 3, "validateFriendSignature", "string")
    argtype(secret, 4, "validateFriendSignature", "string")
    if sig == nil or timestamp == nil then return false end
    argtype(sig, 5, "validateFriendSignature", "string")
    if has_nul(UID, timestamp, friendUID, secret, sig) then return false end
    return core.validate_friend(UID, timestamp, friendUID, secret, sig,
        window_arg(windowSeconds, 6, "validateFriendSignature"), os_time())
end

--- True when headerValue (X-Gigya-Sig-Hmac-Sha1) = Base64(HMAC-SHA1(secret, rawBody)).
function _M.validateWebhookSignature(rawBody, secret, headerValue)
    argtype(rawBody, 1, "validateWebhookSignature", "string")
    argtype(secret, 2, "validateWebhookSignature", "string")
    if headerValue == nil then return false end
    argtype(headerValue, 3, "validateWebhookSignature", "string")
    if has_nul(secret, headerValue) then return false end -- the body may hold any byte
    return core.validate_webhook(rawBody, secret, headerValue)
end

--- True when data (the fields the messenger's Login Widget gave: id, first_name,
-- username, photo_url, auth_date, hash...) is signed for this bot:
-- hash = hex(HMAC-SHA256(SHA256(botToken), data_check_string)), compared in
-- constant time, and auth_date at most maxAgeSeconds old (default 86400; pass
-- false to skip the freshness check). docs/connections.md; the check is the
-- core's (sz_validate_telegram_login).
function _M.validateTelegramLogin(data, botToken, maxAgeSeconds)
    argtype(data, 1, "validateTelegramLogin", "table")
    argtype(botToken, 2, "validateTelegramLogin", "string")
    local age
    if maxAgeSeconds == nil then
        age = 86400
    elseif maxAgeSeconds ~= false then
        age = window_arg(maxAgeSeconds, 3, "validateTelegramLogin")
    end
    return core.validate_telegram_login(data, botToken, age, os_time())
end

---------------------------------------------------------------------------
-- Module-level calls through a default client
---------------------------------------------------------------------------
_M.new = client.new -- docs/api.md: every config field

local Client = client.Client
local METHODS = client.METHODS
local default_client

--- Sets the default client used by socialize.publishUserAction{...} and friends.
function _M.configure(config)
    argtype(config, 1, "configure", "table")
    if default_client then default_client:close() end
    default_client = _M.new(config)
    return default_client
end

--- The default client: the configured one, or one built from GIGYA_API_KEY,
-- GIGYA_SECRET, GIGYA_USER_KEY and GIGYA_DATA_CENTER.
function _M.default()
    if not default_client then
        default_client = _M.new {
            apiKey = os_getenv("GIGYA_API_KEY"),
            secret = os_getenv("GIGYA_SECRET"),
            userKey = os_getenv("GIGYA_USER_KEY"),
            dataCenter = os_getenv("GIGYA_DATA_CENTER"),
        }
    end
    return default_client
end

function _M.call(method, params)
    return _M.default():call(method, params)
end

for _, name in ipairs(METHODS) do
    _M[name] = function(params)
        if params == _M or getmetatable(params) == Client then
            error("socialize." .. name .. " is a module function: call it with a dot, not a colon", 2)
        end
        return _M.default()[name](_M.default(), params)
    end
end

return _M
