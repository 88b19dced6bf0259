/* The store: one interface over two engines (sz_sqlite.c, sz_pg.c). The
 * SQL here is shared by both ($1..$n parameters, ON CONFLICT upserts,
 * DELETE ... RETURNING); each write runs in one transaction, and every
 * secret goes through sz_seal before it reaches the engine. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sz_store_ops.h"

int sz_store_seterr(sz_store_err *err, sz_store_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *const CODE_NAMES[] = {
    "ok", "bad_input", "nomem", "store_busy", "store_readonly", "store_full", "store_corrupt", "store_io",
    "store_gone", "store_schema", "key_mismatch", "key_missing", "no_key", "seal_failed", "state_unknown",
    "state_expired", "lease_lost", "lock_busy", "store_internal", "job_unknown", "job_sending", "bad_state",
    "in_transaction", "no_transaction", "txn_failed"};

const char *sz_store_code_name(sz_store_code code)
{
    if ((unsigned)code >= sizeof CODE_NAMES / sizeof CODE_NAMES[0]) return "store_internal";
    return CODE_NAMES[code];
}

/* ---- rows: a result copied out of the engine ---- */

int sz_st_rows_add(void *ud, int ncol, const char *const *vals, const size_t *lens)
{
    rows *r = ud;
    if (!lens) return 0; /* column names: only the host's SQL asks for them */
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        char **v = realloc(r->v, cap * (size_t)ncol * sizeof *v);
        if (v) r->v = v;
        size_t *n = v ? realloc(r->n, cap * (size_t)ncol * sizeof *n) : NULL;
        if (n) r->n = n;
        if (!v || !n) return r->oom = 1;
        r->cap = cap;
    }
    r->ncol = ncol;
    for (int i = 0; i < ncol; i++) {
        size_t k = r->nrows * (size_t)ncol + (size_t)i;
        r->v[k] = NULL;
        r->n[k] = 0;
        if (!vals[i]) continue;
        r->v[k] = malloc(lens[i] + 1);
        if (!r->v[k]) {
            for (int j = i + 1; j < ncol; j++) r->v[r->nrows * (size_t)ncol + (size_t)j] = NULL;
            r->nrows++;
            return r->oom = 1;
        }
        memcpy(r->v[k], vals[i], lens[i]);
        r->v[k][lens[i]] = 0;
        r->n[k] = lens[i];
    }
    r->nrows++;
    return 0;
}

void sz_st_rows_free(rows *r)
{
    for (size_t i = 0; i < r->nrows * (size_t)r->ncol; i++) free(r->v[i]);
    free(r->v);
    free(r->n);
    memset(r, 0, sizeof *r);
}

const char *sz_st_cell(const rows *r, size_t row, int col)
{
    return r->v[row * (size_t)r->ncol + (size_t)col];
}

