/* socialize.core - Lua values <-> JSON and parameter strings: one walk over
 * a Lua value (json_encode, param_string, the table -> sz_params conversion
 * of build_request, and Lua -> jansson for the provider inputs) and
 * json_decode. Part of the binding (lsocialize_core.c). */

#include <math.h>
#include "lsz_core.h"

/* ---- Lua value -> JSON / parameter string --------------------------------
 * The walk over the Lua value is here; every byte of JSON comes from the
 * core's writer (sz_json_writer, csrc/core/sz_json.c), which this walk
 * drives. For the provider inputs the same walk builds a jansson tree
 * instead, which the core takes as it is (sz_jansson.h): no text round trip,
 * so no copy of a credential outside the core's wiping. */

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

static int enc_oom(enc_ctx *c)
{
    c->code = SZ_GIGYA_INTERNAL;
    strcpy(c->msg, "out of memory");
    return -1;
}

/* A refusal of the output: out of memory, or `what` at the current path. */
static int enc_refused(enc_ctx *c, sz_status rc, const char *what)
{
    return rc == SZ_ENOMEM ? enc_oom(c) : enc_fail(c, what);
}

/* The tree output: v goes into the open container (under the pending key)
 * or becomes the root; push: v is a container that is now open. */
static sz_status tree_add(enc_ctx *c, json_t *v, int push)
{
    json_t *parent = c->tree.depth ? c->tree.open[c->tree.depth - 1] : NULL;
    if (!v)
        return SZ_ENOMEM;
    if (!parent) {
        if (c->tree.root) { /* one value only */
            json_decref(v);
            return SZ_EINVALID;
        }
        c->tree.root = v;
    } else if (json_is_array(parent) ? json_array_append_new(parent, v) != 0
                                     : json_object_setn_new(parent, c->tree.key, c->tree.klen, v) != 0) {
        return SZ_ENOMEM; /* v released by jansson; the key was checked */
    }
    if (push)
        c->tree.open[c->tree.depth++] = v; /* borrowed: its parent or the root holds it */
    return SZ_OK;
}

/* The walk's output calls: the writer's, or the tree's with the same
 * answers (SZ_OK, SZ_EINVALID, SZ_ENOMEM) and limits. */
static sz_status put_begin(enc_ctx *c, int object)
{
    if (!c->tree.on)
        return object ? sz_json_begin_object(c->w) : sz_json_begin_array(c->w);
    if (c->tree.depth >= SZ_JSON_MAX_DEPTH)
        return SZ_EINVALID;
    return tree_add(c, object ? json_object() : json_array(), 1);
}

static sz_status put_end(enc_ctx *c, int object)
{
    if (!c->tree.on)
        return object ? sz_json_end_object(c->w) : sz_json_end_array(c->w);
    c->tree.depth--;
    return SZ_OK;
}

static sz_status put_key(enc_ctx *c, const char *k, size_t n)
{
    if (!c->tree.on)
        return sz_json_key(c->w, k, n);
    if (!sz_utf8_valid(k, n))
        return SZ_EINVALID;
    c->tree.key = k; /* anchored in the table being walked */
    c->tree.klen = n;
    return SZ_OK;
}

static sz_status put_string(enc_ctx *c, const char *s, size_t n)
{
    if (!c->tree.on)
        return sz_json_string(c->w, s, n);
    if (!sz_utf8_valid(s, n))
        return SZ_EINVALID;
    return tree_add(c, json_stringn(s, n), 0);
}

static sz_status put_integer(enc_ctx *c, long long v)
{
    return c->tree.on ? tree_add(c, json_integer((json_int_t)v), 0) : sz_json_integer(c->w, v);
}

/* in a tree as the text would read back: integral in the int64 range is
 * an integer */
static sz_status put_number(enc_ctx *c, double v)
{
    if (!c->tree.on)
        return sz_json_number(c->w, v);
    if (isnan(v) || isinf(v))
        return SZ_EINVALID;
    if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        return tree_add(c, json_integer((json_int_t)v), 0);
    return tree_add(c, json_real(v), 0);
}

static sz_status put_bool(enc_ctx *c, int v)
{
    return c->tree.on ? tree_add(c, json_boolean(v), 0) : sz_json_bool(c->w, v);
}

