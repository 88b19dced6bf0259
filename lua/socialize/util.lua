-- Small pure-Lua helpers.
local type, error, format = type, error, string.format

local _M = {}

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

return _M
