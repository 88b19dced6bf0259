-- Queued delivery inside real nginx (examples/openresty/outbox.conf and
-- outbox_site.lua): a request handler enqueues, the outbox worker of each of
-- the two nginx workers (socialize.resty.outbox_worker, ngx.timer.every)
-- delivers to the sandbox through cosockets, another request reads the job.
-- Two claimants never send one delivery twice (the sandbox's requests are
-- counted). On a SQLite file and on a throwaway PostgreSQL; nginx is stopped
-- by the test, and its workers stop cleanly (no error logged).
local H = require("spec.helper")
local K = require("spec.connect_kit")
local core = require("socialize.core")
local curl = require("socialize.curl")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("exit=(%d+)%s*$"))
end

local ROOT = os.getenv("SOCIALIZE_ROOT") or "."
local STORE_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
local http = curl.new { timeout = 20 }

-- As spec/nginx_spec.lua: started as root, the workers run as the user who
-- started the master (else nobody, who could not write the store's directory).
local function run_as_me()
    local uid = sh("id -u"):match("^(%d+)")
    if uid ~= "0" then return "" end
    local user = assert(sh("id -un"):match("^([%w_.-]+)\n"))
    local group = assert(sh("id -gn"):match("^([%w_.-]+)\n"))
    return "user " .. user .. " " .. group .. ";\n"
end

local function cases(name, get_store_url)
    local sb, base, prefix, conf

    local function get(path)
        local res, err = http:request { method = "GET", url = base .. path }
        assert(res, err)
        return res, core.json_decode(res.body)
    end

    local function stop_nginx()
        if not conf then return end
        local pid = H.read(prefix .. "/nginx.pid")
        sh("nginx -p " .. prefix .. " -c " .. conf .. " -s quit")
        for _ = 1, 200 do -- up to 10 s: the workers finish what they are sending
            if not H.read(prefix .. "/nginx.pid") then break end
            sh("sleep 0.05")
        end
        local left = H.read(prefix .. "/nginx.pid")
        if left then sh("kill -9 " .. left:gsub("%s", "")) end
        conf = nil
        return pid, left
    end

    local function start_nginx()
        prefix = H.tmpdir .. "/nginx-outbox-" .. name
        assert(sh("mkdir -p " .. prefix .. "/tmp"))
        local port
        for _ = 1, 20 do
            port = 20000 + math.random(0, 20000)
            local tmpl = assert(H.read(ROOT .. "/examples/openresty/outbox.conf"))
            local text = tmpl:gsub("%${PREFIX}", prefix):gsub("%${ROOT}", ROOT):gsub("%${PORT}", tostring(port))
            conf = prefix .. "/nginx.conf"
            H.write(conf, run_as_me() .. text)
            local out, code = sh("SANDBOX_PORTS='" .. core.json_encode(sb.ports) .. "' SOCIALIZE_STORE='"
                .. get_store_url(prefix) .. "' SOCIALIZE_STORE_KEY='" .. STORE_KEY
                .. "' SOCIALIZE_OUTBOX_INTERVAL=0.05 nginx -p " .. prefix .. " -c " .. conf)
            if code == 0 then break end
            conf = nil
            assert(out:match("Address already in use"), out)
        end
        base = "http://127.0.0.1:" .. port
        for _ = 1, 100 do
            local res = http:request { method = "GET", url = base .. "/health" }
            if res and res.status == 200 then return end
            sh("sleep 0.05")
        end
        error("nginx did not start: " .. tostring(H.read(prefix .. "/error.log")))
    end

    local function telegram_texts()
        local out = {}
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "telegram" and r.path:find("/sendMessage", 1, true) then
                local body = core.json_decode(r.body) or {}
                out[#out + 1] = tostring(body.text):match("^[^\n]*") -- the title line
            end
        end
        return out
    end

    -- GET /outbox/job until the job is `want` (bounded: 200 x 50 ms)
    local function wait_job(id, want)
        local j
        for _ = 1, 200 do
            local _, body = get("/outbox/job?id=" .. id)
            j = body
            if j.status == want then return j end
            sh("sleep 0.05")
        end
        return j
    end

    setup(function()
        math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
        sb = H.start_sandbox()
        start_nginx()
    end)
    teardown(function()
        stop_nginx()
        H.stop_all()
    end)
    before_each(function() H.reset(sb) end)

    it("enqueues from a request, delivers from the timer worker, shows `sent` to another request", function()
        local res, body = get("/outbox/publish?uid=player1&providers=telegram,mastodon&title=Queued+one")
        assert.are.equal(200, res.status, res.body)
        assert.are.same({ 0, "queued" }, { body.errorCode, body.status })
        assert.are.equal(32, #body.jobID)
        local j = wait_job(body.jobID, "sent")
        assert.are.equal("sent", j.status, core.json_encode(j))
        local states = {}
        for _, d in ipairs(j.deliveries) do states[d.provider] = { d.state, d.attempts, d.postID ~= nil } end
        assert.are.same({ telegram = { "sent", 1, true }, mastodon = { "sent", 1, true } }, states)
        assert.are.same({ "Queued one" }, telegram_texts())
        -- a bad option is refused by the handler, nothing stored
        local bad, e = get("/outbox/publish?uid=player1&providers=telegram&key=" .. ("k"):rep(201))
        assert.are.same({ 400, 400006 }, { bad.status, e.errorCode })
    end)

    it("two nginx workers deliver 60 jobs, none of them twice", function()
        local ids = {}
        for i = 1, 60 do
            local res, body = get("/outbox/publish?uid=p" .. i .. "&providers=telegram&title=Job+" .. i)
            assert.are.equal(200, res.status, res.body)
            ids[i] = body.jobID
        end
        for i = 1, 60 do
            assert.are.equal("sent", wait_job(ids[i], "sent").status, ids[i])
        end
        local texts, seen = telegram_texts(), {}
        assert.are.equal(60, #texts)
        for _, t in ipairs(texts) do
            assert.is_nil(seen[t], t .. " sent twice")
            seen[t] = true
        end
        for i = 1, 60 do assert.is_true(seen["Job " .. i], "Job " .. i) end
        -- both workers ran their timers; together they claimed and sent each delivery once
        local _, st = get("/outbox/stats")
        assert.are.equal(2, #st.workers)
        local claimed, released, sent = 0, 0, 0
        for _, w in ipairs(st.workers) do
            assert.truthy(w.runs > 0, w.worker)
            assert.are.equal(0, w.errors)
            claimed, released, sent = claimed + w.claimed, released + w.released, sent + w.sent
            -- what the store's calls cost this nginx worker (blocking: they do not yield)
            local parts = {}
            for op, o in pairs(w.ops) do
                parts[#parts + 1] = string.format("%s %d x %.3f ms (max %.3f)", op, o.n, o.ms / o.n, o.max)
            end
            table.sort(parts)
            io.stderr:write(string.format("\n[%s] worker %s: runs %d, skipped %d, claimed %d, sent %d; %s\n", name,
                w.worker, w.runs, w.skipped, w.claimed, w.sent, table.concat(parts, "; ")))
        end
        -- this test's 60 and the first test's 2; a claim the run's budget did not reach is given back
        assert.are.same({ 62, 62 }, { claimed - released, sent })
    end)

    it("each nginx worker has several deliveries in flight at once (concurrency lanes), none sent twice",
        function()
        H.configure(sb, { delay_ms = { telegram = 400 } })
        local ids = {}
        for i = 1, 16 do
            local res, body = get("/outbox/publish?uid=c" .. i .. "&providers=telegram&title=Lane+" .. i)
            assert.are.equal(200, res.status, res.body)
            ids[i] = body.jobID
        end
        for i = 1, 16 do
            assert.are.equal("sent", wait_job(ids[i], "sent").status, ids[i])
        end
        local texts, seen = telegram_texts(), {}
        assert.are.equal(16, #texts)
        for _, t in ipairs(texts) do
            assert.is_nil(seen[t], t .. " sent twice")
            seen[t] = true
        end
        -- the sandbox's count of requests it was handling at once: two nginx workers with one
        -- delivery each would make at most 2
        local most = 0
        for _, r in ipairs(H.requests(sb)) do
            if r.network == "telegram" then most = math.max(most, r.inflight or 0) end
        end
        assert.is_true(most > 2, "requests in flight at once: " .. most)
        assert.is_true(most <= 8, "requests in flight at once: " .. most) -- 2 workers x 4 lanes
        local _, st = get("/outbox/stats")
        local lanes = 0
        for _, w in ipairs(st.workers) do
            assert.are.equal(4, w.concurrency)
            lanes = math.max(lanes, w.lanesMax)
        end
        assert.is_true(lanes > 1, "lanes: " .. lanes)
    end)

    it("finishes the delivery in flight when nginx quits, and logs no error", function()
        H.configure(sb, { delay_ms = { telegram = 1500 } })
        local _, body = get("/outbox/publish?uid=late&providers=telegram&title=Last+one")
        for _ = 1, 200 do -- the request reached the sandbox: the delivery is in flight
            if #telegram_texts() == 1 then break end
            sh("sleep 0.05")
        end
        assert.are.equal(1, #telegram_texts())
        -- the timer ticks every 50 ms meanwhile: the worker whose run is sending skips them
        local function skipped()
            local n = 0
            for _, w in ipairs(select(2, get("/outbox/stats")).workers) do n = n + w.skipped end
            return n
        end
        local before, now = skipped(), nil
        for _ = 1, 100 do
            now = skipped()
            if now > before then break end
            sh("sleep 0.05")
        end
        assert.truthy(now > before, "no tick was skipped while a run was sending")
        local pid, left = stop_nginx()
        assert.truthy(pid)
        assert.is_nil(left, "nginx did not exit on quit")
        -- the store the nginx workers wrote, read from here
        local store = require("socialize.store")
        local s = assert(store.open(get_store_url(prefix), { keys = { STORE_KEY } }))
        local j = assert(s:job(body.jobID))
        s:close()
        assert.are.equal("sent", j.status)
        assert.are.same({ 1 }, { #telegram_texts() })
        local log = H.read(prefix .. "/error.log") or ""
        assert.is_nil(log:match("%[error%]"), log)
        assert.is_nil(log:match("%[alert%]"), log)
    end)
end

describe("queued delivery in OpenResty, SQLite #once", function()
    cases("sqlite", function(prefix) return "sqlite:" .. prefix .. "/outbox.db" end)
end)

describe("queued delivery in OpenResty, PostgreSQL #once", function()
    local pg
    K.use_postgres(function(url) pg = url end)
    cases("pg", function() return pg end)
end)
