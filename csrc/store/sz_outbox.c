/* The outbox (sz_store.h, docs/delivery.md): jobs and their deliveries in
 * the store, claimed by workers under leases. PostgreSQL claims with
 * FOR UPDATE SKIP LOCKED; SQLite inside its write transaction (BEGIN
 * IMMEDIATE: one writer at a time). Every write is one transaction; an
 * outcome is written only by the worker that still holds the lease. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sz_outbox_int.h"
#include "sz_store_ops.h"

#define MAX_REASON 1024
#define MAX_LEASE 86400
#define MAX_LIST 1000
/* a text parameter from an array (P_TEXT tests for NULL) */
#define P_BUF(b) { 1, (b), strlen(b), 0, 0 }
#define TIME_CAP ((int64_t)9000000000000000LL)

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > TIME_CAP - b) return TIME_CAP;
    if (b < 0 && a < -TIME_CAP - b) return -TIME_CAP;
    return a + b;
}

static int64_t clamp_time(int64_t t) { return t > TIME_CAP ? TIME_CAP : t < -TIME_CAP ? -TIME_CAP : t; }

static int is_pg(const sz_store *st) { return strcmp(st->eng->name, "postgresql") == 0; }

static int64_t cell_i64(const rows *r, size_t row, int col)
{
    const char *c = sz_st_cell(r, row, col);
    return c ? (int64_t)strtoll(c, NULL, 10) : 0;
}

static int nomem(sz_store_err *err) { return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory"); }

/* ---- the job's status, from its deliveries ---- */
static const char *const OPEN_STATES[] = {"queued", "sending", "retrying", "waiting_reconnect"};

static int is_open(const char *s)
{
    for (size_t i = 0; i < sizeof OPEN_STATES / sizeof OPEN_STATES[0]; i++)
        if (s && strcmp(s, OPEN_STATES[i]) == 0) return 1;
    return 0;
}

/* queued (nothing tried yet), active, unconfirmed (only a host's decision
 * is left: an unconfirmed delivery due again, resent with its key or read
 * back, is still active), sent, dead, partial (some sent, some dead) or
 * cancelled */
static int refresh_status_read(sz_store *st, const char *job_id, int64_t now, sz_store_err *err);

int sz_outbox_refresh_status(sz_store *st, const char *job_id, int64_t now, sz_store_err *err)
{
    if (!is_pg(st)) return refresh_status_read(st, job_id, now, err);
    sz_param p[] = {P_TEXT(job_id), P_INT(now)};
    /* PostgreSQL (read committed): the job's row locked first, so that two
     * transactions recording two deliveries of one job are serialized and the
     * second reads the first's outcome (else each sees the other's delivery
     * as it was, and the job's status stays "active" for ever); the UPDATE
     * below is a new statement, so its snapshot has the first's commit */
    if (sz_st_exec(st, "SELECT id FROM socialize_jobs WHERE id = $1 FOR UPDATE", p, 1, NULL, err) < 0) return -1;
    /* the status from the deliveries' counts, read and written in one
     * statement (one round trip less than refresh_status_read) */
    return sz_st_exec(st,
                      "UPDATE socialize_jobs SET updated_at = $2, status = " SZ_OUTBOX_STATUS_FROM_DELIVERIES
                      " WHERE d.job_id = $1) WHERE id = $1",
                      p, 2, NULL, err);
}

/* SQLite: the deliveries read, the status counted here, then written (two
 * statements in the process: cheaper in instructions than one UPDATE whose
 * subquery counts them, measured by callgrind: 33,000 against 70,000) */
static int refresh_status_read(sz_store *st, const char *job_id, int64_t now, sz_store_err *err)
{
    rows r;
    sz_param p[] = {P_TEXT(job_id)};
    if (sz_st_query(st, "SELECT state, attempts, next_at FROM socialize_deliveries WHERE job_id = $1", p, 1, &r, err) < 0)
        return -1;
    size_t open = 0, fresh = 0, unconf = 0, sent = 0, dead = 0, cancelled = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        const char *s = sz_st_cell(&r, i, 0);
        if (is_open(s)) {
            open++;
            if (strcmp(s, "queued") == 0 && cell_i64(&r, i, 1) == 0) fresh++;
        } else if (s && strcmp(s, "unconfirmed") == 0 && cell_i64(&r, i, 2) > 0) {
            open++; /* the worker's still: resent with the same key, or read back */
        } else if (s && strcmp(s, "unconfirmed") == 0) {
            unconf++;
        } else if (s && strcmp(s, "sent") == 0) {
            sent++;
        } else if (s && strcmp(s, "cancelled") == 0) {
            cancelled++;
        } else {
            dead++;
        }
    }
    size_t total = r.nrows;
    sz_st_rows_free(&r);
    const char *status = open ? (fresh == total ? "queued" : "active")
                         : unconf    ? "unconfirmed"
                         : cancelled ? "cancelled"
                         : sent == total ? "sent"
                         : sent      ? "partial"
                                     : "dead";
    sz_param u[] = {P_TEXT(job_id), P_TEXT(status), P_INT(now)};
    return sz_st_exec(st, "UPDATE socialize_jobs SET status = $2, updated_at = $3 WHERE id = $1", u, 3, NULL, err);
}

