/* The host's transaction (sz_store.h, docs/delivery.md "In the host's own
 * transaction"): one engine transaction (SQLite BEGIN IMMEDIATE, PostgreSQL
 * BEGIN) in which the host runs its own SQL on the store's connection and
 * the outbox enqueues (sz_job_in.join_txn), committed or rolled back as one.
 * Inside it the store's own writes are savepoints (sz_store.c), and a write
 * that does not join it is refused. Any failure inside it leaves only a
 * rollback (as PostgreSQL does): what the host wrote and what was queued go
 * together or not at all. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sz_store_ops.h"

#define MAX_SQL 1048576

static void ended(sz_store *st)
{
    st->host_txn = 0, st->in_txn = 0, st->sp_open = 0, st->host_join = 0, st->host_sql = 0, st->host_outbox = 0;
}

static int txn_begin(sz_store *st, int outbox, sz_store_err *err)
{
    if (!st) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "transaction: no store");
    if (st->host_txn)
        return sz_store_seterr(err, SZ_STORE_IN_TXN,
                               "transaction: one is already open on this store (nested transactions are refused)");
    st->relaxed = outbox;
    int r = st->eng->begin(st, err);
    st->relaxed = 0;
    if (r < 0) return -1;
    st->in_txn = 1, st->host_txn = 1, st->sp_open = 0, st->host_join = 0, st->host_sql = 0;
    st->host_outbox = outbox;
    st->host_serial = st->host_serial == 0xffffffffu ? 1 : st->host_serial + 1;
    memset(&st->host_err, 0, sizeof st->host_err);
    return 0;
}

int sz_store_txn_begin(sz_store *st, sz_store_err *err) { return txn_begin(st, 0, err); }
int sz_store_txn_begin_outbox(sz_store *st, sz_store_err *err) { return txn_begin(st, 1, err); }

int sz_store_txn_state(const sz_store *st) { return st ? st->host_txn : 0; }

void sz_store_txn_rollback(sz_store *st)
{
    if (!st || !st->host_txn) return;
    st->eng->rollback(st);
    ended(st);
}

int sz_store_txn_commit(sz_store *st, sz_store_err *err)
{
    if (!st || !st->host_txn) return sz_store_seterr(err, SZ_STORE_NO_TXN, "transaction: none is open");
    if (st->host_txn == 1 && !st->eng->in_txn(st)) {
        st->host_txn = 2;
        sz_store_seterr(&st->host_err, SZ_STORE_TXN_FAILED, "the engine ended the transaction");
    }
    if (st->host_txn == 2) {
        sz_store_err why = st->host_err;
        sz_store_txn_rollback(st);
        return sz_store_seterr(err, why.code ? why.code : SZ_STORE_TXN_FAILED, "transaction rolled back: %.200s",
                               why.msg);
    }
    if (st->before_commit && st->before_commit(st->before_commit_ud) != 0) {
        sz_store_txn_rollback(st);
        return sz_store_seterr(err, SZ_STORE_INTERNAL, "rolled back by the before-commit hook");
    }
    if (st->eng->commit(st, err) < 0) {
        sz_store_txn_rollback(st);
        return -1;
    }
    ended(st);
    return 0;
}

/* The start of the statement, blanks and comments skipped: its first word
 * (upper case, cut to w's size) and the second's. */
static const char *skip_blank(const char *s)
{
    for (;;) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n') s++;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            if (!e) return s + strlen(s);
            s = e + 2;
        } else {
            return s;
        }
    }
}

static const char *word(const char *s, char *w, size_t size)
{
    size_t n = 0;
    s = skip_blank(s);
    while (isalpha((unsigned char)*s)) {
        if (n + 1 < size) w[n++] = (char)toupper((unsigned char)*s);
        s++;
    }
    w[n] = 0;
    return s;
}

/* Reads the statement as both engines do: quoted text and names, comments
 * and PostgreSQL's dollar quotes skipped. *maxp: the highest $n; returns 1
 * when a second statement follows a ';'. */
static int scan(const char *s, long *maxp)
{
    long max = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '"' || *p == '`') {
            char end = *p;
            for (p++; *p && *p != end; p++) {}
            if (!*p) break;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
            if (!*p) break;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e) break;
            p = e + 1;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            long n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++) n = n < 100000 ? n * 10 + (*p - '0') : n;
            if (n > max) max = n;
            p--;
        } else if (*p == '$') { /* $tag$ ... $tag$ */
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '_') q++;
            if (*q != '$') continue;
            size_t tag = (size_t)(q - p + 1);
            const char *e = q + 1;
            while ((e = strchr(e, '$')) && strncmp(e, p, tag) != 0) e++;
            if (!e) break;
            p = e + tag - 1;
        } else if (*p == ';') {
            if (*skip_blank(p + 1) && *skip_blank(p + 1) != ';') return 1;
        }
    }
    *maxp = max;
    return 0;
}

