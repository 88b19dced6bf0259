-- socialize.validateTelegramLogin: the Telegram Login Widget check
-- (core.telegram.org/widgets/login#checking-authorization). The expected
-- hashes are computed by Python's hmac/hashlib, not by the library.
local socialize = require("socialize")

local TOKEN = "123456789:AAFakeBotTokenForTestsOnly_xyz"

local function pyhash(fields, token)
    -- data_check_string: sorted "k=v" joined with "\n", hash excluded
    local keys = {}
    for k in pairs(fields) do if k ~= "hash" then keys[#keys + 1] = k end end
    table.sort(keys)
    local lines = {}
    for _, k in ipairs(keys) do lines[#lines + 1] = k .. "=" .. tostring(fields[k]) end
    local dcs = table.concat(lines, "\n")
    local dir = os.getenv("SOCIALIZE_TEST_TMP") or "/tmp"
    local path = dir .. "/tg_dcs_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e9))
    local f = assert(io.open(path, "wb")); f:write(dcs); f:close()
    local tpath = path .. ".tok"
    f = assert(io.open(tpath, "wb")); f:write(token); f:close()
    local p = assert(io.popen("python3 -c 'import hmac,hashlib,sys;"
        .. "t=open(sys.argv[2],\"rb\").read();d=open(sys.argv[1],\"rb\").read();"
        .. "print(hmac.new(hashlib.sha256(t).digest(),d,hashlib.sha256).hexdigest())' "
        .. path .. " " .. tpath))
    local h = p:read("*l"); p:close()
    os.remove(path); os.remove(tpath)
    assert(h and #h == 64, "python3 gave no hash")
    return h
end

local function signed(over)
    local d = { id = "42", first_name = "Ann", last_name = "Lee", username = "ann_lee",
                photo_url = "https://t.me/i/userpic/320/ann.jpg", auth_date = tostring(os.time() - 30) }
    for k, v in pairs(over or {}) do d[k] = v end
    d.hash = pyhash(d, TOKEN)
    return d
end

describe("validateTelegramLogin, hashes from Python #once", function()
    it("accepts data signed as Telegram does (hash computed by Python)", function()
        assert.is_true(socialize.validateTelegramLogin(signed(), TOKEN))
        -- a numeric field (a decoded JSON id) is its decimal form
        local d = signed({ id = "42" }); d.id = 42
        assert.is_true(socialize.validateTelegramLogin(d, TOKEN))
        -- upper-case hex is the same hash
        local u = signed(); u.hash = u.hash:upper()
        assert.is_true(socialize.validateTelegramLogin(u, TOKEN))
        -- UTF-8 names as they come
        assert.is_true(socialize.validateTelegramLogin(signed({ first_name = "Анна 🎉" }), TOKEN))
    end)

    it("refuses another bot's token, a changed field, an added or removed field", function()
        local d = signed()
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN .. "x"))
        local c = signed(); c.id = "43"
        assert.is_false(socialize.validateTelegramLogin(c, TOKEN))
        local a = signed(); a.is_admin = "1"
        assert.is_false(socialize.validateTelegramLogin(a, TOKEN))
        local r = signed(); r.photo_url = nil
        assert.is_false(socialize.validateTelegramLogin(r, TOKEN))
    end)

    it("refuses a missing, short or non-hex hash and a missing auth_date", function()
        local d = signed(); d.hash = nil
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        d = signed(); d.hash = d.hash:sub(1, 63)
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        d = signed(); d.hash = ("z"):rep(64)
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        d = { id = "1" }; d.hash = pyhash(d, TOKEN) -- signed, but no auth_date
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
    end)

    it("checks auth_date freshness (default one day; maxAgeSeconds; false skips it)", function()
        local old = signed({ auth_date = tostring(os.time() - 90000) })
        assert.is_false(socialize.validateTelegramLogin(old, TOKEN))
        assert.is_true(socialize.validateTelegramLogin(old, TOKEN, 100000))
        assert.is_true(socialize.validateTelegramLogin(old, TOKEN, false))
        local recent = signed({ auth_date = tostring(os.time() - 600) })
        assert.is_false(socialize.validateTelegramLogin(recent, TOKEN, 60))
        assert.is_true(socialize.validateTelegramLogin(recent, TOKEN, 3600))
        local future = signed({ auth_date = tostring(os.time() + 3600) })
        assert.is_false(socialize.validateTelegramLogin(future, TOKEN))
        local bad = signed({ auth_date = "12x" })
        assert.is_false(socialize.validateTelegramLogin(bad, TOKEN, false))
    end)

    it("refuses hostile shapes: non-string keys, table values, NUL-free ambiguity, too many fields", function()
        local d = signed(); d[1] = "x"
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        d = signed(); d.id = { 42 }
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        -- a key with '=' or a line break could forge another data_check_string
        d = signed({ ["a=b"] = "c" })
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        d = signed({ ["x\nid"] = "1" })
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN))
        local many = {}
        for i = 1, 40 do many["f" .. i] = "v" end
        many.auth_date = tostring(os.time())
        many.hash = pyhash(many, TOKEN)
        assert.is_false(socialize.validateTelegramLogin(many, TOKEN))
        assert.has_error(function() socialize.validateTelegramLogin("id=1", TOKEN) end)
        assert.has_error(function() socialize.validateTelegramLogin({}, nil) end)
    end)
end)

describe("validateTelegramLogin, a fixed vector #unit", function()
    it("matches a fixed vector (Python: hmac.new(sha256(token).digest(), dcs, sha256))", function()
        -- python3 -c 'import hmac,hashlib;print(hmac.new(hashlib.sha256(b"123456789:AAFakeBotTokenForTestsOnly_xyz").digest(),b"auth_date=1700000000\nfirst_name=Ann\nid=42",hashlib.sha256).hexdigest())'
        local d = { id = "42", first_name = "Ann", auth_date = "1700000000",
                    hash = "128fc79a0d103dc00a39a94f72ccc60ac6e449786390801a5ba91bee73f579b2" }
        assert.is_true(socialize.validateTelegramLogin(d, TOKEN, false))
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN)) -- 2023: stale by default
        d.first_name = "Anna"
        assert.is_false(socialize.validateTelegramLogin(d, TOKEN, false))
    end)
end)
