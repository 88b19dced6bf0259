-- The benchmark's request (issue 15): a signed socialize.publishUserAction
-- with ten signed parameters (UID, userAction, cid, shortURLs from the caller;
-- apiKey, format, httpStatusCodes, nonce, sdk, timestamp from the client) and
-- a 509-byte userAction (bench/user_action.json), given as that JSON string
-- ("string") or as a Lua table of the same content ("table"), as
-- bench/ref_client.c sends it.
local core = require("socialize.core")
local root = os.getenv("SOCIALIZE_ROOT") or "."
local f = assert(io.open(root .. "/bench/user_action.json", "rb"))
local json = f:read("a")
f:close()
assert(#json == 509, "bench/user_action.json must be 509 bytes")

local M = { json = json, secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", apiKey = "3_benchApiKey" }

--- The caller's parameters for mode "string" or "table".
function M.params(mode)
    local ua = json
    if mode == "table" then ua = assert(core.json_decode(json)) end
    return { UID = "user_123", userAction = ua, cid = "bench-campaign", shortURLs = "never" }
end

return M
