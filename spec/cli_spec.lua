-- The `socialize` command (bin/socialize, docs/cli.md), run as a child
-- process on this run's interpreter (lua5.4, lua5.1, luajit) against the
-- sandbox and the fake Gigya server, with a temporary config file whose
-- secrets come from environment variables and a SQLite store. Every output
-- of every run is searched for the configured secrets.
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")
local transport = require("socialize.transport")

local ROOT, q = K.ROOT, K.q
local LUA = K.CHILD_LUA

-- the secrets the config reads from the environment
local ENV = {
    SZT_TW_SECRET = "tw-client-secret",
    SZT_LI_SECRET = "li-client-secret",
    SZT_FB_SECRET = "fb-app-secret",
    SZT_STORE_KEY = K.KEY,
    SZT_BOT_TOKEN = "123456:sandbox-bot-token",
    SZT_GIGYA_SECRET = H.SECRET,
}
local SECRETS = {}
for _, v in pairs(ENV) do SECRETS[#SECRETS + 1] = v end

local n = 0
-- this process's id: a run's files never meet those another run left in the
-- same SOCIALIZE_TEST_TMP (Lua 5.1's and LuaJIT's math.random start from the
-- same seed in every process: a stale rc file once ended a wait at once)
local PID = (function()
    local f = io.open("/proc/self/stat", "rb")
    local s = f and f:read("*l")
    if f then f:close() end
    return s and s:match("^(%d+)") or tostring(os.time())
end)()

local function tmp(name)
    n = n + 1
    return H.tmpdir .. "/cli-" .. PID .. "-" .. n .. "-" .. math.random(1, 1e9) .. "-" .. name
end

local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

local function no_secret(s, what)
    for _, v in ipairs(SECRETS) do
        assert.is_nil(s:find(v, 1, true), what .. " prints a secret: " .. s)
    end
end

-- the shell command running the command with args, env (name -> value or
-- false to unset), the config file
local function command(args, opts)
    opts = opts or {}
    local parts = { "cd", q(ROOT), "&&", "env", "-u", "SOCIALIZE_CONFIG" }
    for k, v in pairs(opts.env or {}) do
        if v == false then parts[#parts + 1] = "-u " .. q(k) end
    end
    for k, v in pairs(ENV) do
        if not (opts.env and opts.env[k] ~= nil) then parts[#parts + 1] = q(k .. "=" .. v) end
    end
    for k, v in pairs(opts.env or {}) do
        if v ~= false then parts[#parts + 1] = q(k .. "=" .. v) end
    end
    if K.BUILD:find("asan", 1, true) then
        -- the command under ASan: its own leak check is never read (the memcheck
        -- job reads the parent's report), and LeakSanitizer's tracer has crashed
        -- in it, which with the tier's LSAN exitcode=0 made the command exit 0
        parts[#parts + 1] = q("ASAN_OPTIONS=detect_leaks=0")
    end
    parts[#parts + 1] = q("LUA_PATH=" .. ROOT .. "/lua/?.lua;;")
    parts[#parts + 1] = q("LUA_CPATH=" .. ROOT .. "/" .. K.BUILD .. "/?.so;;")
    if opts.config ~= false then
        parts[#parts + 1] = q("SOCIALIZE_CONFIG=" .. (opts.config or "/nonexistent"))
    end
    parts[#parts + 1] = LUA
    parts[#parts + 1] = "bin/socialize"
    for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
    return table.concat(parts, " ")
end

-- runs the command to its end: stdout, stderr, exit code
local function sz(args, opts)
    opts = opts or {}
    local o, e, i = tmp("out"), tmp("err"), tmp("in")
    local f = assert(io.open(i, "wb"))
    f:write(opts.stdin or "")
    f:close()
    local ok, how, code = os.execute(command(args, opts) .. " <" .. q(i) .. " >" .. q(o) .. " 2>" .. q(e))
    if type(ok) == "number" then code = ok / 256 end -- 5.1: the raw status
    if how == "signal" then code = 128 + code end
    local out, err = slurp(o) or "", slurp(e) or ""
    no_secret(out, table.concat(args, " ") .. " (stdout)")
    no_secret(err, table.concat(args, " ") .. " (stderr)")
    -- no progress line: stderr is no terminal here
    assert.is_nil(err:find("\r", 1, true), "a progress line without a terminal")
    return out, err, code
end

-- the background runs not yet finished: stopped after each case (a failed
-- assertion leaves no process behind)
local live = {}

-- starts the command in the background: a handle with stdin (a FIFO kept
-- open for writing), wait_out(pattern), finish() -> stdout, stderr, code
local function bg(args, opts)
    local o, e, rc, pidf, fifo = tmp("out"), tmp("err"), tmp("rc"), tmp("pid"), tmp("fifo")
    assert(os.execute("mkfifo " .. q(fifo)))
    local cmd = command(args, opts)
    os.execute("( " .. cmd .. " <" .. q(fifo) .. " >" .. q(o) .. " 2>" .. q(e) .. " & echo $! >" .. q(pidf)
        .. "; wait $!; echo $? >" .. q(rc) .. ".t; mv " .. q(rc) .. ".t " .. q(rc) .. " ) >/dev/null 2>&1 &")
    local w = assert(io.open(fifo, "w")) -- opens once the child's shell opened it for reading
    local h = { err_path = e }
    live[h] = true
    local function wait_for(pred, what)
        for _ = 1, 400 do -- at most some 20 s
            local v = pred()
            if v then return v end
            os.execute("sleep 0.05")
        end
        error("timed out waiting for " .. what .. "; stdout: " .. tostring(slurp(o)) .. " stderr: " .. tostring(slurp(e)))
    end
    function h.write(s) w:write(s) w:flush() end
    function h.close_stdin() if w then w:close() w = nil end end
    function h.pid()
        return tonumber(wait_for(function() local s = slurp(pidf) return s and s:match("^(%d+)\n") end, "the pid"))
    end
    function h.wait_out(pattern)
        return wait_for(function() local s = slurp(o) return s and s:match(pattern) end, pattern)
    end
    function h.wait_err(pattern)
        return wait_for(function() local s = slurp(e) return s and s:match(pattern) end, pattern)
    end
    function h.kill() -- the child this run started, by its pid
        local pid = tonumber((slurp(pidf) or ""):match("^(%d+)\n") or "")
        if pid and not slurp(rc) then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
        h.close_stdin()
        live[h] = nil
    end
    function h.finish()
        live[h] = nil
        h.close_stdin()
        local code = tonumber(wait_for(function() return slurp(rc) end, "the exit"))
        local out, err = slurp(o) or "", slurp(e) or ""
        no_secret(out, table.concat(args, " ") .. " (stdout)")
        no_secret(err, table.concat(args, " ") .. " (stderr)")
        return out, err, code
    end
    return h
end

local function json(s)
    local v = core.json_decode(s)
    assert(type(v) == "table", "not one JSON document: " .. s)
    return v
end

local function write(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
    return path
end

local function lua_config(sb, store)
    local p = sb.ports
    return string.format([[
return {
    backend = "direct", allowPrivateNetworks = true, timeout = 5,
    providers = {
        twitter = { clientId = %q, clientSecret = "env:SZT_TW_SECRET", baseUrl = %q },
        linkedin = { clientId = %q, clientSecret = "env:SZT_LI_SECRET", baseUrl = %q },
        facebook = { clientId = %q, clientSecret = "env:SZT_FB_SECRET", appSecret = "env:SZT_FB_SECRET", baseUrl = %q },
        telegram = { botToken = "env:SZT_BOT_TOKEN", baseUrl = %q },
    },
    store = { url = %q, keys = { "env:SZT_STORE_KEY" } },
}
]], p.oauth.twitter.clientId, sb.url("twitter"), p.oauth.linkedin.clientId, sb.url("linkedin"),
        p.oauth.facebook.clientId, sb.url("facebook"), sb.url("telegram"), store)
end

describe("socialize command #fakes", function()
    local sb, cfg, store

    H.use_sandbox(function(s)
        sb = s
        store = K.db("cli")
        cfg = write(tmp("config.lua"), lua_config(sb, store))
    end)
    after_each(function()
        for h in pairs(live) do h.kill() end
    end)

    local function follow(url) -- the browser: the authorization server's redirect
        return K.authorize(url)
    end

    describe("the command line", function()
        it("--version, help, and usage errors naming the flag (exit 2)", function()
            local out, _, code = sz({ "--version" })
            assert.are.equal(0, code)
            assert.are.equal("socialize " .. require("socialize")._VERSION .. "\n", out)
            out, _, code = sz({ "--json", "--version" })
            assert.are.equal(0, code)
            assert.are.same({ version = require("socialize")._VERSION }, json(out))
            out, _, code = sz({ "help", "publish" })
            assert.are.equal(0, code)
            assert.matches("usage: socialize publish", out, 1, true)
            assert.matches("--uid", out, 1, true)
            local err
            _, err, code = sz({})
            assert.are.equal(2, code)
            assert.matches("commands:", err, 1, true)
            _, err, code = sz({ "publish", "--uid", "u", "--title", "t", "--bogus", "x" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("unknown flag --bogus for publish", err, 1, true)
            _, err, code = sz({ "publish", "--title", "t" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("publish: --uid is required", err, 1, true)
            _, err, code = sz({ "connections", "--uid" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("--uid needs a value", err, 1, true)
            _, err, code = sz({ "publsh" })
            assert.are.equal(2, code)
            assert.matches('unknown command "publsh"', err, 1, true)
            _, err, code = sz({ "connect", "twitter", "--uid", "u", "--timeout", "soon" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("--timeout must be a number", err, 1, true)
            _, err, code = sz({ "publish", "--uid", "u", "--title", "t", "--at", "tomorrow" }, { config = cfg })
            assert.is_true(code == 2 or code == 6, err) -- 6: no outbox in this build
        end)

        it("config errors (exit 3): none given, a missing variable named, a bad file, a setting refused", function()
            local _, err, code = sz({ "connections", "--uid", "u" }, { config = false })
            assert.are.equal(3, code)
            assert.matches("no config: pass --config FILE or set SOCIALIZE_CONFIG", err, 1, true)
            _, err, code = sz({ "connections", "--uid", "u" }, { config = cfg, env = { SZT_LI_SECRET = false } })
            assert.are.equal(3, code)
            assert.matches("config.providers.linkedin.clientSecret: the environment variable SZT_LI_SECRET is not set",
                err, 1, true)
            -- the config file runs in an empty environment
            local bad = write(tmp("bad.lua"), "os.execute('touch /tmp/x') return {}")
            _, err, code = sz({ "--config", bad, "connections", "--uid", "u" })
            assert.are.equal(3, code)
            assert.matches("os", err, 1, true)
            bad = write(tmp("loop.lua"), "while true do end")
            _, err, code = sz({ "--config", bad, "connections", "--uid", "u" })
            assert.are.equal(3, code)
            assert.matches("runs too long", err, 1, true)
            bad = write(tmp("typo.json"), '{"backend": "direct", "timout": 5}')
            _, err, code = sz({ "--config", bad, "connections", "--uid", "u" })
            assert.are.equal(3, code)
            assert.matches("config.timout is not a setting (did you mean timeout?)", err, 1, true)
            bad = write(tmp("env.json"), '{"backend": "direct", "secret": "env:1BAD"}')
            _, err, code = sz({ "--config", bad, "connections", "--uid", "u" })
            assert.are.equal(3, code)
            assert.matches("config.secret: \"env:\" must be followed by a variable name", err, 1, true)
        end)
    end)

    describe("connections", function()
        it("connect --paste: the URL printed, the callback URL read from stdin, the identity stored", function()
            local h = bg({ "connect", "twitter", "--uid", "cli_paste", "--paste", "--redirect",
                           "https://game.example/callback/twitter" }, { config = cfg })
            local url = h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")
            assert.matches("redirect_uri=https%3A%2F%2Fgame.example%2Fcallback%2Ftwitter", url, 1, true)
            h.write(follow(url) .. "\n")
            local out, err, code = h.finish()
            assert.are.equal(0, code, err)
            assert.matches("twitter%s+2244994945%s+sandbox_x", out)

            out, err, code = sz({ "--json", "connections", "--uid", "cli_paste" }, { config = cfg })
            assert.are.equal(0, code, err)
            local info = json(out)
            assert.are.equal(0, info.errorCode)
            assert.are.equal(1, #info.identities)
            assert.are.equal("twitter", info.identities[1].provider)
            assert.are.equal("2244994945", info.identities[1].providerUID)
            out, err, code = sz({ "connections", "--uid", "cli_paste" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.matches("PROVIDER%s+ACCOUNT%s+NICKNAME%s+SESSION", out)
            assert.matches("\ntwitter%s+2244994945%s+sandbox_x%s+ok", out)
        end)

        it("connect on the loopback listener: the browser's redirect to 127.0.0.1 ends it", function()
            local h = bg({ "connect", "linkedin", "--uid", "cli_loop", "--timeout", "30" }, { config = cfg })
            local url = h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")
            local back = follow(url)
            assert.matches("^http://127%.0%.0%.1:%d+/callback%?", back)
            local t = transport.select({ timeout = 5 })
            local res = assert(t:request({ method = "GET", url = back, headers = {}, timeout = 5 }))
            assert.are.equal(200, res.status)
            assert.matches("socialize: received", res.body, 1, true)
            local out, err, code = h.finish()
            assert.are.equal(0, code, err)
            assert.matches("\nlinkedin%s+abc123", out)
            -- another local process hitting the listener first (no state, a forged one, the
            -- state as a prefix, in another parameter): 404, the wait goes on; the right one ends it
            local h2 = bg({ "connect", "linkedin", "--uid", "cli_loop", "--timeout", "30" }, { config = cfg })
            url = h2.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")
            back = follow(url)
            local state = back:match("state=(%x+)")
            for _, forged in ipairs({ (back:gsub("state=[^&]+", "state=forged")), (back:gsub("state=[^&]+", "x=1")),
                                      (back:gsub("state=[^&]+", "state=" .. state .. "0")),
                                      (back:gsub("state=[^&]+", "xstate=" .. state)) }) do
                res = assert(t:request({ method = "GET", url = forged, headers = {}, timeout = 5 }))
                assert.are.equal(404, res.status, forged)
            end
            res = assert(t:request({ method = "GET", url = back, headers = {}, timeout = 5 }))
            assert.are.equal(200, res.status)
            out, err, code = h2.finish()
            assert.are.equal(0, code, err)
            assert.matches("\nlinkedin%s+abc123", out)
            -- --json: the error table is the document on stdout
            out, err, code = sz({ "--json", "connect", "linkedin", "--uid", "cli_loop", "--paste" },
                { config = cfg, stdin = "https://game.example/cb?code=x&state=forged\n" })
            assert.are.equal(1, code, err)
            local e = json(out)
            assert.are.equal(400006, e.errorCode)
            assert.are.equal("state_unknown", e.error)
        end)

        it("connect waits a bounded time (exit 4) and a network with pages asks which one", function()
            local _, err, code = sz({ "connect", "linkedin", "--uid", "cli_slow", "--timeout", "0.2" }, { config = cfg })
            assert.are.equal(4, code, err)
            assert.matches("no callback within 0.2 s", err, 1, true)

            local h = bg({ "connect", "facebook", "--uid", "cli_pages", "--paste", "--redirect",
                           "https://game.example/cb" }, { config = cfg })
            local url = h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")
            h.write(follow(url) .. "\n2\n")
            local out
            out, err, code = h.finish()
            assert.are.equal(0, code, err)
            assert.matches("1%) Sandbox Page One %(1647395831%)", err)
            assert.matches("\nfacebook%s+2750001234%s+Sandbox Page Two", out)
            -- --page: no question; --json: the URL on stderr, the identity alone on stdout
            h = bg({ "--json", "connect", "facebook", "--uid", "cli_pages2", "--paste", "--page", "1647395831" },
                { config = cfg })
            url = nil
            for _ = 1, 400 do
                url = (slurp(h.err_path) or ""):match("(http://127%.0%.0%.1:%d+/%S+)\n")
                if url then break end
                os.execute("sleep 0.05")
            end
            assert.truthy(url, "no URL on stderr")
            h.write(follow(url) .. "\n")
            out, err, code = h.finish()
            assert.are.equal(0, code, err)
            assert.is_nil(err:find("page (number or id)", 1, true))
            local id = json(out)
            assert.are.equal("1647395831", id.providerUID)
            assert.are.equal("Sandbox Page One", id.nickname)
        end)

        it("disconnect removes one connection; a second time it fails with 400106", function()
            local h = bg({ "connect", "twitter", "--uid", "cli_dis", "--paste" }, { config = cfg })
            h.write(follow(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
            local _, err, code = h.finish()
            assert.are.equal(0, code, err)
            local out
            out, err, code = sz({ "--json", "disconnect", "twitter", "--uid", "cli_dis" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal(1, json(out).removed)
            out, err, code = sz({ "disconnect", "twitter", "--uid", "cli_dis" }, { config = cfg })
            assert.are.equal(1, code)
            assert.matches("socialize: 400106", err, 1, true)
            _, err, code = sz({ "disconnect", "--uid", "cli_dis" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("--all", err, 1, true)
        end)
    end)

    describe("publishing", function()
        local function connect(uid)
            local h = bg({ "connect", "twitter", "--uid", uid, "--paste" }, { config = cfg })
            h.write(follow(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
            local _, err, code = h.finish()
            assert.are.equal(0, code, err)
        end

        it("publish, status and preview through the stored connection; --json is one document", function()
            connect("cli_pub")
            local out, err, code = sz({ "--json", "publish", "--uid", "cli_pub", "--title", "Level 3 done",
                                        "--link", "https://game.example/l3", "--provider", "twitter" }, { config = cfg })
            assert.are.equal(0, code, err)
            local res = json(out)
            assert.are.equal(0, res.errorCode)
            assert.is_string(res.providerPostIDs.twitter)
            local posts = K.requests(sb, "/2/tweets")
            assert.are.equal(1, #posts)
            assert.matches("Level 3 done https://game.example/l3", posts[1].body, 1, true)

            out, err, code = sz({ "status", "Hello from the shell", "--uid", "cli_pub" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.matches("PROVIDER%s+RESULT%s+POST ID", out)
            assert.matches("\ntwitter%s+sent%s+%d+", out)
            posts = K.requests(sb, "/2/tweets")
            assert.are.equal(2, #posts)
            assert.matches("Hello from the shell", posts[2].body, 1, true)

            out, err, code = sz({ "--json", "preview", "--uid", "cli_pub", "--title", "Level 3 done", "--link",
                                  "https://game.example/l3", "--image", "https://cdn.example/a.png" }, { config = cfg })
            assert.are.equal(0, code, err)
            res = json(out)
            assert.are.equal(1, #res.previews)
            assert.are.equal("twitter", res.previews[1].provider)
            assert.are.equal("Level 3 done https://game.example/l3", res.previews[1].text)
            assert.are.equal("image", res.previews[1].media[1].kind)
            assert.are.equal(2, #K.requests(sb, "/2/tweets")) -- preview sent nothing
            -- a local file on the command line is read by the library (media.allowFiles for this run)
            local png = write(tmp("shot.png"), "\137\80\78\71\13\10\26\10\0\0\0\13\73\72\68\82\0\0\0\1\0\0\0\1\8\2"
                .. "\0\0\0\144\119\83\222\0\0\0\12\73\68\65\84\120\156\99\248\207\192\0\0\3\1\1\0\201\254\146"
                .. "\239\0\0\0\0\73\69\78\68\174\66\96\130")
            out, err, code = sz({ "--json", "preview", "--uid", "cli_pub", "--title", "A shot", "--image", png },
                { config = cfg })
            assert.are.equal(0, code, err)
            local m = json(out).previews[1].media[1]
            assert.are.equal("file", m.source)
            assert.are.equal(png, m.src)
            out, err, code = sz({ "--json", "publish", "--uid", "cli_pub", "--title", "A shot", "--image", png },
                { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal(1, #json(out).providerErrorCodes[1].mediaIDs)
            assert.is_true(#K.requests(sb, "/2/media/upload", true) >= 1)
        end)

        it("a failed call: exit 1, Gigya's code on stderr, the error as JSON on stdout", function()
            local out, err, code = sz({ "--json", "publish", "--uid", "cli_nobody", "--title", "x" }, { config = cfg })
            assert.are.equal(1, code)
            assert.matches("socialize: 400106", err, 1, true)
            assert.are.equal(400106, json(out).errorCode)
            connect("cli_media")
            _, err, code = sz({ "publish", "--uid", "cli_media", "--title", "x", "--image", "ftp://x/y.png" },
                { config = cfg })
            assert.are.equal(1, code)
            assert.matches("socialize: 400006", err, 1, true)
            assert.matches("mediaItems[1].src", err, 1, true)
            assert.are.equal(0, #K.requests(sb, "/2/tweets"))
        end)
    end)

    describe("the outbox", function()
        it("publish --queued, jobs, worker --once, job, cancel, retry; usage errors", function()
            local h = bg({ "connect", "twitter", "--uid", "cli_q", "--paste" }, { config = cfg })
            h.write(follow(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
            local _, err, code = h.finish()
            assert.are.equal(0, code, err)
            local out
            out, err, code = sz({ "--json", "publish", "--uid", "cli_q", "--title", "Queued", "--link",
                                  "https://game.example/q", "--queued", "--key", "cli-q-1" }, { config = cfg })
            assert.are.equal(0, code, err)
            local job = json(out)
            assert.are.equal("queued", job.status)
            assert.are.same({ "twitter" }, job.providers)
            out, err, code = sz({ "--json", "publish", "--uid", "cli_q", "--title", "Later", "--at", "+1h" },
                { config = cfg })
            assert.are.equal(0, code, err)
            local later = json(out)
            assert.is_true(later.runAt >= os.time() + 3500)
            _, err, code = sz({ "publish", "--uid", "cli_q", "--title", "x", "--at", "tomorrow" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("--at must be Unix seconds", err, 1, true)
            _, err, code = sz({ "publish", "--uid", "cli_q", "--title", "x", "--queued", "--key", ("k"):rep(201) },
                { config = cfg })
            assert.are.equal(1, code)
            assert.matches("socialize: 400006 Invalid parameter value: key", err, 1, true)

            out, err, code = sz({ "--json", "status", "Queued status", "--uid", "cli_q", "--at", "+2h" },
                { config = cfg })
            assert.are.equal(0, code, err)
            local st = json(out)
            assert.are.equal("queued", st.status)
            out, err, code = sz({ "--json", "job", st.jobID }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal("socialize.setStatus", json(out).method)
            out, err, code = sz({ "cancel", st.jobID }, { config = cfg })
            assert.are.equal(0, code, err)
            out, err, code = sz({ "jobs", "--uid", "cli_q" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.matches(job.jobID .. "%s+queued%s+cli_q", out)
            out, err, code = sz({ "--json", "worker", "--once" }, { config = cfg })
            assert.are.equal(0, code, err)
            local w = json(out)
            assert.are.equal(1, w.sent)
            assert.are.equal(0, w.dead)
            assert.are.equal(1, #K.requests(sb, "/2/tweets"))
            out, err, code = sz({ "job", job.jobID }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.matches("\ntwitter%s+sent%s+1%s+%d+", out)
            out, err, code = sz({ "--json", "job", job.jobID }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal("sent", json(out).status)
            out, err, code = sz({ "--json", "cancel", later.jobID }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal(1, json(out).cancelled)
            _, err, code = sz({ "retry", job.jobID }, { config = cfg })
            assert.are.equal(1, code)
            assert.matches("socialize: 400006", err, 1, true)
            _, err, code = sz({ "job", "no-such-job" }, { config = cfg })
            assert.are.equal(1, code)
            assert.matches("no such job", err, 1, true)
            _, err, code = sz({ "job" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("job takes one job ID", err, 1, true)
            _, err, code = sz({ "resolve", job.jobID, "twitter", "maybe" }, { config = cfg })
            assert.are.equal(2, code)
            -- an empty list is a JSON array, for a script to iterate over
            out, err, code = sz({ "--json", "jobs", "--uid", "cli_nobody" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal('{"errorCode":0,"jobs":[]}\n', out)
        end)

        it("the worker stops on SIGTERM after its slice, exit 5", function()
            local h = bg({ "worker", "--idle", "100" }, { config = cfg })
            local pid = h.pid()
            -- its handler is in place once it says it runs
            h.wait_err("socialize worker: running")
            os.execute("kill -TERM " .. pid)
            local out, err, code = h.finish()
            assert.are.equal(5, code, err)
            assert.matches("worker stopped on signal 15: 0 sent", out, 1, true)
        end)
    end)

    describe("the worker's shutdown", function()
        local function queued(uid)
            local h = bg({ "connect", "twitter", "--uid", uid, "--paste" }, { config = cfg })
            h.write(follow(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
            local _, err, code = h.finish()
            assert.are.equal(0, code, err)
            local out
            out, err, code = sz({ "--json", "publish", "--uid", uid, "--title", "In flight", "--queued" },
                { config = cfg })
            assert.are.equal(0, code, err)
            return json(out).jobID
        end

        local function wait_tweet()
            for _ = 1, 400 do
                if #K.requests(sb, "/2/tweets") > 0 then return end
                os.execute("sleep 0.05")
            end
            error("the worker sent nothing")
        end

        it("SIGTERM while a delivery is in flight: it is finished and recorded, then exit 5", function()
            local id = queued("cli_grace")
            H.configure(sb, { delay_ms = { twitter = 1500 } })
            local h = bg({ "worker", "--budget", "100", "--idle", "100" }, { config = cfg })
            local pid = h.pid()
            h.wait_err("socialize worker: running")
            wait_tweet() -- the sandbox holds the reply 1.5 s
            os.execute("kill -TERM " .. pid)
            local out, err, code = h.finish()
            assert.are.equal(5, code, err)
            assert.matches("worker stopped on signal 15: 1 sent", out, 1, true)
            out, err, code = sz({ "--json", "job", id }, { config = cfg })
            assert.are.equal(0, code, err)
            local job = json(out)
            assert.are.equal("sent", job.status)
            assert.are.equal(1, #K.requests(sb, "/2/tweets"))
        end)

        it("--concurrency 1 with a long --budget: SIGTERM starts no more deliveries of the slice", function()
            local ids = { queued("cli_stop1") }
            for i = 1, 3 do
                local out, err, code = sz({ "--json", "publish", "--uid", "cli_stop1", "--title", "Stop " .. i,
                    "--queued" }, { config = cfg })
                assert.are.equal(0, code, err)
                ids[#ids + 1] = json(out).jobID
            end
            H.configure(sb, { delay_ms = { twitter = 1000 } })
            local h = bg({ "worker", "--concurrency", "1", "--budget", "60000", "--idle", "100" }, { config = cfg })
            local pid = h.pid()
            h.wait_err("socialize worker: running")
            wait_tweet()
            os.execute("kill -TERM " .. pid)
            local out, err, code = h.finish()
            assert.are.equal(5, code, err)
            assert.matches("worker stopped on signal 15: 1 sent", out, 1, true)
            assert.are.equal(1, #K.requests(sb, "/2/tweets")) -- the one in flight, finished
            local states = {}
            for _, id in ipairs(ids) do
                out, err, code = sz({ "--json", "job", id }, { config = cfg })
                assert.are.equal(0, code, err)
                states[json(out).status] = (states[json(out).status] or 0) + 1
            end
            assert.same({ sent = 1, queued = 3 }, states) -- given back, not sending
            for _, id in ipairs(ids) do sz({ "cancel", id }, { config = cfg }) end -- the next tests' queue is theirs
        end)

        -- n jobs queued for uid (one connect), their titles
        local function queued_many(uid, n)
            queued(uid)
            local titles = {}
            for i = 1, n - 1 do
                titles[i] = uid .. " job " .. i
                local out, err, code = sz({ "--json", "publish", "--uid", uid, "--title", titles[i], "--queued" },
                    { config = cfg })
                assert.are.equal(0, code, err)
                assert.are.equal("queued", json(out).status)
            end
            titles[n] = "In flight"
            return titles
        end

        -- the tweets the sandbox received per title, and the most requests it handled at once
        local function tweets()
            local per, most = {}, 0
            for _, r in ipairs(K.requests(sb, "/2/tweets")) do
                local body = core.json_decode(r.body) or {}
                local title = tostring(body.text):match("^(.-)%s*$")
                per[title] = (per[title] or 0) + 1
                most = math.max(most, r.inflight or 0)
            end
            return per, most
        end

        local function uid_jobs(uid)
            local out, err, code = sz({ "--json", "jobs", "--uid", uid, "--limit", "100" }, { config = cfg })
            assert.are.equal(0, code, err)
            local list = json(out).jobs
            local all = {}
            for _, j in ipairs(list) do
                out, err, code = sz({ "--json", "job", j.jobID }, { config = cfg })
                assert.are.equal(0, code, err)
                all[#all + 1] = json(out)
            end
            return all
        end

        it("--concurrency 8: 16 jobs, several requests in flight at the sandbox at once, each sent once", function()
            local titles = queued_many("cli_conc", 16)
            H.configure(sb, { delay_ms = { twitter = 300 } })
            local out, err, code = sz({ "--json", "worker", "--once", "--concurrency", "8" }, { config = cfg })
            assert.are.equal(0, code, err)
            local w = json(out)
            assert.are.equal(16, w.sent)
            assert.are.equal(16, w.claimed)
            assert.are.equal(0, w.retrying + w.unconfirmed + w.dead + w.lost)
            assert.are.equal(8, w.concurrency)
            local per, most = tweets()
            for _, t in ipairs(titles) do assert.are.equal(1, per[t], t) end
            assert.are.equal(16, #K.requests(sb, "/2/tweets"))
            -- the sandbox was handling more than one of them at a time, at most 8
            assert.is_true(most > 1, "requests in flight at once: " .. most)
            assert.is_true(most <= 8, "requests in flight at once: " .. most)
            for _, j in ipairs(uid_jobs("cli_conc")) do
                assert.are.equal("sent", j.status)
                assert.are.equal(1, j.deliveries[1].attempts)
            end
            -- --concurrency 1 sends one after the other
            H.reset(sb)
            local t2 = queued_many("cli_seq", 4)
            H.configure(sb, { delay_ms = { twitter = 100 } })
            out, err, code = sz({ "--json", "worker", "--once", "--concurrency", "1" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal(4, json(out).sent)
            per, most = tweets()
            for _, t in ipairs(t2) do assert.are.equal(1, per[t], t) end
            assert.are.equal(1, most)
            _, err, code = sz({ "worker", "--concurrency", "0" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches("--concurrency", err, 1, true)
        end)

        it("--concurrency 8 stopped by SIGTERM mid-run: the ones in flight finish and are recorded, nothing "
            .. "left sending, none sent twice", function()
            local titles = queued_many("cli_conc_term", 16)
            H.configure(sb, { delay_ms = { twitter = 1000 } })
            local h = bg({ "--json", "worker", "--concurrency", "8", "--idle", "100" }, { config = cfg })
            local pid = h.pid()
            h.wait_err("socialize worker: running")
            for _ = 1, 400 do -- several in flight
                if #K.requests(sb, "/2/tweets") >= 2 then break end
                os.execute("sleep 0.05")
            end
            os.execute("kill -TERM " .. pid)
            local out, err, code = h.finish()
            assert.are.equal(5, code, err)
            local w = json(out)
            assert.are.equal(15, w.signal)
            local sent = #K.requests(sb, "/2/tweets")
            assert.is_true(sent >= 2 and sent < 16, "sent before the stop: " .. sent)
            -- every delivery it started was finished and recorded: sent, none sending
            assert.are.equal(sent, w.sent)
            local states = {}
            for _, j in ipairs(uid_jobs("cli_conc_term")) do
                local d = j.deliveries[1]
                states[d.state] = (states[d.state] or 0) + 1
                assert.is_true(d.state == "sent" or d.state == "queued", d.state)
                assert.is_nil(d.leaseOwner)
            end
            assert.are.equal(sent, states.sent)
            assert.are.equal(16 - sent, states.queued or 0)
            -- the next worker sends the rest, none twice
            out, err, code = sz({ "--json", "worker", "--once", "--concurrency", "8" }, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal(16 - sent, json(out).sent)
            local per = tweets()
            for _, t in ipairs(titles) do assert.are.equal(1, per[t], t) end
        end)

        it("--concurrency: deliveries outlasting --grace are cut and recorded unconfirmed, exit 5", function()
            local titles = queued_many("cli_conc_cut", 3)
            H.configure(sb, { delay_ms = { twitter = 4000 } })
            local h = bg({ "--json", "worker", "--concurrency", "4", "--grace", "1" }, { config = cfg })
            local pid = h.pid()
            h.wait_err("socialize worker: running")
            for _ = 1, 400 do
                if #K.requests(sb, "/2/tweets") >= 3 then break end
                os.execute("sleep 0.05")
            end
            os.execute("kill -TERM " .. pid)
            local out, err, code = h.finish()
            assert.are.equal(5, code, err)
            assert.matches("3 deliveries still in flight after the grace period", err, 1, true)
            local w = json(out)
            assert.are.equal(3, w.cut)
            assert.are.equal(3, w.unconfirmed)
            for _, j in ipairs(uid_jobs("cli_conc_cut")) do
                local d = j.deliveries[1]
                assert.are.equal("unconfirmed", d.state) -- its request went out: never resent blindly
                assert.is_nil(d.leaseOwner)
            end
            local per = tweets()
            for _, t in ipairs(titles) do assert.are.equal(1, per[t], t) end
        end)

        it("a delivery outlasting --grace is cut by SIGALRM; its lease keeps it for a later worker", function()
            local id = queued("cli_cut")
            H.configure(sb, { delay_ms = { twitter = 4000 } })
            local h = bg({ "worker", "--budget", "100", "--grace", "1", "--concurrency", "1" }, { config = cfg })
            local pid = h.pid()
            h.wait_err("socialize worker: running")
            wait_tweet()
            os.execute("kill -TERM " .. pid)
            local _, err, code = h.finish()
            assert.are.equal(128 + 14, code, err) -- SIGALRM
            local out
            out, err, code = sz({ "--json", "job", id }, { config = cfg })
            assert.are.equal(0, code, err)
            local d = json(out).deliveries[1]
            assert.are.equal("sending", d.state)
            assert.is_string(d.leaseOwner)
        end)
    end)

    describe("the worker's errors", function()
        it("no outbox here: exit 1 at once; a store that fails: said and tried again until a signal", function()
            local g = write(tmp("gigya-w.json"), '{"apiKey": "k", "secret": "env:SZT_GIGYA_SECRET"}')
            local _, err, code = sz({ "--config", g, "worker" })
            assert.are.equal(1, code)
            assert.matches("socialize: 400096", err, 1, true)
            local bad = write(tmp("bad-store.json"),
                '{"backend": "direct", "store": "sqlite:' .. H.tmpdir .. '/no/such/dir/x.db"}')
            _, err, code = sz({ "--config", bad, "worker", "--once" })
            assert.are.equal(1, code)
            assert.matches("the store", err, 1, true)
            local h = bg({ "--config", bad, "worker", "--idle", "50" })
            local pid = h.pid()
            h.wait_err("trying again in 200 ms")
            os.execute("kill -TERM " .. pid)
            local out
            out, err, code = h.finish()
            assert.are.equal(5, code, err)
            assert.matches("worker stopped on signal 15: 0 sent", out, 1, true)
        end)
    end)

    describe("a terminal", function()
        it("gets a progress line on stderr while a publish waits; a pipe gets none (every run above)", function()
            local h = bg({ "connect", "twitter", "--uid", "cli_tty", "--paste" }, { config = cfg })
            h.write(follow(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
            local _, err, code = h.finish()
            assert.are.equal(0, code, err)
            H.configure(sb, { delay_ms = { twitter = 1000 } })
            local log = tmp("tty")
            -- script(1) gives the command a pseudo-terminal
            local rc = os.execute("script -qec " .. q(command({ "publish", "--uid", "cli_tty", "--title", "On a tty" },
                { config = cfg })) .. " /dev/null >" .. q(log) .. " 2>&1")
            assert.truthy(rc == true or rc == 0)
            local out = slurp(log)
            no_secret(out, "publish on a terminal")
            assert.matches("\r\027%[Kpublishing%.%.%. %ds", out)
            assert.matches("\ntwitter%s+sent%s+%d+", out:gsub("\r", ""))
        end)
    end)

    describe("networks that connect in one step", function()
        it("connect takes the fields as field=value (a value env:NAME from the environment)", function()
            local out, err, code = sz({ "--json", "connect", "telegram", "--uid", "cli_tg", "chatId=env:SZT_CHAT" },
                { config = cfg, env = { SZT_CHAT = "-100777" } })
            assert.are.equal(0, code, err)
            assert.are.equal("telegram", json(out).provider)
            _, err, code = sz({ "connect", "telegram", "--uid", "cli_tg", "chatId=env:SZT_NO_CHAT" }, { config = cfg })
            assert.are.equal(3, code)
            assert.matches("the environment variable SZT_NO_CHAT is not set", err, 1, true)
            _, err, code = sz({ "connect", "telegram", "--uid", "cli_tg", "chatId" }, { config = cfg })
            assert.are.equal(2, code)
            assert.matches('"chatId" is not key=value', err, 1, true)
        end)

        it("validate login checks a login widget's fields with the config's bot token", function()
            -- the hash by Python's hmac/hashlib (spec/telegram_login_spec.lua's recipe)
            local now = tostring(os.time())
            local dcs = "auth_date=" .. now .. "\nfirst_name=Ann\nid=42"
            local dp, tp = write(tmp("dcs"), dcs), write(tmp("tok"), ENV.SZT_BOT_TOKEN)
            local p = assert(io.popen("python3 -c 'import hmac,hashlib,sys;"
                .. "t=open(sys.argv[2],\"rb\").read();d=open(sys.argv[1],\"rb\").read();"
                .. "print(hmac.new(hashlib.sha256(t).digest(),d,hashlib.sha256).hexdigest())' " .. q(dp) .. " " .. q(tp)))
            local hash = p:read("*l")
            p:close()
            assert.are.equal(64, #hash)
            local args = { "validate", "login", "id=42", "first_name=Ann", "auth_date=" .. now, "hash=" .. hash }
            local out, err, code = sz(args, { config = cfg })
            assert.are.equal(0, code, err)
            assert.are.equal("valid\n", out)
            args[4] = "first_name=Bob"
            out, _, code = sz(args, { config = cfg })
            assert.are.equal(1, code)
            assert.are.equal("not valid\n", out)
        end)
    end)

    describe("the Gigya backend", function()
        local gcfg
        setup(function()
            local g = H.start_gigya()
            gcfg = write(tmp("gigya.json"), core.json_encode({ apiKey = H.API_KEY, secret = "env:SZT_GIGYA_SECRET",
                                                                url = g.http, timeout = 5 }))
        end)

        it("call: any method with key=value and key:=json; the reply's signature validates", function()
            local out, err, code = sz({ "--json", "call", "test.echo", "a=b c", "n:=[1,2]" }, { config = gcfg })
            assert.are.equal(0, code, err)
            local res = json(out)
            assert.are.equal("b c", res.params.a)
            assert.are.equal("[1,2]", res.params.n)
            out, err, code = sz({ "--json", "call", "socialize.getUserInfo", "UID=user_123" }, { config = gcfg })
            assert.are.equal(0, code, err)
            res = json(out)
            local _, err2, code2 = sz({ "validate", "user", "--uid", "user_123", "--timestamp", res.signatureTimestamp,
                                        "--signature", res.UIDSignature }, { config = gcfg })
            assert.are.equal(0, code2, err2)
            _, err2, code2 = sz({ "validate", "user", "--uid", "user_124", "--timestamp", res.signatureTimestamp,
                                  "--signature", res.UIDSignature }, { config = gcfg })
            assert.are.equal(1, code2)
            out, err, code = sz({ "call", "test.error", "code=403003" }, { config = gcfg })
            assert.are.equal(1, code)
            assert.matches("^socialize: 403003", err)
        end)
    end)

    describe("signatures", function()
        it("sign and validate give the shared vectors' values", function()
            local seen = 0
            for _, v in ipairs(H.vectors("signing_vectors")) do
                local env = { SZT_SIG = v.secret_b64 }
                SECRETS[#SECRETS + 1] = v.secret_b64
                local out, err, code
                if v.kind == "request" then
                    local args = { "--json", "sign", "request", v.method, v.url, "--secret-env", "SZT_SIG" }
                    for k, x in pairs(v.params) do args[#args + 1] = k .. "=" .. x end
                    out, err, code = sz(args, { env = env })
                    assert.are.equal(0, code, err)
                    local r = json(out)
                    assert.are.equal(v.expected_sig, r.signature, v.name)
                    assert.are.equal(v.base_string, r.baseString, v.name)
                elseif v.kind == "user_signature" or v.kind == "friend_signature" then
                    local what = v.kind == "user_signature" and "user" or "friend"
                    local args = { "sign", what, "--uid", v.UID, "--timestamp", v.timestamp, "--secret-env", "SZT_SIG" }
                    if v.friendUID then args[#args + 1] = "--friend" args[#args + 1] = v.friendUID end
                    out, err, code = sz(args, { env = env })
                    assert.are.equal(0, code, err)
                    assert.are.equal(v.expected_sig .. "\n", out, v.name)
                    args[2] = what
                    table.insert(args, 1, "validate")
                    table.remove(args, 2) -- "sign"
                    args[#args + 1] = "--signature"
                    args[#args + 1] = v.expected_sig
                    out, err, code = sz(args, { env = env })
                    assert.are.equal(0, code, err)
                    assert.are.equal("valid\n", out)
                    args[#args] = v.expected_sig:sub(2) .. "A"
                    out, _, code = sz(args, { env = env })
                    assert.are.equal(1, code)
                    assert.are.equal("not valid\n", out)
                elseif v.kind == "webhook_hmac_sha1" then
                    local body = write(tmp("body"), v.body)
                    out, err, code = sz({ "sign", "webhook", "--body-file", body, "--secret-env", "SZT_SIG" }, { env = env })
                    assert.are.equal(0, code, err)
                    assert.are.equal(v.expected_sig .. "\n", out)
                    out, err, code = sz({ "--json", "validate", "webhook", "--signature", v.expected_sig, "--secret-env",
                                          "SZT_SIG" }, { env = env, stdin = v.body })
                    assert.are.equal(0, code, err)
                    assert.are.same({ valid = true }, json(out))
                    out, _, code = sz({ "--json", "validate", "webhook", "--signature", v.expected_sig, "--secret-env",
                                        "SZT_SIG" }, { env = env, stdin = v.body .. " " })
                    assert.are.equal(1, code)
                    assert.are.same({ valid = false }, json(out))
                else
                    seen = seen - 1
                end
                seen = seen + 1
            end
            assert.is_true(seen >= 9, "vectors run: " .. seen)
            local _, err, code = sz({ "sign", "user", "--uid", "u", "--secret-env", "SZT_NOPE" })
            assert.are.equal(3, code)
            assert.matches("the environment variable SZT_NOPE is not set", err, 1, true)
            _, err, code = sz({ "validate", "user", "--uid", "u", "--secret-env", "SZT_SIG" }, { env = { SZT_SIG = "x" } })
            assert.are.equal(2, code)
            assert.matches("--timestamp is required", err, 1, true)
        end)
    end)
end)

describe("socialize command on PostgreSQL #once", function()
    local sb, cfg, pgurl
    K.use_postgres(function(url) pgurl = url end)
    H.use_sandbox(function(s)
        sb = s
        cfg = write(tmp("config-pg.lua"), lua_config(sb, pgurl))
    end)
    after_each(function()
        for h in pairs(live) do h.kill() end
    end)

    it("connect, connections, publish --queued, worker, job, disconnect on a PostgreSQL store", function()
        local h = bg({ "connect", "twitter", "--uid", "cli_pg", "--paste" }, { config = cfg })
        h.write(K.authorize(h.wait_out("(http://127%.0%.0%.1:%d+/%S+)\n")) .. "\n")
        local out, err, code = h.finish()
        assert.are.equal(0, code, err)
        out, err, code = sz({ "--json", "connections", "--uid", "cli_pg" }, { config = cfg })
        assert.are.equal(0, code, err)
        assert.are.equal("2244994945", json(out).identities[1].providerUID)
        out, err, code = sz({ "--json", "publish", "--uid", "cli_pg", "--title", "From PostgreSQL", "--queued",
                              "--key", "cli-pg-1" }, { config = cfg })
        assert.are.equal(0, code, err)
        local id = json(out).jobID
        -- the same key again: the same job
        out, err, code = sz({ "--json", "publish", "--uid", "cli_pg", "--title", "From PostgreSQL", "--queued",
                              "--key", "cli-pg-1" }, { config = cfg })
        assert.are.equal(0, code, err)
        assert.are.equal(id, json(out).jobID)
        assert.is_true(json(out).deduplicated)
        out, err, code = sz({ "--json", "worker", "--once" }, { config = cfg })
        assert.are.equal(0, code, err)
        assert.are.equal(1, json(out).sent)
        out, err, code = sz({ "--json", "job", id }, { config = cfg })
        assert.are.equal(0, code, err)
        assert.are.equal("sent", json(out).status)
        assert.are.equal(1, #K.requests(sb, "/2/tweets"))
        out, err, code = sz({ "--json", "disconnect", "twitter", "--uid", "cli_pg" }, { config = cfg })
        assert.are.equal(0, code, err)
        assert.are.equal(1, json(out).removed)
    end)
end)
