-- The Gigya path: one signed request to Gigya's REST API per attempt,
-- with Gigya's retries (a 403002 once with the clock offset learned from
-- Date; a connection that failed before anything was sent, or Gigya's own
-- rate limit 403048, as config.retry allows). Everything it needs comes in
-- the call's context (socialize.engine).
local core = require("socialize.core")
local errors = require("socialize.errors")
local policy = require("socialize.policy")

local floor = math.floor
local E = errors.codes

local _M = {}

local function build(ctx, method, params)
    -- the host's clock and nonce first: either may yield (another call of this
    -- client then fills the same options); filled and used at once after
    local ts, nonce = floor(ctx.clock()), ctx.nonce()
    local o = ctx.options
    o.method, o.timestamp, o.nonce = method, ts, nonce
    -- under LuaJIT, one FFI call the JIT compiles (socialize.ffi); anything it
    -- does not take or refuses, the C API builds and explains
    local fb, req, msg, code = ctx.ffi_build, nil, nil, nil
    if fb then req = fb(o, params) end
    if not req then req, msg, code = core.build_request(o, params) end
    if not req then
        return nil, errors.new(code, msg)
    end
    req.timeout = ctx.config.timeout
    req.wantHeaders = "date" -- the one response header this path reads (learn_date)
    req.gigya = true -- the resty transport may send it through config.restyUpstream
    return req
end

-- A reply (the transport's outcome res) as the response, or nil and an error.
local function answer(ctx, res)
    if not res or res.error then
        return nil, errors.transport(res and res.error or "no reply", res and res.kind)
    end
    ctx.learn_date(res.headers and res.headers.date)
    local reply, msg, code = core.parse_response(res.body or "", res.status or 0)
    if not reply then
        return nil, errors.new(code, msg)
    end
    return reply
end

local function send_once(ctx, method, params)
    local fast = ctx.fast -- one C call from the parameters to the reply (socialize.engine)
    if fast then
        local ts, nonce = floor(ctx.clock()), ctx.nonce() -- hooks first, as in build
        local o = ctx.options
        o.method, o.timestamp, o.nonce = method, ts, nonce
        local reply, err = fast(o, params)
        if reply or err then return reply, err end
        -- the deadline passed: the general path below answers
    end
    local req, err = build(ctx, method, params)
    if not req then return nil, err end
    local send1 = ctx.send1 -- (a context made elsewhere may have send only)
    if send1 then return answer(ctx, send1(req)) end
    return answer(ctx, ctx.send({ req })[1])
end

_M.build, _M.answer = build, answer

-- The retries of a call whose first attempt (reply, err) may be repeated:
-- the last attempt's reply, err.
local function attempts(ctx, method, p, reply, err)
    local n, expired_retried, first = 0, false, true
    while true do
        if first then
            first = false
        else
            reply, err = send_once(ctx, method, p)
        end
        if reply and reply.errorCode == E.REQUEST_EXPIRED and ctx.retry_expired and not expired_retried then
            -- Request has expired: the Date offset was just learned; once more.
            expired_retried = true
        else
            -- safe to repeat: the connection failed before anything was sent, or
            -- Gigya refused the call for its rate limit (403048)
            local safe = (not reply and err.transportKind == "connect")
                or (reply and reply.errorCode == E.RATE_LIMIT_EXCEEDED)
            n = n + 1
            if not safe or n > ctx.retry.retries then break end
            local d = policy.backoff(ctx.retry, n)
            -- a wait that does not fit in the call's deadline: the last error answers
            if d >= ctx.remaining() then break end
            ctx.log({ event = "retry", provider = "gigya", delay = d,
                      reason = reply and ("errorCode " .. reply.errorCode) or "connect" })
            ctx.sleep(d)
        end
    end
    return reply, err
end

--- Calls a Gigya method: the response, or nil and an error. first: the
-- { reply, err } of a first attempt already made (an asynchronous call's
-- first request, sent without a coroutine: socialize.async), else nil.
-- (The first attempt is made outside the retry loop: a loop run once per
-- call keeps LuaJIT from compiling the call, issue 15.)
function _M.call(ctx, method, p, first)
    local reply, err
    if first then
        reply, err = first[1], first[2]
    else
        reply, err = send_once(ctx, method, p)
    end
    local code = reply and reply.errorCode
    if not reply or code == E.REQUEST_EXPIRED or code == E.RATE_LIMIT_EXCEEDED then
        reply, err = attempts(ctx, method, p, reply, err)
    end
    if not reply then return nil, policy.scrub_result(err, ctx.secrets) end
    if reply.errorCode ~= 0 then
        return nil, errors.wrap(policy.scrub_result(reply, ctx.secrets))
    end
    return reply
end

return _M
