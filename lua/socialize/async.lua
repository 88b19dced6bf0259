-- Asynchronous calls: each call runs in a coroutine through the engine,
-- with a driver whose request_many and sleep yield to the poll loop; the
-- loop starts the requests as background transfers (the transport's start
-- and perform) when the transport has them, and runs the callbacks from
-- client:poll().
local errors = require("socialize.errors")

local type, pairs, ipairs, next, tostring, pcall, setmetatable = type, pairs, ipairs, next, tostring, pcall,
    setmetatable
local floor, ceil, min, max = math.floor, math.ceil, math.min, math.max
local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status,
    coroutine.yield
local E = errors.codes

local _M = {}

local ASYNC = {} -- tags the yields of the engine; any other yield is the host's

-- The driver of an asynchronous call (engine.context): every wait is a yield.
local DRIVER = {
    request_many = function(_, reqs) return co_yield(ASYNC, reqs) end,
    sleep = function(_, seconds) co_yield(ASYNC, { sleep = seconds }) end,
}

local Async = {}
Async.__index = Async

--- The asynchronous calls of one client: engine (its call, clock, sleep,
-- report) and the completed transport.
function _M.new(engine, transport)
    return setmetatable({
        _engine = engine,
        _transport = transport,
        _live = {},      -- calls not yet answered: op -> true
        _ready = {},     -- finished calls, callbacks not yet run
        _sleeping = {},  -- calls waiting to retry: op -> wake time (ms)
        _inflight = {},  -- transfer id -> { op, index }
        _ops = 0,        -- calls not yet delivered
        _closing = nil,  -- close() is running
    }, Async)
end

local function closed_error()
    return errors.transport("the client was closed (client:close()) before this call completed", "closed")
end