/* Statements that would end the transaction, change the store's session or
 * connection, or touch the store's own tables: refused. A guard against
 * mistakes, not a sandbox (docs/delivery.md). */
static int refused(const char *sql, int nv, sz_store_err *err)
{
    static const char *const CONTROL[] = {"BEGIN",  "START",   "COMMIT", "END",    "ROLLBACK", "SAVEPOINT",
                                          "RELEASE", "ABORT",  "PREPARE", "RESET", "DISCARD",  "PRAGMA",
                                          "ATTACH", "DETACH",  "VACUUM", "LISTEN", "UNLISTEN", "LOAD",
                                          "COPY"};
    char w1[16], w2[16];
    word(word(sql, w1, sizeof w1), w2, sizeof w2);
    for (size_t i = 0; i < sizeof CONTROL / sizeof CONTROL[0]; i++)
        if (strcmp(w1, CONTROL[i]) == 0)
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT,
                                   "sql: %s is refused inside the transaction (store:transaction ends it)", w1);
    if (strcmp(w1, "SET") == 0 && strcmp(w2, "LOCAL") != 0 && strcmp(w2, "TRANSACTION") != 0 &&
        strcmp(w2, "CONSTRAINTS") != 0)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT,
                               "sql: SET would outlive the transaction on the store's connection (use SET LOCAL)");
    long max = 0;
    if (scan(sql, &max)) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: one statement expected (no second one after ;)");
    if (max != nv)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: %ld placeholder(s) ($1..$%ld), %d value(s) given", max,
                               max, nv);
    for (const char *p = sql; *p; p++)
        if ((*p == 's' || *p == 'S') && strncasecmp(p, "socialize_", 10) == 0)
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT,
                                   "sql: the socialize_ tables are the store's; read and change them through its calls");
    return 0;
}

int sz_store_txn_exec(sz_store *st, const char *sql, const sz_sql_value *v, int nv, sz_sql_row_fn fn, void *ud,
                      long long *changes, sz_store_err *err)
{
    if (!st || !st->host_txn) return sz_store_seterr(err, SZ_STORE_NO_TXN, "tx: the transaction has ended");
    if (st->host_txn == 2)
        return sz_store_seterr(err, SZ_STORE_TXN_FAILED, "tx: the transaction failed earlier (%.160s): only a rollback is left",
                               st->host_err.msg);
    sz_param p[SZ_STORE_MAX_COLS];
    long long n = 0;
    int r = 0;
    if (st->host_outbox) {
        r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: the outbox's batch takes no SQL (use store:transaction)");
    } else if (!sql || !*skip_blank(sql)) {
        r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: a statement expected");
    } else if (strlen(sql) > MAX_SQL) {
        r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: over %d bytes", MAX_SQL);
    } else if (nv < 0 || nv > SZ_STORE_MAX_COLS || (nv > 0 && !v)) {
        r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: at most %d values", SZ_STORE_MAX_COLS);
    } else {
        r = refused(sql, nv, err);
        for (int i = 0; r == 0 && i < nv; i++) {
            memset(&p[i], 0, sizeof p[i]);
            if (v[i].type == SZ_SQL_TEXT && v[i].text) {
                p[i].type = 3, p[i].s = v[i].text, p[i].n = v[i].len;
                if (!sz_st_utf8_ok((const unsigned char *)v[i].text, v[i].len))
                    r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "$%d: not UTF-8", i + 1);
            } else if (v[i].type == SZ_SQL_INTEGER) {
                p[i].type = 2, p[i].i = v[i].integer;
            } else if (v[i].type == SZ_SQL_REAL) {
                p[i].type = 4, p[i].d = v[i].real;
                if (v[i].real != v[i].real || v[i].real > 1e308 || v[i].real < -1e308)
                    r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "$%d: not a finite number", i + 1);
            }
        }
    }
    if (r == 0) {
        st->host_sql = 1;
        r = st->eng->exec(st, sql, p, nv, fn, ud, &n, err);
        st->host_sql = 0;
    }
    if (r < 0 || !st->eng->in_txn(st)) {
        if (r == 0) sz_store_seterr(err, SZ_STORE_TXN_FAILED, "sql: the statement ended the transaction");
        st->host_txn = 2;
        st->host_err = *err;
        return -1;
    }
    if (changes) *changes = n;
    return 0;
}
