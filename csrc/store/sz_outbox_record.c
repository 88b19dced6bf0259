/* The outcomes of claimed deliveries (sz_store.h, docs/delivery.md): one at
 * a time (sz_store_outbox_record) or those a worker finished together in one
 * transaction (sz_store_outbox_record_many). An outcome is written only by
 * the worker that still holds the delivery's lease; a lost lease writes
 * nothing for that delivery. */
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
    if (sz_st_check_id(o->post_id, "postID", 0, err) < 0 ||
        sz_st_check_id(o->error_category, "category", 0, err) < 0)
        return -1;
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
    int written = 0;
    const char *const *jobs[SZ_OUTBOX_MAX_CLAIM];
    size_t njobs = 0;
    for (size_t i = 0; i < n; i++) {
        int w = write_outcome(st, items[i].job_id, items[i].provider, worker, now, &items[i].outcome, rn[i], err);
        if (w < 0) return sz_st_fail(st);
        res[i] = w ? SZ_STORE_OK : SZ_STORE_LEASE_LOST;
        if (!w) continue;
        written++;
        int seen = 0;
        for (size_t k = 0; k < njobs && !seen; k++) seen = strcmp(*jobs[k], items[i].job_id) == 0;
        if (!seen) jobs[njobs++] = &items[i].job_id;
    }
    /* each written job's status once, in id order (PostgreSQL locks their
     * rows: the order of claims', so two transactions never wait in a circle) */
    qsort(jobs, njobs, sizeof jobs[0], by_job);
    for (size_t k = 0; k < njobs; k++)
        if (sz_outbox_refresh_status(st, *jobs[k], now, err) < 0) return sz_st_fail(st);
    if (sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return written;
}

