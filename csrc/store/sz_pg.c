/* The PostgreSQL engine (libpq from Debian). Parameters go as text with
 * PQexecParams, results come back as text. Errors are named from SQLSTATE;
 * only the primary message is kept (PostgreSQL's DETAIL may quote values).
 * A lost connection is reset once at the start of the next call, never in
 * the middle of a transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sz_store_int.h"

static sz_store_code code_of_state(const char *s)
{
    if (!s) return SZ_STORE_GONE;
    if (strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
        strcmp(s, "57P03") == 0)
        return SZ_STORE_GONE;
    if (strcmp(s, "53100") == 0) return SZ_STORE_FULL;
    if (strcmp(s, "53200") == 0) return SZ_STORE_NOMEM;
    if (strcmp(s, "25006") == 0 || strcmp(s, "42501") == 0) return SZ_STORE_READONLY;
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0 ||
        strcmp(s, "57014") == 0)
        return SZ_STORE_BUSY;
    if (strcmp(s, "XX001") == 0 || strcmp(s, "XX002") == 0) return SZ_STORE_CORRUPT;
    if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0) return SZ_STORE_BAD_INPUT;
    return SZ_STORE_INTERNAL;
}

static int pgerr(sz_store *st, PGresult *res, sz_store_err *err)
{
    PGconn *c = st->db;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    sz_store_code code = (!res || PQstatus(c) != CONNECTION_OK) ? SZ_STORE_GONE : code_of_state(state);
    if (code == SZ_STORE_GONE)
        return sz_store_seterr(err, code, "postgresql: the server went away (%s)",
                               state ? state : "connection lost");
    return sz_store_seterr(err, code, "postgresql: %s (SQLSTATE %s)", msg ? msg : "error", state ? state : "?");
}

/* The statements kept per connection: named sz_s<i>, prepared (PQprepare)
 * on first use in each session; a reset connection is a new session (gen),
 * where each is prepared again. Beyond SZ_STORE_MAX_STMTS, PQexecParams. */
typedef struct {
    unsigned gen; /* the session: counts the resets */
    int n;
    struct {
        unsigned h, gen; /* gen: the session it was prepared in (0: none yet) */
        char *sql;
        char name[16];
    } e[SZ_STORE_MAX_STMTS];
} pg_cache;

static int session_settings(sz_store *st, sz_store_err *err);

static int alive(sz_store *st, sz_store_err *err)
{
    PGconn *c = st->db;
    if (PQstatus(c) == CONNECTION_OK) return 0;
    if (st->in_txn) return sz_store_seterr(err, SZ_STORE_GONE, "postgresql: the server went away mid-transaction");
    PQreset(c);
    if (PQstatus(c) != CONNECTION_OK) return sz_store_seterr(err, SZ_STORE_GONE, "postgresql: cannot reach the server");
    pg_cache *pc = st->stmts;
    if (pc) pc->gen = pc->gen == 0xffffffffu ? 1 : pc->gen + 1; /* named statements died with the session */
    return session_settings(st, err);
}

/* The index of sql's kept statement, prepared in this session; -1 when it
 * is not kept (PQexecParams then), -2 on error (err set). */
static int pg_stmt(sz_store *st, const char *sql, int np, PGresult **fail)
{
    pg_cache *pc = st->stmts;
    if (!pc || st->host_sql) return -1; /* the host's SQL is not kept */
    unsigned h = sz_st_hash(sql);
    int i = 0;
    while (i < pc->n && !(pc->e[i].h == h && strcmp(pc->e[i].sql, sql) == 0)) i++;
    if (i == pc->n) {
        if (pc->n >= SZ_STORE_MAX_STMTS || !(pc->e[i].sql = strdup(sql))) return -1;
        pc->e[i].h = h, pc->e[i].gen = 0;
        snprintf(pc->e[i].name, sizeof pc->e[i].name, "sz_s%d", i);
        pc->n++;
    }
    if (pc->e[i].gen != pc->gen) {
        PGresult *res = PQprepare(st->db, pc->e[i].name, sql, np, NULL);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            *fail = res;
            return -2;
        }
        PQclear(res);
        pc->e[i].gen = pc->gen;
    }
    return i;
}

