-- docs/api.md's network table (Direct delivery) is checked against the
-- network descriptors (core.provider_info), so the docs cannot drift: one row
-- per registered network, discontinued rows for discontinued networks, every
-- stated text limit, URL weight and pinned version equal to the descriptor's,
-- every credential field of the descriptor documented, and every field the
-- row names either declared by the descriptor or read by the network's file.
local core = require("socialize.core")

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- A Markdown row's cells; `\|` is a pipe inside a cell, not a separator.
local function cells(line)
    local out = {}
    line = line:gsub("\\|", "\1")
    for c in line:gmatch("|([^|]*)") do out[#out + 1] = (c:gsub("\1", "|")) end
    out[#out] = nil -- after the last |
    return out
end

local function ticks(s)
    local out = {}
    for t in s:gmatch("`([^`]*)`") do out[#out + 1] = t end
    return out
end

local function is_field(t) return t:match("^[a-z][A-Za-z]*$") ~= nil end

--- The rows of the table whose header starts "| network | call |".
local function table_rows(md)
    local rows, inside = {}, false
    for line in (md .. "\n"):gmatch("([^\n]*)\n") do
        if line:find("^| network | call |") then
            inside = true
        elseif inside and line:find("^|") then
            if not line:find("^|%-%-%-") then rows[#rows + 1] = cells(line) end
        elseif inside then
            break
        end
    end
    return rows
end

--- Every disagreement between the table and the descriptors (empty: none).
local function problems(md, source_of)
    local bad, seen = {}, {}
    local function say(...) bad[#bad + 1] = table.concat({ ... }) end
    local rows = table_rows(md)
    if #rows == 0 then say("no network table") end
    for _, row in ipairs(rows) do
        local names = ticks(row[1] or "")
        local call, app, conn = row[2] or "", row[3] or "", row[4] or ""
        for _, n in ipairs(names) do
            local info = core.provider_info(n)
            if not info then
                say("row for `", n, "`: no such network")
            else
                if seen[n] then say("`", n, "` has two rows") end
                seen[n] = true
                local dead = call:find("discontinued") ~= nil
                if dead ~= (info.discontinued == true) then
                    say("`", n, "`: the row says ", dead and "" or "not ", "discontinued")
                end
                for num in call:gmatch("(%d+) weighted") do
                    if tonumber(num) ~= info.text.max then say("`", n, "`: limit ", num, " is ", info.text.max) end
                end
                for num in call:gmatch("(%d+) characters") do
                    if tonumber(num) ~= info.text.max then say("`", n, "`: limit ", num, " is ", info.text.max) end
                end
                for num in call:gmatch("URL = (%d+)") do
                    if tonumber(num) ~= info.text.urlWeight then
                        say("`", n, "`: URL weight ", num, " is ", tostring(info.text.urlWeight))
                    end
                end
                local v = app:match("`version` %(`([^`]*)`%)")
                if v and v ~= info.version then say("`", n, "`: version ", v, " is ", tostring(info.version)) end
                -- the fields the row names: declared by the descriptor, or read by its file
                local declared = {}
                for _, list in ipairs { info.authFields, info.accountFields, info.secretFields, info.appKeyFields } do
                    for _, f in ipairs(list or {}) do declared[f] = true end
                end
                if info.urlField then declared[info.urlField] = true end
                if info.recipientField then declared[info.recipientField] = true end
                declared.version = info.version ~= nil -- a pinned version the config may override
                local named = {}
                for _, col in ipairs { app, conn } do
                    for _, t in ipairs(ticks(col)) do
                        if is_field(t) then
                            named[t] = true
                            if not declared[t] and not (source_of(n) or ""):find('"' .. t .. '"', 1, true) then
                                say("`", n, "`: the row names `", t, "`, which the network neither declares nor reads")
                            end
                        end
                    end
                end
                for _, f in ipairs(info.authFields or {}) do
                    if not named[f] then say("`", n, "`: credential field `", f, "` is not documented") end
                end
            end
        end
    end
    for _, n in ipairs(core.provider_names()) do
        if not seen[n] then say("`", n, "` has no row") end
    end
    return bad
end

local function source_of(n)
    local f = io.open("csrc/core/net/" .. n .. ".c", "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

describe("docs/api.md network table", function()
    local md = read("docs/api.md")

    it("agrees with every network descriptor", function()
        local bad = problems(md, source_of)
        assert.are.same({}, bad)
    end)

    it("has a row for every registered network, Threads included", function()
        local names = {}
        for _, row in ipairs(table_rows(md)) do
            for _, n in ipairs(ticks(row[1])) do names[n] = true end
        end
        assert.is_true(names.threads == true)
        for _, n in ipairs(core.provider_names()) do assert.is_true(names[n] == true, n) end
    end)

    -- the check itself: a wrong row is found
    local function with(from, to)
        local s, k = md:gsub(from, to, 1)
        assert.are.equal(1, k, from)
        return problems(s, source_of)
    end

    it("finds a wrong limit", function()
        local bad = with("280 weighted", "281 weighted")
        assert.are.equal(1, #bad)
        assert.matches("limit 281 is 280", bad[1], 1, true)
    end)

    it("finds a wrong pinned version", function()
        local bad = with("`version` %(`v26.0`%)", "`version` (`v25.0`)")
        assert.are.equal(1, #bad)
        assert.matches("version v25.0 is v26.0", bad[1], 1, true)
    end)

    it("finds a field no network has, and an undocumented credential", function()
        local bad = with("`botToken` |", "`botKey` |")
        assert.are.equal(2, #bad)
        assert.matches("names `botKey`", table.concat(bad, "\n"), 1, true)
        assert.matches("`botToken` is not documented", table.concat(bad, "\n"), 1, true)
    end)

    it("finds a missing row and a row for no network", function()
        local bad = with("| `telegram` |", "| `telegrom` |")
        local all = table.concat(bad, "\n")
        assert.matches("`telegrom`: no such network", all, 1, true)
        assert.matches("`telegram` has no row", all, 1, true)
    end)
end)

describe("docs/api.md UserAction fields by network #unit", function()
    it("is the table the descriptors render (spec/field_table.lua), one column per live network", function()
        local md = read("docs/api.md")
        local body = md:match("<!%-%- field%-table:begin %-%->\n(.-)<!%-%- field%-table:end %-%->")
        assert.is_not_nil(body, "the field table's markers are missing")
        local want = require("spec.field_table").render()
        assert.are.equal(want, body, "docs/api.md's field table is stale: run `make docs-tables`")
        local live = 0
        for _, n in ipairs(core.provider_names()) do
            if not core.provider_info(n).discontinued then
                live = live + 1
                assert.truthy(body:find("| " .. n .. " |", 1, true) or body:find(" " .. n .. " |", 1, true), n)
            end
        end
        assert.is_true(live >= 9)
    end)
end)

describe("README #unit", function()
    it("starts with exactly the two commands: make demo, make test", function()
        local md = read("README.md")
        local block = md:match("^```sh\n(.-)```")
        assert.is_not_nil(block, "README.md does not start with a sh block")
        local cmds = {}
        for line in block:gmatch("[^\n]+") do cmds[#cmds + 1] = line:match("^(make %a+)") end
        assert.are.same({ "make demo", "make test" }, cmds)
    end)
end)
