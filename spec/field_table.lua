-- docs/api.md's "UserAction fields by network" table, rendered from the
-- network descriptors (core.provider_info: text.compose, carries, media),
-- so that the table cannot drift: spec/docs_table_spec.lua checks the doc
-- holds exactly this; `lua5.4 spec/field_table.lua` prints it.
local core = require("socialize.core")

local M = {}

local ROWS = { "userMessage", "title", "subtitle", "description", "linkBack", "actionLinks",
               "mediaItems: image", "mediaItems: video", "mediaItems: mp3" }

-- f[field] = true, or the alternatives before it in its group ("title|userMessage":
-- userMessage is posted only without a title)
local function compose_fields(spec)
    local f, link = {}, nil
    local head, tail = spec:match("^([^;]*);?(.*)$")
    for group in head:gmatch("[^,]+") do
        local before = {}
        for name in group:gmatch("%a+") do
            f[name] = #before > 0 and table.concat(before, "` or `") or true
            before[#before + 1] = name
        end
    end
    if tail ~= "" then link = tail:match("^([%w_.]+)=linkBack$") or "text" end
    return f, link
end

local function carries(info)
    local c = {}
    for entry in (info.carries or ""):gmatch("[^,]+") do
        local field, where = entry:match("^%s*(%a+)%s*:%s*(.-)%s*$")
        if field then c[field] = where else c[entry:match("^%s*(.-)%s*$")] = "carried" end
    end
    return c
end

local function media_cell(info, kind)
    local m = info.media or {}
    local n = kind == "image" and (m.images or 0) or kind == "video" and (m.videos or 0) or (m.audio and 1 or 0)
    if n == 0 then return "dropped" end
    local how = m.upload and "upload" or m.byUrl and "by URL" or "in the post"
    if m.byUrl and m.upload then how = "upload (URLs sent as is)" end
    if m.byUrl and not m.upload and m.bytes then how = "by URL or bytes in the post" end
    local max = kind == "image" and m.maxImage or kind == "video" and m.maxVideo or 0
    local cell = (kind == "mp3" and "yes" or ("up to " .. n)) .. ", " .. how
    if (max or 0) > 0 then
        cell = cell .. string.format(", %s", max >= 1048576 and string.format("%g MB", max / 1048576)
            or string.format("%d bytes", max))
    end
    if kind == "image" and m.alt then cell = cell .. ", alt" end
    return cell
end

--- The cell of one field on one network.
function M.cell(info, field)
    local kind = field:match("^mediaItems: (%w+)$")
    if kind then return media_cell(info, kind) end
    local f, link = compose_fields(info.text and info.text.compose or "userMessage,title;linkBack")
    local c = carries(info)
    if c[field] then return c[field] end
    if field == "linkBack" then
        if link == "text" then return "text" end
        if link then return "`" .. link .. "`" end
        return "dropped"
    end
    if f[field] == true then return "text" end
    if f[field] then return "text, if no `" .. f[field] .. "`" end
    return "dropped"
end

--- The Markdown table.
function M.render()
    local nets = {}
    for _, n in ipairs(core.provider_names()) do
        local info = core.provider_info(n)
        if not info.discontinued then nets[#nets + 1] = info end
    end
    local out = {}
    local head = { "| field |" }
    local rule = { "|---|" }
    for _, info in ipairs(nets) do
        head[#head + 1] = " " .. info.name .. " |"
        rule[#rule + 1] = "---|"
    end
    out[1] = table.concat(head)
    out[2] = table.concat(rule)
    for _, field in ipairs(ROWS) do
        local row = { "| `" .. field:gsub(": ", "` ") .. (field:find(":") and "" or "`") .. " |" }
        for _, info in ipairs(nets) do row[#row + 1] = " " .. M.cell(info, field) .. " |" end
        out[#out + 1] = table.concat(row)
    end
    return table.concat(out, "\n") .. "\n"
end

--- Rewrites the table between the markers of the doc at path.
function M.write(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    local _, b = s:find("<!-- field-table:begin -->\n", 1, true)
    local c = b and s:find("<!-- field-table:end -->", b, true)
    assert(b and c, path .. ": the field-table markers are missing")
    s = s:sub(1, b) .. M.render() .. s:sub(c)
    f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
end

if arg and arg[0] and arg[0]:find("field_table%.lua$") then
    if arg[1] == "--write" then
        M.write(arg[2])
        print(arg[2] .. ": field table rendered")
    else
        io.write(M.render())
    end
end

return M
