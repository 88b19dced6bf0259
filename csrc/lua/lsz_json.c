/* socialize.core - Lua values <-> JSON and parameter strings: the
 * deterministic encoder (json_encode, param_string, the table -> sz_params
 * conversion of build_request), json_decode, and Lua -> jansson for the
 * provider inputs. Part of the binding (lsocialize_core.c). */

#include "lsz_core.h"

/* ---- Lua value -> JSON / parameter string --------------------------------*/

static int enc_fail(enc_ctx *c, const char *what)
{
    const char *path = c->path.len ? c->path.data : "value";
    c->code = SZ_GIGYA_INVALID_PARAMETER;
    if (c->path.len > 80) /* keep the reason readable for deep paths */
        snprintf(c->msg, sizeof c->msg, "Invalid parameter value: %.60s... %s", path, what);
    else
        snprintf(c->msg, sizeof c->msg, "Invalid parameter value: %s %s", path, what);
    return -1;
}

typedef struct keyref {
    const char *s;
    size_t      n;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int encode_value(lua_State *L, int idx, enc_ctx *c, int depth);

/* 1 when the table at idx is a JSON array (keys exactly 1..n, n > 0, or an
 * empty table whose metatable says __jsontype = "array"), 0 for an object,
 * -1 when it mixes both or has holes. */
static int table_kind(lua_State *L, int idx, size_t *out_n)
{
    size_t n = sz_rawlen(L, idx), count = 0;
    int has_str = 0, has_num = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING)
            has_str = 1;
        else if (lua_type(L, -1) == LUA_TNUMBER)
            has_num = 1;
        else
            has_str = has_num = 1;
    }
    *out_n = n;
    if (count == 0) {
        int arr = 0;
        if (luaL_getmetafield(L, idx, "__jsontype")) {
            arr = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "array") == 0;
            lua_pop(L, 1);
        }
        return arr;
    }
    if (has_str && has_num)
        return -1;
    if (has_num)
        return count == n ? 1 : -1;
    return 0;
}

static int encode_table(lua_State *L, int idx, enc_ctx *c, int depth)
{
    size_t n, i, plen = c->path.len, count = 0;
    keyref *keys;
    int kind;
    if (depth > SZ_JSON_MAX_DEPTH)
        return enc_fail(c, "is nested too deeply (or refers to itself)");
    if (!lua_checkstack(L, 4))
        return enc_fail(c, "is nested too deeply");
    kind = table_kind(L, idx, &n);
    if (kind < 0)
        return enc_fail(c, "mixes array and object keys, or is an array with holes");
    if (kind == 1) {
        sz_buf_addc(&c->out, '[');
        for (i = 1; i <= n; i++) {
            if (i > 1)
                sz_buf_addc(&c->out, ',');
            sz_buf_printf(&c->path, "[%zu]", i);
            lua_rawgeti(L, idx, (int)i);
            if (encode_value(L, lua_gettop(L), c, depth + 1) != 0)
                return -1;
            lua_pop(L, 1);
            c->path.len = plen;
            if (c->path.data)
                c->path.data[plen] = '\0';
        }
        sz_buf_addc(&c->out, ']');
        return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    keys = count ? malloc(count * sizeof *keys) : NULL;
    if (count && !keys)
        return enc_fail(c, "could not be encoded (out of memory)");
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        /* keys are strings here (table_kind), anchored by the table */
        keys[i].s = lua_tolstring(L, -1, &keys[i].n);
        i++;
    }
    if (count > 1)
        qsort(keys, count, sizeof *keys, keyref_cmp);
    sz_buf_addc(&c->out, '{');
    for (i = 0; i < count; i++) {
        if (!sz_utf8_valid(keys[i].s, keys[i].n)) {
            free(keys);
            return enc_fail(c, "has a key that is not valid UTF-8");
        }
        if (i)
            sz_buf_addc(&c->out, ',');
        sz_json_string_buf(&c->out, keys[i].s, keys[i].n);
        sz_buf_addc(&c->out, ':');
        if (plen)
            sz_buf_addc(&c->path, '.');
        sz_buf_add(&c->path, keys[i].s, keys[i].n > 64 ? 64 : keys[i].n);
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, idx);
        if (encode_value(L, lua_gettop(L), c, depth + 1) != 0) {
            free(keys);
            return -1;
        }
        lua_pop(L, 1);
        c->path.len = plen;
        if (c->path.data)
            c->path.data[plen] = '\0';
    }
    free(keys);
    sz_buf_addc(&c->out, '}');
    return 0;
}

/* A string (checked UTF-8; JSON-quoted or raw), a number (integral without
 * fraction, else shortest round-trip) or a boolean. Returns 1 when the
 * value is not one of those, else 0 or -1 (enc_fail). */
