-- Error values: a Gigya response table with errorCode ~= 0 and a __tostring
-- such as "403003 Invalid request signature: details"; and the named error
-- codes (socialize.errors), from the core's one table of codes and messages.
local core = require("socialize.core")

local setmetatable, tostring, type, pairs, error = setmetatable, tostring, type, pairs, error
local sub, lower = string.sub, string.lower
local os_date = os.date

local _M = {}

--- The Gigya codes by name (socialize.errors): INVALID_PARAMETER = 400006,
-- MISSING_PARAMETER = 400002, ... built from core.errors(), the table the C
-- core's strerror reads. Reading a name that is not there raises (a typo
-- never compares as nil), and the table cannot be written to.
local CODES = {}
do
    local names = core.errors()
    for name, code in pairs(names) do CODES[name] = code end
    setmetatable(CODES, {
        __index = function(_, k)
            error("socialize.errors." .. tostring(k) .. " is not an error name", 2)
        end,
        __newindex = function(_, k)
            error("socialize.errors is read-only (" .. tostring(k) .. ")", 2)
        end,
    })
end
_M.codes = CODES
local E = CODES

local Error = { __name = "socialize.Error" }
Error.__index = Error

function Error.__tostring(e)
    local msg = e.errorMessage or core.strerror(e.errorCode or 0)
    local details = e.errorDetails
    if type(details) == "string" and details ~= "" and details ~= msg then
        if lower(sub(details, 1, #msg)) == lower(msg) then
            return tostring(e.errorCode) .. " " .. details
        end
        return tostring(e.errorCode) .. " " .. msg .. ": " .. details
    end
    return tostring(e.errorCode) .. " " .. msg
end

_M.Error = Error

--- Marks a response table as an error and returns it.
function _M.wrap(res)
    return setmetatable(res, Error)
end

-- Gigya's text for 500000 is "General security warning"; the library's own
-- 500000s say what happened instead.
local function local_message(code, details)
    if code == E.INTERNAL then
        if details == "out of memory" then return "Out of memory" end
        return "Internal error"
    end
    return core.strerror(code)
end

--- A locally generated error (nothing was sent, or the transport failed).
-- code: Gigya error code (a socialize.errors name); details: the message
-- naming the parameter.
function _M.new(code, details, extra)
    local status = math.floor(code / 1000)
    local e = {
        errorCode = code,
        errorMessage = local_message(code, details),
        errorDetails = details,
        statusCode = status,
        statusReason = core.http_reason(status),
        time = os_date("!%Y-%m-%dT%H:%M:%SZ"),
    }
    if extra then
        for k, v in pairs(extra) do e[k] = v end
    end
    return setmetatable(e, Error)
end

function _M.missing(name)
    return _M.new(E.MISSING_PARAMETER, "Missing required parameter: " .. name)
end

function _M.invalid(name, why)
    return _M.new(E.INVALID_PARAMETER, "Invalid parameter value: " .. name .. (why and (" " .. why) or ""))
end

--- A transport failure (kind: "timeout", "deadline", "connect", "tls",
-- "too_large", "closed", "other"): 504002 for a timeout or a passed
-- deadline, else 500026; transportKind says which.
function _M.transport(msg, kind)
    if kind == "timeout" or kind == "deadline" then
        return _M.new(E.REQUEST_TIMEOUT, "Request Timeout: " .. tostring(msg), { transportKind = kind })
    end
    return _M.new(E.NETWORK_ERROR, tostring(kind or "other") .. ": " .. tostring(msg), { transportKind = kind })
end

return _M
