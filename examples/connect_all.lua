-- `make demo`, part 3: a user connects every network whose
-- core.provider_info(name).connect says it can (a network added later joins
-- by itself), the authorization redirect followed with the library's own
-- HTTP client in place of a browser; then one publishUserAction goes out
-- through the stored connections (config.store, no config.connections).
--
-- SANDBOX_PORTS: the sandbox's ports (its "oauth" entry: the client each
-- authorization server knows); SOCIALIZE_STORE: the store's URL;
-- SOCIALIZE_STORE_KEY: its key (docs/store.md).
local socialize = require("socialize")
local core = require("socialize.core")

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally\")\n")
    os.exit(2)
end
local UID = "demo_connect_user"

local names, providers = {}, {}
for _, name in ipairs(core.provider_names()) do
    local info = core.provider_info(name)
    local oc = type(ports.oauth) == "table" and ports.oauth[name]
    if info and info.connect and ports[name] and type(oc) == "table" then
        local demo = type(ports.demo) == "table" and type(ports.demo[name]) == "table" and ports.demo[name].provider
        local app = {}
        for k, v in pairs(type(demo) == "table" and demo or {}) do app[k] = v end
        app.baseUrl = app.baseUrl or ("http://127.0.0.1:" .. ports[name])
        app.clientId, app.clientSecret = oc.clientId, oc.clientSecret
        providers[name] = app
        names[#names + 1] = name
    end
end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
    timeout = 10,
    providers = providers,
    store = { url = assert(os.getenv("SOCIALIZE_STORE"), "SOCIALIZE_STORE is not set") }, -- key: SOCIALIZE_STORE_KEY
}

-- the browser's part: one GET of the authorization URL, the Location it answers with
local http = require("socialize.curl").new { timeout = 10 } -- the library's HTTP client (docs/api.md)
local function authorize(url)
    local res, err = http:request({ method = "GET", url = url, headers = {}, timeout = 10 })
    if not res then return nil, tostring(err) end
    for k, v in pairs(res.headers or {}) do
        if k:lower() == "location" and res.status >= 300 and res.status < 400 then return v end
    end
    return nil, "the authorization server answered " .. tostring(res.status) .. " without a redirect"
end

local failed = 0
print("connecting " .. UID .. " to " .. #names .. " networks (" .. table.concat(names, ", ") .. ")")
for _, name in ipairs(names) do
    -- a network whose connect is per server (provider_info: connect.instance = the
    -- param naming it) is told which one: here the sandbox's
    local cinfo = core.provider_info(name).connect
    local params = { UID = UID, provider = name, redirectURI = "https://game.example/callback/" .. name }
    if type(cinfo) == "table" and type(cinfo.instance) == "string" then
        params[cinfo.instance] = "http://127.0.0.1:" .. ports[name]
    end
    local start, err = client:connect(params)
    local back, id
    if start then back, err = authorize(start.url) end
    if back then id, err = client:finishConnect(back) end
    if id and id.pending == "selectPage" then -- several pages (Facebook): the demo takes the first
        id, err = client:selectPage { UID = UID, provider = name, pageId = id.pages[1].id }
    end
    if id then
        print(string.format("  %-10s connected: account %s (%s), scopes %q", name, tostring(id.providerUID),
            tostring(id.nickname), tostring(id.scopes)))
    else
        failed = failed + 1
        print(string.format("  %-10s FAILED: %s", name, tostring(err)))
    end
end

local info, ierr = client:getUserInfo { UID = UID }
if not info then print("getUserInfo FAILED: " .. tostring(ierr)); os.exit(1) end
print("getUserInfo: " .. #info.identities .. " identities in the store")
for _, i in ipairs(info.identities) do
    print(string.format("  %-10s %-14s %-22s expired: %s", i.provider, tostring(i.providerUID), tostring(i.nickname),
        tostring(i.isExpiredSession)))
end

local res, perr = client:publishUserAction {
    UID = UID,
    userAction = { title = "Connected and published", linkBack = "https://game.example/connected" },
    rip = "203.0.113.7", -- the player's IP address (Gigya's rip; Weibo requires it)
}
if not res then print("publishUserAction FAILED: " .. tostring(perr)); os.exit(1) end
print("publishUserAction through the stored connections: errorCode " .. res.errorCode)
for _, e in ipairs(res.providerErrorCodes) do
    local post = res.providerPostIDs and res.providerPostIDs[e.provider]
    print(string.format("  %-10s %s", e.provider, e.errorCode == 0 and ("post " .. tostring(post))
        or ("error " .. tostring(e.errorCode) .. " " .. tostring(e.errorMessage or e.errorDetails))))
end
client:store():close()
if failed > 0 or res.errorCode ~= 0 then os.exit(1) end