/* ---- enqueue ---- */
static int check_params(const sz_job_in *j, sz_store_err *err)
{
    if (sz_st_check_id(j->uid, "UID", 1, err) < 0 || sz_st_check_id(j->method, "method", 1, err) < 0) return -1;
    if (!j->params_json || j->params_len > SZ_OUTBOX_MAX_PARAMS)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "params: a JSON object of at most %d bytes",
                               SZ_OUTBOX_MAX_PARAMS);
    json_t *p = json_loadb(j->params_json, j->params_len, JSON_REJECT_DUPLICATES, NULL);
    int ok = p && json_is_object(p);
    json_decref(p);
    if (!ok) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "params: not a JSON object");
    if (j->nproviders == 0 || j->nproviders > SZ_OUTBOX_MAX_PROVIDERS || !j->providers)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "providers: 1 to %d expected", SZ_OUTBOX_MAX_PROVIDERS);
    for (size_t i = 0; i < j->nproviders; i++) {
        if (sz_st_check_id(j->providers[i], "provider", 1, err) < 0) return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(j->providers[k], j->providers[i]) == 0)
                return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "providers: %s named twice", j->providers[i]);
    }
    if (j->dedup_key) {
        size_t n = strlen(j->dedup_key);
        if (n == 0 || n > SZ_OUTBOX_MAX_KEY)
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "key: %zu bytes, 1 to %d expected", n, SZ_OUTBOX_MAX_KEY);
        if (sz_st_check_id(j->dedup_key, "key", 1, err) < 0) return -1;
    }
    return 0;
}

static int new_id(char *out)
{
    unsigned char rnd[16];
    static const char hex[] = "0123456789abcdef";
    if (sz_random(rnd, sizeof rnd) < 0) return -1;
    for (int i = 0; i < 16; i++) out[2 * i] = hex[rnd[i] >> 4], out[2 * i + 1] = hex[rnd[i] & 15];
    out[32] = 0;
    return 0;
}

static int enqueue(sz_store *st, const sz_job_in *j, char *job_id, size_t job_id_size, sz_store_err *err);

int sz_store_outbox_enqueue(sz_store *st, const sz_job_in *j, char *job_id, size_t job_id_size, sz_store_err *err)
{
    if (j && j->join_txn && !st->host_txn)
        return sz_store_seterr(err, SZ_STORE_NO_TXN, "tx: no transaction is open on this store (it has ended)");
    st->host_join = j && j->join_txn;
    st->relaxed = 1; /* its own transaction commits with outbox_sync (sz_sqlite.c) */
    int r = enqueue(st, j, job_id, job_id_size, err);
    st->host_join = 0, st->relaxed = 0;
    return r;
}