int sz_st_query(sz_store *st, const char *sql, const sz_param *p, int np, rows *r, sz_store_err *err)
{
    memset(r, 0, sizeof *r);
    if (st->eng->exec(st, sql, p, np, sz_st_rows_add, r, NULL, err) < 0) {
        sz_st_rows_free(r);
        return -1;
    }
    if (r->oom) {
        sz_st_rows_free(r);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    return 0;
}

int sz_st_exec(sz_store *st, const char *sql, const sz_param *p, int np, long long *changes, sz_store_err *err)
{
    return st->eng->exec(st, sql, p, np, NULL, NULL, changes, err);
}

/* Inside the host's transaction (sz_txn.c) a write of the store is a
 * savepoint of it, and only a call that joins it may write; else a write
 * is its own transaction. */
int sz_st_begin(sz_store *st, sz_store_err *err)
{
    if (st->host_txn) {
        st->host_sql = 0; /* a host statement cut short by a raise in its row callback */
        if (!st->host_join)
            return sz_store_seterr(err, SZ_STORE_IN_TXN,
                                   "the store is inside the host's transaction (store:transaction): only a call given "
                                   "its tx may write until it ends");
        if (st->host_txn == 2)
            return sz_store_seterr(err, SZ_STORE_TXN_FAILED, "the transaction failed earlier (%.160s): only a rollback is left",
                                   st->host_err.msg);
        if (st->eng->exec(st, "SAVEPOINT sz_op", NULL, 0, NULL, NULL, NULL, err) < 0) return -1;
        st->sp_open = 1;
        return 0;
    }
    if (st->eng->begin(st, err) < 0) return -1;
    st->in_txn = 1;
    return 0;
}

/* the savepoint given back: ROLLBACK TO leaves the host's transaction usable */
static void sp_rollback(sz_store *st)
{
    sz_store_err e;
    if (st->sp_open &&
        st->eng->exec(st, "ROLLBACK TO SAVEPOINT sz_op; RELEASE SAVEPOINT sz_op", NULL, 0, NULL, NULL, NULL, &e) < 0 &&
        st->host_txn == 1) {
        st->host_txn = 2;
        st->host_err = e;
    }
    st->sp_open = 0;
}

int sz_st_commit(sz_store *st, sz_store_err *err)
{
    if (st->host_txn) { /* the host's COMMIT (sz_txn.c) runs the hook */
        if (st->eng->exec(st, "RELEASE SAVEPOINT sz_op", NULL, 0, NULL, NULL, NULL, err) < 0) return sz_st_fail(st);
        st->sp_open = 0;
        return 0;
    }
    if (st->before_commit && st->before_commit(st->before_commit_ud) != 0) {
        st->eng->rollback(st);
        st->in_txn = 0;
        return sz_store_seterr(err, SZ_STORE_INTERNAL, "rolled back by the before-commit hook");
    }
    if (st->eng->commit(st, err) < 0) {
        st->eng->rollback(st);
        st->in_txn = 0;
        return -1;
    }
    st->in_txn = 0;
    return 0;
}

/* A write given back on error: inside the host's transaction, that
 * transaction fails with it (only a rollback is left: what the host wrote
 * and the store's write go together or not at all). */
int sz_st_fail(sz_store *st)
{
    if (st->host_txn) {
        if (st->sp_open && st->host_txn == 1) {
            st->host_txn = 2;
            sz_store_seterr(&st->host_err, SZ_STORE_TXN_FAILED, "a write of the store failed inside the transaction");
        }
        sp_rollback(st);
        return -1;
    }
    if (st->in_txn) st->eng->rollback(st);
    st->in_txn = 0;
    return -1;
}

/* A write given back with nothing wrong (a dedup hit): the host's
 * transaction goes on. */
int sz_st_giveback(sz_store *st)
{
    if (st->host_txn) {
        sp_rollback(st);
        return 0;
    }
    sz_st_fail(st);
    return 0;
}

/* ---- checks ---- */
/* 1 when s (n bytes) is well-formed UTF-8: no overlong form, no surrogate,
 * nothing above U+10FFFF (PostgreSQL refuses the rest; SQLite would keep it) */
int sz_st_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n) return 0;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

int sz_st_check_id(const char *s, const char *what, int required, sz_store_err *err)
{
    if (!s) return required ? sz_store_seterr(err, SZ_STORE_BAD_INPUT, "%s is missing", what) : 0;
    size_t n = strlen(s);
    if (required && n == 0) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "%s is empty", what);
    if (n > SZ_STORE_MAX_ID)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "%s: %zu bytes, at most %d", what, n, SZ_STORE_MAX_ID);
    if (!sz_st_utf8_ok((const unsigned char *)s, n)) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "%s: not UTF-8", what);
    return 0;
}

/* ---- kinds ---- */

const kind_desc SZ_ST_KINDS[] = {
    {"connection", "socialize_connections", "uid", "provider", "UID", "provider"},
    {"app", "socialize_apps", "provider", "instance", "provider", "instance"},
    {"session", "socialize_sessions", "provider", "skey", "provider", "key"},
};

static const kind_desc *kind_of(sz_rec_kind k, sz_store_err *err)
{
    if ((unsigned)k > SZ_REC_SESSION) {
        sz_store_seterr(err, SZ_STORE_BAD_INPUT, "unknown record kind");
        return NULL;
    }
    return &SZ_ST_KINDS[k];
}

/* ---- schema ---- */
static int read_meta(sz_store *st, const char *name, char **out, sz_store_err *err)
{
    rows r;
    sz_param p[] = {P_TEXT(name)};
    *out = NULL;
    if (sz_st_query(st, "SELECT value FROM socialize_meta WHERE name = $1", p, 1, &r, err) < 0) return -1;
    if (r.nrows && sz_st_cell(&r, 0, 0)) {
        *out = r.v[0];
        r.v[0] = NULL;
    }
    sz_st_rows_free(&r);
    return 0;
}