static int pg_exec(sz_store *st, const char *sql, const sz_param *p, int np, sz_row_fn fn, void *ud,
                   long long *changes, sz_store_err *err)
{
    PGconn *c = st->db;
    PGresult *res;
    if (alive(st, err) < 0) return -1;
    if (np == 0 && !fn && !changes) {
        res = PQexec(c, sql);
    } else {
        const char *vals[SZ_STORE_MAX_COLS];
        int lens[SZ_STORE_MAX_COLS], fmts[SZ_STORE_MAX_COLS];
        char nums[SZ_STORE_MAX_COLS][32];
        char *copies[SZ_STORE_MAX_COLS];
        if (np > SZ_STORE_MAX_COLS) return sz_store_seterr(err, SZ_STORE_INTERNAL, "too many parameters");
        for (int i = 0; i < np; i++) copies[i] = NULL;
        for (int i = 0; i < np; i++) {
            fmts[i] = 0;
            lens[i] = 0;
            if (p[i].type == 3 && p[i].s) {
                /* the host's text in text format (its type inferred by the
                 * server): NUL-terminated, so a NUL inside is refused */
                const char *why = p[i].n > 0x3fffffff ? "a value over 1 GB"
                                  : memchr(p[i].s, 0, p[i].n) ? "holds a NUL byte" : NULL;
                if (!why && !(copies[i] = malloc(p[i].n + 1))) why = "out of memory";
                if (why) {
                    for (int k = 0; k < i; k++) free(copies[k]);
                    return sz_store_seterr(err, why[0] == 'o' ? SZ_STORE_NOMEM : SZ_STORE_BAD_INPUT,
                                           "$%d: %s", i + 1, why);
                }
                memcpy(copies[i], p[i].s, p[i].n);
                copies[i][p[i].n] = 0;
                vals[i] = copies[i];
            } else if (p[i].type == 4) {
                snprintf(nums[i], sizeof nums[i], "%.17g", p[i].d);
                vals[i] = nums[i];
            } else if (p[i].type == 1 && p[i].s) {
                /* text goes in binary format: its length is used, not a NUL
                 * (the binary form of text is its bytes; checked as UTF-8) */
                if (p[i].n > 0x3fffffff) {
                    for (int k = 0; k < i; k++) free(copies[k]);
                    return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "a value over 1 GB");
                }
                vals[i] = p[i].s;
                lens[i] = (int)p[i].n;
                fmts[i] = 1;
            } else if (p[i].type == 2) {
                snprintf(nums[i], sizeof nums[i], "%lld", p[i].i);
                vals[i] = nums[i];
            } else {
                vals[i] = NULL;
            }
        }
        PGresult *fail = NULL;
        int k = pg_stmt(st, sql, np, &fail);
        if (k == -2) {
            int r = pgerr(st, fail, err);
            PQclear(fail);
            return r;
        }
        if (k >= 0) {
            res = PQexecPrepared(c, ((pg_cache *)st->stmts)->e[k].name, np, vals, lens, fmts, 0);
        } else {
            res = PQexecParams(c, sql, np, NULL, vals, lens, fmts, 0);
        }
        for (int i = 0; i < np; i++) free(copies[i]);
    }
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        int r = pgerr(st, res, err);
        PQclear(res);
        return r;
    }
    if (fn && s == PGRES_TUPLES_OK) {
        int ncol = PQnfields(res), n = PQntuples(res);
        if (ncol > SZ_STORE_MAX_COLS) ncol = SZ_STORE_MAX_COLS;
        if (st->host_sql && PQnfields(res) > SZ_STORE_MAX_COLS) {
            int r = sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: %d columns, at most %d", PQnfields(res),
                                    SZ_STORE_MAX_COLS);
            PQclear(res);
            return r;
        }
        if (st->host_sql) { /* the column names first */
            const char *names[SZ_STORE_MAX_COLS];
            for (int i = 0; i < ncol; i++) names[i] = PQfname(res, i);
            fn(ud, ncol, names, NULL);
        }
        for (int row = 0; row < n; row++) {
            const char *vals[SZ_STORE_MAX_COLS];
            size_t lens[SZ_STORE_MAX_COLS];
            for (int i = 0; i < ncol; i++) {
                vals[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
                lens[i] = (size_t)PQgetlength(res, row, i);
            }
            if (fn(ud, ncol, vals, lens)) break;
        }
    }
    if (changes) *changes = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

