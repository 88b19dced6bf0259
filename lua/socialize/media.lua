-- Media of a UserAction (docs/media.md): the items a caller gave, what each
-- network does with them (its descriptor's `media`, from the core), the
-- fetching of http(s) sources through the call's transport under the
-- private-network guard, and what a preview shows. Names no network.
local core = require("socialize.core")
local policy = require("socialize.policy")

local type, ipairs, pairs, tostring, pcall = type, ipairs, pairs, tostring, pcall
local format, find, match, gmatch = string.format, string.find, string.match, string.gmatch
local sort = table.sort
local next = next

local _M = {}

-- Gigya's item types
-- (Flash movies play nowhere since 2020: a flash item is carried by no
-- network and reported as dropped)
local KIND = { image = "image", video = "video", flash = "flash", mp3 = "audio" }
_M.HARD_MAX = 1024 * 1024 * 1024 -- nothing larger is fetched or taken (1 GiB)
_M.MAX_REDIRECTS = 3

-- The UserAction fields whose fate a result reports, in this order.
_M.FIELDS = { "userMessage", "title", "subtitle", "description", "linkBack", "mediaItems", "actionLinks" }

local function bad(where, why) return nil, where, why end

--- The items of a UserAction (validate.lua checked the types and that they
-- do not mix): { {index, kind, src | data | file, mime?, alt?}, ... }, or
-- nil, where, why for an item that can never be sent (400006).
function _M.items(ua, cfg)
    local list = {}
    local items = type(ua) == "table" and ua.mediaItems
    if type(items) ~= "table" then return list end
    local m = cfg.media or {}
    for i = 1, #items do
        local it = items[i]
        local where = "mediaItems[" .. i .. "]"
        local alt = it.alt
        if alt == nil then alt = it.title end
        if alt ~= nil and type(alt) ~= "string" then return bad(where .. ".alt", "must be a string") end
        local e = { index = i, kind = KIND[it.type] or "image", alt = alt ~= "" and alt or nil }
        if it.data ~= nil then
            if type(it.data) ~= "string" then return bad(where .. ".data", "must be a string of bytes") end
            if #it.data == 0 then return bad(where .. ".data", "is empty") end
            if #it.data > _M.HARD_MAX then return bad(where .. ".data", "is larger than 1 GiB") end
            if it.mimeType ~= nil and type(it.mimeType) ~= "string" then
                return bad(where .. ".mimeType", "must be a string")
            end
            e.data = it.data
        elseif it.src ~= nil then
            local src = it.src
            if type(src) ~= "string" or src == "" then return bad(where .. ".src", "must be a non-empty string") end
            if find(src, "\0", 1, true) then return bad(where .. ".src", "contains a NUL byte") end
            if match(src, "^[hH][tT][tT][pP][sS]?://") then
                local ok, why = policy.check_url(src, cfg.allowPrivateNetworks)
                if not ok then
                    return bad(where .. ".src", "is refused: " .. tostring(why) .. " (private-network guard)")
                end
                e.src = src
            elseif match(src, "^%a[%w+.-]*:") and not match(src, "^file://") then
                return bad(where .. ".src", "must be an http(s) URL")
            elseif not m.allowFiles then
                return bad(where .. ".src", "must be an http(s) URL (a local file is read only when "
                    .. "config.media.allowFiles is true)")
            else
                e.file = (src:gsub("^file://", ""))
            end
        else
            return bad(where, "has no src or data")
        end
        list[#list + 1] = e
    end
    return list
end

local function present(v)
    if type(v) == "string" then return v ~= "" end
    if type(v) == "table" then return next(v) ~= nil end
    return v ~= nil
end

-- The fields a network carries: its text.compose's, the link, its `carries`;
-- and the compose groups with alternatives ("title|userMessage": only the
-- first one present is posted), each a list of fields.
local CARRIED = {}
local function carried(info)
    local c = CARRIED[info.name]
    if c then return c.fields, c.alternatives end
    local fields, alternatives = { linkBack = true }, {}
    local compose = type(info.text) == "table" and info.text.compose
    if type(compose) ~= "string" then compose = "userMessage,title" end -- none (discontinued): core.null
    for group in gmatch(match(compose, "^[^;]*"), "[^,]+") do
        local alt = {}
        for f in gmatch(group, "[%a]+") do fields[f] = true; alt[#alt + 1] = f end
        if #alt > 1 then alternatives[#alternatives + 1] = alt end
    end
    -- carries: "field" or "field:where it goes", comma-separated: carried
    -- whatever the text takes
    local elsewhere = {}
    local carries = info.carries -- none: core.null
    for entry in gmatch(type(carries) == "string" and carries or "", "[^,]+") do
        local f = match(entry, "^%s*(%a+)") or entry
        fields[f], elsewhere[f] = true, true
    end
    for _, alt in ipairs(alternatives) do
        for i = #alt, 1, -1 do if elsewhere[alt[i]] then table.remove(alt, i) end end
    end
    CARRIED[info.name] = { fields = fields, alternatives = alternatives }
    return fields, alternatives
end

-- The fields of ua a compose alternative leaves out (every present one after
-- the first present of its group), as a set.
local function passed_over(alternatives, ua)
    local out = {}
    for _, alt in ipairs(alternatives) do
        local chosen = false
        for _, f in ipairs(alt) do
            if present(ua[f]) then
                if chosen then out[f] = true end
                chosen = true
            end
        end
    end
    return out
end

-- How many items of this kind the network takes in one post.
local function room(mi, kind)
    if kind == "image" or kind == "gif" then return mi.images or 0 end
    if kind == "video" then return mi.videos or 0 end
    if kind == "audio" then return mi.audio and 10 or 0 end
    return 0
end

-- The library's own caps where a network states no byte limit: an image
-- or a video over them is refused like one over a stated limit
-- (config.media.maxBytes may set another cap for such a network).
_M.DEFAULT_MAX = { image = 20 * 1024 * 1024, video = 512 * 1024 * 1024, audio = 50 * 1024 * 1024 }

--- The byte limit of one item on this network: the descriptor's (or the
-- library's default cap when it states none), lowered by
-- config.media.maxBytes (a number, or one per network).
function _M.limit(info, kind, cfg)
    local mi = info.media or {}
    local lim, stated
    if kind == "video" then lim = mi.maxVideo or 0
    elseif kind == "gif" then lim = math.max(mi.maxImage or 0, mi.maxVideo or 0)
    elseif kind == "audio" then lim = mi.maxVideo or 0
    else lim = mi.maxImage or 0 end
    stated = lim > 0
    if not stated then lim = _M.DEFAULT_MAX[kind == "gif" and "image" or kind] or _M.DEFAULT_MAX.image end
    local mb = cfg.media and cfg.media.maxBytes
    if type(mb) == "table" then mb = mb[info.name] end
    if type(mb) == "number" and (not stated or mb < lim) then lim = mb end
    return lim
end

--- What one network does with a UserAction's items: plan = { items = {
-- item, ... } (those it carries; item.url set when the URL is sent as it
-- is), dropped = { field, ... } }, or nil and the failure's details.
function _M.plan(info, items, ua)
    local mi = info.media or {}
    local c, alternatives = carried(info)
    local over = type(ua) == "table" and passed_over(alternatives, ua) or {}
    local dropped = {}
    local kind = items[1] and items[1].kind
    local takes = kind and room(mi, kind) > 0
    for _, f in ipairs(_M.FIELDS) do
        if type(ua) == "table" and present(ua[f]) then
            if f == "mediaItems" then
                if not takes then dropped[#dropped + 1] = f end
            elseif not c[f] or over[f] then
                dropped[#dropped + 1] = f
            end
        end
    end
    local plan = { items = {}, dropped = dropped }
    if not takes then return plan end
    if #items > room(mi, kind) then
        return nil, format("mediaItems: %d %s items; %s takes at most %d in one post", #items,
            kind == "audio" and "audio" or kind, info.name, room(mi, kind))
    end
    for i, it in ipairs(items) do
        local e = { index = it.index, kind = it.kind, alt = it.alt, src = it.src, data = it.data, file = it.file }
        if it.src and mi.byUrl then
            e.url = it.src
        elseif mi.byUrl and not mi.bytes and not mi.upload then
            return nil, format("mediaItems[%d]: %s fetches media by URL only; give an http(s) src", it.index, info.name)
        end
        plan.items[i] = e
    end
    return plan
end

local function mime_ok(info, mime)
    local list = info.media and info.media.mimes
    if type(list) ~= "string" then return true end -- none (core.null): every type the library knows
    return find("," .. list .. ",", "," .. mime .. ",", 1, true) ~= nil
end

--- The bytes of one planned item become ready for this network: the
-- sniffed type checked against the kind and the network's types, the size
-- against its limit (the host's resize hook may shrink an image). Returns
-- the item's meta for the core ({index, kind, mime, size, alt, width,
-- height, url}) and the bytes, or nil and the failure's details.
function _M.ready(info, e, got, cfg)
    local where = "mediaItems[" .. e.index .. "]"
    if e.url and not got then
        return { index = e.index, kind = e.kind, alt = e.alt, url = e.url }
    end
    local bytes, s = got.bytes, got.sniff
    local kind = s.kind
    if e.kind == "image" and kind ~= "image" and kind ~= "gif" then
        return nil, format("%s: the bytes are %s, not an image", where, s.mime)
    elseif e.kind == "video" and kind ~= "video" and kind ~= "gif" then
        return nil, format("%s: the bytes are %s, not a video", where, s.mime)
    elseif e.kind == "audio" and kind ~= "audio" then
        return nil, format("%s: the bytes are %s, not audio", where, s.mime)
    end
    local mime = s.mime
    if not mime_ok(info, mime) then
        return nil, format("%s: %s does not take %s (it takes %s)", where, info.name, mime, info.media.mimes)
    end
    local lim = _M.limit(info, kind, cfg)
    if lim > 0 and #bytes > lim then
        local resize = cfg.media and cfg.media.resize
        if kind ~= "image" or type(resize) ~= "function" then
            return nil, format("%s: %d bytes; %s takes %s up to %d bytes", where, #bytes, info.name,
                kind == "image" and "images" or kind .. "s", lim)
        end
        local ok, out = pcall(resize, bytes, mime, lim)
        local s2 = ok and type(out) == "string" and core.media_sniff(out)
        if not (s2 and #out <= lim and s2.kind == "image") then
            return nil, format("%s: %d bytes; %s takes images up to %d bytes, and config.media.resize %s",
                where, #bytes, info.name, lim, ok and "did not return an image that fits" or "raised an error")
        end
        bytes, s, mime = out, s2, s2.mime
    end
    return { index = e.index, kind = kind, mime = mime, size = #bytes, alt = e.alt, width = s.width,
             height = s.height, url = e.url }, bytes
end

-- An absolute redirect target from a Location header.
local function resolve(base, loc)
    if type(loc) ~= "string" or loc == "" then return nil end
    if match(loc, "^[hH][tT][tT][pP][sS]?://") then return loc end
    local root = match(base, "^([hH][tT][tT][pP][sS]?://[^/?#]+)")
    if root and (match(loc, "^/[^/]") or loc == "/") then return root .. loc end
    return nil
end

--- Fetches every src of wanted ({ [src] = cap in bytes }) through the
-- call's transport, in parallel: { [src] = { bytes, sniff } | { err } }.
-- Redirects are followed here (each target through the guard again), at
-- most MAX_REDIRECTS; a reply over the cap, not 200, empty or of no known
-- type is an error naming why.
function _M.fetch(ctx, wanted)
    local out, pending = {}, {}
    local allow = ctx.config.allowPrivateNetworks
    for src, cap in pairs(wanted) do pending[#pending + 1] = { src = src, url = src, hops = 0, cap = cap } end
    sort(pending, function(a, b) return a.src < b.src end)
    while #pending > 0 do
        local reqs = {}
        for i, p in ipairs(pending) do
            reqs[i] = { method = "GET", url = p.url, headers = { Accept = "image/*, video/*, audio/*" },
                        timeout = ctx.config.timeout, maxBytes = p.cap, guard = not allow or nil, provider = "media" }
        end
        local outs = ctx.send(reqs)
        local nextp = {}
        for i, p in ipairs(pending) do
            local o = outs[i] or { error = "no reply", kind = "other" }
            local h = o.headers or {}
            if o.error then
                out[p.src] = { err = o.kind == "too_large" and format("is larger than %d bytes", p.cap)
                    or format("could not be fetched (%s: %s)", tostring(o.kind), tostring(o.error)) }
            elseif o.status and o.status >= 300 and o.status < 400 and h.location then
                local to = resolve(p.url, h.location)
                local ok, why
                if to then ok, why = policy.check_url(to, allow) end
                if p.hops >= _M.MAX_REDIRECTS then
                    out[p.src] = { err = format("redirects more than %d times", _M.MAX_REDIRECTS) }
                elseif not to then
                    out[p.src] = { err = "redirects to a location that is not an http(s) URL" }
                elseif not ok then
                    out[p.src] = { err = "redirects to a refused address: " .. tostring(why) .. " (private-network guard)" }
                else
                    nextp[#nextp + 1] = { src = p.src, url = to, hops = p.hops + 1, cap = p.cap }
                end
            elseif o.status ~= 200 then
                out[p.src] = { err = format("answered HTTP %s", tostring(o.status)) }
            else
                local body = o.body or ""
                local s = #body > 0 and core.media_sniff(body)
                if #body > p.cap then
                    out[p.src] = { err = format("is larger than %d bytes", p.cap) }
                elseif #body == 0 then
                    out[p.src] = { err = "is empty" }
                elseif not s then
                    out[p.src] = { err = format("is not an image, video or audio file (Content-Type %s)",
                        tostring(h["content-type"] or "none")) }
                else
                    out[p.src] = { bytes = body, sniff = s }
                end
            end
        end
        pending = nextp
    end
    return out
end

--- The bytes of a data or file item: { bytes, sniff } | { err }. A file is
-- read up to cap bytes (HARD_MAX when cap is 0): never more than one byte
-- past it, whatever size the system tells (/dev/zero, /proc files, a FIFO
-- and a growing file tell 0 or a stale size).
function _M.local_bytes(e, cap)
    local bytes = e.data
    if e.file then
        if not cap or cap <= 0 or cap > _M.HARD_MAX then cap = _M.HARD_MAX end
        -- a regular file only (a FIFO, a device, a directory, /proc refused), opened
        -- without blocking, never more than the cap read (core.read_file)
        local why
        bytes, why = core.read_file(e.file, cap)
        if not bytes then return { err = why } end
    end
    local s = core.media_sniff(bytes)
    if not s then return { err = "is not an image, video or audio file the library recognises" } end
    return { bytes = bytes, sniff = s }
end

--- The largest cap any of these networks allows for a kind (what a fetch
-- may read): HARD_MAX when one of them knows no limit.
function _M.fetch_cap(infos, kind, cfg)
    local cap = 0
    for _, info in ipairs(infos) do
        local l = _M.limit(info, kind, cfg)
        if l > cap then cap = l end
    end
    return cap > 0 and cap or _M.HARD_MAX
end

return _M
