-- A game server's main loop: socialize calls take a callback and return at
-- once; each frame the loop calls client:poll(), which sends and receives
-- what is ready and runs the callbacks of the calls that finished. The frame
-- never waits on the network.
--
-- `make test` runs it against the local sandbox (SANDBOX_PORTS).
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
local function base(n) return ports[n] and ("http://127.0.0.1:" .. ports[n]) or nil end

local client = socialize.new {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
    providers = {
        twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer-secret", baseUrl = base("twitter") },
        telegram = { botToken = "123456:sandbox-bot-token", baseUrl = base("telegram") },
        mastodon = {},
    },
    connections = function(uid)
        return {
            twitter = { token = "tw-" .. uid, tokenSecret = "tw-" .. uid .. "-secret" },
            telegram = { chatId = "-100777" },
            mastodon = { accessToken = "md-" .. uid, instance = base("mastodon") },
        }
    end,
    -- a callback that raises must not take the server down
    onError = function(msg) print("callback error reported: " .. msg) end,
}

local players = { "ada", "bob", "cy" }
local finished = 0

-- Game events queue publishes; nothing here blocks.
for i, uid in ipairs(players) do
    client:publishUserAction({ UID = uid, userAction = { title = uid .. " reached level " .. i,
        linkBack = "https://game.example/levels/" .. i } },
        function(res, err)
            finished = finished + 1
            if res then
                print(string.format("%s: posted to %d networks", uid, #res.providerErrorCodes))
            else
                print(string.format("%s: %s", uid, tostring(err)))
            end
        end)
end
client:setStatus({ UID = "dee", status = "" }, function(_, err)
    finished = finished + 1
    print("dee: " .. tostring(err)) -- 400002: refused locally, still through the callback
end)

local frame = 0
-- poll(16) waits at most one 60 Hz frame for the network, so it can double as
-- the frame's sleep. A host with its own poller (epoll, libuv) watches
-- client:fds() instead and calls poll(0) when one is ready or when
-- client:timeout() milliseconds have passed.
while client:poll(16) > 0 do
    frame = frame + 1
    -- ... simulate the world, send game state ...
    if frame > 2000 then error("the network never answered") end
end
print(string.format("%d calls finished after %d frames", finished, frame))
