-- The FFI path into the core for LuaJIT (OpenResty): the Gigya request built
-- and signed by one plain C call (csrc/lua/lsz_ffi.c), which the JIT
-- compiles into the caller's trace, where core.build_request (a Lua C API
-- function) ends the trace. Only where `ffi` loads (LuaJIT) and the core
-- hands out its entry points; elsewhere _M.build is false.
--
-- _M.build(opts, params) answers the table core.build_request(opts, params)
-- makes, byte for byte, or nil when this path does not take the call (a
-- value that is not a string, an option that is not a string, options
-- behind a metatable, an auth mode other than signed, more than 64
-- parameters, a request over 1 MiB) or the core refuses it: the
-- caller then asks core.build_request, which decides and says why (the same
-- code and message as without this path). Nothing here is owned across
-- calls but one buffer of 1 MiB at most, which holds the last request (no
-- credential: the signed mode sends a signature, never the secret).
--
-- _M.nonce() is core.nonce() (the same generator), _M.time() os.time() and
-- _M.now_ms() core.now_ms(), as FFI calls.
local _M = { build = false, nonce = false, time = false, now_ms = false }

local okf, ffi = pcall(require, "ffi")
if not okf or type(ffi) ~= "table" or type(ffi.cdef) ~= "function" then return _M end
local core = require("socialize.core")
if type(core.ffi) ~= "function" then return _M end

local VERSION = 3 -- csrc/lua/lsz_ffi.c LSZ_FFI_VERSION
local MAX_PARAMS = 64
local MAX_REQUEST = 1048576 -- the buffer's bytes at most (a longer request: the C API's)

local okc = pcall(ffi.cdef, [[
typedef struct lsz_ffi_build_in {
    const char *opt[11];
    size_t optlen[11];
    double timestamp;
    size_t n;
    const char *const *key;
    const size_t *klen;
    const char *const *val;
    const size_t *vlen;
} lsz_ffi_build_in;
typedef struct lsz_ffi_build_out {
    char *buf;
    size_t cap;
    size_t need;
    size_t method_len, url_len, body_len;
    int has_body, truncated;
    size_t nh;
    size_t hn_len[4], hv_len[4];
} lsz_ffi_build_out;
typedef struct lsz_ffi_api {
    int version;
    int (*build)(const lsz_ffi_build_in *in, lsz_ffi_build_out *out);
    int (*nonce)(void *st, char *out, size_t cap);
    double (*time)(void);
    double (*now_ms)(void);
} lsz_ffi_api;
]])
-- (a second copy of this module in one state, after package.loaded was
-- cleared, finds the types already declared)
if not okc and not pcall(ffi.typeof, "lsz_ffi_api") then return _M end

