/* The SQLite engine (libsqlite3 from Debian): WAL journal, a busy timeout,
 * write transactions taken at once (BEGIN IMMEDIATE), errors named by
 * their SQLite class. SQLite's messages never carry bound values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sz_store_int.h"

static sz_store_code code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SZ_STORE_BUSY;
    case SQLITE_READONLY: return SZ_STORE_READONLY;
    case SQLITE_FULL: return SZ_STORE_FULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return SZ_STORE_CORRUPT;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM: return SZ_STORE_IO;
    case SQLITE_NOMEM: return SZ_STORE_NOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return SZ_STORE_BAD_INPUT;
    default: return SZ_STORE_INTERNAL;
    }
}

static int sqerr(sz_store *st, int rc, sz_store_err *err)
{
    sqlite3 *db = st->db;
    sz_store_code c = code_of(rc);
    const char *what = c == SZ_STORE_BUSY       ? "the store is locked by another process"
                       : c == SZ_STORE_READONLY ? "the store file or its file system is read-only"
                       : c == SZ_STORE_FULL     ? "the store is full (disk or size limit)"
                       : c == SZ_STORE_CORRUPT  ? "the store file is not a database or is damaged"
                       : c == SZ_STORE_IO       ? "cannot read or write the store file"
                       : c == SZ_STORE_BAD_INPUT ? "refused"
                                                : "store error";
    return sz_store_seterr(err, c, "sqlite: %s (%s)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* $1..$n become ?1..?n: the same numbering, SQLite's spelling; quoted
 * text, quoted names and comments are left as they are. */
static char *translate(const char *sql)
{
    char *o = strdup(sql);
    if (!o) return NULL;
    for (char *p = o; *p; p++) {
        if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
            char end = *p == '[' ? ']' : *p;
            for (p++; *p && *p != end; p++) {}
            if (!*p) break;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
            if (!*p) break;
        } else if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            if (!e) break;
            p = e + 1;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            *p = '?';
        }
    }
    return o;
}

/* 1 when s holds only blanks, semicolons and comments */
static int only_blank(const char *s)
{
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';') {
            s++;
        } else if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n') s++;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            if (!e) return 1;
            s = e + 2;
        } else {
            return 0;
        }
    }
    return 1;
}

/* The statements kept per handle: prepared once (SQLITE_PREPARE_PERSISTENT),
 * reset and their bindings cleared after each use, finalized at close. A
 * statement beyond SZ_STORE_MAX_STMTS is prepared for one use. */
typedef struct {
    int n;
    struct {
        unsigned h;
        char *sql;
        sqlite3_stmt *stmt;
    } e[SZ_STORE_MAX_STMTS];
} sq_cache;

