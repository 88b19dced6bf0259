-- Local validation of the socialize methods' parameters, from the seed
-- documents. Runs before anything is built or sent. Each check returns the
-- normalised parameter table, or nil and an error (400002 missing, 400006
-- invalid) whose message names the parameter.
local core = require("socialize.core")
local errors = require("socialize.errors")
local providers = require("socialize.providers")

local type, pairs, ipairs, tonumber, tostring = type, pairs, ipairs, tonumber, tostring
local concat = table.concat
local gsub, find, match, lower, sub, byte = string.gsub, string.find, string.match, string.lower, string.sub, string.byte

local missing, invalid = errors.missing, errors.invalid
local E = errors.codes

local _M = {}

local function utf8_len(s)
    local _, n = gsub(s, "[^\128-\191]", "")
    return n
end

local function trim(s)
    return (gsub(s, "^%s+", ""):gsub("%s+$", ""))
end

-- A JSON-typed parameter given as a table or a JSON string. Returns the table
-- view (for checks) or nil, err.
local function json_view(name, v, want)
    if type(v) == "table" then
        return v
    end
    if type(v) ~= "string" then
        return nil, invalid(name, "must be a table or a JSON string")
    end
    local t, msg = core.json_decode(v)
    if t == nil then
        return nil, invalid(name, "is not valid JSON (" .. tostring(msg) .. ")")
    end
    if want == "object" and (type(t) ~= "table" or not find(v, "^%s*{")) then
        return nil, invalid(name, "must be a JSON object")
    end
    if want == "array" and type(t) ~= "table" then
        return nil, invalid(name, "must be a JSON array")
    end
    return t
end

local function nonempty_string(p, name)
    local v = p[name]
    if v == nil or v == "" then
        return nil, missing(name)
    end
    if type(v) ~= "string" then
        return nil, invalid(name, "must be a string")
    end
    return true
end

