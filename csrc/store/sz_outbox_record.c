/* The outcomes of claimed deliveries (sz_store.h, docs/delivery.md): one at
 * a time (sz_store_outbox_record) or those a worker finished together in one
 * transaction (sz_store_outbox_record_many). An outcome is written only by
 * the worker that still holds the delivery's lease; a lost lease writes
 * nothing for that delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sz_outbox_int.h"
#include "sz_store_ops.h"

#define MAX_REASON 1024
#define TIME_CAP ((int64_t)9000000000000000LL)

static int64_t clamp_time(int64_t t) { return t > TIME_CAP ? TIME_CAP : t < -TIME_CAP ? -TIME_CAP : t; }

static const char *const OUTCOMES[] = {"sent", "retrying", "unconfirmed", "dead", "waiting_reconnect", "queued"};

/* The outcome checked: 0, or -1 and the error (nothing written); *rn: the
 * reason's length cut to MAX_REASON bytes at a character boundary. */
static int check_outcome(const char *job_id, const char *provider, const sz_outcome *o, size_t *rn_out,
                         sz_store_err *err)
{
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0) return -1;
    int known = 0;
    for (size_t i = 0; o && o->state && i < sizeof OUTCOMES / sizeof OUTCOMES[0]; i++)
        known |= strcmp(o->state, OUTCOMES[i]) == 0;
    if (!known) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "outcome: an unknown state");
    if (sz_st_check_id(o->error_category, "category", 0, err) < 0) return -1;
    /* a postID: one post's id, the ids of a notification's recipients, or
     * its progress record (docs/delivery.md): longer than an identity part */
    if (o->post_id) {
        size_t pn = strlen(o->post_id);
        if (pn > SZ_OUTBOX_MAX_POST_ID)
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "postID: %zu bytes, at most %d", pn, SZ_OUTBOX_MAX_POST_ID);
        if (!sz_st_utf8_ok((const unsigned char *)o->post_id, pn))
            return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "postID: not UTF-8");
    }
    /* the reason cut to MAX_REASON bytes, at a character boundary */
    size_t rn = o->error_reason ? strlen(o->error_reason) : 0;
    if (rn > MAX_REASON) {
        rn = MAX_REASON;
        while (rn > 0 && ((unsigned char)o->error_reason[rn] & 0xc0) == 0x80) rn--;
    }
    if (o->error_reason && !sz_st_utf8_ok((const unsigned char *)o->error_reason, rn))
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "reason: not UTF-8");
    *rn_out = rn;
    return 0;
}

/* The outcome written if worker still holds the delivery (inside the
 * caller's transaction): 1 written, 0 not held (nothing written), -1 the
 * store failed. */
static int write_outcome(sz_store *st, const char *job_id, const char *provider, const char *worker, int64_t now,
                         const sz_outcome *o, size_t rn, sz_store_err *err)
{
    int sent = strcmp(o->state, "sent") == 0;
    now = clamp_time(now);
    sz_param p[] = {P_TEXT(job_id),
                    P_TEXT(provider),
                    P_TEXT(worker),
                    P_TEXT(o->state),
                    P_TEXT(o->post_id),
                    P_INT(sent ? 0 : clamp_time(o->next_at)),
                    P_INT(o->error_code),
                    P_TEXT(o->error_category),
                    {1, o->error_reason, rn, 0, 0},
                    P_INT(now),
                    P_INT(clamp_time(o->wait_until)),
                    P_INT(o->release ? 1 : 0)};
    if (!o->post_id) p[4].type = 0;
    if (sent || !o->error_code) p[6].type = 0;
    if (sent || !o->error_category) p[7].type = 0;
    if (sent || !o->error_reason) p[8].type = 0;
    /* wait_until: a reconnect's deadline, or an unconfirmed delivery's last read-back check */
    if ((strcmp(o->state, "waiting_reconnect") != 0 && strcmp(o->state, "unconfirmed") != 0) || o->wait_until <= 0)
        p[10].type = 0;
    long long changes = 0;
    if (sz_st_exec(st,
                   "UPDATE socialize_deliveries SET state = $4, post_id = COALESCE($5, post_id), next_at = $6,"
                   " error_code = $7, error_category = $8, error_reason = $9,"
                   " sent_at = CASE WHEN $4 = 'sent' THEN $10 WHEN $4 = 'unconfirmed' THEN COALESCE(sent_at, $10)"
                   " ELSE sent_at END, wait_until = COALESCE($11, wait_until), lease_owner = NULL,"
                   " lease_until = NULL, updated_at = $10,"
                   " attempts = CASE WHEN $12 = 1 AND attempts > 0 THEN attempts - 1 ELSE attempts END"
                   " WHERE job_id = $1 AND provider = $2 AND state = 'sending' AND lease_owner = $3",
                   p, 12, &changes, err) < 0)
        return -1;
    return changes == 1;
}