int sz_st_write_meta(sz_store *st, const char *name, const char *value, sz_store_err *err)
{
    sz_param p[] = {P_TEXT(name), P_TEXT(value)};
    return sz_st_exec(st,
                "INSERT INTO socialize_meta (name, value) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                p, 2, NULL, err);
}

static int schema_version(sz_store *st, int *v, sz_store_err *err)
{
    rows r;
    *v = 0;
    if (sz_st_query(st, "SELECT MAX(version) FROM socialize_schema", NULL, 0, &r, err) < 0) return -1;
    if (r.nrows && sz_st_cell(&r, 0, 0)) *v = atoi(sz_st_cell(&r, 0, 0));
    sz_st_rows_free(&r);
    return 0;
}

static const char *const SCHEMA_TABLE =
    "CREATE TABLE IF NOT EXISTS socialize_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

/* The migrations, [0] is version 1; the same SQL for both engines. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE socialize_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE socialize_connections (uid TEXT NOT NULL, provider TEXT NOT NULL,"
    " account TEXT NOT NULL DEFAULT '', scopes TEXT NOT NULL DEFAULT '', fields TEXT NOT NULL DEFAULT '{}',"
    " secrets TEXT NOT NULL DEFAULT '{}', expires_at BIGINT, updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (uid, provider));"
    "CREATE INDEX socialize_connections_account ON socialize_connections (provider, account);"
    "CREATE TABLE socialize_apps (provider TEXT NOT NULL, instance TEXT NOT NULL,"
    " account TEXT NOT NULL DEFAULT '', scopes TEXT NOT NULL DEFAULT '', fields TEXT NOT NULL DEFAULT '{}',"
    " secrets TEXT NOT NULL DEFAULT '{}', expires_at BIGINT, updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (provider, instance));"
    "CREATE TABLE socialize_sessions (provider TEXT NOT NULL, skey TEXT NOT NULL,"
    " account TEXT NOT NULL DEFAULT '', scopes TEXT NOT NULL DEFAULT '', fields TEXT NOT NULL DEFAULT '{}',"
    " secrets TEXT NOT NULL DEFAULT '{}', expires_at BIGINT, updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (provider, skey));"
    "CREATE TABLE socialize_states (state TEXT PRIMARY KEY, uid TEXT NOT NULL, provider TEXT NOT NULL,"
    " redirect TEXT NOT NULL DEFAULT '', verifier TEXT, expires_at BIGINT NOT NULL);"
    "CREATE TABLE socialize_blocked (provider TEXT NOT NULL, bkey TEXT NOT NULL, until_at BIGINT NOT NULL,"
    " PRIMARY KEY (provider, bkey));"
    "CREATE TABLE socialize_locks (uid TEXT NOT NULL, provider TEXT NOT NULL, owner TEXT NOT NULL,"
    " until_ms BIGINT NOT NULL, PRIMARY KEY (uid, provider))",
    /* 2: the outbox (sz_outbox.c) */
    "CREATE TABLE socialize_jobs (id TEXT PRIMARY KEY, uid TEXT NOT NULL, method TEXT NOT NULL,"
    " params TEXT NOT NULL, dedup_key TEXT, dedup_until BIGINT, created_at BIGINT NOT NULL,"
    " run_at BIGINT NOT NULL, status TEXT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE INDEX socialize_jobs_dedup ON socialize_jobs (dedup_key, dedup_until);"
    "CREATE INDEX socialize_jobs_uid ON socialize_jobs (uid, created_at);"
    "CREATE INDEX socialize_jobs_status ON socialize_jobs (status, updated_at);"
    "CREATE TABLE socialize_deliveries (job_id TEXT NOT NULL REFERENCES socialize_jobs (id) ON DELETE CASCADE,"
    " provider TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL,"
    " lease_owner TEXT, lease_until BIGINT, idem_key TEXT NOT NULL, post_id TEXT, error_code BIGINT,"
    " error_category TEXT, error_reason TEXT, sent_at BIGINT, wait_until BIGINT, updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (job_id, provider));"
    "CREATE INDEX socialize_deliveries_due ON socialize_deliveries (state, next_at);"
    "CREATE INDEX socialize_deliveries_lease ON socialize_deliveries (state, lease_until)",
};

