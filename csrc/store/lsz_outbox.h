/* Shared by the store's Lua binding (lsz_store.c) and its outbox methods
 * (lsz_outbox.c). Not installed. */
#ifndef LSZ_OUTBOX_H
#define LSZ_OUTBOX_H

#include <lua.h>

#include "sz_store.h"

#define SZ_LSTORE_MT "socialize.store"

typedef struct sz_lstore {
    sz_store *st;
    lua_State *L;
    int hook;
} sz_lstore;

/* Adds the outbox methods to the table on the top of the stack. */
void sz_lstore_outbox_methods(lua_State *L);

#endif
