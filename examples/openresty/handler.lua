-- OpenResty handler: publishes a user action through socialize's direct
-- backend. Inside rewrite/access/content phases socialize uses cosockets:
-- the worker keeps serving other requests while the networks answer.
local socialize = require("socialize")
local core = require("socialize.core")

local _M = {}

-- One client per worker: it holds configuration and caches (Mastodon limits,
-- Bluesky sessions), never a socket.
local client

local function get_client()
    if client then return client end
    local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "{}") or {}
    local function base(n) return ports[n] and ("http://127.0.0.1:" .. ports[n]) or nil end
    client = socialize.new {
        backend = "direct",
        allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
        timeout = 10,
        providers = {
            twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer-secret", baseUrl = base("twitter") },
            facebook = { appSecret = "fb-app-secret", baseUrl = base("facebook") },
            telegram = { botToken = "123456:sandbox-bot-token", baseUrl = base("telegram") },
            mastodon = {},
        },
        -- in production: look the user's tokens up (ngx.shared dict, a database through cosockets...)
        connections = function(uid)
            return {
                twitter = { token = "tw-" .. uid, tokenSecret = "tw-" .. uid .. "-secret" },
                facebook = { accessToken = "fb-token-" .. uid, pageId = "1647395831" },
                telegram = { chatId = "-100777" },
                mastodon = { accessToken = "md-" .. uid, instance = base("mastodon") },
            }
        end,
    }
    return client
end

function _M.publish()
    local args = ngx.req.get_uri_args()
    local ua = { title = args.title or "Level 3 done", linkBack = "https://game.example/l3" }
    if args.image then -- fetched through cosockets too, under the private-network guard
        ua.mediaItems = { { type = "image", src = args.image, alt = "A screenshot of level 3" } }
    end
    local res, err = get_client():publishUserAction {
        UID = args.uid or "user_123",
        userAction = ua,
        enabledProviders = args.providers,
    }
    ngx.header.content_type = "application/json"
    if not res then
        ngx.status = 502
        ngx.say(core.json_encode({ errorCode = err.errorCode, error = tostring(err) }))
        return
    end
    local media = {}
    for _, e in ipairs(res.providerErrorCodes) do media[e.provider] = e.mediaIDs end
    ngx.say(core.json_encode({
        errorCode = res.errorCode,
        providerPostIDs = res.providerPostIDs,
        mediaIDs = media,
        curlLoaded = package.loaded["socialize.curl"] ~= nil,
    }))
end

-- Connecting a user's account (docs/connections.md): one client for the
-- connect routes, its providers every network with a connect flow
-- (core.provider_info(name).connect), its connections sealed into the store
-- (SOCIALIZE_STORE, key SOCIALIZE_STORE_KEY: docs/store.md). The store is
-- SQLite or PostgreSQL through its C driver: a blocking call of a few
-- hundred microseconds per lookup, outside the cosockets.
local connect_client

local function get_connect_client()
    if connect_client then return connect_client end
    local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "{}") or {}
    local clients = type(ports.oauth) == "table" and ports.oauth or {}
    local providers = {}
    for _, name in ipairs(core.provider_names()) do
        local info = core.provider_info(name)
        if info and info.connect then
            -- in production: your app's clientId/clientSecret per network, and no baseUrl
            local oc = type(clients[name]) == "table" and clients[name] or {}
            providers[name] = { clientId = oc.clientId, clientSecret = oc.clientSecret,
                                baseUrl = ports[name] and ("http://127.0.0.1:" .. ports[name]) or nil }
        end
    end
    connect_client = socialize.new {
        backend = "direct",
        allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
        timeout = 10,
        providers = providers,
        store = { url = os.getenv("SOCIALIZE_STORE") }, -- key: SOCIALIZE_STORE_KEY
    }
    return connect_client
end

local function fail(status, err)
    ngx.status = status
    ngx.header.content_type = "application/json"
    ngx.say(core.json_encode({ errorCode = err.errorCode, error = err.error, errorDetails = err.errorDetails }))
end

-- GET /connect/<provider>?uid=... : 302 to the network's authorization URL.
-- In production the UID comes from your session, never from the query.
function _M.connect(provider)
    local args = ngx.req.get_uri_args()
    local uid = args.uid
    local params = {
        UID = type(uid) == "string" and uid or "", provider = provider,
        redirectURI = ngx.var.scheme .. "://" .. ngx.var.http_host .. "/callback/" .. provider,
    }
    -- a network connected per server (Mastodon: the user's instance) names the
    -- parameter it needs (provider_info: connect.instance); the user gives it
    local info = core.provider_info(provider)
    local param = type(info) == "table" and type(info.connect) == "table" and info.connect.instance
    if type(param) == "string" and type(args[param]) == "string" then params[param] = args[param] end
    local start, err = get_connect_client():connect(params)
    if not start then return fail(400, err) end
    return ngx.redirect(start.url, 302)
end

-- GET /callback/<provider>?code=...&state=... (or ?error=...): finishes the
-- connect and shows the identity. The state names the user and the network
-- (and the redirect URI, which the token request repeats): the path's
-- provider only makes each network's redirect URI its own.
function _M.callback()
    local client = get_connect_client()
    local id, err = client:finishConnect(ngx.var.args or "")
    if id and id.pending == "selectPage" then
        -- the user manages several pages (Facebook): a real app shows id.pages
        -- and calls client:selectPage with the one chosen; this example takes the first
        id, err = client:selectPage { UID = id.UID, provider = id.provider, pageId = id.pages[1].id }
    end
    if not id then return fail(400, err) end
    ngx.header.content_type = "application/json"
    ngx.say(core.json_encode({ errorCode = 0, provider = id.provider, providerUID = id.providerUID,
                               nickname = id.nickname, scopes = id.scopes, expiresAt = id.expiresAt }))
end

function _M.from_header_filter()
    local _, err = get_client():publishUserAction { UID = "u", userAction = { title = "t" } }
    ngx.header["X-Socialize-Error"] = err and tostring(err) or "none"
end

return _M