static int migrate(sz_store *st, sz_store_err *err)
{
    int v = 0, nmig = (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
    /* a store at the current version is not written (a read-only file opens) */
    sz_store_err probe = {SZ_STORE_OK, ""};
    if (schema_version(st, &v, &probe) == 0 && v == nmig) {
        st->schema_version = v;
        return 0;
    }
    if (probe.code == SZ_STORE_CORRUPT || probe.code == SZ_STORE_GONE || probe.code == SZ_STORE_IO)
        return sz_store_seterr(err, probe.code, "%s", probe.msg);
    if (sz_st_begin(st, err) < 0) return -1;
    if (strcmp(st->eng->name, "postgresql") == 0 &&
        sz_st_exec(st, "SELECT pg_advisory_xact_lock(7305011)", NULL, 0, NULL, err) < 0)
        return sz_st_fail(st);
    if (sz_st_exec(st, SCHEMA_TABLE, NULL, 0, NULL, err) < 0 || schema_version(st, &v, err) < 0) return sz_st_fail(st);
    if (v > nmig) {
        sz_st_fail(st);
        return sz_store_seterr(err, SZ_STORE_SCHEMA, "the store has schema version %d; this socialize knows up to %d",
                               v, nmig);
    }
    for (; v < nmig; v++) {
        sz_param p[] = {P_INT(v + 1)};
        if (sz_st_exec(st, MIGRATIONS[v], NULL, 0, NULL, err) < 0 ||
            sz_st_exec(st, "INSERT INTO socialize_schema (version, applied_at) VALUES ($1, 0)", p, 1, NULL, err) < 0)
            return sz_st_fail(st);
    }
    if (sz_st_commit(st, err) < 0) return -1;
    st->schema_version = nmig;
    return 0;
}

const char *const SZ_ST_KEYCHECK_IDENT[4] = {"meta", "keycheck", NULL, NULL};

static int check_keys(sz_store *st, sz_store_err *err)
{
    char *kc = NULL;
    if (read_meta(st, "keycheck", &kc, err) < 0) return -1;
    if (kc) {
        char *plain = NULL;
        size_t n = 0;
        int r = 0;
        if (st->nkeys == 0) {
            r = sz_store_seterr(err, SZ_STORE_KEY_MISSING,
                                "the store holds sealed secrets (key id %.8s) and no key was given "
                                "(SOCIALIZE_STORE_KEY or keys)", kc + 4);
        } else if (sz_unseal(st, SZ_ST_KEYCHECK_IDENT, "keycheck", kc, strlen(kc), &plain, &n, err) < 0 ||
                   n != strlen(KEYCHECK_TEXT) || memcmp(plain, KEYCHECK_TEXT, n) != 0) {
            char ids[SZ_STORE_MAX_KEYS * 10 + 1] = "";
            for (size_t i = 0; i < st->nkeys; i++) {
                strcat(ids, i ? "," : "");
                strcat(ids, st->keys[i].id);
            }
            r = sz_store_seterr(err, SZ_STORE_KEY_MISMATCH,
                                "wrong store key: the store was sealed with key id %.8s, the configured keys are %s",
                                kc + 4, ids);
        }
        sz_wipe_free(plain, plain ? n : 0);
        free(kc);
        return r;
    }
    if (st->nkeys == 0) return 0;
    char *sealed;
    if (sz_seal(st, SZ_ST_KEYCHECK_IDENT, "keycheck", KEYCHECK_TEXT, strlen(KEYCHECK_TEXT), &sealed, err) < 0) return -1;
    int r = sz_st_begin(st, err) < 0 || sz_st_write_meta(st, "keycheck", sealed, err) < 0 || sz_st_commit(st, err) < 0 ? sz_st_fail(st) : 0;
    free(sealed);
    return r;
}

sz_store *sz_store_open(const char *url, const sz_store_opts *opts, sz_store_err *err)
{
    static const sz_store_opts none;
    if (!opts) opts = &none;
    if (!url) {
        sz_store_seterr(err, SZ_STORE_BAD_INPUT, "store: no URL");
        return NULL;
    }
    sz_store *st = calloc(1, sizeof *st);
    if (!st) {
        sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        return NULL;
    }
    st->plaintext = opts->plaintext;
    st->outbox_sync = opts->outbox_sync == SZ_SYNC_NORMAL || opts->outbox_sync == SZ_SYNC_WINDOW ? opts->outbox_sync
                                                                                                 : SZ_SYNC_FULL;
    if (st->outbox_sync == SZ_SYNC_WINDOW) {
        double w = opts->outbox_sync_window == 0 ? 1.0 : opts->outbox_sync_window;
        if (!(w > 0 && w <= SZ_SYNC_WINDOW_MAX)) { /* NaN fails too */
            free(st);
            sz_store_seterr(err, SZ_STORE_BAD_INPUT, "outbox_sync_window: seconds, 0 < N <= 3600 expected");
            return NULL;
        }
        st->sync_window = w;
    }
    st->busy_timeout_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    if (sz_keys_load(st, opts->keys, opts->nkeys, err) < 0) {
        free(st);
        return NULL;
    }
    int r;
    if (strncmp(url, "sqlite:", 7) == 0) {
        r = sz_sqlite_open(st, url + 7, opts, err);
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        r = sz_pg_open(st, url, opts, err);
    } else {
        r = sz_store_seterr(err, SZ_STORE_BAD_INPUT,
                            "store: the URL must start with sqlite: or postgresql:// (or postgres://)");
    }
    if (r < 0) {
        sz_keys_wipe(st);
        free(st);
        return NULL;
    }
    if (migrate(st, err) < 0 || check_keys(st, err) < 0) {
        sz_store_close(st);
        return NULL;
    }
    st->synced_at = -1, st->synced_commits = 0; /* the window starts at the first FULL commit after open */
    return st;
}

void sz_store_close(sz_store *st)
{
    if (!st) return;
    if (st->eng && st->db) st->eng->close(st);
    sz_keys_wipe(st);
    free(st);
}

const char *sz_store_engine(const sz_store *st) { return st->eng->name; }
int sz_store_schema_version(const sz_store *st) { return st->schema_version; }

int sz_store_outbox_sync(const sz_store *st) { return st ? st->outbox_sync : SZ_SYNC_FULL; }
double sz_store_outbox_sync_window(const sz_store *st) { return st ? st->sync_window : 0; }
long long sz_store_synced_commits(const sz_store *st) { return st ? st->synced_commits : 0; }

int sz_store_sync_level(sz_store *st)
{
    return st && st->db && strcmp(st->eng->name, "sqlite") == 0 ? sz_sqlite_sync_level(st) : -1;
}

void sz_store_set_before_commit(sz_store *st, int (*fn)(void *ud), void *ud)
{
    st->before_commit = fn;
    st->before_commit_ud = ud;
}

/* ---- records ---- */

/* The secrets JSON text: {"name": "<sealed>", ...}, or NULL on error. */
static char *seal_all(sz_store *st, const kind_desc *k, const sz_record *rec, sz_store_err *err)
{
    const char *ident[4] = {k->kind, rec->id1, rec->id2, NULL};
    json_t *o = json_object();
    if (!o) {
        sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < rec->nsecrets; i++) {
        const sz_secret *s = &rec->secrets[i];
        char *sealed;
        if (sz_st_check_id(s->name, "secret name", 1, err) < 0 ||
            sz_seal(st, ident, s->name, s->value ? s->value : "", s->value ? s->len : 0, &sealed, err) < 0) {
            json_decref(o);
            return NULL;
        }
        int bad = json_object_set_new(o, s->name, json_string(sealed));
        free(sealed);
        if (bad) {
            json_decref(o);
            sz_store_seterr(err, SZ_STORE_BAD_INPUT, "secret name is not UTF-8");
            return NULL;
        }
    }
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!t) sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    return t;
}

