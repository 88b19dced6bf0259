-- The main example: publish a user action for one user and print the
-- response table. Run it with the credentials of your Gigya site:
--
--   GIGYA_API_KEY=... GIGYA_SECRET=... GIGYA_DATA_CENTER=eu1 lua5.4 examples/publish.lua
--
-- `make demo` runs it against the local fake Gigya server (SOCIALIZE_URL).
local socialize = require("socialize")

local client = socialize.new {
    apiKey = os.getenv("GIGYA_API_KEY"),
    secret = os.getenv("GIGYA_SECRET"),
    dataCenter = os.getenv("GIGYA_DATA_CENTER"),
    url = os.getenv("SOCIALIZE_URL"), -- unset in production
    timeout = 10,
}

local res, err = client:publishUserAction {
    UID = os.getenv("DEMO_UID") or "user_123",
    userAction = {
        title = "I reached level 3 in Space Miners",
        linkBack = "https://game.example/levels/3",
        userMessage = "Level 3 done 🚀",
        description = "Asteroid belt cleared in 4:12",
        mediaItems = { { type = "image", src = "https://game.example/l3.png", href = "https://game.example/levels/3" } },
    },
    twitterUserAction = { title = "Level 3 in Space Miners 🚀", linkBack = "https://game.example/levels/3" },
    enabledProviders = { "facebook", "twitter", "linkedin" },
    actionAttributes = { level = "3" },
    cid = "level-complete",
}

-- Prints a Lua value as indented, key-sorted text.
local function show(v, indent)
    indent = indent or ""
    if type(v) ~= "table" then
        return type(v) == "string" and string.format("%q", v) or tostring(v)
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local out = { "{" }
    for _, k in ipairs(keys) do
        local key = type(k) == "number" and "[" .. k .. "]" or tostring(k)
        out[#out + 1] = string.format("%s  %s = %s,", indent, key, show(v[k], indent .. "  "))
    end
    out[#out + 1] = indent .. "}"
    return table.concat(out, "\n")
end

if not res then
    io.stderr:write("publishUserAction failed: ", tostring(err), "\n")
    os.exit(1)
end
print("publishUserAction response:")
print(show(res))
