-- Queued delivery in OpenResty (examples/openresty/outbox.conf): request
-- handlers enqueue and read jobs; init_worker() starts this nginx worker's
-- outbox worker (socialize.resty.outbox_worker), which delivers from an
-- ngx.timer.every callback through cosockets.
local socialize = require("socialize")
local core = require("socialize.core")

local _M = {}

-- One client per nginx worker, made in that worker (never in init_by_lua:
-- a store connection must not cross nginx's fork). Its store is opened on
-- first use.
local client

local function get_client()
    if client then return client end
    local ports = core.json_decode(os.getenv("SANDBOX_PORTS") or "{}") or {}
    local function base(n) return ports[n] and ("http://127.0.0.1:" .. ports[n]) or nil end
    client = socialize.new {
        backend = "direct",
        allowPrivateNetworks = true, -- the sandbox runs on 127.0.0.1; leave this out in production
        timeout = 10,
        providers = {
            twitter = { consumerKey = "tw-consumer-key", consumerSecret = "tw-consumer-secret", baseUrl = base("twitter") },
            telegram = { botToken = "123456:sandbox-bot-token", baseUrl = base("telegram") },
            mastodon = {},
        },
        -- the jobs' store; its key comes from SOCIALIZE_STORE_KEY
        store = { url = os.getenv("SOCIALIZE_STORE") },
        -- in production: the users' connections from the store (connect) or your own lookup
        connections = function(uid)
            return {
                twitter = { token = "tw-" .. uid, tokenSecret = "tw-" .. uid .. "-secret" },
                telegram = { chatId = "-100777" },
                mastodon = { accessToken = "md-" .. uid, instance = base("mastodon") },
            }
        end,
    }
    return client
end

local worker

--- init_worker_by_lua: this nginx worker's outbox worker. Cosockets do not
-- exist in init_worker itself; the timer's runs have them.
function _M.init_worker()
    local err
    worker, err = require("socialize.resty").outbox_worker(get_client(), {
        interval = tonumber(os.getenv("SOCIALIZE_OUTBOX_INTERVAL")) or 1, -- seconds between runs
        budget = 500,              -- ms of starting deliveries per run
        concurrency = 4,           -- deliveries in flight at once (ngx.thread lanes)
        measure = true,            -- time the store's calls (they block this nginx worker)
        stats = "socialize_outbox", -- lua_shared_dict for GET /outbox/stats
    })
    if not worker then ngx.log(ngx.ERR, "socialize outbox worker: ", err) end
end

local function answer(status, t)
    ngx.status = status
    ngx.header.content_type = "application/json"
    ngx.say(core.json_encode(t))
end

function _M.publish()
    local args = ngx.req.get_uri_args()
    local res, err = get_client():publishUserAction({
        UID = type(args.uid) == "string" and args.uid or "user_123",
        userAction = { title = type(args.title) == "string" and args.title or "Level 3 done",
                       linkBack = "https://game.example/l3" },
        enabledProviders = args.providers,
    }, { deliver = "queued", key = args.key }) -- one SQLite or PostgreSQL transaction, no network
    if not res then
        return answer(400, { errorCode = err.errorCode, error = err.error, errorDetails = err.errorDetails })
    end
    answer(200, { errorCode = 0, jobID = res.jobID, status = res.status, providers = res.providers })
end

function _M.job()
    local j, err = get_client():job(ngx.var.arg_id)
    if not j then
        return answer(404, { errorCode = err.errorCode, error = err.error, errorDetails = err.errorDetails })
    end
    local out = { errorCode = 0, jobID = j.jobID, status = j.status, deliveries = {} }
    for _, d in ipairs(j.deliveries) do
        out.deliveries[#out.deliveries + 1] = { provider = d.provider, state = d.state, attempts = d.attempts,
                                                postID = d.postID, reason = d.reason }
    end
    answer(200, out)
end

function _M.stats()
    local dict, out = ngx.shared.socialize_outbox, {}
    for _, pid in ipairs(dict:get_keys(0)) do out[#out + 1] = core.json_decode(dict:get(pid)) end
    answer(200, { errorCode = 0, workers = out })
end

return _M