static int check_fields(const char *f, sz_store_err *err)
{
    if (!f) return 0;
    size_t n = strlen(f);
    if (n > SZ_STORE_MAX_FIELDS)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "fields: %zu bytes, at most %d", n, SZ_STORE_MAX_FIELDS);
    json_t *j = json_loadb(f, n, JSON_REJECT_DUPLICATES, NULL);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok ? 0 : sz_store_seterr(err, SZ_STORE_BAD_INPUT, "fields: not a JSON object");
}

static int check_lease(sz_store *st, const char *uid, const char *provider, const char *lease, sz_store_err *err)
{
    char sql[160];
    rows r;
    sz_param p[] = {P_TEXT(uid), P_TEXT(provider)};
    snprintf(sql, sizeof sql, "SELECT owner FROM socialize_locks WHERE uid = $1 AND provider = $2%s",
             strcmp(st->eng->name, "postgresql") == 0 ? " FOR UPDATE" : "");
    if (sz_st_query(st, sql, p, 2, &r, err) < 0) return -1;
    int held = r.nrows && sz_st_cell(&r, 0, 0) && strcmp(sz_st_cell(&r, 0, 0), lease) == 0;
    sz_st_rows_free(&r);
    return held ? 0 : sz_store_seterr(err, SZ_STORE_LEASE_LOST, "the lease on this connection was lost");
}

