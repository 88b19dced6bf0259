-- Provider names accepted in enabledProviders, disabledProviders and
-- <provider>UserAction parameters.
local _M = {}

-- The seed documents' networks (publishUserAction REST lists the first six;
-- sendNotification adds yahoo).
_M.names = { "facebook", "twitter", "linkedin", "vkontakte", "renren", "sina", "yahoo" }

_M.valid = {}
for _, n in ipairs(_M.names) do _M.valid[n] = true end

return _M
