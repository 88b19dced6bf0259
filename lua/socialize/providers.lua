-- Provider names accepted in enabledProviders, disabledProviders and
-- <provider>UserAction parameters, per backend.
local core = require("socialize.core")

local _M = {}

local function set(names)
    local t = {}
    for _, n in ipairs(names) do t[n] = true end
    return t
end

-- The Gigya backend: the seed documents' networks (publishUserAction REST
-- lists six; sendNotification adds one), marked `gigya` in provider_info.
_M.names = {}
for _, n in ipairs(core.provider_names()) do
    if core.provider_info(n).gigya then _M.names[#_M.names + 1] = n end
end
_M.valid = set(_M.names)

-- The direct backend: every network with an adapter in the C core.
_M.direct_names = core.provider_names()
_M.direct_valid = set(_M.direct_names)

return _M