static int enqueue(sz_store *st, const sz_job_in *j, char *job_id, size_t job_id_size, sz_store_err *err)
{
    if (!j || !job_id || job_id_size < 33)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "enqueue: a job and an id buffer of 33 bytes");
    job_id[0] = 0;
    if (check_params(j, err) < 0) return -1;
    int64_t now = clamp_time(j->now), run_at = clamp_time(j->run_at);
    if (run_at < now) run_at = now;
    int64_t window = j->dedup_window > 0 ? j->dedup_window : 86400;
    char id[33];
    if (new_id(id) < 0) return sz_store_seterr(err, SZ_STORE_INTERNAL, "no random bytes");
    if (sz_st_begin(st, err) < 0) return -1;
    if (j->dedup_key) {
        sz_param k[] = {P_TEXT(j->dedup_key), P_INT(now)};
        rows r;
        /* concurrent enqueues of one key on PostgreSQL wait for each other */
        if (is_pg(st) && sz_st_exec(st, "SELECT pg_advisory_xact_lock(7305012, hashtext($1))", k, 1, NULL, err) < 0)
            return sz_st_fail(st);
        if (sz_st_query(st,
                        "SELECT id FROM socialize_jobs WHERE dedup_key = $1 AND dedup_until > $2 "
                        "AND status <> 'cancelled' ORDER BY created_at LIMIT 1",
                        k, 2, &r, err) < 0)
            return sz_st_fail(st);
        const char *found = r.nrows ? sz_st_cell(&r, 0, 0) : NULL;
        if (found) {
            int fits = strlen(found) < job_id_size;
            if (fits) strcpy(job_id, found);
            sz_st_rows_free(&r);
            sz_st_giveback(st); /* nothing written: the transaction is given back */
            return fits ? 1 : sz_store_seterr(err, SZ_STORE_CORRUPT, "outbox: a damaged job id");
        }
        sz_st_rows_free(&r);
    }
    sz_param p[] = {P_BUF(id),    P_TEXT(j->uid),     P_TEXT(j->method),           {1, j->params_json, j->params_len, 0, 0},
                    P_TEXT(j->dedup_key), P_INT(sat_add(now, window)), P_INT(now), P_INT(run_at)};
    if (!j->dedup_key) p[4].type = 0, p[5].type = 0;
    if (sz_st_exec(st,
                   "INSERT INTO socialize_jobs (id, uid, method, params, dedup_key, dedup_until, created_at, run_at,"
                   " status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $7)",
                   p, 8, NULL, err) < 0)
        return sz_st_fail(st);
    for (size_t i = 0; i < j->nproviders; i++) {
        char idem[SZ_STORE_MAX_ID + 40];
        snprintf(idem, sizeof idem, "%s:%s", id, j->providers[i]);
        sz_param d[] = {P_BUF(id), P_TEXT(j->providers[i]), P_INT(run_at), P_BUF(idem), P_INT(now)};
        if (sz_st_exec(st,
                       "INSERT INTO socialize_deliveries (job_id, provider, state, attempts, next_at, idem_key,"
                       " updated_at) VALUES ($1, $2, 'queued', 0, $3, $4, $5)",
                       d, 5, NULL, err) < 0)
            return sz_st_fail(st);
    }
    if (sz_st_commit(st, err) < 0) return -1;
    strcpy(job_id, id);
    return 0;
}

/* ---- reading deliveries ---- */
#define DCOLS                                                                                                      \
    "d.job_id, d.provider, d.state, d.attempts, d.next_at, d.lease_owner, d.lease_until, d.idem_key, d.post_id,"  \
    " d.error_code, d.error_category, d.error_reason, d.sent_at, d.wait_until, d.updated_at"
#define NDCOLS 15
/* the same, unqualified: for RETURNING (SQLite takes no alias there) */
#define RCOLS                                                                                                     \
    "job_id, provider, state, attempts, next_at, lease_owner, lease_until, idem_key, post_id, error_code,"       \
    " error_category, error_reason, sent_at, wait_until, updated_at"
/* the same, of the table named d (a statement that joins another with these
 * names: updated_at) */
#define RCOLS_D                                                                                                   \
    "d.job_id, d.provider, d.state, d.attempts, d.next_at, d.lease_owner, d.lease_until, d.idem_key, d.post_id,"  \
    " d.error_code, d.error_category, d.error_reason, d.sent_at, d.wait_until, d.updated_at"

static void delivery_free_fields(sz_delivery_out *d)
{
    free(d->job_id), free(d->provider), free(d->state), free(d->lease_owner), free(d->idem_key);
    free(d->post_id), free(d->error_category), free(d->error_reason), free(d->prev_state);
    free(d->uid), free(d->method), free(d->params_json);
}

void sz_store_outbox_free_deliveries(sz_delivery_out *d, size_t n)
{
    if (!d) return;
    for (size_t i = 0; i < n; i++) delivery_free_fields(&d[i]);
    free(d);
}

/* row `row` of r (DCOLS first, then the job's uid, method, params when
 * with_job) into d; 0, or -1 when a required cell is missing */