static sz_status put_null(enc_ctx *c)
{
    return c->tree.on ? tree_add(c, json_null(), 0) : sz_json_null(c->w);
}

typedef struct keyref {
    const char *s;
    size_t      n;
    int         at; /* the key's copy on the stack (small objects), else 0 */
} keyref;

/* Objects of at most this many members are sorted in a stack array, their
 * keys kept on the Lua stack (no malloc, no key string made again). */
#define SMALL_OBJECT 16

/* the writer's key order */
static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    return sz_json_key_cmp(x->s, x->n, y->s, y->n);
}

static int encode_value(lua_State *L, int idx, enc_ctx *c);

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

static void path_cut(enc_ctx *c, size_t plen)
{
    c->path.len = plen;
    if (c->path.data)
        c->path.data[plen] = '\0';
}

static int encode_array(lua_State *L, int idx, enc_ctx *c, size_t n)
{
    size_t i, plen = c->path.len;
    for (i = 1; i <= n; i++) {
        sz_buf_printf(&c->path, "[%zu]", i);
        lua_rawgeti(L, idx, (int)i);
        if (encode_value(L, lua_gettop(L), c) != 0)
            return -1;
        lua_pop(L, 1);
        path_cut(c, plen);
    }
    return 0;
}

/* The members in the writer's key order (sorted here, checked there). */
static int encode_members(lua_State *L, int idx, enc_ctx *c)
{
    size_t i = 0, count = 0, plen = c->path.len;
    keyref small[SMALL_OBJECT], *keys = small;
    int rc = 0, top = lua_gettop(L), kept;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
    }
    kept = count <= SMALL_OBJECT && lua_checkstack(L, (int)count + 4);
    if (!kept) {
        keys = count ? malloc(count * sizeof *keys) : NULL;
        if (count && !keys)
            return enc_oom(c);
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (i == count) { /* (cannot happen: nothing runs between the two walks) */
            i++;
            break;
        }
        /* keys are strings here (table_kind), anchored by the table */
        keys[i].s = lua_tolstring(L, -1, &keys[i].n);
        keys[i].at = 0;
        if (kept) { /* a copy under the iteration key: [copies..., key] */
            lua_pushvalue(L, -1);
            lua_insert(L, -2);
            keys[i].at = top + 1 + (int)i;
        }
        i++;
    }
    if (i != count || lua_gettop(L) != top + (kept ? (int)count : 0)) { /* (a table that changed under us) */
        lua_settop(L, top);
        if (keys != small)
            free(keys);
        return enc_fail(c, "changed while it was read");
    }
    if (count > 1)
        qsort(keys, count, sizeof *keys, keyref_cmp);
    for (i = 0; i < count && rc == 0; i++) {
        sz_status wrc = put_key(c, keys[i].s, keys[i].n);
        if (wrc) {
            rc = enc_refused(c, wrc, "has a key that is not valid UTF-8");
            break;
        }
        if (plen)
            sz_buf_addc(&c->path, '.');
        sz_buf_add(&c->path, keys[i].s, keys[i].n > 64 ? 64 : keys[i].n);
        if (keys[i].at)
            lua_pushvalue(L, keys[i].at);
        else
            lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, idx);
        rc = encode_value(L, lua_gettop(L), c);
        lua_pop(L, 1);
        if (rc == 0)
            path_cut(c, plen);
    }
    lua_settop(L, top);
    if (keys != small)
        free(keys);
    return rc;
}

static int encode_table(lua_State *L, int idx, enc_ctx *c)
{
    size_t n;
    int kind, rc;
    if (!lua_checkstack(L, 4))
        return enc_fail(c, "is nested too deeply");
    kind = table_kind(L, idx, &n);
    if (kind < 0)
        return enc_fail(c, "mixes array and object keys, or is an array with holes");
    rc = put_begin(c, kind != 1);
    if (rc)
        return enc_refused(c, rc, "is nested too deeply (or refers to itself)");
    if ((kind == 1 ? encode_array(L, idx, c, n) : encode_members(L, idx, c)) != 0)
        return -1;
    rc = put_end(c, kind != 1);
    return rc ? enc_refused(c, rc, "could not be encoded") : 0;
}

