-- A publish reading its connection from the store vs the same connection
-- given in memory (config.connections). The user is connected to every
-- network with a connect flow through the sandbox's authorization servers
-- (outside the measured part), then N publishes go out.
-- usage: SANDBOX_PORTS=... lua5.4 bench/connect_publish.lua store|memory N STORE_URL
-- Prints "<mode> <publishes per second>". bench/run runs it under callgrind
-- with two N and takes the difference: instructions per publish.
local socialize = require("socialize")
local core = require("socialize.core")
local transport = require("socialize.transport")

local mode, n, url = arg[1], tonumber(arg[2] or "100"), arg[3]
assert((mode == "store" or mode == "memory") and url, "usage: connect_publish.lua store|memory N STORE_URL")
local ports = assert(core.json_decode(os.getenv("SANDBOX_PORTS") or ""), "SANDBOX_PORTS")
local KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local UID = "bench_user"

local providers, names = {}, {}
for _, name in ipairs(core.provider_names()) do
    local info = core.provider_info(name)
    local oc = type(ports.oauth) == "table" and ports.oauth[name]
    -- (a network whose connect takes an instance to register with is left out)
    if info.connect and not info.connect.instance and ports[name] and oc then
        providers[name] = { baseUrl = "http://127.0.0.1:" .. ports[name], clientId = oc.clientId, clientSecret = oc.clientSecret }
        names[#names + 1] = name
    end
end
local cfg = { backend = "direct", allowPrivateNetworks = true, timeout = 10, providers = providers,
              store = { url = url, keys = { KEY } } }
local client = socialize.new(cfg)
local http = transport.select({ transport = "curl", timeout = 10 })
for _, name in ipairs(names) do
    local args = { UID = UID, provider = name, redirectURI = "https://game.example/cb" }
    local ci = core.provider_info(name).connect
    if ci.instance then args[ci.instance] = providers[name].baseUrl end -- a per-instance network: the sandbox's
    local start = assert(client:connect(args))
    local res = assert(http:request({ method = "GET", url = start.url, headers = {}, timeout = 10 }))
    local loc
    for k, v in pairs(res.headers) do if k:lower() == "location" then loc = v end end
    assert(client:finishConnect(assert(loc, "no redirect")))
end

if mode == "memory" then
    -- the same connections, as config.connections (docs/connections.md, "what is stored")
    local conn = {}
    for _, rec in ipairs(assert(client:store():list_connections(UID))) do
        local c = core.provider_info(rec.provider).connect
        local t = {}
        for k, v in pairs(rec.fields or {}) do if k ~= "expired" and k ~= "nickname" then t[k] = v end end
        t[c.tokenField] = rec.secrets.accessToken
        if c.accountField and rec.account and rec.account ~= "" then t[c.accountField] = rec.account end
        conn[rec.provider] = t
    end
    client:store():close()
    cfg.store, cfg.connections = nil, { [UID] = conn }
    client = socialize.new(cfg)
end

local ua = { linkBack = "https://game.example/l3" }
local t0 = core.now_ms()
for i = 1, n do
    ua.title = string.format("Level %06d done", i) -- distinct: the networks refuse duplicates
    local res, err = client:publishUserAction { UID = UID, userAction = ua }
    assert(res and res.errorCode == 0, tostring(err or (res and res.errorCode)))
end
print(string.format("%s %.0f", mode, n / math.max(core.now_ms() - t0, 1) * 1000))