static int take_delivery(rows *r, size_t row, sz_delivery_out *d, int with_job)
{
    memset(d, 0, sizeof *d);
    d->job_id = sz_st_take(r, row, 0), d->provider = sz_st_take(r, row, 1), d->state = sz_st_take(r, row, 2);
    d->attempts = cell_i64(r, row, 3), d->next_at = cell_i64(r, row, 4);
    d->lease_owner = sz_st_take(r, row, 5), d->lease_until = cell_i64(r, row, 6);
    d->idem_key = sz_st_take(r, row, 7), d->post_id = sz_st_take(r, row, 8);
    d->error_code = cell_i64(r, row, 9), d->error_category = sz_st_take(r, row, 10);
    d->error_reason = sz_st_take(r, row, 11), d->sent_at = cell_i64(r, row, 12);
    d->wait_until = cell_i64(r, row, 13), d->updated_at = cell_i64(r, row, 14);
    if (with_job) {
        d->params_len = r->n[row * (size_t)r->ncol + NDCOLS + 2];
        d->uid = sz_st_take(r, row, NDCOLS), d->method = sz_st_take(r, row, NDCOLS + 1);
        d->params_json = sz_st_take(r, row, NDCOLS + 2);
        if (!d->uid || !d->method || !d->params_json) return -1;
    }
    return d->job_id && d->provider && d->state ? 0 : -1;
}

static int load_deliveries(sz_store *st, const char *job_id, sz_delivery_out **out, size_t *n, sz_store_err *err)
{
    rows r;
    sz_param p[] = {P_TEXT(job_id)};
    *out = NULL;
    *n = 0;
    if (sz_st_query(st, "SELECT " DCOLS " FROM socialize_deliveries d WHERE d.job_id = $1 ORDER BY d.provider", p, 1,
                    &r, err) < 0)
        return -1;
    sz_delivery_out *d = calloc(r.nrows ? r.nrows : 1, sizeof *d);
    if (!d) {
        sz_st_rows_free(&r);
        return nomem(err);
    }
    for (size_t i = 0; i < r.nrows; i++) {
        if (take_delivery(&r, i, &d[i], 0) < 0) {
            sz_store_outbox_free_deliveries(d, i + 1);
            sz_st_rows_free(&r);
            return sz_store_seterr(err, SZ_STORE_CORRUPT, "outbox: a damaged delivery row");
        }
    }
    *out = d;
    *n = r.nrows;
    sz_st_rows_free(&r);
    return 0;
}

/* ---- claim ---- */
/* a before b in a claim's order: next_at, then the key (deliveries taken
 * over from a crashed worker too: their lease column now holds the new
 * lease, the same for all of them) */
static int delivery_before(const sz_delivery_out *a, const sz_delivery_out *b)
{
    if (a->next_at != b->next_at) return a->next_at < b->next_at;
    int c = strcmp(a->job_id, b->job_id);
    return c != 0 ? c < 0 : strcmp(a->provider, b->provider) < 0;
}