static int encode_scalar(lua_State *L, int idx, enc_ctx *c, int quote)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!sz_utf8_valid(s, n))
            return enc_fail(c, "is not valid UTF-8");
        if (quote)
            sz_json_string_buf(&c->out, s, n);
        else
            sz_buf_add(&c->out, s, n);
        return 0;
    }
    case LUA_TNUMBER:
        if (sz_isinteger(L, idx)) {
            sz_buf_printf(&c->out, "%lld", (long long)lua_tointeger(L, idx));
            return 0;
        }
        if (sz_number_buf(&c->out, (double)lua_tonumber(L, idx)) != 0)
            return enc_fail(c, "is NaN or infinite");
        return 0;
    case LUA_TBOOLEAN:
        sz_buf_adds(&c->out, lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    default:
        return 1;
    }
}

static int encode_value(lua_State *L, int idx, enc_ctx *c, int depth)
{
    int rc = encode_scalar(L, idx, c, 1);
    if (rc != 1)
        return rc;
    switch (lua_type(L, idx)) {
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* socialize.null, cjson.null */
            sz_buf_adds(&c->out, "null");
            return 0;
        }
        return enc_fail(c, "is a userdata, which has no JSON form");
    case LUA_TTABLE:
        return encode_table(L, idx, c, depth);
    default:
        return enc_fail(c, lua_type(L, idx) == LUA_TNIL ? "is nil"
                                                          : "has a type with no JSON form");
    }
}

/* Parameter value -> the exact string that is signed and sent:
 * string as is, integral number without fraction, boolean true/false,
 * table as canonical JSON. */
static int param_string(lua_State *L, int idx, enc_ctx *c)
{
    int rc = encode_scalar(L, idx, c, 0);
    if (rc != 1)
        return rc;
    if (lua_type(L, idx) == LUA_TTABLE)
        return encode_table(L, idx, c, 0);
    return enc_fail(c, "must be a string, number, boolean or table");
}

void lsz_enc_init(enc_ctx *c, const char *root, size_t rootlen)
{
    memset(c, 0, sizeof *c);
    sz_buf_init(&c->out);
    sz_buf_init(&c->path);
    if (root) /* a name for messages only: cut at a NUL, never beyond */
        sz_buf_add(&c->path, root, strnlen(root, rootlen > 64 ? 64 : rootlen));
}

void lsz_enc_free(enc_ctx *c)
{
    sz_buf_reset(&c->out);
    sz_buf_reset(&c->path);
}

/* Lua table -> sz_params. Returns NULL with c->code/msg set. */
sz_params *lsz_to_params(lua_State *L, int idx, enc_ctx *c)
{
    sz_params *p = sz_params_new();
    if (!p) {
        c->code = SZ_GIGYA_INTERNAL;
        strcpy(c->msg, "out of memory");
        return NULL;
    }
    if (lua_isnoneornil(L, idx))
        return p;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t kl;
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            c->code = SZ_GIGYA_INVALID_PARAMETER;
            strcpy(c->msg, "Invalid parameter value: parameter names must be strings");
            sz_params_free(p);
            return NULL;
        }
        k = lua_tolstring(L, -2, &kl);
        if (sz_has_nul(k, kl)) {
            lua_pop(L, 2);
            c->code = SZ_GIGYA_INVALID_PARAMETER;
            strcpy(c->msg, "Invalid parameter value: a parameter name contains a NUL byte");
            sz_params_free(p);
            return NULL;
        }
        c->out.len = 0; /* reuse the buffers across parameters */
        c->path.len = 0;
        sz_buf_add(&c->path, k, kl > 64 ? 64 : kl);
        if (param_string(L, lua_gettop(L), c) != 0) {
            lua_pop(L, 2);
            sz_params_free(p);
            return NULL;
        }
        if (c->out.failed ||
            sz_params_set(p, k, kl, c->out.data ? c->out.data : "", c->out.len) != 0) {
            lua_pop(L, 2);
            c->code = SZ_GIGYA_INTERNAL;
            strcpy(c->msg, "out of memory");
            sz_params_free(p);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return p;
}

/* core.json_encode(value [, name]) -> string | nil, message, code */
static int l_json_encode(lua_State *L)
{
    enc_ctx c;
    size_t nl = 0;
    const char *name;
    luaL_checkany(L, 1);
    name = luaL_optlstring(L, 2, NULL, &nl);
    lsz_enc_init(&c, name, nl);
    if (encode_value(L, 1, &c, 0) != 0 || c.out.failed) {
        lsz_enc_free(&c);
        return lsz_push_fail(L, c.code ? c.code : SZ_GIGYA_INTERNAL, c.code ? c.msg : "out of memory");
    }
    lua_pushlstring(L, c.out.data, c.out.len);
    lsz_enc_free(&c);
    return 1;
}

