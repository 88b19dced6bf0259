/* socialize.core - Lua binding of the sans-IO core.
 *
 * Everything here is pure computation: no sockets, no blocking.
 * The convention of the C modules (docs/api.md "Return conventions"): a
 * function that can fail returns its value, or nil, message, code - code
 * being the Gigya error code (a name in core.errors()). An allocation
 * failure the C side detects is such a failure: nil, "out of memory",
 * 500000 (INTERNAL), never a raise. Only wrong argument types raise (and
 * the system's random generator failing, in nonce/random_hex). No function
 * raises while it owns C memory. */

#include "lsz_core.h"
#include "sz_codes.h"
#include "lsz_capi.h"

/* core.capi: the C interface of lsz_capi.h (the curl transport's one entry
 * point for a blocking Gigya call); static, so valid for the process (the
 * module is never unloaded: -z nodelete). */
static const lsz_capi capi = {
    LSZ_CAPI_MAGIC, LSZ_CAPI_VERSION, sizeof(lsz_capi),
    lsz_build,
    sz_request_method, sz_request_url, sz_request_body,
    sz_request_header_count, sz_request_header, sz_request_free,
    lsz_reply,
};

int lsz_push_fail(lua_State *L, int code, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushinteger(L, code);
    return 3;
}

/* ---- argument reading (docs/RELIABILITY.md "NUL bytes") ----------------------
 * Every argument's type is checked before the function allocates anything,
 * so a raise never leaks. A string that feeds the core as a C string and
 * holds a NUL byte is refused (it would be cut short), never truncated. */

/* A string argument that must not hold NUL: sets *nul when it does. */
const char *lsz_arg_cstr(lua_State *L, int i, int *nul)
{
    size_t n;
    const char *s = luaL_checklstring(L, i, &n);
    if (sz_has_nul(s, n))
        *nul = 1;
    return s;
}

const char *lsz_arg_optcstr(lua_State *L, int i, int *nul)
{
    if (lua_isnoneornil(L, i))
        return NULL;
    return lsz_arg_cstr(L, i, nul);
}

/* A number argument as long long, saturated (NaN -> 0). */
long long lsz_arg_ll(lua_State *L, int i)
{
    return sz_sat_from_double((double)luaL_checknumber(L, i));
}

int lsz_clamp_int(long long v)
{
    return v < -2147483647 ? -2147483647 : v > 2147483647 ? 2147483647 : (int)v;
}

int lsz_push_nul_fail(lua_State *L, const char *what)
{
    lua_pushnil(L);
    lua_pushfstring(L, "Invalid parameter value: %s contains a NUL byte", what);
    lua_pushinteger(L, SZ_GIGYA_INVALID_PARAMETER);
    return 3;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, sz_gigya_message(lsz_clamp_int((long long)luaL_checkinteger(L, 1))));
    return 1;
}

/* core.errors() -> codes, messages: { NAME = code } and { [code] = message }
 * for every Gigya code the library knows, from the table the core's message
 * function reads (sz_codes.h). socialize.errors is built from it. */
static int l_errors(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
#define SZ_ROW(c, name, m)                                                   \
    lua_pushinteger(L, (c));                                                 \
    lua_setfield(L, -3, #name);                                              \
    lua_pushstring(L, (m));                                                  \
    lua_rawseti(L, -2, (c));
    SZ_GIGYA_CODES(SZ_ROW)
#undef SZ_ROW
    return 2;
}

/* core.http_reason(status) -> "Not Found", "OK" (2xx) or "Error" */
static int l_http_reason(lua_State *L)
{
    lua_pushstring(L, sz_http_reason(lsz_clamp_int((long long)luaL_checkinteger(L, 1))));
    return 1;
}

/* core.parse_http_date(s) -> Unix seconds, or nil, message, 400006 when s is
 * not an RFC 7231 IMF-fixdate */
static int l_parse_http_date(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    long long t = sz_parse_http_date(s, n);
    if (t < 0)
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, "Invalid parameter value: not an HTTP date");
    lua_pushnumber(L, (lua_Number)t);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"strerror", l_strerror},
    {"parse_http_date", l_parse_http_date},
    {"errors", l_errors},
    {"http_reason", l_http_reason},
    {NULL, NULL}
};

SZ_LUAOPEN int luaopen_socialize_core(lua_State *L)
{
    sz_newlib(L, funcs);
    sz_setfuncs(L, lsz_sign_funcs, 0);
    sz_setfuncs(L, lsz_json_funcs, 0);
    sz_setfuncs(L, lsz_provider_funcs, 0);
    sz_setfuncs(L, lsz_file_funcs, 0);
    lsz_open_user_action_table(L);
    {
        unsigned long long *st = lua_newuserdata(L, 2 * sizeof *st);
        st[0] = st[1] = 0; /* seeded on first use (and again in a child of fork) */
        lsz_nonce_init();
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, lsz_nonce, 1);
        lua_setfield(L, -3, "nonce");
        lua_pushcclosure(L, lsz_ffi, 1); /* the same generator through the FFI */
        lua_setfield(L, -2, "ffi");
    }
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushlightuserdata(L, (void *)&capi);
    lua_setfield(L, -2, "capi");
    lua_pushlightuserdata(L, (void *)&capi); /* the one the transport reads behind (lsz_capi.h) */
    lua_setfield(L, LUA_REGISTRYINDEX, LSZ_CAPI_KEY);
    lua_pushstring(L, sz_version());
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "socialize.core");
    lua_setfield(L, -2, "_NAME");
    return 1;
}