static int encode_value(lua_State *L, int idx, enc_ctx *c)
{
    int rc;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        rc = put_string(c, s, n);
        return rc ? enc_refused(c, rc, "is not valid UTF-8") : 0;
    }
    case LUA_TNUMBER:
        if (sz_isinteger(L, idx))
            rc = put_integer(c, (long long)lua_tointeger(L, idx));
        else
            rc = put_number(c, (double)lua_tonumber(L, idx));
        return rc ? enc_refused(c, rc, "is NaN or infinite") : 0;
    case LUA_TBOOLEAN:
        rc = put_bool(c, lua_toboolean(L, idx));
        return rc ? enc_refused(c, rc, "could not be encoded") : 0;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* socialize.null, cjson.null */
            rc = put_null(c);
            return rc ? enc_refused(c, rc, "could not be encoded") : 0;
        }
        return enc_fail(c, "is a userdata, which has no JSON form");
    case LUA_TTABLE:
        if (!c->meta && lua_getmetatable(L, idx)) {
            lua_pop(L, 1);
            c->meta = 1;
        }
        return encode_table(L, idx, c);
    default:
        return enc_fail(c, lua_type(L, idx) == LUA_TNIL ? "is nil"
                                                          : "has a type with no JSON form");
    }
}

/* The value at idx as JSON text (as_param: a string as it is, not quoted),
 * borrowed from c (valid until the next encode with c). NULL with
 * c->code/msg set. The parameter form: string as is, integral number
 * without fraction, boolean true/false, table as canonical JSON - the exact
 * string that is signed and sent. */
static const char *encode(lua_State *L, int idx, enc_ctx *c, int as_param, size_t *len)
{
    sz_error err;
    const char *text;
    if (as_param && lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, idx, len);
        if (!sz_utf8_valid(s, *len))
            return enc_fail(c, "is not valid UTF-8"), NULL;
        return s;
    }
    if (as_param && lua_type(L, idx) != LUA_TNUMBER && lua_type(L, idx) != LUA_TBOOLEAN &&
        lua_type(L, idx) != LUA_TTABLE)
        return enc_fail(c, "must be a string, number, boolean or table"), NULL;
    if (!c->w || c->path.failed)
        return enc_oom(c), NULL;
    sz_json_writer_reset(c->w);
    if (encode_value(L, idx, c) != 0)
        return NULL;
    text = sz_json_writer_text(c->w, len, &err);
    if (!text || c->path.failed) {
        c->code = text ? SZ_GIGYA_INTERNAL : err.code;
        snprintf(c->msg, sizeof c->msg, "%s", text ? "out of memory" : err.message);
        return NULL;
    }
    return text;
}

void lsz_enc_init(enc_ctx *c, const char *root, size_t rootlen)
{
    memset(c, 0, sizeof *c);
    c->w = sz_json_writer_new(); /* NULL: every encode answers out of memory */
    sz_buf_init(&c->path);
    if (root) /* a name for messages only: cut at a NUL, never beyond */
        sz_buf_add(&c->path, root, strnlen(root, rootlen > 64 ? 64 : rootlen));
}

void lsz_enc_free(enc_ctx *c)
{
    sz_json_writer_free(c->w);
    c->w = NULL;
    sz_json_free(c->tree.root); /* what was not taken (lsz_arg_json) */
    c->tree.root = NULL;
    sz_buf_reset(&c->path);
}

