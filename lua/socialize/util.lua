-- Small pure-Lua helpers.
local tonumber, type, error, floor, match, lower, format = tonumber, type, error, math.floor, string.match,
    string.lower, string.format

local _M = {}

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

-- Days since 1970-01-01 of a civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = (y >= 0 and y or y - 399) - (y >= 0 and y or y - 399) % 400
    era = era / 400
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = (153 * mp + 2 - (153 * mp + 2) % 5) / 5 + d - 1
    local doe = yoe * 365 + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100 + doy
    return era * 146097 + doe - 719468
end

--- Raises "bad argument #n to 'fname' (msg)" at the caller of the function
-- that calls it, unless cond holds.
function _M.argcheck(cond, n, fname, msg)
    if not cond then
        error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
    end
end

--- Raises "bad argument #n to 'fname' (<want> expected, got <type>)", as
-- argcheck, unless v is a want.
function _M.argtype(v, n, fname, want)
    if type(v) ~= want then
        error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, want, type(v)), 3)
    end
end

--- Parses an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into
-- Unix seconds, or nil.
function _M.parse_http_date(s)
    if type(s) ~= "string" then return nil end
    local d, mon, y, hh, mm, ss = match(s, "^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    local m = mon and MONTHS[lower(mon)]
    if not m then return nil end
    d, y, hh, mm, ss = tonumber(d), tonumber(y), tonumber(hh), tonumber(mm), tonumber(ss)
    if d < 1 or d > 31 or hh > 23 or mm > 59 or ss > 60 then return nil end
    return floor(days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss)
end

return _M
