-- Error values: a Gigya response table with errorCode ~= 0 and a __tostring
-- such as "403003 Invalid request signature: details".
local core = require("socialize.core")

local setmetatable, tostring, type, sub, lower = setmetatable, tostring, type, string.sub, string.lower
local os_date = os.date

local _M = {}

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

function _M.is_error(v)
    return getmetatable(v) == Error
end

--- Marks a response table as an error and returns it.
function _M.wrap(res)
    return setmetatable(res, Error)
end

-- Gigya's text for 500000 is "General security warning"; the library's own
-- 500000s say what happened instead.
local function local_message(code, details)
    if code == 500000 then
        if details == "out of memory" then return "Out of memory" end
        return "Internal error"
    end
    return core.strerror(code)
end

--- A locally generated error (nothing was sent, or the transport failed).
-- code: Gigya error code; details: the message naming the parameter.
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
    return _M.new(400002, "Missing required parameter: " .. name)
end

function _M.invalid(name, why)
    return _M.new(400006, "Invalid parameter value: " .. name .. (why and (" " .. why) or ""))
end

return _M
