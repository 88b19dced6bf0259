-- socialize.cli without a process of its own (spec/cli_spec.lua runs the
-- script): the command line parser, --at's times, the config loader's
-- "env:NAME" rule, and main() with its streams and environment replaced.
local H = require("spec.helper")
local cli = require("socialize.cli")

local function stream(input)
    local s = { buf = {}, input = input or "" }
    function s:write(...)
        for i = 1, select("#", ...) do self.buf[#self.buf + 1] = select(i, ...) end
    end
    function s:flush() end
    function s:read(fmt)
        if fmt == "*a" or fmt == "a" then
            local v = self.input
            self.input = ""
            return v
        end
        if self.input == "" then return nil end
        local line, rest = self.input:match("^([^\n]*)\n?(.*)$")
        self.input = rest
        return line
    end
    function s:text() return table.concat(self.buf) end
    return s
end

-- runs main(argv) with env vars `vars`: code, stdout, stderr
local function main(argv, vars, stdin)
    local out, err = stream(), stream()
    local code = cli.main(argv, { stdout = out, stderr = err, stdin = stream(stdin),
                                   getenv = function(k) return (vars or {})[k] end,
                                   isatty = function() return false end })
    return code, out:text(), err:text()
end

local function write(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
    return path
end

describe("socialize.cli", function()
    it("parses flags anywhere, --flag=value, repeatable lists, and names a bad flag", function()
        local p = cli.parse({ "--json", "publish", "--uid=u1", "--title", "T", "--image", "a.png", "--image=b.png",
                              "--provider", "x,y", "--queued" })
        assert.are.equal("publish", p.cmd)
        assert.are.same({ json = true, uid = "u1", title = "T", image = { "a.png", "b.png" }, provider = { "x,y" },
                          queued = true }, p.flags)
        p = cli.parse({ "status", "--uid", "u", "--", "--not-a-flag" })
        assert.are.same({ "--not-a-flag" }, p.args)
        local function usage_error(argv)
            local ok, e = pcall(cli.parse, argv)
            assert.is_false(ok)
            assert.are.equal(cli.EXIT.usage, e.exit)
            return e.msg
        end
        assert.matches("unknown flag --titel for publish", usage_error({ "publish", "--titel", "x" }), 1, true)
        assert.matches("--uid needs a value", usage_error({ "publish", "--uid" }), 1, true)
        assert.matches("--uid given twice", usage_error({ "publish", "--uid", "a", "--uid", "b" }), 1, true)
        assert.matches("--queued takes no value", usage_error({ "publish", "--queued=yes" }), 1, true)
        assert.matches("--timeout must be a number >= 0", usage_error({ "connect", "--timeout", "nan" }), 1, true)
        assert.matches('unknown command "nope"', usage_error({ "nope" }), 1, true)
    end)

    it("reads --at as Unix seconds, UTC ISO 8601 or +N[smhd]; anything else is nil", function()
        assert.are.equal(1700000000, cli.parse_time("1700000000", 0))
        assert.are.equal(1796655600, cli.parse_time("2026-12-07T15:00:00Z", 0))
        assert.are.equal(951782400, cli.parse_time("2000-02-29T00:00:00Z", 0))
        assert.are.equal(0, cli.parse_time("1970-01-01T00:00:00Z", 0))
        assert.are.equal(100 + 90, cli.parse_time("+90s", 100))
        assert.are.equal(100 + 2 * 86400, cli.parse_time("+2d", 100))
        for _, bad in ipairs({ "2026-02-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-07T15:00:00", "tomorrow",
                               "+1w", "-5", "nan", "inf", "1e300" }) do
            assert.is_nil(cli.parse_time(bad, 0), bad)
        end
    end)

    it("loads a Lua or JSON config and replaces env:NAME values, naming a missing one", function()
        local lua = write(H.tmpdir .. "/cli-unit.lua",
            'return { backend = "direct", providers = { x = { clientSecret = "env:A_SECRET", list = { "env:B" } } } }')
        local cfg, read = cli.load_config(lua, function(k) return ({ A_SECRET = "sekrit-a", B = "bee" })[k] end)
        assert.are.equal("sekrit-a", cfg.providers.x.clientSecret)
        assert.are.equal("bee", cfg.providers.x.list[1])
        assert.are.same({ "sekrit-a", "bee" }, (function() table.sort(read, function(a, b) return #a > #b end) return read end)())
        local ok, e = pcall(cli.load_config, lua, function(k) return k == "B" and "bee" or nil end)
        assert.is_false(ok)
        assert.are.equal(cli.EXIT.config, e.exit)
        assert.are.equal("config.providers.x.clientSecret: the environment variable A_SECRET is not set", e.msg)
        local json = write(H.tmpdir .. "/cli-unit.json", '{"apiKey": "k", "secret": "env:S", "userKey": null}')
        cfg = cli.load_config(nil, function(k) return ({ SOCIALIZE_CONFIG = json, S = "c2VjcmV0" })[k] end)
        assert.are.same({ apiKey = "k", secret = "c2VjcmV0" }, cfg)
        ok, e = pcall(cli.load_config, nil, function() return nil end)
        assert.is_false(ok)
        assert.matches("no config: pass --config FILE or set SOCIALIZE_CONFIG", e.msg, 1, true)
        -- a Lua config has no library at hand
        write(lua, 'return { secret = os.getenv("X") }')
        ok, e = pcall(cli.load_config, lua, function() return nil end)
        assert.is_false(ok)
        assert.matches("os", e.msg, 1, true)
    end)

    it("main: help, version, exit codes, and no secret written, whatever is asked", function()
        local code, out, err = main({ "--version" })
        assert.are.equal(0, code)
        assert.matches("^socialize %d", out)
        code, out, err = main({})
        assert.are.equal(cli.EXIT.usage, code)
        assert.matches("commands:", err, 1, true)
        code, out = main({ "help", "worker" })
        assert.are.equal(0, code)
        assert.matches("--grace", out, 1, true)
        -- the secret a sign reads is never echoed, even inside a request parameter
        local secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="
        code, out, err = main({ "--json", "sign", "request", "POST", "https://h/p", "x=" .. secret,
                                "--secret-env", "SIG" }, { SIG = secret })
        assert.are.equal(0, code, err)
        assert.is_nil(out:find(secret, 1, true))
        assert.matches("[redacted]", out, 1, true)
        code, out, err = main({ "validate", "webhook", "--signature", "AAAA", "--secret-env", "SIG" }, { SIG = secret },
            "body")
        assert.are.equal(1, code)
        assert.are.equal("not valid\n", out)
        code, out, err = main({ "sign", "user", "--uid", "u" }, {})
        assert.are.equal(cli.EXIT.config, code)
        assert.matches("no config", err, 1, true)
    end)

    it("docs/cli.md names every command, every flag and every exit code", function()
        local doc = assert(H.read("docs/cli.md"))
        for name, c in pairs(cli.COMMANDS) do
            assert.truthy(doc:find(name, 1, true), "docs/cli.md does not name " .. name)
            for flag in pairs(c.flags) do
                assert.truthy(doc:find("--" .. flag, 1, true), "docs/cli.md does not name --" .. flag .. " of " .. name)
                assert.is_string(cli.FLAG_HELP[flag], "socialize help has no line for --" .. flag)
            end
        end
        for _, code in pairs(cli.EXIT) do
            assert.truthy(doc:find("\n| " .. code .. " | ", 1, true), "docs/cli.md does not explain exit code " .. code)
        end
    end)
end)