#define LOST_MSG "outbox: this worker no longer holds the delivery (taken over or cancelled)"

int sz_store_outbox_record(sz_store *st, const char *job_id, const char *provider, const char *worker, int64_t now,
                           const sz_outcome *o, sz_store_err *err)
{
    size_t rn = 0;
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0 ||
        sz_st_check_id(worker, "worker", 1, err) < 0 || check_outcome(job_id, provider, o, &rn, err) < 0)
        return -1;
    now = clamp_time(now);
    if (sz_st_begin(st, err) < 0) return -1;
    int w = write_outcome(st, job_id, provider, worker, now, o, rn, err);
    if (w < 0) return sz_st_fail(st);
    if (w == 0) {
        sz_st_fail(st);
        return sz_store_seterr(err, SZ_STORE_LEASE_LOST, LOST_MSG);
    }
    if (sz_outbox_refresh_status(st, job_id, now, err) < 0 || sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return 0;
}

static int is_pg(const sz_store *st) { return strcmp(st->eng->name, "postgresql") == 0; }

/* ---- PostgreSQL: a batch in a fixed number of round trips ---- */
/* A growing text[] / bigint[] literal: "{...}", each text element quoted
 * (backslash before " and \\), NULL unquoted. */
typedef struct {
    char *b;
    size_t n, cap;
    int bad;
} lit;

static void lit_put(lit *l, const char *s, size_t n)
{
    if (l->bad) return;
    if (l->n + n + 1 > l->cap) {
        size_t cap = (l->cap ? l->cap * 2 : 256) + n;
        char *b = realloc(l->b, cap);
        if (!b) {
            l->bad = 1;
            return;
        }
        l->b = b, l->cap = cap;
    }
    memcpy(l->b + l->n, s, n);
    l->n += n;
    l->b[l->n] = 0;
}

static void lit_sep(lit *l) { lit_put(l, l->n ? "," : "{", 1); }

static void lit_text(lit *l, const char *s, size_t n)
{
    lit_sep(l);
    if (!s) {
        lit_put(l, "NULL", 4);
        return;
    }
    lit_put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') lit_put(l, "\\", 1);
        lit_put(l, s + i, 1);
    }
    lit_put(l, "\"", 1);
}

static void lit_int(lit *l, int64_t v, int null)
{
    char b[32];
    lit_sep(l);
    if (null) {
        lit_put(l, "NULL", 4);
        return;
    }
    snprintf(b, sizeof b, "%lld", (long long)v);
    lit_put(l, b, strlen(b));
}

static int lit_end(lit *l)
{
    if (!l->n) lit_put(l, "{", 1);
    lit_put(l, "}", 1);
    return l->bad ? -1 : 0;
}

/* The job ids (sorted) locked in id order, then each status counted from its
 * deliveries as sz_outbox_refresh_status does: two round trips. */