int sz_store_put(sz_store *st, sz_rec_kind kind, const sz_record *rec, sz_store_err *err)
{
    const kind_desc *k = kind_of(kind, err);
    if (!k) return -1;
    if (sz_st_check_id(rec->id1, k->n1, 1, err) < 0 || sz_st_check_id(rec->id2, k->n2, 1, err) < 0 ||
        sz_st_check_id(rec->account, "account", 0, err) < 0 || sz_st_check_id(rec->scopes, "scopes", 0, err) < 0 ||
        check_fields(rec->fields_json, err) < 0)
        return -1;
    if (rec->nsecrets > SZ_STORE_MAX_SECRETS)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "%zu secrets, at most %d", rec->nsecrets,
                               SZ_STORE_MAX_SECRETS);
    char *secrets = seal_all(st, k, rec, err);
    if (!secrets) return -1;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (%s, %s, account, scopes, fields, secrets, expires_at, updated_at) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (%s, %s) DO UPDATE SET "
             "account = excluded.account, scopes = excluded.scopes, fields = excluded.fields, "
             "secrets = excluded.secrets, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
             k->table, k->k1, k->k2, k->k1, k->k2);
    sz_param p[] = {P_TEXT(rec->id1),
                    P_TEXT(rec->id2),
                    P_TEXT(rec->account ? rec->account : ""),
                    P_TEXT(rec->scopes ? rec->scopes : ""),
                    P_TEXT(rec->fields_json ? rec->fields_json : "{}"),
                    P_TEXT(secrets),
                    P_INT(rec->expires_at),
                    P_INT(rec->updated_at)};
    if (rec->expires_at == 0) p[6].type = 0;
    int r = 0;
    if (sz_st_begin(st, err) < 0 ||
        (rec->lease && kind == SZ_REC_CONNECTION && check_lease(st, rec->id1, rec->id2, rec->lease, err) < 0) ||
        sz_st_exec(st, sql, p, 8, NULL, err) < 0 || sz_st_commit(st, err) < 0)
        r = sz_st_fail(st);
    free(secrets);
    return r;
}

#define REC_COLS "%s, %s, account, scopes, fields, secrets, expires_at, updated_at"

static void out_free_partial(sz_record_out *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->nsecrets; i++) {
        free((char *)o->secrets[i].name);
        sz_wipe_free((char *)o->secrets[i].value, o->secrets[i].len);
    }
    free(o->secrets);
    free(o->id1), free(o->id2), free(o->account), free(o->scopes), free(o->fields_json);
    free(o);
}

void sz_store_free(sz_record_out *rec) { out_free_partial(rec); }

void sz_store_free_list(sz_record_out **recs, size_t n)
{
    if (!recs) return;
    for (size_t i = 0; i < n; i++) out_free_partial(recs[i]);
    free(recs);
}

char *sz_st_take(rows *r, size_t row, int col)
{
    size_t k = row * (size_t)r->ncol + (size_t)col;
    char *s = r->v[k];
    r->v[k] = NULL;
    return s;
}