local function done(self, op, res, err)
    if op.finished then return end -- exactly once
    op.finished = true
    self._live[op] = nil
    self._ready[#self._ready + 1] = { op = op, res = res, err = err }
end

-- Runs op until it waits for requests or finishes.
local function step(self, op, outcomes)
    local t = self._transport
    while true do
        if op.finished then return end -- answered meanwhile (client:close())
        local ok, tag, a, b = co_resume(op.co, outcomes)
        if op.finished then return end
        if not ok then
            return done(self, op, nil, errors.new(E.INTERNAL, "internal error: " .. self._engine:scrub(tostring(tag))))
        end
        if co_status(op.co) == "dead" then
            return done(self, op, a, b)
        end
        if tag ~= ASYNC or type(a) ~= "table" then
            -- a host function (config.connections, shortener, log, clock) yielded:
            -- there is nothing to resume it with; the call fails, its callback runs
            return done(self, op, nil, errors.new(E.GENERAL_SERVER_ERROR, "a host function (config.connections,"
                .. " config.shortener, config.log or config.clock) yielded inside an asynchronous call;"
                .. " asynchronous calls cannot wait on the host's coroutines: return the value directly,"
                .. " or make a blocking call"))
        end
        local reqs = a
        if reqs.sleep then
            -- a retry waits: poll() wakes the call up when its time has come
            self._sleeping[op] = self._engine:now_ms() + reqs.sleep * 1000
            return
        end
        if not t.start or #reqs == 0 then
            -- a transport without background transfers: send now, in this call
            outcomes = t:request_many(reqs)
        else
            op.waiting, op.outcomes = #reqs, {}
            for i, req in ipairs(reqs) do
                local sok, id, msg, kind = pcall(t.start, t, req)
                if sok and id ~= nil then
                    self._inflight[id] = { op = op, index = i }
                else
                    op.outcomes[i] = { error = tostring(sok and msg or id), kind = sok and kind or "other" }
                    op.waiting = op.waiting - 1
                end
            end
            if op.waiting > 0 then return end
            outcomes = op.outcomes
        end
    end
end

-- Runs the callback of each finished call once.
local function deliver(self, ready)
    for _, r in ipairs(ready) do
        if not r.op.delivered then
            r.op.delivered = true
            self._ops = self._ops - 1
            local ok, e = pcall(r.op.cb, r.res, r.err)
            if not ok then
                self._engine:report("callback raised: " .. tostring(e))
            end
        end
    end
end

-- Runs the function registered by after(), once (the outbox records the
-- outcomes the callbacks just gathered together).
local function after(self)
    local fn = self._after
    if not fn then return end
    self._after = nil
    local ok, e = pcall(fn)
    if not ok then self._engine:report("callback raised: " .. tostring(e)) end
end

--- fn() runs once, after the callbacks of this poll (or of close) have
-- run; registered again by the next callback that needs it. Only one at a
-- time: the outbox's (a second registration before it runs is refused).
function Async:after(fn)
    if self._after then return false end
    self._after = fn
    return true
end

--- Answers every call not yet answered (in flight, waiting to retry, or
-- started by a callback while close runs) with 500026 "closed", once, now;
-- calls that had finished get their own result.
function Async:close()
    if self._closing then return false end -- close() from a callback close() runs
    self._closing = true
    for _ = 1, 100 do -- callbacks may start calls: each is answered too
        for op in pairs(self._live) do done(self, op, nil, closed_error()) end
        self._inflight, self._sleeping = {}, {}
        if #self._ready == 0 then break end
        local ready = self._ready
        self._ready = {}
        deliver(self, ready)
        after(self)
    end
    self._closing = nil
    return true
end

-- A new operation answering callback; nil when the client is closing (the
-- operation then answered at once: a call started from a callback that
-- client:close() runs).
local function new_op(self, callback)
    local op = { cb = callback }
    self._ops = self._ops + 1
    self._live[op] = true
    if self._closing then
        done(self, op, nil, closed_error())
        return nil, op
    end
    return op
end

-- The rest of a call whose first request was sent without a coroutine
-- (Async:start): its coroutine starts only now, with that request's outcome.
local function resume_plan(self, op, outcome)
    local plan, engine = op.plan, self._engine
    op.plan = nil
    op.co = co_create(function(r) return ASYNC, engine:gigya_rest(plan, r, DRIVER) end)
    step(self, op, outcome)
end

--- Starts a call: method, params, callback(res, err). A call on Gigya's
-- backend sends its first request without a coroutine (Engine:gigya_first):
-- while it waits it holds no coroutine (issue 15: memory per in-flight call).
function Async:start(method, params, callback)
    local op, closed = new_op(self, callback)
    if not op then return closed end
    local engine, t = self._engine, self._transport
    if t.start then
        local ok, plan = pcall(engine.gigya_first, engine, method, params, DRIVER)
        if not ok then
            done(self, op, nil, errors.new(E.INTERNAL, "internal error: " .. engine:scrub(tostring(plan))))
            return op
        end
        if plan and not plan.req then
            done(self, op, plan[1], plan[2])
            return op
        end
        if plan then
            op.plan = plan
            local sok, id, msg, kind = pcall(t.start, t, plan.req)
            if sok and id ~= nil then
                self._inflight[id] = op -- an op with a plan stands for its own slot (poll)
            else
                resume_plan(self, op, { error = tostring(sok and msg or id), kind = sok and kind or "other" })
            end
            return op
        end
    end
    op.co = co_create(function() return ASYNC, engine:call(method, params, DRIVER) end)
    step(self, op)
    return op
end

--- A task of the library's own that sends through the poll loop (the
-- outbox's deliveries, client:work): fn(driver) runs in a coroutine; each
-- request it sends through driver (engine:context(driver)) yields until
-- poll() has its reply. Its return values go to callback(a, b) from poll().
function Async:run(fn, callback)
    local op, closed = new_op(self, callback)
    if not op then return closed end
    op.co = co_create(function() return ASYNC, fn(DRIVER) end)
    step(self, op)
    return op
end

--- A call answered here, without a request (getUserInfo from the store):
-- fn() runs now, its (res, err) delivered by the next poll() like any
-- other call's.
function Async:answer(fn, callback)
    local op, closed = new_op(self, callback)
    if not op then return closed end
    local ok, res, err = pcall(fn)
    if not ok then
        res, err = nil, errors.new(E.INTERNAL, "internal error: " .. self._engine:scrub(tostring(res)))
    end
    done(self, op, res, err)
    return op
end

--- Drives the calls (client:poll): timeout_ms already checked and clamped.
-- Returns how many calls are still in flight.
function Async:poll(timeout_ms)
    local t, engine = self._transport, self._engine
    local now = engine:now_ms()
    local wake
    for _, at in pairs(self._sleeping) do
        if not wake or at < wake then wake = at end
    end
    if wake and wake > now and not next(self._inflight) and #self._ready == 0 and (timeout_ms or 0) > 0 then
        -- only retries are waiting: sleep until the first is due, within timeout_ms
        engine:sleep(min(timeout_ms, wake - now) / 1000)
        now = engine:now_ms()
    end
    wake = nil
    for op, at in pairs(self._sleeping) do
        if at <= now then
            self._sleeping[op] = nil
            step(self, op, {})
        elseif not wake or at < wake then
            wake = at
        end
    end
    if next(self._inflight) and t.perform then
        local wait = #self._ready > 0 and 0 or floor(timeout_ms or 0)
        if wake and wake - now < wait then wait = max(0, ceil(wake - now)) end
        for _, r in ipairs(t:perform(wait)) do
            local slot = self._inflight[r.id]
            self._inflight[r.id] = nil
            if slot and slot.plan then -- a first request sent without a coroutine
                if not slot.finished then resume_plan(self, slot, r) end
            elseif slot then
                local op = slot.op
                op.outcomes[slot.index] = r
                op.waiting = op.waiting - 1
                if op.waiting == 0 then step(self, op, op.outcomes) end
            end
        end
    end
    local ready = self._ready
    self._ready = {}
    deliver(self, ready)
    after(self)
    return self._ops
end

--- Milliseconds until poll() has work (0: now), or -1 when nothing is in flight.
function Async:timeout()
    if #self._ready > 0 then return 0 end
    local t = -1
    if next(self._inflight) and self._transport.timeout then
        t = self._transport:timeout()
    end
    local now = self._engine:now_ms()
    for _, at in pairs(self._sleeping) do
        local w = max(0, ceil(at - now))
        if t < 0 or w < t then t = w end
    end
    if t < 0 and self._ops > 0 and not next(self._sleeping) then t = 0 end
    return t
end

--- The sockets the in-flight transfers wait on.
function Async:fds()
    if next(self._inflight) and self._transport.fds then
        return self._transport:fds()
    end
    return {}
end

return _M
