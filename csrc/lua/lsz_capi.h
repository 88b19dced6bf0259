/* The C interface socialize.core offers the curl transport (socialize.curl)
 * for a blocking Gigya call in one C entry point (issue 15): core.capi is a
 * light userdata pointing at one static lsz_capi. The two modules are
 * separate shared objects that export nothing but luaopen_*: the transport
 * reaches the core's functions only through this table, never by a Lua call
 * and never by linking. The core stays sans-IO: it builds, signs and reads;
 * the transport (csrc/curl/lsz_curl_gigya.c) sends.
 *
 * A table whose magic, version or size differ is refused by the transport
 * (the call then takes the general path in Lua). The transport reads those
 * fields only behind a light userdata equal to the one the core left in the
 * registry under LSZ_CAPI_KEY: any other light userdata a caller hands it
 * (another module's, pointing at fewer bytes than these fields, or at
 * nothing mapped) is refused without being read. */
#ifndef LSZ_CAPI_H
#define LSZ_CAPI_H

#include <stddef.h>
#include "lua.h"
#include "socialize.h"

#define LSZ_CAPI_MAGIC   0x737a6361u /* "szca" */
#define LSZ_CAPI_VERSION 1
#define LSZ_CAPI_KEY     "socialize.core.capi" /* registry: core.capi, set by luaopen_socialize_core */

typedef struct lsz_capi {
    unsigned magic;
    unsigned version;
    size_t   size; /* sizeof(lsz_capi) */
    /* core.build_request's work for the options table at index oi and the
     * parameter table at pi (absolute indices): 0 and *out (free with
     * req_free), or 3 with nil, message, code pushed (nothing built). May
     * push values above oi/pi either way (the caller restores the top);
     * raises only on a wrong argument type, before anything is owned. */
    int (*build)(lua_State *L, int oi, int pi, sz_request **out);
    const char *(*req_method)(const sz_request *r);
    const char *(*req_url)(const sz_request *r);
    const char *(*req_body)(const sz_request *r, size_t *len);
    size_t (*req_header_count)(const sz_request *r);
    int (*req_header)(const sz_request *r, size_t i, const char **name, const char **value);
    void (*req_free)(sz_request *r); /* wipes what it held */
    /* core.parse_response(body, status)'s work: 1 with the reply table
     * pushed, or 3 with nil, message, code pushed. */
    int (*push_reply)(lua_State *L, const char *body, size_t len, int status);
} lsz_capi;

#endif