/* The prepared statement of sql: *once is set when it is not kept (to finalize). */
static sqlite3_stmt *sq_stmt(sz_store *st, const char *sql, int *once, int *rc)
{
    sq_cache *c = st->stmts;
    unsigned h = sz_st_hash(sql);
    *once = 0, *rc = SQLITE_OK;
    if (c)
        for (int i = 0; i < c->n; i++)
            if (c->e[i].h == h && strcmp(c->e[i].sql, sql) == 0) return c->e[i].stmt;
    char *q = translate(sql);
    if (!q) {
        *rc = SQLITE_NOMEM;
        return NULL;
    }
    int keep = c && c->n < SZ_STORE_MAX_STMTS && !st->host_sql; /* the host's SQL is not kept */
    char *copy = keep ? strdup(sql) : NULL;
    keep = keep && copy;
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    *rc = sqlite3_prepare_v3(st->db, q, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
    if (*rc == SQLITE_OK && stmt && st->host_sql && tail && !only_blank(tail)) {
        sqlite3_finalize(stmt); /* the host's SQL: one statement at a time (as PostgreSQL's) */
        stmt = NULL;
        *rc = SQLITE_MISUSE;
    }
    free(q);
    if (*rc != SQLITE_OK || !stmt) {
        free(copy);
        if (*rc == SQLITE_OK) *rc = SQLITE_MISUSE; /* an empty statement */
        return NULL;
    }
    if (keep) {
        c->e[c->n].h = h, c->e[c->n].sql = copy, c->e[c->n].stmt = stmt;
        c->n++;
    } else {
        *once = 1;
    }
    return stmt;
}

static void sq_done(sqlite3_stmt *stmt, int once)
{
    if (once) {
        sqlite3_finalize(stmt);
        return;
    }
    sqlite3_reset(stmt); /* ends its read: no lock kept between calls */
    sqlite3_clear_bindings(stmt);
}

/* PRAGMA synchronous (1 NORMAL, 2 FULL) for the transactions begun from
 * now on: SQLite refuses to change it inside one, and reads it when the
 * statement is prepared (so it is never kept prepared). */
static int sq_sync(sz_store *st, int level, sz_store_err *err)
{
    if (st->sync_level == level) return 0;
    int rc = sqlite3_exec(st->db, level == 1 ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", NULL,
                          NULL, NULL);
    if (rc != SQLITE_OK) return sqerr(st, rc, err);
    st->sync_level = level;
    return 0;
}

int sz_sqlite_sync_level(sz_store *st)
{
    sqlite3_stmt *stmt = NULL;
    int level = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA synchronous", -1, &stmt, NULL) == SQLITE_OK && stmt &&
        sqlite3_step(stmt) == SQLITE_ROW)
        level = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return level;
}

static int sq_exec(sz_store *st, const char *sql, const sz_param *p, int np, sz_row_fn fn, void *ud,
                   long long *changes, sz_store_err *err)
{
    sqlite3 *db = st->db;
    int rc, once;
    /* a write outside BEGIN (its own transaction) commits with FULL */
    int autocommit = sqlite3_get_autocommit(db) && st->sync_level != 2;
    if (np == 0 && !fn && !changes) {
        if (autocommit && sq_sync(st, 2, err) < 0) return -1;
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sqerr(st, rc, err);
    }
    sqlite3_int64 before = sqlite3_total_changes64(db); /* a statement that changes nothing: 0 */
    sqlite3_stmt *stmt = sq_stmt(st, sql, &once, &rc);
    if (!stmt) {
        if (rc == SQLITE_NOMEM) return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
        if (rc == SQLITE_MISUSE && st->host_sql)
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: one statement expected (no second one after ;)");
        return sqerr(st, rc, err);
    }
    if (autocommit && !sqlite3_stmt_readonly(stmt) && sq_sync(st, 2, err) < 0) {
        sq_done(stmt, once);
        return -1;
    }
    if (st->host_sql && sqlite3_bind_parameter_count(stmt) != np) {
        int want = sqlite3_bind_parameter_count(stmt);
        sq_done(stmt, once);
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: %d placeholder(s) ($1..$%d), %d value(s) given", want,
                               want, np);
    }
    if (st->host_sql && fn) { /* the column names first */
        int ncol = sqlite3_column_count(stmt);
        const char *names[SZ_STORE_MAX_COLS];
        if (ncol > SZ_STORE_MAX_COLS) {
            sq_done(stmt, once);
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "sql: %d columns, at most %d", ncol, SZ_STORE_MAX_COLS);
        }
        for (int i = 0; i < ncol; i++) names[i] = sqlite3_column_name(stmt, i);
        fn(ud, ncol, names, NULL);
    }
    for (int i = 0; i < np && rc == SQLITE_OK; i++) {
        if ((p[i].type == 1 || p[i].type == 3) && p[i].s)
            rc = sqlite3_bind_text(stmt, i + 1, p[i].s, (int)p[i].n, SQLITE_STATIC);
        else if (p[i].type == 4)
            rc = sqlite3_bind_double(stmt, i + 1, p[i].d);
        else if (p[i].type == 2)
            rc = sqlite3_bind_int64(stmt, i + 1, p[i].i);
        else
            rc = sqlite3_bind_null(stmt, i + 1);
    }
    int stop = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_ROW) break;
        if (!fn || stop) continue; /* run to the end: RETURNING rows are all produced */
        int ncol = sqlite3_column_count(stmt);
        const char *vals[SZ_STORE_MAX_COLS];
        size_t lens[SZ_STORE_MAX_COLS];
        if (ncol > SZ_STORE_MAX_COLS) ncol = SZ_STORE_MAX_COLS;
        for (int i = 0; i < ncol; i++) {
            vals[i] = (const char *)sqlite3_column_text(stmt, i);
            lens[i] = (size_t)sqlite3_column_bytes(stmt, i);
        }
        stop = fn(ud, ncol, vals, lens);
    }
    if (rc != SQLITE_DONE) {
        int r = sqerr(st, rc, err);
        sq_done(stmt, once);
        return r;
    }
    sq_done(stmt, once);
    if (changes) *changes = sqlite3_total_changes64(db) == before ? 0 : sqlite3_changes(db);
    return 0;
}