static int refresh_pg(sz_store *st, const char *const *const *jobs, size_t n, int64_t now, sz_store_err *err)
{
    lit ids = {NULL, 0, 0, 0};
    for (size_t k = 0; k < n; k++) lit_text(&ids, *jobs[k], strlen(*jobs[k]));
    if (lit_end(&ids) < 0) {
        free(ids.b);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    sz_param p[] = {P_TEXT(ids.b), P_INT(now)};
    p[0].type = 3; /* text format: the server parses the array literal */
    int r = sz_st_exec(st, "SELECT id FROM socialize_jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", p, 1,
                       NULL, err);
    if (r >= 0)
        r = sz_st_exec(st,
                       "UPDATE socialize_jobs SET updated_at = $2, status = " SZ_OUTBOX_STATUS_FROM_DELIVERIES
                       " WHERE d.job_id = socialize_jobs.id)"
                       " WHERE id = ANY($1::text[])",
                       p, 2, NULL, err);
    free(ids.b);
    return r < 0 ? -1 : 0;
}

/* The outcomes written by one UPDATE over the rows of unnest(arrays), each
 * only where worker still holds it (the same rules as write_outcome): res[i]
 * set from the rows it returns. The number written, or -1. */
static int write_many_pg(sz_store *st, const char *worker, int64_t now, const sz_outcome_item *items, size_t n,
                         const size_t *rn, int *res, sz_store_err *err)
{
    enum { J, P, S, PID, NX, EC, CAT, RS, WU, RL, NCOL };
    lit c[NCOL];
    memset(c, 0, sizeof c);
    for (size_t i = 0; i < n; i++) {
        const sz_outcome *o = &items[i].outcome;
        int sent = strcmp(o->state, "sent") == 0;
        int wu = (strcmp(o->state, "waiting_reconnect") == 0 || strcmp(o->state, "unconfirmed") == 0) &&
                 o->wait_until > 0;
        lit_text(&c[J], items[i].job_id, strlen(items[i].job_id));
        lit_text(&c[P], items[i].provider, strlen(items[i].provider));
        lit_text(&c[S], o->state, strlen(o->state));
        lit_text(&c[PID], o->post_id, o->post_id ? strlen(o->post_id) : 0);
        lit_int(&c[NX], sent ? 0 : clamp_time(o->next_at), 0);
        lit_int(&c[EC], o->error_code, sent || !o->error_code);
        lit_text(&c[CAT], sent ? NULL : o->error_category, o->error_category ? strlen(o->error_category) : 0);
        lit_text(&c[RS], sent ? NULL : o->error_reason, rn[i]);
        lit_int(&c[WU], clamp_time(o->wait_until), !wu);
        lit_int(&c[RL], o->release ? 1 : 0, 0);
    }
    int bad = 0;
    for (int k = 0; k < NCOL; k++) bad |= lit_end(&c[k]) < 0;
    int written = -1;
    if (bad) {
        sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    } else {
        sz_param p[NCOL + 2] = {P_TEXT(worker), P_INT(now)};
        for (int k = 0; k < NCOL; k++) {
            p[k + 2] = (sz_param)P_TEXT(c[k].b);
            p[k + 2].type = 3; /* text format: the server parses the array literal */
        }
        rows r;
        if (sz_st_query(st,
                        "UPDATE socialize_deliveries d SET state = v.st, post_id = COALESCE(v.pid, d.post_id),"
                        " next_at = v.nx, error_code = v.ec, error_category = v.cat, error_reason = v.rs,"
                        " sent_at = CASE WHEN v.st = 'sent' THEN $2 WHEN v.st = 'unconfirmed'"
                        " THEN COALESCE(d.sent_at, $2) ELSE d.sent_at END, wait_until = COALESCE(v.wu, d.wait_until),"
                        " lease_owner = NULL, lease_until = NULL, updated_at = $2,"
                        " attempts = CASE WHEN v.rl = 1 AND d.attempts > 0 THEN d.attempts - 1 ELSE d.attempts END"
                        " FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],"
                        " $9::text[], $10::text[], $11::bigint[], $12::bigint[])"
                        " AS v(j, p, st, pid, nx, ec, cat, rs, wu, rl)"
                        " WHERE d.job_id = v.j AND d.provider = v.p AND d.state = 'sending' AND d.lease_owner = $1"
                        " RETURNING d.job_id, d.provider",
                        p, NCOL + 2, &r, err) >= 0) {
            written = 0;
            for (size_t row = 0; row < r.nrows; row++) {
                const char *j = sz_st_cell(&r, row, 0), *pv = sz_st_cell(&r, row, 1);
                for (size_t i = 0; j && pv && i < n; i++)
                    if (res[i] != SZ_STORE_OK && strcmp(items[i].job_id, j) == 0 && strcmp(items[i].provider, pv) == 0) {
                        res[i] = SZ_STORE_OK;
                        written++;
                    }
            }
            sz_st_rows_free(&r);
        }
    }
    for (int k = 0; k < NCOL; k++) free(c[k].b);
    return written;
}

static int by_job(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

int sz_store_outbox_record_many(sz_store *st, const char *worker, int64_t now, const sz_outcome_item *items, size_t n,
                                int *res, sz_store_err *err)
{
    if (sz_st_check_id(worker, "worker", 1, err) < 0) return -1;
    if (n > SZ_OUTBOX_MAX_CLAIM)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "outcomes: %d at most", SZ_OUTBOX_MAX_CLAIM);
    if (n == 0) return 0;
    /* every element checked before anything is written */
    size_t rn[SZ_OUTBOX_MAX_CLAIM];
    for (size_t i = 0; i < n; i++) {
        sz_store_err e = {SZ_STORE_OK, ""};
        res[i] = SZ_STORE_LEASE_LOST;
        if (check_outcome(items[i].job_id, items[i].provider, &items[i].outcome, &rn[i], &e) < 0)
            return sz_store_seterr(err, e.code, "outcomes[%zu]: %s", i + 1, e.msg);
        for (size_t k = 0; k < i; k++)
            if (strcmp(items[k].job_id, items[i].job_id) == 0 && strcmp(items[k].provider, items[i].provider) == 0)
                return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "outcomes[%zu]: the same delivery as outcomes[%zu]",
                                       i + 1, k + 1);
    }
    now = clamp_time(now);
    if (sz_st_begin(st, err) < 0) return -1;
    int written = 0, pg = is_pg(st) && n > 1;
    const char *const *jobs[SZ_OUTBOX_MAX_CLAIM];
    size_t njobs = 0;
    if (pg && (written = write_many_pg(st, worker, now, items, n, rn, res, err)) < 0) return sz_st_fail(st);
    for (size_t i = 0; i < n; i++) {
        if (!pg) {
            int w = write_outcome(st, items[i].job_id, items[i].provider, worker, now, &items[i].outcome, rn[i], err);
            if (w < 0) return sz_st_fail(st);
            res[i] = w ? SZ_STORE_OK : SZ_STORE_LEASE_LOST;
            written += w;
        }
        if (res[i] != SZ_STORE_OK) continue;
        int seen = 0;
        for (size_t k = 0; k < njobs && !seen; k++) seen = strcmp(*jobs[k], items[i].job_id) == 0;
        if (!seen) jobs[njobs++] = &items[i].job_id;
    }
    /* each written job's status once, in id order (PostgreSQL locks their
     * rows: the order of claims', so two transactions never wait in a circle) */
    qsort(jobs, njobs, sizeof jobs[0], by_job);
    if (is_pg(st) && njobs > 1) {
        if (refresh_pg(st, jobs, njobs, now, err) < 0) return sz_st_fail(st);
    } else {
        for (size_t k = 0; k < njobs; k++)
            if (sz_outbox_refresh_status(st, *jobs[k], now, err) < 0) return sz_st_fail(st);
    }
    if (sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return written;
}


int sz_store_outbox_progress(sz_store *st, const char *job_id, const char *provider, const char *worker, int64_t now,
                             int64_t lease_s, const char *post_id, sz_store_err *err)
{
    if (sz_st_check_id(job_id, "jobID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0 ||
        sz_st_check_id(worker, "worker", 1, err) < 0)
        return -1;
    size_t pn = post_id ? strlen(post_id) : 0;
    if (!post_id) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "postID: required");
    if (pn > SZ_OUTBOX_MAX_POST_ID)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "postID: %zu bytes, at most %d", pn, SZ_OUTBOX_MAX_POST_ID);
    if (!sz_st_utf8_ok((const unsigned char *)post_id, pn))
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "postID: not UTF-8");
    if (lease_s < 1 || lease_s > 86400 * 365)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "lease: 1 to 31536000 seconds");
    now = clamp_time(now);
    sz_param p[] = {P_TEXT(job_id), P_TEXT(provider), P_TEXT(worker), P_TEXT(post_id), P_INT(now),
                    P_INT(clamp_time(now + lease_s))};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0) return -1;
    /* only the lease's holder, and never shortening its lease */
    if (sz_st_exec(st,
                   "UPDATE socialize_deliveries SET post_id = $4, updated_at = $5,"
                   " lease_until = CASE WHEN lease_until > $6 THEN lease_until ELSE $6 END"
                   " WHERE job_id = $1 AND provider = $2 AND state = 'sending' AND lease_owner = $3",
                   p, 6, &changes, err) < 0)
        return sz_st_fail(st);
    if (changes != 1) {
        sz_st_fail(st);
        return sz_store_seterr(err, SZ_STORE_LEASE_LOST, LOST_MSG);
    }
    if (sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return 0;
}
