-- Transport over OpenResty cosockets: never blocks an nginx worker, never
-- needs libcurl. Connections go back to nginx's keep-alive pool; several
-- requests run in parallel as light threads. Sockets are created per call
-- and never cached in the client. A capability table (socialize.transport):
-- request, request_many, sleep (ngx.sleep), gate (the phase check), close.
-- With config.restyUpstream, Gigya's signed calls go as subrequests to the
-- host's internal proxy_pass location instead (docs/openresty.md).
local ngx = ngx
local type, tonumber, tostring, ipairs, pairs = type, tonumber, tostring, ipairs, pairs
local concat = table.concat
local find, lower, match, format, gsub, sub, byte = string.find, string.lower, string.match, string.format,
    string.gsub, string.sub, string.byte

local _M = {}

-- Phases where ngx.socket.tcp works (lua-nginx-module README, "context").
local COSOCKET_PHASES = {
    rewrite = true, access = true, content = true, timer = true,
    ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local MAX_HEADER_BYTES = 64 * 1024

local function parse_url(url)
    local scheme, authority, path = match(url, "^(https?)://([^/?#]+)(.*)$")
    if not scheme then return nil end
    local host, port = match(authority, "^%[(.+)%]:?(%d*)$")
    if not host then
        host, port = match(authority, "^([^:]+):?(%d*)$")
    end
    if not host then return nil end
    port = tonumber(port) or (scheme == "https" and 443 or 80)
    if path == "" then path = "/" end
    return scheme, host, port, path, authority
end

local MAX_LINE_BYTES = 8192 -- a status line, a chunk-size line, a trailer

-- One line, up to its LF (a CR before it dropped), read in pieces: a line
-- longer than MAX_LINE_BYTES is an error, never buffered whole (ngx's
-- receive("*l") buffers a line however long it is).
local function read_line(sock)
    local reader = sock:receiveuntil("\n")
    local parts, size = {}, 0
    while true do
        local piece, err = reader(1024)
        if not piece then
            if err then return nil, err end
            break -- the LF
        end
        size = size + #piece
        if size > MAX_LINE_BYTES then return nil, "line too long" end
        parts[#parts + 1] = piece
    end
    return (gsub(concat(parts), "\r$", ""))
end

local function read_body(sock, headers, max)
    local te = headers["transfer-encoding"]
    if te and find(lower(te), "chunked", 1, true) then
        local parts, total = {}, 0
        while true do
            local line, err = read_line(sock)
            if not line then return nil, err end
            local size = tonumber(match(line, "^%s*(%x+)"), 16)
            if not size then return nil, "bad chunk size" end
            if size == 0 then
                local trailers = 0
                repeat -- trailers up to the empty line, as many bytes as headers at most
                    line, err = read_line(sock)
                    if not line then return nil, err end
                    trailers = trailers + #line + 2
                    if trailers > MAX_HEADER_BYTES then return nil, "trailers too large" end
                until line == ""
                return concat(parts), nil, true
            end
            total = total + size
            if total > max then return nil, "too_large" end
            local data
            data, err = sock:receive(size)
            if not data then return nil, err end
            parts[#parts + 1] = data
            sock:receive(2) -- CRLF
        end
    end
    local len = tonumber(headers["content-length"])
    if len then
        if len > max then return nil, "too_large" end
        if len == 0 then return "", nil, true end
        local data, err = sock:receive(len)
        if not data then return nil, err end
        return data, nil, true
    end
    -- no length: the body runs to the end of the connection, read in pieces
    -- (receive("*a") would hold however much comes before the cap is seen)
    local parts, total = {}, 0
    while true do
        local data, err, partial = sock:receive(65536)
        local got = data or partial
        if got and #got > 0 then
            total = total + #got
            if total > max then return nil, "too_large" end
            parts[#parts + 1] = got
        end
        if not data then
            if err == "closed" then return concat(parts), nil, false end
            return nil, err
        end
    end
end

local function blank(b) return b == 32 or b == 9 or b == 11 or b == 12 end

-- The header block (after the status line) into lower-case names -> values,
-- repeated names joined with ", ", lines without a colon skipped. One pass
-- with plain finds and byte scans: linear in the block whatever it holds
-- (the patterns it replaces backtracked: a 64 kB line without a colon, or a
-- value of spaces, took seconds of the worker).
local function split_headers(block)
    local headers, pos, n, colon = {}, 1, #block, 0
    while pos <= n do
        local nl = find(block, "\n", pos, true) or n + 1
        local last = nl - 1
        if last >= pos and byte(block, last) == 13 then last = last - 1 end
        if colon < pos then colon = find(block, ":", pos, true) or n + 1 end
        if colon > pos and colon <= last then
            local name = lower(sub(block, pos, colon - 1))
            local vs, ve = colon + 1, last
            while vs <= ve and blank(byte(block, vs)) do vs = vs + 1 end
            while ve >= vs and blank(byte(block, ve)) do ve = ve - 1 end
            local value = sub(block, vs, ve)
            local had = headers[name]
            headers[name] = had and (had .. ", " .. value) or value
        end
        pos = nl + 1
    end
    return headers
end
_M.split_headers = split_headers -- (a reply's header block -> lower-case names: values)

local function kind_of(err)
    if err == "timeout" then return "timeout" end
    if err == "too_large" then return "too_large" end
    if err == "closed" then return "closed" end
    return "other"
end

-- A guarded request (req.guard: its host came from connection data) is
-- connected to a checked address: an IP literal as it is, a name through
-- config.resolver(name) -> { "address", ... }, every address of which must
-- pass core.addr_blocked. nginx's own resolver cannot be asked where a name
-- points before connecting, so without config.resolver a guarded name is
-- refused (docs/api.md). Returns the address to connect to, or nil, reason.
local function guarded_address(config, url)
    local core = require("socialize.core")
    local host, why, _, family = core.check_url(url)
    if not host then return nil, "refused: " .. tostring(why) end
    if family ~= 0 then return host end -- a literal, already checked
    local resolve = config.resolver
    if type(resolve) ~= "function" then
        return nil, "refused: cannot check where " .. host .. " resolves: the resty transport needs "
            .. "config.resolver for connection URLs"
    end
    local ok, addrs = pcall(resolve, host)
    if not ok or type(addrs) ~= "table" or addrs[1] == nil then
        return nil, "refused: " .. host .. " did not resolve"
    end
    for _, ip in ipairs(addrs) do
        local blocked = type(ip) == "string" and core.addr_blocked(ip)
        if blocked ~= false then
            return nil, "refused: " .. host .. " resolves to a loopback, private or reserved address ("
                .. tostring(ip) .. ")"
        end
    end
    return addrs[1]
end

-- What a URL gives every request to it, parsed once: scheme, host, port,
-- the pool name, the connect options and the request head's first lines
-- (method, path, Host, User-Agent, Accept). At most 64 URLs are kept (the
-- table starts over when full); a guarded request is never cached (its pool
-- names the checked address).
local targets, ntargets = {}, 0
local function target_of(method, url)
    local key = method .. " " .. url
    local t = targets[key]
    if t then return t end
    local scheme, host, port, path, authority = parse_url(url)
    if not scheme then return nil end
    t = { scheme = scheme, host = host, port = port, authority = authority, pool = scheme .. "://" .. authority,
          head = format("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: socialize-resty\r\nAccept: */*\r\n",
              method, path, authority) }
    t.opts = { pool = t.pool }
    if ntargets >= 64 then targets, ntargets = {}, 0 end
    targets[key], ntargets = t, ntargets + 1
    return t
end

local function request(config, req)
    local method = req.method or "POST"
    local t = target_of(method, req.url)
    if not t then
        return nil, "bad url", "other"
    end
    local scheme, host, port = t.scheme, t.host, t.port
    local target, opts = host, t.opts
    if req.guard then
        local target_, why = guarded_address(config, req.url)
        if not target_ then return nil, why, "connect" end
        target = target_
        if find(target, ":", 1, true) then target = "[" .. target .. "]" end
        opts = { pool = t.pool .. "@" .. target } -- never share a connection with another address
    end
    local timeout = (req.timeout or config.timeout or 10) * 1000
    local connect = math.min((config.connectTimeout or 5) * 1000, timeout)
    local sock = ngx.socket.tcp()
    sock:settimeouts(connect, timeout, timeout)
    local ok, err = sock:connect(target, port, opts)
    if not ok then
        return nil, err, err == "timeout" and "timeout" or "connect"
    end
    if scheme == "https" and sock:getreusedtimes() == 0 then
        -- verified against lua_ssl_trusted_certificate (nginx.conf)
        local sess
        sess, err = sock:sslhandshake(nil, host, true)
        if not sess then
            sock:close()
            return nil, err, "tls"
        end
    end
    local body = req.body or ""
    local lines = { t.head }
    if req.method ~= "GET" or #body > 0 then
        lines[2] = "Content-Length: " .. #body .. "\r\n"
    end
    for k, v in pairs(req.headers or {}) do
        if find(k, "[%c:%s]") or find(v, "[\r\n%z]") then
            sock:close()
            return nil, "header " .. k .. " contains CR, LF or NUL", "other"
        end
        lines[#lines + 1] = k .. ": " .. v .. "\r\n"
    end
    lines[#lines + 1] = "\r\n"
    lines[#lines + 1] = body
    local sent
    sent, err = sock:send(concat(lines))
    if not sent then
        sock:close()
        return nil, err, kind_of(err)
    end
    -- the status line and the header block in one read up to the blank line,
    -- capped (a reader asked for MAX_HEADER_BYTES + 1 bytes that gets them
    -- all has not met the blank line)
    local reader = sock:receiveuntil("\r\n\r\n")
    local head, rerr = reader(MAX_HEADER_BYTES + 1)
    if not head then
        sock:close()
        return nil, rerr, kind_of(rerr)
    end
    if #head > MAX_HEADER_BYTES then
        sock:close()
        return nil, "headers too large", "too_large"
    end
    local tail
    tail, rerr = reader(1) -- nil, nil: the blank line was met
    if tail or rerr then
        sock:close()
        if rerr then return nil, rerr, kind_of(rerr) end
        return nil, "headers too large", "too_large"
    end
    local status = tonumber(match(head, "^HTTP/%d%.%d (%d%d%d)"))
    if not status then
        sock:close()
        return nil, "bad status line", "other"
    end
    local block = sub(head, (find(head, "\n", 1, true) or #head) + 1)
    local headers = split_headers(block)
    local data, complete
    data, err, complete = read_body(sock, headers, (type(req.maxBytes) == "number" and req.maxBytes >= 1 and req.maxBytes)
        or config.maxReplyBytes or 8 * 1024 * 1024)
    if not data then
        sock:close()
        if err == "too_large" then return nil, "reply too large", "too_large" end
        return nil, err, kind_of(err)
    end
    local conn = headers.connection and lower(headers.connection) or ""
    if complete and not find(conn, "close", 1, true) then
        sock:setkeepalive(60000, 64)
    else
        sock:close()
    end
    return { status = status, headers = headers, body = data }
end

-- Phases where ngx.location.capture works (not in timers).
local CAPTURE_PHASES = { rewrite = true, access = true, content = true }

-- config.restyUpstream: a Gigya request sent as a subrequest to the host's
-- internal location (proxy_pass to an upstream with keepalive, its
-- proxy_*_timeouts, proxy_pass_request_headers off, its Content-Type set:
-- docs/openresty.md). When nginx's upstream module fails (no connection, a
-- timeout, a reset, a malformed reply) the subrequest ends with 502 or 504,
-- an empty body and `truncated`: nothing tells whether the request was sent,
-- so such a failure is never "connect" (never repeated as unsent).
local function via_upstream(config, req)
    local _, _, _, path = parse_url(req.url)
    if not path then return nil, "bad url", "other" end
    local res = ngx.location.capture(config.restyUpstream .. sub(path, 2), {
        method = req.method == "GET" and ngx.HTTP_GET or ngx.HTTP_POST,
        body = req.body or "", -- never the parent request's body
    })
    local status = res.status
    if res.truncated then
        if status == 504 then return nil, "timeout (nginx upstream)", "timeout" end
        if status == 502 and (res.body or "") == "" then
            return nil, "upstream failed (nginx 502: refused, reset or a malformed reply; see nginx's error log)", "other"
        end
        return nil, "reply truncated (nginx upstream)", "closed"
    end
    local body = res.body or ""
    local max = (type(req.maxBytes) == "number" and req.maxBytes >= 1 and req.maxBytes)
        or config.maxReplyBytes or 8 * 1024 * 1024
    if #body > max then return nil, "reply too large", "too_large" end
    local headers = {}
    for k, v in pairs(res.header) do
        if type(v) == "table" then v = concat(v, ", ") end
        headers[lower(k)] = v
    end
    return { status = status, headers = headers, body = body }
end

-- One request by the route it takes: res | nil, message, kind.
local function route(config, req)
    if req.gigya and config.restyUpstream and not req.guard and CAPTURE_PHASES[ngx.get_phase()] then
        return via_upstream(config, req)
    end
    return request(config, req)
end

local function outcome(config, req)
    local res, err, kind = route(config, req)
    if res then return res end
    return { error = tostring(err), kind = kind }
end

--- The outbox's worker of this nginx worker (docs/openresty.md, "Queued
-- delivery"), started from init_worker_by_lua*: see socialize.resty_outbox.
function _M.outbox_worker(client_or_config, opts)
    return require("socialize.resty_outbox").start(client_or_config, opts)
end

function _M.new(config)
    local t = {}

    --- Why nothing can be sent when the current nginx phase has no cosockets, else nil.
    function t.gate()
        local phase = ngx.get_phase()
        if not COSOCKET_PHASES[phase] then
            return "cosockets are not available in nginx's " .. phase
                .. " phase; call socialize from rewrite, access or content handlers, or from ngx.timer.at"
        end
    end

    function t.request_many(_, reqs)
        local out = {}
        if #reqs == 1 then
            out[1] = outcome(config, reqs[1])
            return out
        end
        local spawned = {}
        for i, req in ipairs(reqs) do
            spawned[i] = ngx.thread.spawn(outcome, config, req)
        end
        for i, th in ipairs(spawned) do
            local ok, res = ngx.thread.wait(th)
            out[i] = ok and res or { error = tostring(res), kind = "other" }
        end
        return out
    end

    -- what request_many({ req })[1] answers, without its two lists
    function t.request(_, req)
        local res, err, kind = route(config, req)
        if res then return res end
        return nil, tostring(err), kind
    end

    function t.close() end

    function t.sleep(_, seconds) ngx.sleep(seconds) end -- yields: the worker goes on

    return t
end

return _M