/* CLOCK_MONOTONIC in seconds; -1 when it cannot be read */
static double sq_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The outbox's own enqueues (st->relaxed) commit with the store's
 * outbox_sync, every other transaction with FULL. A later FULL commit
 * syncs the WAL file, so the frames of earlier NORMAL ones with it.
 * SZ_SYNC_WINDOW: NORMAL while this connection's last FULL commit is
 * under sync_window seconds old, FULL when it is older, when there was
 * none yet or when the clock cannot be read. */
static int sq_begin(sz_store *st, sz_store_err *err)
{
    int level = 2;
    if (st->relaxed && st->outbox_sync == SZ_SYNC_NORMAL) {
        level = 1;
    } else if (st->relaxed && st->outbox_sync == SZ_SYNC_WINDOW && st->synced_at >= 0) {
        double now = sq_now();
        if (now >= 0 && now >= st->synced_at && now - st->synced_at < st->sync_window) level = 1;
    }
    if (sq_sync(st, level, err) < 0) return -1;
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqerr(st, rc, err);
}

/* A FULL commit that succeeded restarts the window (a failed one, or a
 * rollback, does not). */
static int sq_commit(sz_store *st, sz_store_err *err)
{
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sqerr(st, rc, err);
    if (st->sync_level == 2) {
        st->synced_at = sq_now();
        if (st->synced_commits < 0x7fffffffffffffffLL) st->synced_commits++;
    }
    return 0;
}