/* Lua table -> sz_params. Returns NULL with c->code/msg set. */
sz_params *lsz_to_params(lua_State *L, int idx, enc_ctx *c)
{
    sz_params *p = sz_params_new();
    if (!p) {
        enc_oom(c);
        return NULL;
    }
    if (lua_isnoneornil(L, idx))
        return p;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t kl, vl;
        const char *k, *v;
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
        path_cut(c, 0); /* reuse the buffers across parameters */
        sz_buf_add(&c->path, k, kl > 64 ? 64 : kl);
        v = encode(L, lua_gettop(L), c, 1, &vl);
        if (!v) {
            lua_pop(L, 2);
            sz_params_free(p);
            return NULL;
        }
        if (sz_params_set(p, k, kl, v, vl) != 0) {
            lua_pop(L, 2);
            enc_oom(c);
            sz_params_free(p);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return p;
}

/* core.json_encode / core.param_string (value [, name]) */
static int push_encoded(lua_State *L, int as_param)
{
    enc_ctx c;
    size_t nl = 0, n;
    const char *name, *s;
    luaL_checkany(L, 1);
    name = luaL_optlstring(L, 2, NULL, &nl);
    lsz_enc_init(&c, name, nl);
    s = encode(L, 1, &c, as_param, &n);
    if (!s) {
        lsz_enc_free(&c);
        return lsz_push_fail(L, c.code ? c.code : SZ_GIGYA_INTERNAL, c.code ? c.msg : "out of memory");
    }
    lua_pushlstring(L, s, n);
    lsz_enc_free(&c);
    if (lua_toboolean(L, 3)) { /* tell whether a table with a metatable was met */
        lua_pushboolean(L, c.meta);
        return 2;
    }
    return 1;
}

/* core.json_encode(value [, name [, tell_meta]]) -> string [, met_a_metatable]
 *                                                  | nil, message, code */
static int l_json_encode(lua_State *L) { return push_encoded(L, 0); }

/* core.param_string(value [, name]) -> string | nil, message, code */
static int l_param_string(lua_State *L) { return push_encoded(L, 1); }

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

/* core.user_action_plain(s [, allow_data]) -> true when the JSON string s is
 * certainly a UserAction the full check (json_decode and validate.lua)
 * accepts; false: not sure, run that check (it says why). Builds nothing. */
static int l_user_action_plain(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, sz_user_action_plain(s, n, lua_toboolean(L, 2)));
    return 1;
}

/* The names core.user_action_table reads, kept as its upvalues (interned
 * once, not hashed again per call), in this order. */
static const char *const UA_NAMES[] = {"title", "subtitle", "description", "linkBack", "userMessage",
                                       "actionLinks", "mediaItems", "type", "data", NULL};
enum { UA_NSTR = 5, UA_LINKS = 6, UA_MEDIA = 7, UA_TYPE = 8, UA_DATA = 9 };

/* Pushes the raw field (upvalue u's name) of the table at t; its type. */
static int ua_raw(lua_State *L, int t, int u)
{
    lua_pushvalue(L, lua_upvalueindex(u));
    lua_rawget(L, t);
    return lua_type(L, -1);
}

/* The shape core.user_action_table checks, on the table at t (absolute),
 * read by the running C function whose upvalues are UA_NAMES (the two
 * closures of lsz_open_user_action_table): 1 when validate.lua's check
 * certainly accepts it (not empty; title, subtitle, description, linkBack,
 * userMessage nil or strings; mediaItems nil or an array of items of one
 * type among image, flash, mp3, video, without data unless allow_data;
 * actionLinks nil or a table); 0: not sure (a metatable anywhere it looks,
 * anything else). Reads raw fields only, leaves the stack as it was. */
static int ua_shape(lua_State *L, int t, int allow)
{
    static const char *const media[] = {"image", "flash", "mp3", "video", NULL};
    int ok = 0, i, ty, top = lua_gettop(L);
    const char *kind = NULL;
    luaL_checkstack(L, 8, "user_action_table");
    if (lua_type(L, t) != LUA_TTABLE || lua_getmetatable(L, t))
        goto done;
    lua_pushnil(L);
    if (!lua_next(L, t))
        goto done; /* empty */
    lua_settop(L, top);
    for (i = 1; i <= UA_NSTR; i++) {
        ty = ua_raw(L, t, i);
        lua_pop(L, 1);
        if (ty != LUA_TNIL && ty != LUA_TSTRING)
            goto done;
    }
    ty = ua_raw(L, t, UA_LINKS);
    lua_pop(L, 1);
    if (ty != LUA_TNIL && ty != LUA_TTABLE)
        goto done;
    if (ua_raw(L, t, UA_MEDIA) != LUA_TNIL) { /* top + 1 */
        size_t n, j;
        int items = top + 1, it = top + 2;
        if (lua_type(L, items) != LUA_TTABLE || lua_getmetatable(L, items))
            goto done;
        n = sz_rawlen(L, items);
        if (n > 2147483647u)
            goto done;
        for (j = 1; j <= n; j++) {
            const char *s;
            int m;
            lua_rawgeti(L, items, (int)j); /* it */
            if (lua_type(L, it) != LUA_TTABLE || lua_getmetatable(L, it))
                goto done;
            if (ua_raw(L, it, UA_TYPE) != LUA_TSTRING) /* anchored by the item */
                goto done;
            s = lua_tostring(L, -1);
            for (m = 0; media[m] && strcmp(media[m], s) != 0; m++)
                ;
            if (!media[m] || (kind && kind != media[m]))
                goto done;
            kind = media[m]; /* static: outlives the stack */
            if (ua_raw(L, it, UA_DATA) != LUA_TNIL && !allow)
                goto done;
            lua_settop(L, items);
        }
    }
    ok = 1;
done:
    lua_settop(L, top);
    return ok;
}