int sz_store_outbox_claim(sz_store *st, const char *worker, int64_t now, int64_t lease_s, int limit, sz_delivery_out **out,
                    size_t *n, sz_store_err *err)
{
    *out = NULL;
    *n = 0;
    if (sz_st_check_id(worker, "worker", 1, err) < 0) return -1;
    if (limit < 1) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "limit: at least 1");
    if (limit > SZ_OUTBOX_MAX_CLAIM) limit = SZ_OUTBOX_MAX_CLAIM;
    if (lease_s < 1) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "lease: at least 1 second");
    if (lease_s > MAX_LEASE) lease_s = MAX_LEASE;
    now = clamp_time(now);
    /* One statement per state, each an index range (state, next_at) or
     * (state, lease_until) read in its order and stopped at the limit: a
     * single query with the states OR-ed together read and sorted every due
     * row (a seq scan: 300 ms a claim with 100,000 queued). Taken over first
     * the deliveries of crashed workers, then unconfirmed resends, retries,
     * reconnect checks, new ones. Each is one UPDATE ... RETURNING: the due
     * rows picked (on PostgreSQL locked, skipping those another claim holds),
     * leased and read back with their job in one round trip. */
    static const char *const DUE[] = {
        "q.state = 'sending' AND q.lease_until <= $1 ORDER BY q.lease_until",
        "q.state = 'unconfirmed' AND q.next_at > 0 AND q.next_at <= $1 ORDER BY q.next_at",
        "q.state = 'retrying' AND q.next_at <= $1 ORDER BY q.next_at",
        "q.state = 'waiting_reconnect' AND q.next_at <= $1 ORDER BY q.next_at",
        "q.state = 'queued' AND q.next_at <= $1 ORDER BY q.next_at",
    };
    static const char *const PREV[] = {"sending", "unconfirmed", "retrying", "waiting_reconnect", "queued"};
    sz_delivery_out *d = calloc((size_t)limit, sizeof *d);
    if (!d) return nomem(err);
    size_t got = 0;
    int64_t until = sat_add(now, lease_s);
    if (sz_st_begin(st, err) < 0) {
        free(d);
        return -1;
    }
    for (size_t k = 0; k < sizeof DUE / sizeof DUE[0] && got < (size_t)limit; k++) {
        char sql[1024];
        if (is_pg(st))
            /* the job's columns by a join (one index probe a row, not three
             * subqueries): PostgreSQL's RETURNING may name the FROM table's
             * columns, SQLite's may not. A delivery without its job (the
             * foreign key's ON DELETE CASCADE makes none) is left unclaimed
             * here, where the subqueries named it corrupt */
            snprintf(sql, sizeof sql,
                     "UPDATE socialize_deliveries d SET state = 'sending', lease_owner = $3, lease_until = $4,"
                     " attempts = CASE WHEN d.attempts < 1000000 THEN d.attempts + 1 ELSE d.attempts END,"
                     " updated_at = $1 FROM socialize_jobs j WHERE j.id = d.job_id AND (d.job_id, d.provider) IN"
                     " (SELECT q.job_id, q.provider FROM socialize_deliveries q WHERE %s LIMIT $2 FOR UPDATE SKIP"
                     " LOCKED) RETURNING " RCOLS_D ", j.uid, j.method, j.params",
                     DUE[k]);
        else
            snprintf(sql, sizeof sql,
                     "UPDATE socialize_deliveries SET state = 'sending', lease_owner = $3, lease_until = $4,"
                     " attempts = CASE WHEN attempts < 1000000 THEN attempts + 1 ELSE attempts END, updated_at = $1"
                     " WHERE (job_id, provider) IN (SELECT q.job_id, q.provider FROM socialize_deliveries q WHERE %s"
                     " LIMIT $2) RETURNING " RCOLS ","
                     " (SELECT j.uid FROM socialize_jobs j WHERE j.id = socialize_deliveries.job_id),"
                     " (SELECT j.method FROM socialize_jobs j WHERE j.id = socialize_deliveries.job_id),"
                     " (SELECT j.params FROM socialize_jobs j WHERE j.id = socialize_deliveries.job_id)",
                     DUE[k]);
        sz_param p[] = {P_INT(now), P_INT((long long)limit - (long long)got), P_TEXT(worker), P_INT(until)};
        rows r;
        if (sz_st_query(st, sql, p, 4, &r, err) < 0) {
            sz_store_outbox_free_deliveries(d, got);
            return sz_st_fail(st);
        }
        size_t first = got;
        for (size_t i = 0; i < r.nrows && got < (size_t)limit; i++) {
            int bad = take_delivery(&r, i, &d[got], 1) < 0;
            d[got].prev_state = strdup(PREV[k]);
            got++;
            if (bad || !d[got - 1].prev_state) {
                sz_store_outbox_free_deliveries(d, got);
                sz_st_rows_free(&r);
                sz_st_fail(st);
                return bad ? sz_store_seterr(err, SZ_STORE_CORRUPT, "outbox: a delivery without its job") : nomem(err);
            }
        }
        /* more rows than asked: a damaged store (the subquery has a LIMIT) */
        int extra = r.nrows > (size_t)limit - first;
        sz_st_rows_free(&r);
        if (extra) {
            sz_store_outbox_free_deliveries(d, got);
            sz_st_fail(st);
            return sz_store_seterr(err, SZ_STORE_CORRUPT, "outbox: a claim leased more deliveries than asked");
        }
        /* RETURNING's order is the engine's: sorted by next_at, then the
         * key (insertion sort, n <= SZ_OUTBOX_MAX_CLAIM) */
        for (size_t i = first + 1; i < got; i++) {
            sz_delivery_out t = d[i];
            size_t m = i;
            while (m > first && delivery_before(&t, &d[m - 1])) {
                d[m] = d[m - 1];
                m--;
            }
            d[m] = t;
        }
    }
    /* the jobs of the deliveries leased now are active (a delivery sending,
     * none of them left fresh): one statement for all of them; on PostgreSQL
     * their rows locked in id order (two claims never wait on each other in
     * a circle), serialized with outcomes' status refreshes */
    if (got > 0) {
        sz_param p[] = {P_INT(now), P_TEXT(worker), P_INT(until)};
        if (sz_st_exec(st,
                       is_pg(st) ? "UPDATE socialize_jobs SET status = 'active', updated_at = $1 WHERE id IN"
                                   " (SELECT id FROM socialize_jobs WHERE id IN (SELECT job_id FROM socialize_deliveries"
                                   " WHERE state = 'sending' AND lease_until = $3 AND lease_owner = $2)"
                                   " ORDER BY id FOR UPDATE)"
                                 : "UPDATE socialize_jobs SET status = 'active', updated_at = $1 WHERE id IN"
                                   " (SELECT job_id FROM socialize_deliveries"
                                   " WHERE state = 'sending' AND lease_until = $3 AND lease_owner = $2)",
                       p, 3, NULL, err) < 0) {
            sz_store_outbox_free_deliveries(d, got);
            return sz_st_fail(st);
        }
    }
    if (sz_st_commit(st, err) < 0) {
        sz_store_outbox_free_deliveries(d, got);
        return -1;
    }
    if (got == 0) {
        free(d);
        d = NULL;
    }
    *out = d;
    *n = got;
    return 0;
}