local addr, version, nonce_state = core.ffi()
if version ~= VERSION or type(addr) ~= "userdata" then return _M end
local api = ffi.cast("const lsz_ffi_api *", addr)
local cbuild, cnonce, ctime, cnow_ms = api.build, api.nonce, api.time, api.now_ms
-- (a light userdata passed to a void * is a conversion the JIT does not compile)
nonce_state = ffi.cast("void *", nonce_state)
_M.anchor = core.ffi -- (its upvalue is the nonce's generator)

local IN = ffi.new("lsz_ffi_build_in")
local KEY = ffi.new("const char *[?]", MAX_PARAMS)
local KLEN = ffi.new("size_t[?]", MAX_PARAMS)
local VAL = ffi.new("const char *[?]", MAX_PARAMS)
local VLEN = ffi.new("size_t[?]", MAX_PARAMS)
IN.key, IN.klen, IN.val, IN.vlen = KEY, KLEN, VAL, VLEN
local OUT = ffi.new("lsz_ffi_build_out")
local buf, cap = nil, 0
local function grow(need)
    cap = need < 2048 and 4096 or need * 2
    if cap > MAX_REQUEST then cap = MAX_REQUEST end
    buf = ffi.new("char[?]", cap)
    OUT.buf, OUT.cap = buf, cap
end
grow(0)

local type, next, tonumber, getmetatable = type, next, tonumber, getmetatable
local fstring = ffi.string

-- one option at i (core.build_request's opts field): a string, or absent;
-- false for anything else (core.build_request takes it)
local function opt(i, v)
    if v == nil then
        IN.opt[i] = nil
        IN.optlen[i] = 0
        return true
    end
    if type(v) ~= "string" then return false end
    IN.opt[i] = v
    IN.optlen[i] = #v
    return true
end

-- One parameter (k, v, the next of params after the n before): the next
-- k, v and n; n = -1 (and k nil) for one this path does not take.
local function param(params, k, v, n)
    if k == nil then return nil, nil, n end
    if n == MAX_PARAMS or type(k) ~= "string" or type(v) ~= "string" then return nil, nil, -1 end
    KEY[n], KLEN[n], VAL[n], VLEN[n] = k, #k, v, #v
    local nk, nv = next(params, k)
    return nk, nv, n + 1
end

-- (the strings in opts and params stay referenced by them during the C call:
-- opts behind a metatable are the C API's, since an __index's fresh string
-- would be anchored by nothing but IN, and freed by the collector meanwhile)
function _M.build(o, params)
    if type(o) ~= "table" or getmetatable(o) ~= nil then return nil end
    -- unrolled: a loop of eleven would keep the caller's trace from compiling
    if not (opt(0, o.method) and opt(1, o.apiDomain) and opt(2, o.url) and opt(3, o.apiKey)
        and opt(4, o.userKey) and opt(5, o.secret) and opt(6, o.accessToken) and opt(7, o.privateKey)
        and opt(8, o.nonce) and opt(9, o.sdk) and opt(10, o.auth)) then
        return nil
    end
    local ts = o.timestamp -- (core.build_request reads a numeric string as its number)
    if ts ~= nil and type(ts) ~= "number" then return nil end
    IN.timestamp = ts or 0
    local n = 0
    if params ~= nil then
        if type(params) ~= "table" then return nil end
        -- the first twelve parameters in straight-line code, the rest in a
        -- loop: a loop of a few iterations met by the caller's trace keeps
        -- it from compiling ("inner loop in root trace"), issue 15
        local k, v = next(params)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        k, v, n = param(params, k, v, n)
        while k ~= nil do k, v, n = param(params, k, v, n) end
        if n < 0 then return nil end
    end
    IN.n = n
    local rc = cbuild(IN, OUT)
    if rc == 1 then
        local need = tonumber(OUT.need)
        if need > MAX_REQUEST then return nil end
        grow(need)
        rc = cbuild(IN, OUT)
    end
    if rc ~= 0 then return nil end
    local ml, ul, bl = tonumber(OUT.method_len), tonumber(OUT.url_len), tonumber(OUT.body_len)
    local at = ml + ul
    local req = { method = fstring(buf, ml), url = fstring(buf + ml, ul), headers = {} }
    if OUT.has_body ~= 0 then
        req.body = fstring(buf + at, bl)
        at = at + bl
    end
    local nh, h = tonumber(OUT.nh), req.headers
    -- unrolled as above: four at most (the C side refuses more)
    if nh >= 1 then
        local a, b = tonumber(OUT.hn_len[0]), tonumber(OUT.hv_len[0])
        h[fstring(buf + at, a)] = fstring(buf + at + a, b)
        at = at + a + b
        if nh >= 2 then
            a, b = tonumber(OUT.hn_len[1]), tonumber(OUT.hv_len[1])
            h[fstring(buf + at, a)] = fstring(buf + at + a, b)
            at = at + a + b
            if nh >= 3 then
                a, b = tonumber(OUT.hn_len[2]), tonumber(OUT.hv_len[2])
                h[fstring(buf + at, a)] = fstring(buf + at + a, b)
                at = at + a + b
                if nh >= 4 then
                    a, b = tonumber(OUT.hn_len[3]), tonumber(OUT.hv_len[3])
                    h[fstring(buf + at, a)] = fstring(buf + at + a, b)
                end
            end
        end
    end
    if OUT.truncated ~= 0 then req.truncated = true end
    return req
end

-- the buffer's bytes (spec/ffi_spec.lua)
function _M.capacity()
    return cap
end

local NONCE = ffi.new("char[64]")
local core_nonce = core.nonce
function _M.nonce()
    local n = cnonce(nonce_state, NONCE, 64)
    if n < 0 then return core_nonce() end -- (which raises and says why)
    return fstring(NONCE, n)
end

function _M.time()
    return ctime()
end

function _M.now_ms()
    return cnow_ms()
end

return _M