static void sq_rollback(sz_store *st)
{
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_in_txn(sz_store *st) { return !sqlite3_get_autocommit(st->db); }

static void sq_close(sz_store *st)
{
    sq_cache *c = st->stmts;
    if (c) {
        for (int i = 0; i < c->n; i++) sqlite3_finalize(c->e[i].stmt), free(c->e[i].sql);
        free(c);
        st->stmts = NULL;
    }
    sqlite3_close_v2(st->db);
    st->db = NULL;
}

static const sz_engine SQLITE_ENGINE = {"sqlite", sq_exec, sq_begin, sq_commit, sq_rollback, sq_in_txn, sq_close};

/* A store file on a read-only file system (a mount remounted read-only, a
 * full disk's emergency remount, read-only media) cannot be opened the usual
 * way: WAL mode needs its -shm file, which cannot be created there. It is
 * opened for reading instead, so jobs and connections can still be read and
 * every write is refused as read-only: as immutable when it has no -wal file
 * (a clean close checkpoints and removes it, so the file holds everything),
 * read-only when its -wal and -shm files are both there (SQLite reads the WAL
 * then). A -wal file without its -shm holds commits that cannot be read
 * there: refused, by name, rather than opened without them. The path is
 * resolved first (SQLite keeps the -wal and -shm files by the file a symlink
 * names, not by the link). 1: reopened (or refused, with err set); 0: not a
 * read-only file system. */
static int sq_open_rofs(sz_store *st, const char *path, int *rc, sz_store_err *err)
{
    struct statvfs vfs;
    struct stat sb;
    if (path[0] == ':' || statvfs(path, &vfs) != 0 || !(vfs.f_flag & ST_RDONLY)) return 0;
    char *real = realpath(path, NULL);
    if (real) path = real;
    size_t n = strlen(path);
    char *side = malloc(n + 5), *uri = malloc(3 * n + 32);
    if (!side || !uri) {
        free(side), free(uri), free(real);
        *rc = SQLITE_NOMEM;
        return 0;
    }
    memcpy(side, path, n);
    memcpy(side + n, "-wal", 5);
    int wal = stat(side, &sb) == 0;
    memcpy(side + n, "-shm", 5);
    int shm = stat(side, &sb) == 0;
    free(side);
    if (wal && !shm) {
        free(uri), free(real);
        sq_close(st);
        *rc = SQLITE_READONLY;
        sz_store_seterr(err, SZ_STORE_READONLY,
                        "sqlite: the store is on a read-only file system with commits in its -wal file that cannot be"
                        " read there without its -shm file; make the file system writable once to checkpoint it");
        return 1;
    }
    /* file: URI, every byte outside the unreserved set percent-encoded; an
     * absolute path after an empty authority ("file://" + "/..."): a path
     * starting with "//" is no host name */
    char *o = uri;
    memcpy(o, "file:", 5), o += 5;
    if (path[0] == '/') memcpy(o, "//", 2), o += 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)path[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '/' ||
            ch == '.' || ch == '-' || ch == '_' || ch == '~')
            *o++ = (char)ch;
        else
            o += snprintf(o, 4, "%%%02X", ch);
    }
    strcpy(o, wal ? "" : "?immutable=1");
    free(real);
    sq_close(st);
    sqlite3 *db = NULL;
    *rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    free(uri);
    st->db = db;
    st->stmts = calloc(1, sizeof(sq_cache));
    if (*rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 0);
        sqlite3_busy_timeout(db, st->busy_timeout_ms);
        *rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    if (*rc != SQLITE_OK) {
        sqerr(st, *rc, err);
        sq_close(st);
    }
    return 1;
}

int sz_sqlite_open(sz_store *st, const char *path, const sz_store_opts *opts, sz_store_err *err)
{
    sqlite3 *db = NULL;
    if (!*path) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "store: sqlite: needs a file path");
    /* a new file is the owner's only (0600); SQLite gives its -wal and -shm
     * files the same mode */
    if (path[0] != ':') {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    st->eng = &SQLITE_ENGINE;
    st->db = db;
    st->stmts = calloc(1, sizeof(sq_cache)); /* NULL: every statement prepared for one use */
    if (rc != SQLITE_OK) {
        int r = sqerr(st, rc, err);
        sq_close(st);
        return r;
    }
    sqlite3_extended_result_codes(db, 0);
    sqlite3_busy_timeout(db, st->busy_timeout_ms);
    /* WAL: readers never wait for the writer; NORMAL sync is durable
     * against crashes of the process, FULL also against power loss (an OS
     * crash): FULL for every transaction but the outbox's enqueues when
     * opts->outbox_sync is NORMAL (sq_begin) */
    rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL,
                      NULL, NULL);
    if (rc == SQLITE_READONLY) rc = SQLITE_OK; /* a read-only file: reads work, writes say so */
    st->sync_level = 2;
    if ((rc & 0xff) == SQLITE_CANTOPEN && sq_open_rofs(st, path, &rc, err)) return rc == SQLITE_OK ? 0 : -1;
    if (rc == SQLITE_OK && opts->max_pages > 0) {
        char q[64];
        snprintf(q, sizeof q, "PRAGMA max_page_count = %lld", opts->max_pages);
        rc = sqlite3_exec(db, q, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int r = sqerr(st, rc, err);
        sq_close(st);
        return r;
    }
    return 0;
}