/* core.param_string(value [, name]) -> string | nil, message, code */
static int l_param_string(lua_State *L)
{
    enc_ctx c;
    size_t nl = 0;
    const char *name;
    luaL_checkany(L, 1);
    name = luaL_optlstring(L, 2, NULL, &nl);
    lsz_enc_init(&c, name, nl);
    if (param_string(L, 1, &c) != 0 || c.out.failed) {
        lsz_enc_free(&c);
        return lsz_push_fail(L, c.code ? c.code : SZ_GIGYA_INTERNAL, c.code ? c.msg : "out of memory");
    }
    lua_pushlstring(L, c.out.data ? c.out.data : "", c.out.len);
    lsz_enc_free(&c);
    return 1;
}

/* ---- JSON -> Lua ---------------------------------------------------------*/

int lsz_push_json(lua_State *L, json_t *j, int depth)
{
    if (depth > 512 || !lua_checkstack(L, 3))
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach(j, k, v) {
            if (lsz_push_json(L, v, depth + 1) != 0)
                return -1;
            lua_setfield(L, -2, k);
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            if (lsz_push_json(L, v, depth + 1) != 0)
                return -1;
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 0;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
#if LUA_VERSION_NUM >= 503
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
#else
        lua_pushnumber(L, (lua_Number)json_integer_value(j));
#endif
        return 0;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        return 0;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        return 0;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        return 0;
    default:
        lua_pushlightuserdata(L, NULL);
        return 0;
    }
}

/* core.json_decode(s) -> value | nil, message, code */
static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    int top = lua_gettop(L), rc;
    char msg[256];
    if (!j) {
        snprintf(msg, sizeof msg, "Invalid parameter value: JSON %s at byte %d", je.text,
                 je.position);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, msg);
    }
    rc = lsz_push_json(L, j, 0);
    json_decref(j);
    if (rc != 0) {
        lua_settop(L, top);
        return lsz_push_fail(L, SZ_GIGYA_INVALID_PARAMETER, "Invalid parameter value: JSON nested too deeply");
    }
    return 1;
}

/* ---- Lua -> jansson (provider inputs) -------------------------------------*/

static json_t *to_json(lua_State *L, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return json_stringn(s, n); /* NULL for invalid UTF-8 */
    }
    case LUA_TNUMBER:
        if (sz_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        {
            double d = (double)lua_tonumber(L, idx);
            if (d == (double)(json_int_t)d && d > -9.2e18 && d < 9.2e18)
                return json_integer((json_int_t)d);
            return json_real(d);
        }
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, idx) == NULL ? json_null() : NULL;
    case LUA_TTABLE: {
        size_t n, i;
        int kind;
        json_t *out;
        if (depth > SZ_JSON_MAX_DEPTH || !lua_checkstack(L, 4))
            return NULL;
        kind = table_kind(L, idx, &n);
        if (kind < 0)
            return NULL;
        if (kind == 1) {
            out = json_array();
            for (i = 1; out && i <= n; i++) {
                json_t *v;
                lua_rawgeti(L, idx, (int)i);
                v = to_json(L, lua_gettop(L), depth + 1);
                lua_pop(L, 1);
                if (!v || json_array_append_new(out, v) != 0) {
                    json_decref(out);
                    return NULL;
                }
            }
            return out;
        }
        out = json_object();
        lua_pushnil(L);
        while (out && lua_next(L, idx) != 0) {
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            json_t *v = to_json(L, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            if (!v || json_object_setn_new(out, k, kl, v) != 0) {
                lua_pop(L, 1);
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    default:
        return NULL;
    }
}

/* Optional table argument -> json_t (new reference); NULL on a bad value. */
json_t *lsz_arg_json(lua_State *L, int idx, const char *what, int *bad)
{
    json_t *j;
    if (lua_isnoneornil(L, idx))
        return json_object();
    luaL_checktype(L, idx, LUA_TTABLE);
    j = to_json(L, idx, 0);
    if (!j) {
        *bad = 1;
        lua_pushfstring(L, "Invalid parameter value: %s has a value with no JSON form (or invalid UTF-8)", what);
    }
    return j;
}

/* Pushes a result object and releases it; NULL (the core ran out of
 * memory) gives nil, "out of memory", 500000. */
int lsz_push_result(lua_State *L, json_t *r)
{
    int top = lua_gettop(L);
    if (!r || lsz_push_json(L, r, 0) != 0) {
        lua_settop(L, top);
        sz_json_free(r);
        return lsz_push_fail(L, SZ_GIGYA_INTERNAL, "out of memory");
    }
    sz_json_free(r); /* a result may hold a session's tokens */
    return 1;
}

const luaL_Reg lsz_json_funcs[] = {
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {"param_string", l_param_string},
    {NULL, NULL}
};
