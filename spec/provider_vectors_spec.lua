-- Per-network request/reply vectors (spec/vectors/providers/<network>.json),
-- walked through core.provider_request / core.provider_parse. The same files
-- drive the C tests (csrc/test/test_net.c, test_provider_vectors).
-- A request vector's `expect` is the request byte for byte (method, URL, the
-- exact header set, body: absent = no body), or `expect_result` the refusal
-- (spec/vectors/gen_providers.py derives them); a reply vector's
-- `expect` lists keys the result must have (JSON null: the key is absent;
-- detailsPrefix: errorDetails starts with it).
local core = require("socialize.core")

local DIR = "spec/vectors/providers"

local function files()
    local out = {}
    local p = assert(io.popen("ls " .. DIR .. "/*.json"))
    for f in p:lines() do out[#out + 1] = f end
    p:close()
    return out
end

local function load(f)
    local h = assert(io.open(f, "rb"))
    local s = h:read("*a")
    h:close()
    return assert(core.json_decode(s), f .. " is not JSON")
end

local function is_null(v) return v == nil or v == core.null or (type(v) == "userdata") end

local function check(expect, got, what)
    for k, want in pairs(expect) do
        if k == "detailsPrefix" then
            assert.is_string(got.errorDetails, what)
            assert.are.equal(want, got.errorDetails:sub(1, #want), what .. ": " .. tostring(got.errorDetails))
        elseif is_null(want) then
            assert.is_nil(got[k], what .. ": " .. k .. " must be absent")
        else
            assert.are.same(want, got[k], what .. ": " .. k)
        end
    end
end

local FILES = files()

describe("provider vectors #unit", function()
    it("there is one file per registered network that is not discontinued, named after it", function()
        local have = {}
        for _, f in ipairs(FILES) do
            local v = load(f)
            assert.are.equal(f:match("([^/]+)%.json$"), v.network, f)
            have[v.network] = true
            assert.is_table(core.provider_info(v.network), f .. " names no registered network")
        end
        for _, n in ipairs(core.provider_names()) do
            if not core.provider_info(n).discontinued then assert.is_true(have[n] == true, n) end
        end
    end)

    it("every live network has at least four documented replies", function()
        for _, f in ipairs(FILES) do
            local v = load(f)
            local errors = 0
            for _, r in ipairs(v.replies or {}) do
                if r.expect.ok == false then errors = errors + 1 end
            end
            assert.is_true(errors >= 4, f)
        end
    end)

    for _, f in ipairs(FILES) do
        local v = load(f)
        local ts, nonce, now = v.timestamp or 1700000000, v.nonce or "n1", v.now or 1700000000
        for i, c in ipairs(v.requests or {}) do
            it(v.network .. " request #" .. i .. ": " .. c.name, function()
                local req, msg, _, res = core.provider_request(v.network, c.action, c.input or {}, c.app or {}, c.user or {},
                    ts, nonce, c.setup)
                if c.expect then
                    assert.is_table(req, c.name .. ": " .. tostring(msg))
                    assert.are.equal(c.expect.method, req.method)
                    assert.are.equal(c.expect.url, req.url)
                    assert.are.same(c.expect.headers, req.headers)
                    assert.are.equal(c.expect.body, req.body)
                else
                    assert.is_nil(req, c.name .. ": built " .. tostring(req and req.url))
                    assert.is_table(res, c.name)
                    assert.is_table(c.expect_result, c.name .. ": no expect or expect_result")
                    assert.is_not_nil(next(c.expect_result), c.name .. ": an empty expect_result")
                    check(c.expect_result, res, c.name)
                end
            end)
        end
        for i, c in ipairs(v.replies or {}) do
            it(v.network .. " reply #" .. i .. ": " .. c.name, function()
                local r = core.provider_parse(v.network, c.action, c.input or {}, c.app or {}, c.user or {},
                    c.status, c.headers or {}, c.body, c.now or now)
                check(c.expect, r, c.name)
                if r.ok == false and r.category then
                    assert.are.equal(core.category_code(r.category), r.errorCode, c.name)
                end
            end)
        end
    end
end)

-- a child process (python3): once per run, not under the memory checkers
describe("provider vectors, derived #once", function()
    it("the request vectors are those spec/vectors/gen_providers.py derives from the documented formats", function()
        local p = assert(io.popen("python3 spec/vectors/gen_providers.py --check 2>&1; echo rc=$?"))
        local out = p:read("*a")
        p:close()
        assert.truthy(out:find("rc=0", 1, true), out)
    end)
end)
