/* Shared by the store's Lua binding (lsz_store.c) and its outbox methods
 * (lsz_outbox.c). Not installed. */
#ifndef LSZ_OUTBOX_H
#define LSZ_OUTBOX_H

#include <lua.h>
#include <stdint.h>

#include "sz_store.h"

#define SZ_LSTORE_MT "socialize.store"

typedef struct sz_lstore {
    sz_store *st;
    lua_State *L;
    int hook;
} sz_lstore;

/* Helpers of lsz_store.c shared with lsz_outbox.c and lsz_txn.c: */
/* nil, the message, the code's name (3 results) */
int sz_lstore_fail(lua_State *L, const sz_store_err *e);
/* a number saturated to +-9e15 (NaN: 0): never an undefined conversion */
int64_t sz_lstore_sat(double d);
/* t[name]: a number (saturated) or dflt when nil; anything else raises */
int64_t sz_lstore_opt_int(lua_State *L, int t, const char *name, int64_t dflt);

/* Adds the outbox methods to the table on the top of the stack. */
void sz_lstore_outbox_methods(lua_State *L);
/* Adds store:transaction (lsz_txn.c) to the table on the top of the stack. */
void sz_lstore_txn_methods(lua_State *L);
/* What the value at index i is: a live transaction of owner's, one of
 * another store, an ended one, or not a transaction at all. */
enum { SZ_LTX_NOT_TX = 0, SZ_LTX_OTHER, SZ_LTX_ENDED, SZ_LTX_LIVE };
int sz_ltx_check(lua_State *L, int i, const sz_lstore *owner);

#endif
