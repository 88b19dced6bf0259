/* Internals of the store: the engine interface (SQLite, PostgreSQL) and the
 * sealing of secrets. Not installed. */
#ifndef SZ_STORE_INT_H
#define SZ_STORE_INT_H

#include <string.h>

#include "sz_store.h"

#define SZ_STORE_MAX_ID 1024        /* identity parts, account, scopes, redirect */
#define SZ_STORE_MAX_FIELDS 65536   /* the fields JSON text */
#define SZ_STORE_MAX_SECRET 16384   /* one secret value */
#define SZ_STORE_MAX_SECRETS 32     /* secrets per record */
#define SZ_STORE_MAX_KEYS 8
#define SZ_STORE_MAX_COLS 64         /* result columns and statement parameters */

/* A statement parameter: NULL, text (s, n), an integer or (the host's SQL
 * only) a real; type 3 is text the host gave: PostgreSQL gets it in text
 * format, so that the server infers its type from the statement. */
typedef struct {
    int type; /* 0 null, 1 text, 2 integer, 3 host text, 4 real */
    const char *s;
    size_t n;
    long long i;
    double d;
} sz_param;

#define P_TEXT(str) { 1, (str), (str) ? strlen(str) : 0, 0, 0 }
#define P_INT(v) { 2, NULL, 0, (long long)(v), 0 }
#define P_NULL { 0, NULL, 0, 0, 0 }

/* Prepared statements kept per store handle, found by their SQL text. */
#define SZ_STORE_MAX_STMTS 48
/* A filter before strcmp, cheap on long SQL: the length and the last 32
 * bytes (where statements on one table differ). */
static inline unsigned sz_st_hash(const char *s)
{
    size_t n = strlen(s);
    unsigned h = 2166136261u ^ (unsigned)n;
    for (const char *p = n > 32 ? s + n - 32 : s; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* Called once per result row: vals[i] is NULL for SQL NULL. Non-zero stops.
 * For the host's SQL (st->host_sql) it is first called once with lens NULL
 * and vals the column names. */
typedef int (*sz_row_fn)(void *ud, int ncol, const char *const *vals, const size_t *lens);

typedef struct sz_engine {
    const char *name;
    /* SQL is written with $1..$n; the engine translates. changes may be NULL.
     * Without parameters, sql may hold several statements. */
    int (*exec)(sz_store *st, const char *sql, const sz_param *p, int np, sz_row_fn fn, void *ud,
                long long *changes, sz_store_err *err);
    int (*begin)(sz_store *st, sz_store_err *err); /* a write transaction, taken at once */
    int (*commit)(sz_store *st, sz_store_err *err);
    void (*rollback)(sz_store *st);
    int (*in_txn)(sz_store *st); /* 1 while the connection is inside a transaction */
    void (*close)(sz_store *st);
} sz_engine;

typedef struct {
    char id[9];            /* hex of the first 4 bytes of SHA-256("socialize-store-key" || key) */
    unsigned char key[32];
} sz_key;

struct sz_store {
    const sz_engine *eng;
    void *db;              /* sqlite3 * or PGconn * */
    void *stmts;           /* the engine's prepared statements (NULL: none kept) */
    sz_key keys[SZ_STORE_MAX_KEYS];
    size_t nkeys;
    int plaintext;
    int schema_version;
    int busy_timeout_ms;
    int in_txn;
    /* durability (SQLite): outbox_sync as opened; relaxed: the transaction
     * begun next holds outbox writes only (it commits with outbox_sync, every
     * other one with FULL); sync_level: PRAGMA synchronous on the connection
     * now (switched before a BEGIN that needs another, never inside one);
     * SZ_SYNC_WINDOW: sync_window seconds, synced_at the CLOCK_MONOTONIC
     * time of this connection's last FULL commit that succeeded (negative:
     * none yet, or the clock could not be read), synced_commits how many (a
     * test hook) */
    int outbox_sync, relaxed, sync_level;
    double sync_window, synced_at;
    long long synced_commits;
    int host_outbox; /* the host transaction is the outbox's own batch: no host SQL */
    /* the host's transaction (sz_txn.c): host_txn 0 none, 1 open, 2 failed
     * (only a rollback is left); inside it the store's own writes run in a
     * savepoint (sp_open), and only calls that join it (host_join) may write.
     * host_sql: the statement running is the host's (not kept prepared, its
     * column names given first, one statement only). */
    int host_txn, host_join, sp_open, host_sql;
    unsigned host_serial;
    sz_store_err host_err; /* why the transaction failed */
    int (*before_commit)(void *ud);
    void *before_commit_ud;
};

int sz_store_seterr(sz_store_err *err, sz_store_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* engines */
int sz_sqlite_open(sz_store *st, const char *path, const sz_store_opts *opts, sz_store_err *err);
int sz_pg_open(sz_store *st, const char *conninfo, const sz_store_opts *opts, sz_store_err *err);
int sz_sqlite_sync_level(sz_store *st); /* PRAGMA synchronous read back, -1 on error */

/* sealing (sz_seal.c) */
int sz_keys_load(sz_store *st, const char *const *b64, size_t n, sz_store_err *err);
void sz_keys_wipe(sz_store *st);
/* identity parts: up to 4 strings (NULL = absent), bound as AAD.
 * Writes a NUL-terminated "sz1.<kid>.<base64>" (or "plain.<base64>" when
 * no key and plaintext) into a malloc'd *out. */
int sz_seal(const sz_store *st, const char *const ident[4], const char *field, const char *val, size_t n,
            char **out, sz_store_err *err);
/* Opens a sealed text; *out is malloc'd, NUL-terminated, to free with sz_wipe_free. */
int sz_unseal(const sz_store *st, const char *const ident[4], const char *field, const char *text,
              size_t tlen, char **out, size_t *olen, sz_store_err *err);
/* 1 when text is sealed with a key other than the first (or is plaintext while a key exists) */
int sz_seal_stale(const sz_store *st, const char *text);
void sz_wipe_free(void *p, size_t n);
int sz_random(unsigned char *buf, size_t n);

#endif