/* ---- reading jobs ---- */
#define JCOLS "id, uid, method, params, dedup_key, status, created_at, run_at, updated_at"

void sz_store_outbox_free_job(sz_job_out *j)
{
    if (!j) return;
    free(j->id), free(j->uid), free(j->method), free(j->params_json), free(j->dedup_key), free(j->status);
    sz_store_outbox_free_deliveries(j->deliveries, j->ndeliveries);
    free(j);
}

void sz_store_outbox_free_jobs(sz_job_out **j, size_t n)
{
    if (!j) return;
    for (size_t i = 0; i < n; i++) sz_store_outbox_free_job(j[i]);
    free(j);
}

static sz_job_out *take_job(sz_store *st, rows *r, size_t row, sz_store_err *err)
{
    sz_job_out *j = calloc(1, sizeof *j);
    if (!j) {
        nomem(err);
        return NULL;
    }
    j->params_len = r->v[row * (size_t)r->ncol + 3] ? r->n[row * (size_t)r->ncol + 3] : 0;
    j->id = sz_st_take(r, row, 0), j->uid = sz_st_take(r, row, 1), j->method = sz_st_take(r, row, 2);
    j->params_json = sz_st_take(r, row, 3), j->dedup_key = sz_st_take(r, row, 4), j->status = sz_st_take(r, row, 5);
    j->created_at = cell_i64(r, row, 6), j->run_at = cell_i64(r, row, 7), j->updated_at = cell_i64(r, row, 8);
    if (!j->id || !j->uid || !j->method || !j->status) {
        sz_store_outbox_free_job(j);
        sz_store_seterr(err, SZ_STORE_CORRUPT, "outbox: a damaged job row");
        return NULL;
    }
    if (load_deliveries(st, j->id, &j->deliveries, &j->ndeliveries, err) < 0) {
        sz_store_outbox_free_job(j);
        return NULL;
    }
    return j;
}

int sz_store_outbox_job(sz_store *st, const char *job_id, sz_job_out **out, sz_store_err *err)
{
    *out = NULL;
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0) return -1;
    rows r;
    sz_param p[] = {P_TEXT(job_id)};
    if (sz_st_query(st, "SELECT " JCOLS " FROM socialize_jobs WHERE id = $1", p, 1, &r, err) < 0) return -1;
    if (r.nrows == 0) {
        sz_st_rows_free(&r);
        return 0;
    }
    *out = take_job(st, &r, 0, err);
    sz_st_rows_free(&r);
    return *out ? 1 : -1;
}

