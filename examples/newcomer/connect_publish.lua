-- A newcomer's first host script (plain Lua 5.4), written from the user docs only
-- (README.md, docs/connections.md, docs/store.md, docs/api.md):
-- connect a user to two networks (X and LinkedIn) with a SQLite store, the authorization
-- URL followed by the library's own HTTP client in place of a browser; list the user's
-- connections (getUserInfo identities); publish through the stored connections; disconnect one.
--
-- Against the sandbox only: SANDBOX_PORTS (its ready file), SOCIALIZE_STORE (a sqlite: URL),
-- SOCIALIZE_STORE_KEY (openssl rand -base64 32).
local socialize = require("socialize")
local core = require("socialize.core")
local curl = require("socialize.curl")

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally\")\n")
    os.exit(2)
end
local UID = os.getenv("NEWCOMER_UID") or "newcomer_user"
local NETWORKS = { "twitter", "linkedin" }

local providers = {}
for _, name in ipairs(NETWORKS) do
    providers[name] = {
        baseUrl = "http://127.0.0.1:" .. ports[name], -- the sandbox (docs/connections.md: app.baseUrl)
        clientId = ports.oauth[name].clientId,
        clientSecret = ports.oauth[name].clientSecret,
    }
end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox is on 127.0.0.1
    timeout = 10,
    providers = providers,
    store = { url = assert(os.getenv("SOCIALIZE_STORE"), "SOCIALIZE_STORE is not set") }, -- key: SOCIALIZE_STORE_KEY
}

-- the browser's part: GET the authorization URL with the library's HTTP client (a transport
-- table: docs/api.md "Transports"; no redirects followed), keep the Location it answers
local http = curl.new { timeout = 10 }
local function authorize(url)
    local res, msg, kind = http:request { method = "GET", url = url, headers = {} }
    if not res then return nil, tostring(msg) .. " (" .. tostring(kind) .. ")" end
    local location = res.headers and res.headers.location
    if res.status >= 300 and res.status < 400 and location then return location end
    return nil, "the authorization server answered " .. tostring(res.status) .. " without a redirect"
end

local failed = 0
for _, name in ipairs(NETWORKS) do
    local start, err = client:connect { UID = UID, provider = name,
                                        redirectURI = "https://game.example/callback/" .. name }
    local back, id
    if start then back, err = authorize(start.url) end
    if back then id, err = client:finishConnect(back) end
    if id then
        print(string.format("connected %-9s account %s (%s) scopes %q", name, tostring(id.providerUID),
            tostring(id.nickname), tostring(id.scopes)))
    else
        failed = failed + 1
        print(string.format("connect %-9s FAILED: %s (%s)", name, tostring(err), type(err) == "table" and tostring(err.error) or ""))
    end
end

local function identities()
    local info, err = client:getUserInfo { UID = UID }
    if not info then print("getUserInfo FAILED: " .. tostring(err)); os.exit(1) end
    print(string.format("getUserInfo: providers %q, %d identities", tostring(info.providers), #info.identities))
    for _, i in ipairs(info.identities) do
        print(string.format("  %-9s %-12s %-14s expired: %s", i.provider, tostring(i.providerUID),
            tostring(i.nickname), tostring(i.isExpiredSession)))
    end
    return info
end
identities()

local res, perr = client:publishUserAction {
    UID = UID,
    userAction = { title = "Newcomer level 1 done", linkBack = "https://game.example/l1" },
}
if not res then print("publishUserAction FAILED: " .. tostring(perr)); os.exit(1) end
for _, e in ipairs(res.providerErrorCodes) do
    print(string.format("published %-9s %s", e.provider, e.errorCode == 0
        and ("post " .. tostring(res.providerPostIDs[e.provider])) or ("error " .. tostring(e.errorCode))))
end

local rm, rerr = client:removeConnection { UID = UID, provider = "linkedin" }
if not rm then print("removeConnection FAILED: " .. tostring(rerr)); os.exit(1) end
print(string.format("disconnected linkedin: removed %d, revoked %s", rm.removed, tostring(rm.revoked and rm.revoked.linkedin)))
local after = identities()
client:store():close()
if failed > 0 or res.errorCode ~= 0 or #after.identities ~= 1 then os.exit(1) end
print("ok")
