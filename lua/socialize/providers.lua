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
-- lists the first six; sendNotification adds yahoo).
_M.names = { "facebook", "twitter", "linkedin", "vkontakte", "renren", "sina", "yahoo" }
_M.valid = set(_M.names)

-- The direct backend: every network with an adapter in the C core.
_M.direct_names = core.provider_names()
_M.direct_valid = set(_M.direct_names)

return _M