-- Provider list: array or comma-separated string -> "a,b" with only known names.
function _M.provider_list(name, v, valid, names)
    valid, names = valid or providers.valid, names or providers.names
    local list = {}
    if v == "" then
        return nil, invalid(name, "is empty")
    end
    if type(v) == "string" then
        for item in (v .. ","):gmatch("([^,]*),") do list[#list + 1] = item end
    elseif type(v) == "table" then
        for i = 1, #v do list[i] = v[i] end
        for k in pairs(v) do
            if type(k) ~= "number" or k < 1 or k > #v or k % 1 ~= 0 then
                return nil, invalid(name, "must be an array of provider names")
            end
        end
    else
        return nil, invalid(name, "must be a comma-separated string or an array of provider names")
    end
    if #list == 0 then
        return nil, invalid(name, "is empty")
    end
    for i, item in ipairs(list) do
        if type(item) ~= "string" then
            return nil, invalid(name, "must hold provider names as strings")
        end
        item = lower(trim(item))
        if not valid[item] then
            return nil, invalid(name, "has an unknown provider '" .. item .. "' (valid: "
                .. concat(names, ", ") .. ")")
        end
        list[i] = item
    end
    return concat(list, ","), list
end

local PROVIDER_LISTS = { "enabledProviders", "disabledProviders" }
local UA_STRINGS = { "title", "subtitle", "description", "linkBack", "userMessage" }

local function check_common(p, opts)
    local cid = p.cid
    if cid ~= nil then
        if type(cid) ~= "string" then
            return nil, invalid("cid", "must be a string")
        end
        if #cid > 100 and utf8_len(cid) > 100 then -- never more characters than bytes
            return nil, invalid("cid", "is longer than 100 characters")
        end
    end
    for _, name in ipairs(PROVIDER_LISTS) do
        if p[name] ~= nil then
            local s, err = _M.provider_list(name, p[name], opts.valid, opts.names)
            if not s then return nil, err end
            p[name] = s
        end
    end
    local su = p.shortURLs
    if su ~= nil and su ~= "always" and su ~= "whenRequired" and su ~= "never" then
        return nil, invalid("shortURLs", "must be one of always, whenRequired, never")
    end
    if p.actionAttributes ~= nil then
        local t, err = json_view("actionAttributes", p.actionAttributes, "object")
        if not t then return nil, err end
        local n = 0
        for k, v in pairs(t) do
            if type(k) ~= "string" then
                return nil, invalid("actionAttributes", "must be an object of attribute keys")
            end
            if type(v) == "table" then
                for i = 1, #v do
                    if type(v[i]) ~= "string" then
                        return nil, invalid("actionAttributes." .. k, "must hold strings")
                    end
                end
                n = n + #v
            elseif type(v) == "string" then
                n = n + 1
            else
                return nil, invalid("actionAttributes." .. k, "must be a string or an array of strings")
            end
        end
        if n > 3 then
            return nil, invalid("actionAttributes", "has " .. n .. " values; at most three are allowed")
        end
    end
    if p.tags ~= nil and type(p.tags) == "table" then
        for i = 1, #p.tags do
            if type(p.tags[i]) ~= "string" then return nil, invalid("tags", "must hold strings") end
        end
        p.tags = concat(p.tags, ",")
    end
    return p
end

local function check_location(p)
    if p.userLocation == nil then return p end
    local t, err = json_view("userLocation", p.userLocation, "object")
    if not t then return nil, err end
    local lat, lon = t.latitude, t.longitude
    if (lat == nil) ~= (lon == nil) then
        return nil, lat == nil and missing("userLocation.latitude") or missing("userLocation.longitude")
    end
    if lat ~= nil then
        local la, lo = tonumber(lat), tonumber(lon)
        if not la or la ~= la or la < -90 or la > 90 then
            return nil, invalid("userLocation.latitude", "must be a number from -90 to 90")
        end
        if not lo or lo ~= lo or lo < -180 or lo > 180 then
            return nil, invalid("userLocation.longitude", "must be a number from -180 to 180")
        end
    end
    if t.placeID ~= nil and type(t.placeID) ~= "string" then
        return nil, invalid("userLocation.placeID", "must be a string")
    end
    return p
end

local MEDIA_TYPES = { image = true, flash = true, mp3 = true, video = true }
local user_action_plain, user_action_table = core.user_action_plain, core.user_action_table

local function check_user_action(name, v, opts)
    -- a JSON string the core's one-pass scan finds certainly well-shaped needs
    -- no Lua table; anything else gets the full check below and its message
    if type(v) == "string" and user_action_plain(v, opts and opts.direct) then return true end
    -- the same for a table: the core's raw read says yes only when it is sure
    if type(v) == "table" and user_action_table(v, opts and opts.direct) then return true end
    local ua, err = json_view(name, v, "object")
    if not ua then return nil, err end
    if next(ua) == nil then
        return nil, invalid(name, "is empty")
    end
    for _, f in ipairs(UA_STRINGS) do
        if ua[f] ~= nil and type(ua[f]) ~= "string" then
            return nil, invalid(name .. "." .. f, "must be a string")
        end
    end
    local items = ua.mediaItems
    if items ~= nil then
        if type(items) ~= "table" then
            return nil, invalid(name .. ".mediaItems", "must be an array")
        end
        local kind
        for i = 1, #items do
            local it = items[i]
            if type(it) ~= "table" then -- (the item's name is made for errors only)
                return nil, invalid(name .. ".mediaItems[" .. i .. "]", "must be an object")
            end
            if not MEDIA_TYPES[it.type] then
                return nil, invalid(name .. ".mediaItems[" .. i .. "].type", "must be image, flash, mp3 or video")
            end
            if it.data ~= nil and not (opts and opts.direct) then
                return nil, invalid(name .. ".mediaItems[" .. i .. "].data", "is bytes: Gigya's backend takes media by src URL only "
                    .. "(bytes need backend = \"direct\")")
            end
            if kind and it.type ~= kind then
                return nil, invalid(name .. ".mediaItems", "mixes media types (" .. kind .. " and "
                    .. it.type .. "); use only one type")
            end
            kind = it.type
        end
    end
    if ua.actionLinks ~= nil and type(ua.actionLinks) ~= "table" then
        return nil, invalid(name .. ".actionLinks", "must be an array")
    end
    return true
end

local function check_uid(p, opts)
    if opts and opts.auth == "oauth2" and p.UID == nil then
        return true -- OAuth2 tokens carry the user
    end
    return nonempty_string(p, "UID")
end

local function targets(p, provider)
    local enabled, disabled = p.enabledProviders, p.disabledProviders
    if disabled and find("," .. disabled .. ",", "," .. provider .. ",", 1, true) then
        return false
    end
    if enabled then
        return find("," .. enabled .. ",", "," .. provider .. ",", 1, true) ~= nil
    end
    return true
end

local checks = {}

checks["socialize.publishUserAction"] = function(p, opts)
    if p.userAction == nil or p.userAction == "" then
        return nil, missing("userAction")
    end
    local ok, err = check_user_action("userAction", p.userAction, opts)
    if not ok then return nil, err end
    for k, v in pairs(p) do
        local prov = type(k) == "string" and #k > 10 and match(k, "^(%l+)UserAction$")
        if prov then
            if not opts.valid[prov] then
                return nil, invalid(k, "names an unknown provider '" .. prov .. "'")
            end
            ok, err = check_user_action(k, v, opts)
            if not ok then return nil, err end
        end
    end
    return check_location(p)
end

checks["socialize.setStatus"] = function(p)
    local ok, err = nonempty_string(p, "status")
    if not ok then return nil, err end
    return check_location(p)
end

checks["socialize.sendNotification"] = function(p)
    local r = p.recipients
    if r == nil or r == "" then
        return nil, missing("recipients")
    end
    if type(r) == "table" then
        local list = {}
        for i = 1, #r do
            local v = r[i]
            if type(v) == "table" then v = v.UID end
            if type(v) ~= "string" or v == "" then
                return nil, invalid("recipients[" .. i .. "]", "must be a UID string or a user with a UID")
            end
            list[i] = v
        end
        if #list == 0 then return nil, missing("recipients") end
        p.recipients = concat(list, ",")
    elseif type(r) ~= "string" then
        return nil, invalid("recipients", "must be a comma-separated string or an array of UIDs")
    end
    -- one UID per comma: none empty, at most MAX_RECIPIENTS
    local list, n = {}, 0
    for item in (p.recipients .. ","):gmatch("([^,]*),") do
        n = n + 1
        if n > _M.MAX_RECIPIENTS then
            return nil, invalid("recipients", "has more than " .. _M.MAX_RECIPIENTS .. " UIDs")
        end
        item = trim(item)
        if item == "" then
            return nil, invalid("recipients", "has an empty UID at position " .. n
                .. " (give comma-separated UIDs, no empty entries)")
        end
        list[n] = item
    end
    p.recipients = concat(list, ",")
    local ok, err = nonempty_string(p, "body")
    if not ok then return nil, err end
    if find(p.body, "<%/?[%a!][^<>]*>") then
        return nil, invalid("body", "must not contain HTML tags; give links as plain URLs")
    end
    if p.subject ~= nil and type(p.subject) ~= "string" then
        return nil, invalid("subject", "must be a string")
    end
    if p.subject == nil or p.subject == "" then
        for _, prov in ipairs(core.provider_names()) do
            if core.provider_info(prov).subjectRequired and targets(p, prov) then
                -- without enabledProviders every network may be targeted, whatever the
                -- UID's connections: say so, since the caller may not have this one at all
                local why = p.enabledProviders and ("enabledProviders names " .. prov)
                    or "no enabledProviders: every network may be"
                return nil, errors.new(E.MISSING_PARAMETER, "Missing required parameter: subject (required when "
                    .. prov .. " may be targeted, and " .. why .. "; give a subject, or an enabledProviders without "
                    .. prov .. ")")
            end
        end
    end
    return p
end

checks["socialize.facebookGraphOperation"] = function(p)
    local ok, err = nonempty_string(p, "graphPath")
    if not ok then return nil, err end
    local m = p.method
    if m ~= nil and m ~= "GET" and m ~= "POST" and m ~= "DELETE" then
        return nil, invalid("method", "must be GET, POST or DELETE")
    end
    if p.graphParams ~= nil then
        local t
        t, err = json_view("graphParams", p.graphParams, "object")
        if not t then return nil, err end
    end
    local at = p.authType
    if at ~= nil and at ~= "none" and at ~= "userToken" then
        return nil, invalid("authType", "must be none or userToken")
    end
    return p
end

checks["socialize.getUserInfo"] = function(p)
    if p.includeAllIdentities ~= nil and type(p.includeAllIdentities) ~= "boolean" then
        return nil, invalid("includeAllIdentities", "must be a boolean")
    end
    if type(p.extraFields) == "table" then
        for i = 1, #p.extraFields do
            if type(p.extraFields[i]) ~= "string" then
                return nil, invalid("extraFields", "must hold field names as strings")
            end
        end
        p.extraFields = concat(p.extraFields, ",")
    end
    return p
end

checks["socialize.postBookmark"] = function(p)
    local u = p.url
    if u == nil or u == "" then return nil, missing("url") end
    if type(u) ~= "string" or not find(u, "^https?://[^%s/]+") or find(u, "%s") then
        return nil, invalid("url", "must be an http(s) URL")
    end
    for _, f in ipairs({ "title", "description", "image", "instance" }) do
        if p[f] ~= nil and type(p[f]) ~= "string" then
            return nil, invalid(f, "must be a string")
        end
    end
    local dest = p.providers or p.provider
    if dest ~= nil then
        if type(dest) == "table" then
            for i = 1, #dest do
                if type(dest[i]) ~= "string" then return nil, invalid("providers", "must hold names") end
            end
            p.providers = concat(dest, ",")
        elseif type(dest) ~= "string" or dest == "" then
            return nil, invalid("providers", "must be a comma-separated string or an array")
        end
    end
    return p
end

-- The socialize methods whose UID is required.
local NEEDS_UID = {
    ["socialize.publishUserAction"] = true, ["socialize.setStatus"] = true,
    ["socialize.sendNotification"] = true, ["socialize.facebookGraphOperation"] = true,
    ["socialize.getUserInfo"] = true, ["socialize.getFriendsInfo"] = true,
    ["socialize.checkin"] = true, ["socialize.getPlaces"] = true,
}

--- Full method name as Gigya spells it ("setStatus" -> "socialize.setStatus").
function _M.full_name(method)
    if byte(method, 1) ~= 47 and find(method, ".", 1, true) then return method end -- already full, no "/"
    local m = gsub(method, "^/", "")
    if not find(m, ".", 1, true) then
        m = "socialize." .. m
    end
    return m
end

-- Parameters sent as JSON (a table, or a JSON string checked as its table).
local JSON_PARAMS = { userAction = true, userLocation = true, graphParams = true, actionAttributes = true }
local NO_JSON = { ["function"] = true, userdata = true, thread = true }

-- The path of the first string holding a NUL byte inside t (already known
-- to encode: no cycle, bounded depth), or nil.
local function nul_path(t, path)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
        local v = t[k]
        local here = type(k) == "number" and (path .. "[" .. tostring(k) .. "]") or (path .. "." .. tostring(k))
        if type(k) == "string" and find(k, "\0", 1, true) then return path end
        if type(v) == "string" and find(v, "\0", 1, true) then return here end
        if type(v) == "table" then
            local r = nul_path(v, here)
            if r then return r end
        end
    end
    return nil
end

-- Every parameter: no NUL byte in any string (identifiers, credentials,
-- URLs, free text alike), a JSON form for every table (valid UTF-8, no
-- cycle, depth <= 64, no function/userdata/thread, no NaN/inf, no mixed
-- keys), no function/userdata/thread value. Errors name the parameter.
-- A UserAction table whose mediaItems carry bytes (data: any bytes, NUL
-- and invalid UTF-8 included, docs/media.md) is checked without them: a
-- copy with each data string replaced by "".
local function without_bytes(name, v)
    if type(v) ~= "table" or type(v.mediaItems) ~= "table" or not (name == "userAction" or match(name, "^%l+UserAction$")) then
        return v
    end
    local any = false
    for _, it in ipairs(v.mediaItems) do -- nothing to copy without bytes
        if type(it) == "table" and type(it.data) == "string" then any = true break end
    end
    if not any then return v end
    local items
    items, any = {}, false
    for i, it in ipairs(v.mediaItems) do
        if type(it) == "table" and type(it.data) == "string" then
            local c = {}
            for k, x in pairs(it) do c[k] = x end
            c.data = ""
            items[i] = c
            any = true
        else
            items[i] = it
        end
    end
    if not any or #items ~= #v.mediaItems then return v end
    local ua = {}
    for k, x in pairs(v) do ua[k] = x end
    ua.mediaItems = items
    return ua
end
_M.without_bytes = without_bytes

local function by_name(a, b) return tostring(a) < tostring(b) end

-- One parameter: true, or nil and its error.
local function check_value(p, name)
    local v = p[name]
    local sname = tostring(name)
    local tv = type(v)
    if type(name) == "string" and find(name, "\0", 1, true) then
        return nil, invalid("parameter name", "contains a NUL byte")
    end
    if NO_JSON[tv] and v ~= core.null then
        return nil, invalid(sname, "must be a string, number, boolean or table (got a " .. tv .. ")")
    elseif tv == "number" and (v ~= v or v == math.huge or v == -math.huge) then
        return nil, invalid(sname, "is NaN or infinite")
    elseif tv == "string" then
        if find(v, "\0", 1, true) then
            return nil, invalid(sname, "contains a NUL byte")
        end
        if (JSON_PARAMS[sname] or match(sname, "^%l+UserAction$")) and find(v, "\\u0000", 1, true) then
            local t = core.json_decode(v)
            local where = type(t) == "table" and nul_path(t, sname)
            if where then return nil, invalid(where, "contains a NUL byte") end
        end
    elseif tv == "table" and v ~= core.null then
        v = without_bytes(sname, v)
        -- (on success msg tells whether a table with a metatable was met)
        local ok, msg, code = core.json_encode({ [sname] = v }, nil, true)
        if not ok then
            msg = tostring(msg or "has no JSON form")
            local prefix = "Invalid parameter value: "
            if msg:sub(1, #prefix) == prefix then msg = msg:sub(#prefix + 1) end
            if msg:sub(1, #sname) ~= sname then msg = sname .. ": " .. msg end
            return nil, errors.new(type(code) == "number" and code or E.INVALID_PARAMETER, prefix .. msg)
        end
        -- the encoder writes every NUL byte (in a key or a value) as \u0000:
        -- without one, there is no NUL to name; a table with a metatable is
        -- walked all the same (its __pairs is read there, as the docs promise)
        local where = (msg or find(ok, "\\u0000", 1, true)) and nul_path(v, sname)
        if where then return nil, invalid(where, "contains a NUL byte") end
        -- the value's own JSON, as the request builder would write it (the same
        -- canonical writer), when it was encoded whole under a plain name
        if rawequal(v, p[name]) and find(sname, "^[%w_%.~%-]+$") then
            return true, sub(ok, #sname + 5, -2)
        end
    end
    return true
end

-- Every parameter; the first error in name order (a sorted pass only when
-- some parameter is bad).
local plain_params = core.plain_params

local function check_values(p)
    -- the core checks the names and the scalar values in one pass; tables
    -- (and anything it is not sure of) are checked here
    local plain, tables = plain_params(p)
    if plain and tables == 0 then return true end
    local json
    for name, v in pairs(p) do
        local ok, js = true, nil
        if not plain or type(v) == "table" then ok, js = check_value(p, name) end
        if js then
            json = json or {}
            json[name] = js
        end
        if not ok then
            local names = {}
            for k in pairs(p) do names[#names + 1] = k end
            table.sort(names, by_name)
            for _, n in ipairs(names) do
                local ok, err = check_value(p, n)
                if not ok then return nil, err end
            end
        end
    end
    return true, json
end

_M.MAX_RECIPIENTS = 1000

-- A raw copy of a table in one builtin where the VM has one (OpenResty's
-- LuaJIT: table.clone) and pairs() reads the raw contents anyway (no
-- __pairs): the same copy as the loop below without a two-iteration loop on
-- the call path, which LuaJIT cannot compile into the caller's trace (issue 15).
local clone
do
    local ok, c = pcall(require, "table.clone")
    if ok and type(c) == "function"
        and pcall(pairs, setmetatable({}, { __pairs = function() error("__pairs") end })) then
        clone = c
    end
end

local OPTS = { [true] = {}, [false] = {} } -- direct -> auth (OPTS itself for nil) -> opts
local PUBLISH, publish_plain = "socialize.publishUserAction", core.publish_plain

--- Validates and normalises a copy of params for method. Returns the copy,
-- or nil and an error. opts.auth is the client's auth mode.
function _M.check(method, params, opts)
    opts = opts or {}
    local auth, direct = opts.auth, opts.backend == "direct"
    local by_auth = OPTS[direct]
    local key = auth == nil and OPTS or auth
    opts = by_auth[key] -- read only below: one table per (auth, backend)
    if not opts then
        if direct then
            opts = { auth = auth, valid = providers.direct_valid, names = providers.direct_names, direct = true }
        else
            opts = { auth = auth, valid = providers.valid, names = providers.names }
        end
        by_auth[key] = opts
    end
    -- the usual publishUserAction (a JSON string userAction the core's scan
    -- passes, or on Gigya's backend a plain table userAction, which the copy
    -- holds as the JSON text the checks below would write; plain scalar
    -- values; nothing else to normalise): the core checks it in one pass and
    -- answers the copy; anything else, the checks below (issue 15)
    if method == PUBLISH or method == "publishUserAction" then
        local q = publish_plain(params, direct)
        if q then return q end
    end
    local p
    if clone then
        p = clone(params)
    else
        p = {}
        for k, v in pairs(params) do p[k] = v end
    end
    local full = _M.full_name(method)
    local vok, verr = check_values(p)
    if not vok then return nil, verr end
    local json = verr -- name -> the JSON text of a table parameter
    if NEEDS_UID[full] then
        local ok, err = check_uid(p, opts)
        if not ok then return nil, err end
    end
    local q, err = check_common(p, opts)
    if not q then return nil, err end
    local f = checks[full]
    if f then
        q, err = f(p, opts)
        if not q then return nil, err end
    end
    if json and not opts.direct then
        -- Gigya's backend sends a table parameter as its JSON text: the text
        -- validation already wrote stands in for the table (not encoded twice)
        for name, js in pairs(json) do
            if rawequal(q[name], params[name]) then q[name] = js end
        end
    end
    return q
end

return _M
