-- Connecting a user's account from the command line (docs/connections.md):
-- prints the authorization URL, reads back the URL the browser landed on
-- (the redirect URI with ?code=...&state=...), finishes the connect and
-- prints the identity. The connection is sealed into the store
-- (SOCIALIZE_STORE, SOCIALIZE_STORE_KEY: docs/store.md).
--
--   lua5.4 examples/connect.lua PROVIDER [UID]
--
-- Against the local sandbox (SANDBOX_PORTS: docs/api.md, "Trying it
-- locally") the client credentials are the sandbox's; the URL can be
-- followed without a browser, e.g. curl -s -o /dev/null -w '%{redirect_url}' URL.
-- In production set each network's clientId/clientSecret from your app's settings.
local socialize = require("socialize")
local core = require("socialize.core")

local provider, UID = arg[1], arg[2] or "user_123"
local info = provider and core.provider_info(provider)
if not (info and info.connect) then
    io.stderr:write("usage: connect.lua PROVIDER [UID]; PROVIDER one of:")
    for _, n in ipairs(core.provider_names()) do
        local i = core.provider_info(n)
        if i and i.connect then io.stderr:write(" ", n) end
    end
    io.stderr:write("\n")
    os.exit(2)
end

local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
local app = {}
if type(ports) == "table" then
    app.baseUrl = ports[provider] and ("http://127.0.0.1:" .. ports[provider]) or nil
    local oc = type(ports.oauth) == "table" and ports.oauth[provider] or {}
    app.clientId, app.clientSecret = oc.clientId, oc.clientSecret
else
    app.clientId = os.getenv("CLIENT_ID")
    app.clientSecret = os.getenv("CLIENT_SECRET")
end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = type(ports) == "table", -- the sandbox runs on 127.0.0.1
    providers = { [provider] = app },
    store = { url = os.getenv("SOCIALIZE_STORE") or "sqlite:connections.db" }, -- keys: SOCIALIZE_STORE_KEY
}

local start, err = client:connect {
    UID = UID, provider = provider,
    redirectURI = os.getenv("REDIRECT_URI") or "http://127.0.0.1:8080/callback/" .. provider,
}
if not start then io.stderr:write("connect: ", tostring(err.error), ": ", tostring(err), "\n"); os.exit(1) end
io.write("Open this URL, authorize, then paste the URL you were sent back to:\n", start.url, "\n> ")
io.flush()
local back = io.read("*l")
if not back or back == "" then io.stderr:write("no callback URL read\n"); os.exit(1) end
local id, ferr = client:finishConnect(back)
if id and id.pending == "selectPage" then
    -- several pages (Facebook): list them, take the first (an app lets the user choose)
    for i, p in ipairs(id.pages) do io.write(string.format("page %d: %s (%s)\n", i, tostring(p.name), p.id)) end
    id, ferr = client:selectPage { UID = UID, provider = id.provider, pageId = id.pages[1].id }
end
-- err.error names the fault (state_unknown, access_denied, ...: docs/connections.md)
if not id then io.stderr:write("finishConnect: ", tostring(ferr.error), ": ", tostring(ferr), "\n"); os.exit(1) end
io.write(string.format("\nconnected %s: %s account %s (%s), scopes %q, token expires at %s\n",
    UID, id.provider, tostring(id.providerUID), tostring(id.nickname), tostring(id.scopes), tostring(id.expiresAt)))
