-- Direct delivery: socialize calls the networks itself, all in parallel,
-- and answers in Gigya's response model.
--
-- `make demo` runs it against the local sandbox of the networks: SANDBOX_PORTS
-- holds the sandbox's ports as JSON (docs/api.md, "Trying it locally: the sandbox").
-- In production, leave baseUrl out.
local socialize = require("socialize")
local core = require("socialize.core")

-- The credentials below are the sandbox's: without it, stop rather than send
-- them to the real networks (docs/api.md, "Trying it locally").
local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "")
if type(ports) ~= "table" then
    io.stderr:write("SANDBOX_PORTS is not set: start the sandbox first (docs/api.md, \"Trying it locally: the sandbox\"):\n",
        "  python3 spec/fakes/sandbox.py --ready /tmp/sandbox.json --lifetime 300 &\n",
        "  SANDBOX_PORTS=$(cat /tmp/sandbox.json) LUA_PATH='lua/?.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 ", arg and arg[0] or "examples/direct.lua", "\n")
    os.exit(2)
end
local function base(network)
    return ports[network] and ("http://127.0.0.1:" .. ports[network]) or nil
end

local providers = {
    twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer-secret", baseUrl = base("twitter") },
    facebook = { appSecret = "fb-app-secret", baseUrl = base("facebook") },
    linkedin = { baseUrl = base("linkedin") },
    vkontakte = { baseUrl = base("vkontakte") },
    mastodon = {},
    bluesky = { baseUrl = base("bluesky") },
    telegram = { botToken = "123456:sandbox-bot-token", baseUrl = base("telegram") },
}
-- in production: a function(UID) reading your token store
local user_connections = {
    twitter = { token = "tw-user", tokenSecret = "tw-user-secret" },
    facebook = { accessToken = "fb-expired-page-token", pageId = "1647395831" }, -- the user's token expired
    linkedin = { accessToken = "li-token", personId = "abc123" },
    vkontakte = { accessToken = "vk-token", userId = 1001 },
    mastodon = { accessToken = "md-token", instance = base("mastodon") },
    bluesky = { identifier = "demo.bsky.social", appPassword = "app-pass-1234" },
    telegram = { chatId = "-100777" },
}
-- any other network of the library (core.provider_names) that the sandbox
-- offers a demo account for: a network added later joins by itself
for _, name in ipairs(core.provider_names()) do
    local demo = type(ports.demo) == "table" and ports.demo[name]
    if type(demo) == "table" and providers[name] == nil then
        providers[name], user_connections[name] = demo.provider, demo.connection
    end
end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
    providers = providers,
    connections = { user_123 = user_connections },
}

-- the player's screenshot: here served by the sandbox's media host; in
-- production your CDN's URL (fetched under the private-network guard), or
-- the bytes themselves: { type = "image", data = png_bytes, mimeType = "image/png" }
local screenshot = base("media") and (base("media") .. "/img/640x360.png") or nil

local res, err = client:publishUserAction {
    UID = "user_123",
    userAction = {
        title = "I reached level 3 in Space Miners",
        linkBack = "https://game.example/levels/3",
        userMessage = "Level 3 done 🚀",
        description = "Asteroid belt cleared in 4:12",
        mediaItems = screenshot and { { type = "image", src = screenshot, alt = "The asteroid belt, cleared" } } or nil,
    },
    twitterUserAction = { title = "Level 3 in Space Miners 🚀", linkBack = "https://game.example/levels/3",
                          mediaItems = screenshot and { { type = "image", src = screenshot, alt = "The asteroid belt, cleared" } } or nil },
}

if not res then
    io.stderr:write("publishUserAction failed: ", tostring(err), "\n")
    os.exit(1)
end
print(string.format("errorCode %d, callId %s", res.errorCode, res.callId))
print("providerPostIDs:")
local names = {}
for k in pairs(res.providerPostIDs) do names[#names + 1] = k end
table.sort(names)
for _, k in ipairs(names) do print(string.format("  %-10s %s", k, res.providerPostIDs[k])) end
print("providerErrorCodes (in the order asked):")
for _, e in ipairs(res.providerErrorCodes) do
    print(string.format("  %-10s %6d %-28s %s", e.provider, e.errorCode, e.category or e.errorMessage,
        e.errorDetails or ""))
end
print("media and the UserAction, per network:")
for _, e in ipairs(res.providerErrorCodes) do
    if e.errorCode == 0 then
        print(string.format("  %-10s mediaIDs %-40s dropped %s%s", e.provider,
            e.mediaIDs and table.concat(e.mediaIDs, ",") or "- (none, or sent by URL)",
            e.dropped and table.concat(e.dropped, ",") or "-", e.truncated and "  (text cut to fit)" or ""))
    end
end