static int pg_begin(sz_store *st, sz_store_err *err)
{
    return pg_exec(st, "BEGIN", NULL, 0, NULL, NULL, NULL, err);
}

static int pg_commit(sz_store *st, sz_store_err *err)
{
    return pg_exec(st, "COMMIT", NULL, 0, NULL, NULL, NULL, err);
}

static void pg_rollback(sz_store *st)
{
    PGconn *c = st->db;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
}

static int pg_in_txn(sz_store *st)
{
    PGTransactionStatusType t = PQtransactionStatus(st->db);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

static void pg_close(sz_store *st)
{
    pg_cache *pc = st->stmts;
    if (pc) {
        for (int i = 0; i < pc->n; i++) free(pc->e[i].sql);
        free(pc);
        st->stmts = NULL;
    }
    PQfinish(st->db);
    st->db = NULL;
}

static const sz_engine PG_ENGINE = {"postgresql", pg_exec, pg_begin, pg_commit, pg_rollback, pg_in_txn, pg_close};

static void quiet(void *arg, const char *message)
{
    (void)arg, (void)message; /* NOTICEs ("relation already exists") are not errors */
}

int sz_pg_open(sz_store *st, const char *conninfo, const sz_store_opts *opts, sz_store_err *err)
{
    (void)opts;
    /* libpq's messages quote the URL's pieces, the password among them: a
     * URL it cannot parse is named without them, and a failed connect's
     * message is shown with the password taken out */
    char *perr = NULL, *pw = NULL;
    int at = 0;
    PQconninfoOption *parsed = PQconninfoParse(conninfo, &perr);
    st->eng = &PG_ENGINE;
    if (!parsed) {
        if (perr) PQfreemem(perr);
        return sz_store_seterr(err, SZ_STORE_GONE, "postgresql: the URL is malformed (libpq's message is not "
                                                   "shown: it may quote the password)");
    }
    for (PQconninfoOption *o = parsed; o->keyword; o++) {
        if (!o->val) continue;
        if (strcmp(o->keyword, "password") == 0 && o->val[0] && !pw) pw = strdup(o->val);
        if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) && strchr(o->val, '@')) at = 1;
    }
    PQconninfoFree(parsed);
    PGconn *c = PQconnectdb(conninfo);
    st->db = c;
    if (!c) {
        if (pw) sz_wipe_free(pw, strlen(pw));
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[200];
        size_t n = pw ? strlen(pw) : 0, o = 0;
        const char *q = PQerrorMessage(c);
        if (at) /* an unencoded '@' in the password: its tail became the host */
            q = "the host holds an '@': encode one in the password as %40";
        while (*q && *q != '\n' && o < sizeof msg - 1) {
            if (n && strncmp(q, pw, n) == 0) {
                for (const char *r = "[redacted]"; *r && o < sizeof msg - 1;) msg[o++] = *r++;
                q += n;
            } else {
                msg[o++] = *q++;
            }
        }
        msg[o] = 0;
        pg_close(st);
        if (pw) sz_wipe_free(pw, n);
        return sz_store_seterr(err, SZ_STORE_GONE, "postgresql: cannot connect (%s)", msg);
    }
    if (pw) sz_wipe_free(pw, strlen(pw));
    PQsetNoticeProcessor(c, quiet, NULL);
    pg_cache *pc = calloc(1, sizeof *pc); /* NULL: every statement sent with PQexecParams */
    if (pc) pc->gen = 1;
    st->stmts = pc;
    return session_settings(st, err) < 0 ? (pg_close(st), -1) : 0;
}

/* Per session (at open and after a reset): the busy timeout, a statement
 * waiting for a row lock gives up. */
static int session_settings(sz_store *st, sz_store_err *err)
{
    char q[96];
    snprintf(q, sizeof q, "SET lock_timeout = %d; SET statement_timeout = %d", st->busy_timeout_ms,
             st->busy_timeout_ms * 6);
    PGresult *res = PQexec(st->db, q);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        int r = pgerr(st, res, err);
        PQclear(res);
        return r;
    }
    PQclear(res);
    return 0;
}
