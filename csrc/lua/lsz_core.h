/* Internal header of the Lua binding socialize.core (lsocialize_core.c,
 * lsz_json.c, lsz_sign.c, lsz_provider.c, lsz_reply.c, lsz_ffi.c). Nothing here is exported: the
 * modules are built with -fvisibility=hidden and only luaopen_socialize_core
 * is visible. */
#ifndef LSZ_CORE_H
#define LSZ_CORE_H

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "lua.h"
#include "lauxlib.h"
#include "lsz_compat.h"
#include "socialize.h"
#include "sz_internal.h"
#include "sz_jansson.h" /* the core's tree entry points: no JSON round trip */

/* the state of a walk over a Lua value (lsz_json.c): the core's writer makes
 * the JSON (or, tree.on, the walk builds a jansson tree), the walk keeps the
 * path for messages */
typedef struct enc_ctx {
    sz_json_writer *w;  /* NULL when it could not be allocated */
    struct {
        int         on;
        json_t     *open[SZ_JSON_MAX_DEPTH]; /* the open containers, borrowed */
        int         depth;
        const char *key;                     /* the pending member's key */
        size_t      klen;
        json_t     *root;                    /* owned until taken */
    } tree;
    sz_buf  path;   /* "userAction.mediaItems[1].src", for messages */
    int     code;   /* a Gigya code, with msg */
    char    msg[256];
    int     meta;   /* a table with a metatable was met */
} enc_ctx;

/* lsocialize_core.c: results and argument reading */
int lsz_push_fail(lua_State *L, int code, const char *msg);
const char *lsz_arg_cstr(lua_State *L, int i, int *nul);
const char *lsz_arg_optcstr(lua_State *L, int i, int *nul);
long long lsz_arg_ll(lua_State *L, int i);
int lsz_clamp_int(long long v);
int lsz_push_nul_fail(lua_State *L, const char *what);

/* lsz_json.c: Lua <-> JSON */
void lsz_enc_init(enc_ctx *c, const char *root, size_t rootlen);
void lsz_enc_free(enc_ctx *c);
sz_params *lsz_to_params(lua_State *L, int idx, enc_ctx *c);
int lsz_push_json(lua_State *L, json_t *j, int depth);
/* lsz_reply.c: parse_response's table for the usual reply (2xx, "errorCode":0) in one
 * pass: 1 pushed; 0 not sure, nothing pushed (take sz_response_parse). */
int lsz_push_reply_fast(lua_State *L, const char *body, size_t len, int status);
json_t *lsz_arg_json(lua_State *L, int idx, const char *what, int *bad);
int lsz_push_result(lua_State *L, json_t *r);
void lsz_open_user_action_table(lua_State *L); /* core.user_action_table, core.publish_plain */
/* a userAction table's JSON text pushed (1) when certainly well-shaped and
 * encodable as the full check encodes it; 0: not sure, nothing pushed */
int lsz_ua_table_json(lua_State *L, int idx);
/* lsz_sign.c: core.publish_plain (a closure over the names of lsz_json.c) */
int lsz_publish_plain(lua_State *L);

/* lsz_provider.c: core.build_request's and core.parse_response's work, also
 * offered to the curl transport through core.capi (lsz_capi.h) */
int lsz_build(lua_State *L, int oi, int pi, sz_request **out);
int lsz_reply(lua_State *L, const char *body, size_t n, int status);

/* lsz_sign.c: core.nonce (a closure over its per-state counter) */
int lsz_nonce(lua_State *L);
/* the next nonce of generator st (2 values: its state, the fork generation
 * it was seeded in) into out: its length, or -1 (no randomness) */
int lsz_nonce_next(unsigned long long *st, char *out, size_t cap);
/* once per process, before a generator is used: a child of fork() reseeds */
void lsz_nonce_init(void);

/* lsz_ffi.c: core.ffi, the FFI path's entry points (a closure over the
 * nonce's generator) */
int lsz_ffi(lua_State *L);

/* each file's functions of the module table */
extern const luaL_Reg lsz_json_funcs[];
extern const luaL_Reg lsz_sign_funcs[];
extern const luaL_Reg lsz_provider_funcs[];
extern const luaL_Reg lsz_file_funcs[];

#endif