/* core.user_action_table(t [, allow_data]) -> true when the table t is
 * certainly a UserAction whose shape validate.lua's check accepts
 * (ua_shape); false: not sure, run that check (it says why). Builds
 * nothing, never raises but for the stack. (The NUL bytes and the JSON form
 * are checked elsewhere, before.) */
static int l_user_action_table(lua_State *L)
{
    int allow = lua_toboolean(L, 2);
    lua_settop(L, 1);
    lua_pushboolean(L, ua_shape(L, 1, allow));
    return 1;
}

/* For core.publish_plain (a closure over UA_NAMES too): when the table at
 * idx (absolute) has the shape ua_shape accepts on Gigya's backend and
 * encodes as validate.lua's check encodes it (core.json_encode of
 * { userAction = t }: the same writer calls, so the same bytes) without
 * meeting a metatable and within UA_JSON_MAX bytes, pushes the JSON text
 * of t and answers 1; else 0 with nothing pushed (not sure: the full check
 * runs and says why). Its escaped NUL bytes and its being an object are for
 * the caller to check. */
#define UA_JSON_MAX (256 * 1024)
int lsz_ua_table_json(lua_State *L, int idx)
{
    enc_ctx c;
    sz_error err;
    const char *text = NULL;
    size_t n = 0;
    int ok;
    if (!ua_shape(L, idx, 0))
        return 0;
    lsz_enc_init(&c, NULL, 0);
    ok = c.w && !c.path.failed && sz_json_begin_object(c.w) == SZ_OK &&
         sz_json_key(c.w, "userAction", 10) == SZ_OK && encode_value(L, idx, &c) == 0 && !c.meta &&
         sz_json_end_object(c.w) == SZ_OK && (text = sz_json_writer_text(c.w, &n, &err)) != NULL &&
         !c.path.failed && n > 15 && n - 15 <= UA_JSON_MAX;
    if (ok) /* {"userAction": ... } */
        lua_pushlstring(L, text + 14, n - 15);
    lsz_enc_free(&c);
    return ok;
}

/* Sets core.user_action_table and core.publish_plain (closures over the
 * names) in the table on top. */
void lsz_open_user_action_table(lua_State *L)
{
    int n = 0;
    for (; UA_NAMES[n]; n++)
        lua_pushstring(L, UA_NAMES[n]);
    lua_pushcclosure(L, l_user_action_table, n);
    lua_setfield(L, -2, "user_action_table");
    for (n = 0; UA_NAMES[n]; n++)
        lua_pushstring(L, UA_NAMES[n]);
    lua_pushcclosure(L, lsz_publish_plain, n);
    lua_setfield(L, -2, "publish_plain");
}

/* ---- Lua -> jansson (provider inputs) -------------------------------------*/

/* Optional table argument -> json_t (new reference); NULL on a bad value.
 * The same walk as every encoding, building the tree itself. */
json_t *lsz_arg_json(lua_State *L, int idx, const char *what, int *bad)
{
    enc_ctx c;
    json_t *j = NULL;
    if (lua_isnoneornil(L, idx))
        return json_object();
    luaL_checktype(L, idx, LUA_TTABLE);
    lsz_enc_init(&c, what, strlen(what));
    c.tree.on = 1;
    if (encode_value(L, idx, &c) == 0) {
        j = c.tree.root; /* taken */
        c.tree.root = NULL;
    }
    lsz_enc_free(&c);
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
    {"user_action_plain", l_user_action_plain},
    {NULL, NULL}
};
