-- Media memory benchmark: the peak resident memory of one process that
-- publishes a 50 MB video through a network's chunked upload, against the
-- sandbox (docs/media.md). Run once per mode, each in a fresh process:
--   lua5.4 bench/media_memory.lua src    the library fetches the video by URL
--   lua5.4 bench/media_memory.lua data   the caller gives the bytes (mediaItems[1].data)
-- Prints one line: mode, file MB, baseline MB, peak MB, (peak - baseline) / file.
local H = dofile("spec/helper.lua")
local socialize = require("socialize")
local core = require("socialize.core")

local MODE = arg[1] or "src"
local SIZE = tonumber(os.getenv("MEDIA_BYTES") or "") or 50 * 1024 * 1024

local function status_kb(field)
    local f = assert(io.open("/proc/self/status"))
    local s = f:read("*a")
    f:close()
    return tonumber(s:match(field .. ":%s*(%d+) kB"))
end

-- the network that uploads video in chunks (its descriptor says so)
local net
for _, n in ipairs(core.provider_names()) do
    local m = core.provider_info(n).media or {}
    if (m.chunk or 0) > 0 and (m.videos or 0) > 0 and m.upload then net = n break end
end
if not net then
    print("media memory: no network uploads video in chunks yet")
    os.exit(0)
end

local sb = H.start_sandbox()
local providers = H.sandbox_providers(sb)
local conns = { u1 = { [net] = H.sandbox_connection(sb)[net] } }
local c = socialize.new { backend = "direct", allowPrivateNetworks = true, providers = providers, connections = conns,
                          timeout = 120 }
local src = sb.url("media") .. "/video.mp4?bytes=" .. SIZE
local item = { type = "video", src = src }
if MODE == "data" then
    local http = require("socialize.curl").new { timeout = 120, maxReplyBytes = SIZE + 1 }
    local res = assert(http:request { method = "GET", url = src })
    item = { type = "video", data = res.body, mimeType = "video/mp4" }
    res = nil
    http:close()
    collectgarbage("collect")
end
collectgarbage("collect")
-- the peak so far (the bench's own download in "data" mode) is not the call's:
-- writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+)
local cr = io.open("/proc/self/clear_refs", "w")
if cr then cr:write("5") cr:close() end
local base = status_kb("VmRSS")
local res, err = c:publishUserAction { UID = "u1", userAction = { title = "A 50 MB video", mediaItems = { item } } }
local peak = status_kb("VmHWM")
H.stop_all()
if not res then
    print("media memory: " .. net .. ": " .. tostring(err))
    os.exit(1)
end
local e = res.providerErrorCodes[1]
local mb = SIZE / 1048576
print(string.format("media memory %s %s: file %.1f MB, baseline %.1f MB, peak %.1f MB, extra %.2f x the file (mediaIDs %s)",
    MODE, net, mb, base / 1024, peak / 1024, (peak - base) / 1024 / mb, table.concat(e.mediaIDs or {}, ",")))