static sz_record_out *unpack(sz_store *st, const kind_desc *k, rows *r, size_t row, sz_store_err *err)
{
    sz_record_out *o = calloc(1, sizeof *o);
    if (!o) {
        sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        return NULL;
    }
    o->id1 = sz_st_take(r, row, 0), o->id2 = sz_st_take(r, row, 1), o->account = sz_st_take(r, row, 2);
    o->scopes = sz_st_take(r, row, 3), o->fields_json = sz_st_take(r, row, 4);
    o->expires_at = sz_st_cell(r, row, 6) ? strtoll(sz_st_cell(r, row, 6), NULL, 10) : 0;
    o->updated_at = sz_st_cell(r, row, 7) ? strtoll(sz_st_cell(r, row, 7), NULL, 10) : 0;
    const char *sj = sz_st_cell(r, row, 5);
    json_t *j = sj ? json_loads(sj, 0, NULL) : NULL;
    if (!o->id1 || !o->id2 || !j || !json_is_object(j)) {
        json_decref(j);
        out_free_partial(o);
        sz_store_seterr(err, SZ_STORE_CORRUPT, "%s record: damaged row", k->kind);
        return NULL;
    }
    size_t n = json_object_size(j);
    o->secrets = calloc(n ? n : 1, sizeof *o->secrets);
    if (!o->secrets) {
        json_decref(j);
        out_free_partial(o);
        sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        return NULL;
    }
    const char *ident[4] = {k->kind, o->id1, o->id2, NULL};
    const char *name;
    json_t *v;
    json_object_foreach(j, name, v)
    {
        char *plain;
        size_t len;
        if (!json_is_string(v) || sz_unseal(st, ident, name, json_string_value(v), json_string_length(v), &plain,
                                            &len, err) < 0) {
            if (!json_is_string(v)) sz_store_seterr(err, SZ_STORE_CORRUPT, "secret %s: damaged", name);
            json_decref(j);
            out_free_partial(o);
            return NULL;
        }
        sz_secret *s = &o->secrets[o->nsecrets++];
        s->name = strdup(name);
        s->value = plain;
        s->len = len;
        if (!s->name) {
            json_decref(j);
            out_free_partial(o);
            sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
            return NULL;
        }
    }
    json_decref(j);
    return o;
}

int sz_store_get(sz_store *st, sz_rec_kind kind, const char *id1, const char *id2, sz_record_out **out,
                 sz_store_err *err)
{
    const kind_desc *k = kind_of(kind, err);
    *out = NULL;
    if (!k || sz_st_check_id(id1, k->n1, 1, err) < 0 || sz_st_check_id(id2, k->n2, 1, err) < 0) return -1;
    char sql[256], cols[128];
    snprintf(cols, sizeof cols, REC_COLS, k->k1, k->k2);
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = $1 AND %s = $2", cols, k->table, k->k1, k->k2);
    sz_param p[] = {P_TEXT(id1), P_TEXT(id2)};
    rows r;
    if (sz_st_query(st, sql, p, 2, &r, err) < 0) return -1;
    if (r.nrows == 0) {
        sz_st_rows_free(&r);
        return 0;
    }
    *out = unpack(st, k, &r, 0, err);
    sz_st_rows_free(&r);
    return *out ? 1 : -1;
}

int sz_store_list(sz_store *st, sz_rec_kind kind, const char *id1, sz_record_out ***out, size_t *n,
                  sz_store_err *err)
{
    const kind_desc *k = kind_of(kind, err);
    *out = NULL;
    *n = 0;
    if (!k || sz_st_check_id(id1, k->n1, 1, err) < 0) return -1;
    char sql[256], cols[128];
    snprintf(cols, sizeof cols, REC_COLS, k->k1, k->k2);
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = $1 ORDER BY %s", cols, k->table, k->k1, k->k2);
    sz_param p[] = {P_TEXT(id1)};
    rows r;
    if (sz_st_query(st, sql, p, 1, &r, err) < 0) return -1;
    sz_record_out **list = calloc(r.nrows ? r.nrows : 1, sizeof *list);
    if (!list) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < r.nrows; i++) {
        list[i] = unpack(st, k, &r, i, err);
        if (!list[i]) {
            sz_store_free_list(list, i);
            sz_st_rows_free(&r);
            return -1;
        }
    }
    *out = list;
    *n = r.nrows;
    sz_st_rows_free(&r);
    return 0;
}

long long sz_store_delete(sz_store *st, sz_rec_kind kind, const char *id1, const char *id2, sz_store_err *err)
{
    const kind_desc *k = kind_of(kind, err);
    if (!k || sz_st_check_id(id1, k->n1, 1, err) < 0 || sz_st_check_id(id2, k->n2, 0, err) < 0) return -1;
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = $1%s%s%s", k->table, k->k1, id2 ? " AND " : "",
             id2 ? k->k2 : "", id2 ? " = $2" : "");
    sz_param p[] = {P_TEXT(id1), P_TEXT(id2)};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 || sz_st_exec(st, sql, p, id2 ? 2 : 1, &changes, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return changes;
}