int sz_store_outbox_list(sz_store *st, const char *uid, const char *status, int limit, sz_job_out ***out, size_t *n,
                   sz_store_err *err)
{
    *out = NULL;
    *n = 0;
    if (sz_st_check_id(uid, "UID", 0, err) < 0 || sz_st_check_id(status, "status", 0, err) < 0) return -1;
    if (limit < 1) limit = 1;
    if (limit > MAX_LIST) limit = MAX_LIST;
    char sql[320];
    sz_param p[3];
    int np = 0;
    char where[96] = "";
    if (uid) p[np] = (sz_param)P_TEXT(uid), np++, strcat(where, " WHERE uid = $1");
    if (status) {
        p[np] = (sz_param)P_TEXT(status), np++;
        strcat(where, np == 1 ? " WHERE status = $1" : " AND status = $2");
    }
    p[np] = (sz_param)P_INT(limit), np++;
    snprintf(sql, sizeof sql, "SELECT " JCOLS " FROM socialize_jobs%s ORDER BY created_at DESC, id LIMIT $%d", where,
             np);
    rows r;
    if (sz_st_query(st, sql, p, np, &r, err) < 0) return -1;
    sz_job_out **list = calloc(r.nrows ? r.nrows : 1, sizeof *list);
    if (!list) {
        sz_st_rows_free(&r);
        return nomem(err);
    }
    for (size_t i = 0; i < r.nrows; i++) {
        list[i] = take_job(st, &r, i, err);
        if (!list[i]) {
            sz_store_outbox_free_jobs(list, i);
            sz_st_rows_free(&r);
            return -1;
        }
    }
    *out = list;
    *n = r.nrows;
    sz_st_rows_free(&r);
    return 0;
}

/* ---- control ---- */
static int job_exists(sz_store *st, const char *job_id, sz_store_err *err)
{
    rows r;
    sz_param p[] = {P_TEXT(job_id)};
    if (sz_st_query(st, is_pg(st) ? "SELECT id FROM socialize_jobs WHERE id = $1 FOR UPDATE"
                                  : "SELECT id FROM socialize_jobs WHERE id = $1",
                    p, 1, &r, err) < 0)
        return -1;
    int found = r.nrows > 0;
    sz_st_rows_free(&r);
    return found ? 0 : sz_store_seterr(err, SZ_STORE_JOB_UNKNOWN, "no such job");
}

long long sz_store_outbox_cancel(sz_store *st, const char *job_id, int64_t now, sz_store_err *err)
{
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0) return -1;
    now = clamp_time(now);
    sz_param p[] = {P_TEXT(job_id), P_INT(now)};
    rows r;
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 || job_exists(st, job_id, err) < 0) return sz_st_fail(st);
    /* a live lease: the request may be on its way; an expired one is a crashed worker's */
    if (sz_st_query(st,
                    "SELECT COUNT(*) FROM socialize_deliveries WHERE job_id = $1 AND state = 'sending'"
                    " AND lease_until > $2",
                    p, 2, &r, err) < 0)
        return sz_st_fail(st);
    int sending = r.nrows && cell_i64(&r, 0, 0) > 0;
    sz_st_rows_free(&r);
    if (sending) {
        sz_st_fail(st);
        return sz_store_seterr(err, SZ_STORE_JOB_SENDING, "a delivery of this job is being sent now");
    }
    if (sz_st_exec(st,
                   "UPDATE socialize_deliveries SET state = 'cancelled', lease_owner = NULL, lease_until = NULL,"
                   " updated_at = $2 WHERE job_id = $1 AND state IN ('queued', 'sending', 'retrying',"
                   " 'waiting_reconnect', 'unconfirmed')",
                   p, 2, &changes, err) < 0 ||
        sz_outbox_refresh_status(st, job_id, now, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return changes;
}

long long sz_store_outbox_retry(sz_store *st, const char *job_id, const char *provider, int64_t now, sz_store_err *err)
{
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0 || sz_st_check_id(provider, "provider", 0, err) < 0) return -1;
    now = clamp_time(now);
    sz_param p[] = {P_TEXT(job_id), P_INT(now), P_TEXT(provider)};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 || job_exists(st, job_id, err) < 0 ||
        sz_st_exec(st,
                   provider ? "UPDATE socialize_deliveries SET state = 'queued', attempts = 0, next_at = $2,"
                              " error_code = NULL, error_category = NULL, error_reason = NULL, wait_until = NULL,"
                              " updated_at = $2 WHERE job_id = $1 AND state = 'dead' AND provider = $3"
                            : "UPDATE socialize_deliveries SET state = 'queued', attempts = 0, next_at = $2,"
                              " error_code = NULL, error_category = NULL, error_reason = NULL, wait_until = NULL,"
                              " updated_at = $2 WHERE job_id = $1 AND state = 'dead'",
                   p, provider ? 3 : 2, &changes, err) < 0)
        return sz_st_fail(st);
    if (changes == 0) {
        sz_st_fail(st);
        return sz_store_seterr(err, SZ_STORE_BAD_STATE, "no dead delivery to retry%s%s", provider ? " for " : "",
                               provider ? provider : "");
    }
    if (sz_outbox_refresh_status(st, job_id, now, err) < 0 || sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return changes;
}

int sz_store_outbox_resolve(sz_store *st, const char *job_id, const char *provider, const char *decision, int64_t now,
                      sz_store_err *err)
{
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0) return -1;
    int resend = decision && strcmp(decision, "resend") == 0;
    if (!resend && !(decision && strcmp(decision, "sent") == 0))
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "decision: \"sent\" or \"resend\" expected");
    now = clamp_time(now);
    sz_param p[] = {P_TEXT(job_id), P_TEXT(provider), P_INT(now)};
    rows r;
    if (sz_st_begin(st, err) < 0 ||
        sz_st_query(st,
                    is_pg(st) ? "SELECT state FROM socialize_deliveries WHERE job_id = $1 AND provider = $2 FOR UPDATE"
                              : "SELECT state FROM socialize_deliveries WHERE job_id = $1 AND provider = $2",
                    p, 2, &r, err) < 0)
        return sz_st_fail(st);
    const char *state = r.nrows ? sz_st_cell(&r, 0, 0) : NULL;
    int code = !r.nrows ? SZ_STORE_JOB_UNKNOWN : !state || strcmp(state, "unconfirmed") != 0 ? SZ_STORE_BAD_STATE : 0;
    char was[32];
    snprintf(was, sizeof was, "%s", state ? state : "?");
    sz_st_rows_free(&r);
    if (code) {
        sz_st_fail(st);
        return code == SZ_STORE_JOB_UNKNOWN ? sz_store_seterr(err, SZ_STORE_JOB_UNKNOWN, "no such job or delivery")
                                            : sz_store_seterr(err, SZ_STORE_BAD_STATE,
                                                              "the delivery is %s, not unconfirmed", was);
    }
    if (sz_st_exec(st,
                   resend ? "UPDATE socialize_deliveries SET state = 'queued', next_at = $3, updated_at = $3"
                            " WHERE job_id = $1 AND provider = $2"
                          : "UPDATE socialize_deliveries SET state = 'sent', next_at = 0, error_code = NULL,"
                            " error_category = NULL, error_reason = NULL, updated_at = $3"
                            " WHERE job_id = $1 AND provider = $2",
                   p, 3, NULL, err) < 0 ||
        sz_outbox_refresh_status(st, job_id, now, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return 0;
}

long long sz_store_outbox_resume(sz_store *st, const char *uid, const char *provider, int64_t now, sz_store_err *err)
{
    if (sz_st_check_id(uid, "UID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0) return -1;
    sz_param p[] = {P_TEXT(uid), P_TEXT(provider), P_INT(clamp_time(now))};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 ||
        sz_st_exec(st,
                   "UPDATE socialize_deliveries SET next_at = $3 WHERE state = 'waiting_reconnect'"
                   " AND provider = $2 AND next_at > $3 AND job_id IN (SELECT id FROM socialize_jobs WHERE uid = $1)",
                   p, 3, &changes, err) < 0 ||
        sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return changes;
}

long long sz_store_outbox_prune(sz_store *st, int64_t before, sz_store_err *err)
{
    sz_param p[] = {P_INT(clamp_time(before))};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 ||
        sz_st_exec(st,
                   "DELETE FROM socialize_deliveries WHERE job_id IN (SELECT id FROM socialize_jobs WHERE"
                   " status IN ('sent', 'dead', 'partial', 'cancelled') AND updated_at < $1)",
                   p, 1, NULL, err) < 0 ||
        sz_st_exec(st,
                   "DELETE FROM socialize_jobs WHERE status IN ('sent', 'dead', 'partial', 'cancelled')"
                   " AND updated_at < $1",
                   p, 1, &changes, err) < 0 ||
        sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return changes;
}
