/* The store's C API (sz_store.h only) under ASan + UBSan, on SQLite files in
 * a temporary directory: round trips, sealing, wrong keys, states, leases,
 * rotation, and no leak on any path. `make test-store-c DIR`. */
#define TAP_MAIN
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sz_store.h"
#include "tap.h"

static const char *KEY_A = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
static const char *KEY_B = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";
static char url[512];

static sz_store *open_with(const char *k1, const char *k2, sz_store_err *err)
{
    const char *keys[2] = {k1, k2};
    sz_store_opts o;
    memset(&o, 0, sizeof o);
    o.keys = keys;
    o.nkeys = k2 ? 2 : k1 ? 1 : 0;
    return sz_store_open(url, &o, err);
}

static void round_trip(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_A, NULL, &err);
    CHECK(st != NULL, "open: %s", err.msg);
    if (!st) return;
    const char tok[] = "tok\0with-nul"; /* secrets are bytes */
    sz_secret sec[2] = {{"accessToken", tok, sizeof tok - 1}, {"refreshToken", "RT", 2}};
    sz_record r = {"u1", "twitter", "123", "a b", "{\"handle\":\"@bob\"}", sec, 2, 1900000000, 1800000000, NULL};
    CHECK(sz_store_put(st, SZ_REC_CONNECTION, &r, &err) == 0, "put: %s", err.msg);
    sz_record_out *o = NULL;
    CHECK(sz_store_get(st, SZ_REC_CONNECTION, "u1", "twitter", &o, &err) == 1, "get: %s", err.msg);
    if (o) {
        CHECK_STR(o->account, "123", "account");
        CHECK_STR(o->fields_json, "{\"handle\":\"@bob\"}", "fields");
        CHECK(o->nsecrets == 2, "nsecrets %zu", o->nsecrets);
        CHECK(o->nsecrets == 2 && o->secrets[0].len == sizeof tok - 1 &&
                  memcmp(o->secrets[0].value, tok, sizeof tok - 1) == 0,
              "accessToken bytes");
        CHECK(o->expires_at == 1900000000 && o->updated_at == 1800000000, "times");
    }
    sz_store_free(o);
    CHECK(sz_store_get(st, SZ_REC_CONNECTION, "u1", "nope", &o, &err) == 0 && o == NULL, "not found");
    sz_record_out **list;
    size_t n;
    CHECK(sz_store_list(st, SZ_REC_CONNECTION, "u1", &list, &n, &err) == 0 && n == 1, "list");
    sz_store_free_list(list, n);
    r.fields_json = "[1]";
    CHECK(sz_store_put(st, SZ_REC_CONNECTION, &r, &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "fields array");
    CHECK_STR(sz_store_code_name(err.code), "bad_input", "code name");
    r.fields_json = NULL;
    r.id1 = "";
    CHECK(sz_store_put(st, SZ_REC_CONNECTION, &r, &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "empty UID");
    CHECK(sz_store_delete(st, SZ_REC_CONNECTION, "u1", NULL, &err) == 1, "delete");
    sz_store_close(st);
}

static void keys(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_B, NULL, &err);
    CHECK(!st && err.code == SZ_STORE_KEY_MISMATCH, "wrong key: %s", st ? "opened" : err.msg);
    sz_store_close(st);
    st = open_with(NULL, NULL, &err);
    CHECK(!st && err.code == SZ_STORE_KEY_MISSING, "no key");
    sz_store_close(st);
    st = open_with("c2hvcnQ=", NULL, &err);
    CHECK(!st && err.code == SZ_STORE_BAD_INPUT, "short key");
    st = open_with(KEY_B, KEY_A, &err);
    CHECK(st != NULL, "rotation keys: %s", err.msg);
    if (!st) return;
    sz_secret sec = {"accessToken", "AT", 2};
    sz_record r = {"u2", "mastodon", NULL, NULL, NULL, &sec, 1, 0, 1, NULL};
    sz_store_set_before_commit(st, NULL, NULL);
    CHECK(sz_store_put(st, SZ_REC_APP, &r, &err) == 0, "put app: %s", err.msg);
    CHECK(sz_store_rotate(st, &err) >= 0, "rotate: %s", err.msg);
    sz_store_close(st);
    st = open_with(KEY_B, NULL, &err);
    CHECK(st != NULL, "new key alone after rotate: %s", err.msg);
    sz_record_out *o = NULL;
    CHECK(st && sz_store_get(st, SZ_REC_APP, "u2", "mastodon", &o, &err) == 1 && o->nsecrets == 1 &&
              strcmp(o->secrets[0].value, "AT") == 0,
          "app after rotate");
    sz_store_free(o);
    sz_store_close(st);
}

static void states_and_leases(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_B, NULL, &err);
    if (!st) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    sz_state s = {"st", "u1", "x", "https://a", "verifier", 8, 2000};
    CHECK(sz_store_put_state(st, &s, &err) == 0, "put state: %s", err.msg);
    sz_state_out *o = NULL;
    CHECK(sz_store_take_state(st, "st", 1000, &o, &err) == 0 && o && strcmp(o->verifier, "verifier") == 0, "take");
    sz_store_free_state(o);
    CHECK(sz_store_take_state(st, "st", 1000, &o, &err) < 0 && err.code == SZ_STORE_STATE_UNKNOWN, "replay");
    char t1[40], t2[40];
    CHECK(sz_store_lock(st, "u1", "x", 1000, 100, t1, sizeof t1, &err) == 0, "lock");
    CHECK(sz_store_lock(st, "u1", "x", 1050, 100, t2, sizeof t2, &err) < 0 && err.code == SZ_STORE_LOCKED, "held");
    CHECK(sz_store_lock(st, "u1", "x", 1100, 100, t2, sizeof t2, &err) == 0, "expired lease taken");
    CHECK(sz_store_unlock(st, "u1", "x", t1, &err) < 0 && err.code == SZ_STORE_LEASE_LOST, "old token");
    CHECK(sz_store_unlock(st, "u1", "x", t2, &err) == 0, "unlock");
    CHECK(sz_store_lock(st, "u1", "x", 1100, 100, t2, 8, &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "small buf");
    CHECK(sz_store_block(st, "x", "acct", 500, &err) == 0 && sz_store_blocked(st, "x", "acct", 100, &err) == 500,
          "blocked");
    sz_store_close(st);
}

static void blocked_list(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_B, NULL, &err);
    if (!st) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    CHECK(sz_store_unblock(st, NULL, NULL, &err) >= 0, "clear: %s", err.msg);
    CHECK(sz_store_block(st, "x", "acct%00a", 700, &err) == 0 && sz_store_block(st, "x", "app%00d", 900, &err) == 0 &&
              sz_store_block(st, "y", "acct%00b", 300, &err) == 0 && sz_store_block(st, "x", "acct%00a", 600, &err) == 0,
          "block: %s", err.msg);
    sz_blocked_entry *e = NULL;
    size_t n = 0;
    CHECK(sz_store_blocked_list(st, 400, 10, &e, &n, &err) == 0 && n == 2, "list: %zu", n);
    /* longest first; a shorter reset never shortened the longer one */
    CHECK(n == 2 && strcmp(e[0].key, "app%00d") == 0 && e[0].until == 900 && e[1].until == 700 &&
              strcmp(e[1].provider, "x") == 0,
          "entries");
    sz_store_free_blocked(e, n);
    CHECK(sz_store_blocked_list(st, 0, 1, &e, &n, &err) == 0 && n == 1 && e[0].until == 900, "max");
    sz_store_free_blocked(e, n);
    CHECK(sz_store_blocked_list(st, 0, 0, &e, &n, &err) == 0 && n == 0 && !e, "max 0");
    CHECK(sz_store_unblock(st, NULL, "k", &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "key without provider");
    CHECK(sz_store_unblock(st, "x", "acct%00a", &err) == 1, "one");
    CHECK(sz_store_unblock(st, "x", NULL, &err) == 1, "a provider's");
    CHECK(sz_store_unblock(st, NULL, NULL, &err) == 1, "all");
    CHECK(sz_store_blocked_list(st, 0, 10, &e, &n, &err) == 0 && n == 0, "empty");
    sz_store_free_blocked(e, n);
    sz_store_close(st);
}

static void outbox(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_A, NULL, &err);
    CHECK(st != NULL, "open: %s", err.msg);
    if (!st) return;
    const char *provs[] = {"twitter", "mastodon"};
    const char params[] = "{\"status\":\"hi\"}xx"; /* by length: the tail is not part of it */
    sz_job_in j = {"u1", "socialize.setStatus", params, sizeof params - 3, provs, 2, "k1", 60, 1000, 900, 0};
    char id[40], id2[40];
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue: %s", err.msg);
    CHECK(sz_store_outbox_enqueue(st, &j, id2, sizeof id2, &err) == 1 && strcmp(id, id2) == 0, "dedup");
    CHECK(sz_store_outbox_enqueue(st, &j, id2, 8, &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "small id buffer");
    sz_delivery_out *d = NULL;
    size_t n = 0;
    CHECK(sz_store_outbox_claim(st, "w1", 1000, 30, 1, &d, &n, &err) == 0 && n == 1, "claim: %s", err.msg);
    if (n == 1) {
        CHECK_STR(d[0].params_json, "{\"status\":\"hi\"}", "params");
        CHECK(d[0].params_len == sizeof params - 3 && d[0].attempts == 1, "params length, attempts");
        CHECK_STR(d[0].prev_state, "queued", "prev state");
        sz_outcome o = {"unconfirmed", NULL, 0, 0, 504002, "transient", "timeout", 0};
        CHECK(sz_store_outbox_record(st, id, d[0].provider, "w2", 1001, &o, &err) < 0 &&
                  err.code == SZ_STORE_LEASE_LOST, "other worker");
        CHECK(sz_store_outbox_record(st, id, d[0].provider, "w1", 1001, &o, &err) == 0, "record: %s", err.msg);
        CHECK(sz_store_outbox_resolve(st, id, d[0].provider, "maybe", 1002, &err) < 0 &&
                  err.code == SZ_STORE_BAD_INPUT, "bad decision");
        CHECK(sz_store_outbox_resolve(st, id, d[0].provider, "sent", 1002, &err) == 0, "resolve: %s", err.msg);
    }
    sz_store_outbox_free_deliveries(d, n);
    CHECK(sz_store_outbox_cancel(st, "nope", 1003, &err) < 0 && err.code == SZ_STORE_JOB_UNKNOWN, "unknown job");
    CHECK_STR(sz_store_code_name(err.code), "job_unknown", "code name");
    CHECK(sz_store_outbox_claim(st, "w1", 1003, 30, 5, &d, &n, &err) == 0 && n == 1, "claim the other");
    sz_store_outbox_free_deliveries(d, n);
    CHECK(sz_store_outbox_cancel(st, id, 1004, &err) < 0 && err.code == SZ_STORE_JOB_SENDING, "cancel while sending");
    CHECK(sz_store_outbox_cancel(st, id, 1040, &err) == 1, "cancel after the lease");
    sz_job_out *job = NULL;
    CHECK(sz_store_outbox_job(st, id, &job, &err) == 1 && job && job->ndeliveries == 2, "job");
    if (job) CHECK_STR(job->status, "cancelled", "status");
    sz_store_outbox_free_job(job);
    sz_job_out **list = NULL;
    CHECK(sz_store_outbox_list(st, "u1", NULL, 10, &list, &n, &err) == 0 && n == 1, "list");
    sz_store_outbox_free_jobs(list, n);
    CHECK(sz_store_outbox_resume(st, "u1", "twitter", 2000, &err) == 0, "resume: %s", err.msg);
    CHECK(sz_store_outbox_resume(st, "", "twitter", 2000, &err) < 0 && err.code == SZ_STORE_BAD_INPUT, "resume UID");
    CHECK(sz_store_outbox_prune(st, 2000, &err) == 1, "prune");
    /* record_many: a bad element named, nothing written; a lost lease for its delivery alone */
    sz_job_in j2 = {"u2", "socialize.setStatus", params, sizeof params - 3, provs, 2, NULL, 0, 3000, 3000, 0};
    CHECK(sz_store_outbox_enqueue(st, &j2, id, sizeof id, &err) == 0, "enqueue 2: %s", err.msg);
    CHECK(sz_store_outbox_claim(st, "w1", 3000, 30, 2, &d, &n, &err) == 0 && n == 2, "claim 2: %s", err.msg);
    if (n == 2) {
        /* progress: only the lease's holder, the lease extended, the state kept */
        CHECK(sz_store_outbox_progress(st, id, d[0].provider, "w2", 3000, 30, "{}", &err) < 0 &&
                  err.code == SZ_STORE_LEASE_LOST, "progress: other worker");
        CHECK(sz_store_outbox_progress(st, id, d[0].provider, "w1", 3000, 0, "{}", &err) < 0 &&
                  err.code == SZ_STORE_BAD_INPUT, "progress: lease");
        CHECK(sz_store_outbox_progress(st, id, d[0].provider, "w1", 3020, 30, "{\"recipients\":2}", &err) == 0,
              "progress: %s", err.msg);
        CHECK(sz_store_outbox_job(st, id, &job, &err) == 1 && job && job->ndeliveries == 2, "job: progress");
        for (size_t k = 0; job && k < job->ndeliveries; k++)
            if (strcmp(job->deliveries[k].provider, d[0].provider) == 0) {
                CHECK_STR(job->deliveries[k].state, "sending", "progress: state");
                CHECK_STR(job->deliveries[k].post_id, "{\"recipients\":2}", "progress: postID");
                CHECK(job->deliveries[k].lease_until == 3050, "progress: lease %lld",
                      (long long)job->deliveries[k].lease_until);
            }
        sz_store_outbox_free_job(job);
        sz_outcome_item it[2] = {{id, d[0].provider, {"sent", "p1", 0, 0, 0, NULL, NULL, 0}},
                                 {id, d[1].provider, {"finished", NULL, 0, 0, 0, NULL, NULL, 0}}};
        int res[2] = {-1, -1};
        CHECK(sz_store_outbox_record_many(st, "w1", 3001, it, 2, res, &err) < 0 && err.code == SZ_STORE_BAD_INPUT,
              "bad element");
        CHECK_STR(err.msg, "outcomes[2]: outcome: an unknown state", "bad element named");
        it[1].outcome.state = "dead";
        CHECK(sz_store_outbox_record_many(st, "w2", 3001, it, 2, res, &err) == 0 &&
                  res[0] == SZ_STORE_LEASE_LOST && res[1] == SZ_STORE_LEASE_LOST, "other worker: %s", err.msg);
        CHECK(sz_store_outbox_record_many(st, "w1", 3002, it, 2, res, &err) == 2 && res[0] == SZ_STORE_OK &&
                  res[1] == SZ_STORE_OK, "record_many: %s", err.msg);
        CHECK(sz_store_outbox_job(st, id, &job, &err) == 1 && job, "job 2");
        if (job) CHECK_STR(job->status, "partial", "status 2");
        sz_store_outbox_free_job(job);
    }
    sz_store_outbox_free_deliveries(d, n);
    sz_store_close(st);
}

static int count_row(void *ud, int ncol, const char *const *vals, const size_t *lens)
{
    int *rows = ud;
    if (!lens) return ncol == 1 && strcmp(vals[0], "n") == 0 ? 0 : (*rows = -100, 0); /* the names first */
    *rows = atoi(vals[0]);
    return 0;
}

/* The host's transaction: its SQL and an enqueue committed or rolled back together. */
static void host_txn(void)
{
    sz_store_err err;
    sz_store *st = open_with(KEY_A, NULL, &err);
    CHECK(st != NULL, "open: %s", err.msg);
    if (!st) return;
    const char *provs[] = {"twitter"};
    sz_job_in j = {"u1", "socialize.setStatus", "{}", 2, provs, 1, NULL, 0, 1000, 1000, 1};
    char id[40];
    long long changes = -1;
    int rows = -1;
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) < 0 && err.code == SZ_STORE_NO_TXN, "join outside");
    CHECK(sz_store_txn_begin(st, &err) == 0, "begin: %s", err.msg);
    CHECK(sz_store_txn_begin(st, &err) < 0 && err.code == SZ_STORE_IN_TXN, "nested");
    CHECK(sz_store_txn_exec(st, "CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER)", NULL, 0, NULL, NULL, &changes,
                            &err) == 0 && changes == 0, "create: %s", err.msg);
    sz_sql_value v[2] = {{SZ_SQL_TEXT, "o1xx", 2, 0, 0}, {SZ_SQL_INTEGER, NULL, 0, 1250, 0}};
    CHECK(sz_store_txn_exec(st, "INSERT INTO orders (id, total) VALUES ($1, $2)", v, 2, NULL, NULL, &changes, &err) == 0 &&
              changes == 1, "insert: %s", err.msg);
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue in it: %s", err.msg);
    j.join_txn = 0;
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) < 0 && err.code == SZ_STORE_IN_TXN, "not joined");
    CHECK(sz_store_txn_state(st) == 1, "still open");
    CHECK(sz_store_txn_commit(st, &err) == 0, "commit: %s", err.msg);
    CHECK(sz_store_txn_state(st) == 0, "ended");
    CHECK(sz_store_txn_exec(st, "SELECT 1", NULL, 0, NULL, NULL, NULL, &err) < 0 && err.code == SZ_STORE_NO_TXN, "after");
    sz_job_out **list = NULL;
    size_t n = 0;
    CHECK(sz_store_outbox_list(st, NULL, NULL, 10, &list, &n, &err) == 0 && n == 1, "one job committed");
    sz_store_outbox_free_jobs(list, n);
    /* a failure after the enqueue: all rolled back */
    j.join_txn = 1;
    CHECK(sz_store_txn_begin(st, &err) == 0, "begin 2");
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue 2");
    CHECK(sz_store_txn_exec(st, "INSERT INTO orders (id, total) VALUES ($1, $2)", v, 2, NULL, NULL, NULL, &err) < 0 &&
              err.code == SZ_STORE_BAD_INPUT, "duplicate key");
    CHECK(sz_store_txn_state(st) == 2, "failed");
    CHECK(sz_store_txn_commit(st, &err) < 0 && err.code == SZ_STORE_BAD_INPUT && strstr(err.msg, "rolled back"),
          "commit rolls back: %s", err.msg);
    CHECK(sz_store_outbox_list(st, NULL, NULL, 10, &list, &n, &err) == 0 && n == 1, "still one job");
    sz_store_outbox_free_jobs(list, n);
    CHECK(sz_store_txn_begin(st, &err) == 0, "begin 3");
    CHECK(sz_store_txn_exec(st, "SELECT COUNT(*) AS n FROM orders", NULL, 0, count_row, &rows, NULL, &err) == 0 &&
              rows == 1, "count %d", rows);
    CHECK(sz_store_txn_exec(st, "DELETE FROM socialize_jobs", NULL, 0, NULL, NULL, NULL, &err) < 0 &&
              err.code == SZ_STORE_BAD_INPUT, "the store's tables");
    CHECK(sz_store_txn_exec(st, "SELECT 1", NULL, 0, NULL, NULL, NULL, &err) < 0 && err.code == SZ_STORE_TXN_FAILED,
          "only a rollback is left");
    sz_store_txn_rollback(st);
    sz_store_txn_rollback(st); /* twice: nothing */
    CHECK(sz_store_txn_commit(st, &err) < 0 && err.code == SZ_STORE_NO_TXN, "commit after rollback");
    sz_store_close(st);
}

/* outbox_sync: the level each write transaction commits with, read inside it */
static int seen[8], nseen;
static sz_store *hooked;
static int note_level(void *ud)
{
    (void)ud;
    if (nseen < 8) seen[nseen++] = sz_store_sync_level(hooked);
    return 0;
}

static void sync_levels(void)
{
    for (int normal = 0; normal <= 1; normal++) {
        sz_store_err err;
        sz_store_opts o;
        memset(&o, 0, sizeof o);
        o.plaintext = 1;
        o.outbox_sync = normal ? SZ_SYNC_NORMAL : SZ_SYNC_FULL;
        sz_store *st = sz_store_open(url, &o, &err);
        CHECK(st != NULL, "open: %s", err.msg);
        if (!st) return;
        CHECK(sz_store_outbox_sync(st) == o.outbox_sync, "outbox_sync kept");
        hooked = st, nseen = 0;
        sz_store_set_before_commit(st, note_level, NULL);
        const char *provs[] = {"twitter"};
        sz_job_in j = {"u1", "socialize.setStatus", "{}", 2, provs, 1, NULL, 0, 1000, 1000, 0};
        char id[40];
        sz_state s0 = {normal ? "st-sync-n" : "st-sync-f", "u1", "twitter", "https://a.example/cb", NULL, 0, 4000000000};
        CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue: %s", err.msg);
        CHECK(sz_store_put_state(st, &s0, &err) == 0, "state: %s", err.msg);
        CHECK(sz_store_txn_begin_outbox(st, &err) == 0, "outbox batch: %s", err.msg);
        j.join_txn = 1;
        CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue in the batch: %s", err.msg);
        CHECK(sz_store_txn_exec(st, "SELECT 1", NULL, 0, NULL, NULL, NULL, &err) < 0 && err.code == SZ_STORE_BAD_INPUT,
              "no SQL in the batch");
        sz_store_txn_rollback(st); /* failed by the refused SQL */
        CHECK(sz_store_txn_begin_outbox(st, &err) == 0, "outbox batch: %s", err.msg);
        CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue in the batch: %s", err.msg);
        CHECK(sz_store_txn_commit(st, &err) == 0, "commit the batch: %s", err.msg);
        CHECK(sz_store_txn_begin(st, &err) == 0, "host: %s", err.msg);
        CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue in the host's: %s", err.msg);
        CHECK(sz_store_txn_commit(st, &err) == 0, "commit the host's: %s", err.msg);
        CHECK(sz_store_block(st, "twitter", "u1", 4000000000, &err) == 0, "block: %s", err.msg);
        int want[5] = {normal ? 1 : 2, 2, normal ? 1 : 2, 2, 2};
        CHECK(nseen == 5, "five commits, %d seen", nseen);
        for (int i = 0; i < 5 && i < nseen; i++) CHECK(seen[i] == want[i], "commit %d: level %d, %d expected", i, seen[i], want[i]);
        sz_store_close(st);
    }
}

/* SZ_SYNC_WINDOW: the first enqueue after open is FULL (no synced commit
 * yet), the next ones NORMAL within the window; a FULL write restarts it, a
 * rolled-back one does not count; a window out of range is refused */
static int refuse_commit(void *ud)
{
    (void)ud;
    if (nseen < 8) seen[nseen++] = sz_store_sync_level(hooked);
    return 1;
}

static void sync_window(void)
{
    sz_store_err err;
    sz_store_opts o;
    memset(&o, 0, sizeof o);
    o.plaintext = 1;
    o.outbox_sync = SZ_SYNC_WINDOW;
    const double bad[] = {-1, 3600.5, 1e9, 0.0 / 0.0};
    for (int i = 0; i < 4; i++) {
        o.outbox_sync_window = bad[i];
        sz_store *st = sz_store_open(url, &o, &err);
        CHECK(!st && err.code == SZ_STORE_BAD_INPUT && strstr(err.msg, "outbox_sync_window"), "window %d refused", i);
        sz_store_close(st);
    }
    o.outbox_sync_window = 3600;
    sz_store *st = sz_store_open(url, &o, &err);
    CHECK(st != NULL, "open: %s", err.msg);
    if (!st) return;
    CHECK(sz_store_outbox_sync(st) == SZ_SYNC_WINDOW && sz_store_outbox_sync_window(st) == 3600, "window kept");
    CHECK(sz_store_synced_commits(st) == 0, "none synced after open");
    hooked = st, nseen = 0;
    const char *provs[] = {"twitter"};
    sz_job_in j = {"u1", "socialize.setStatus", "{}", 2, provs, 1, NULL, 0, 1000, 1000, 0};
    char id[40];
    sz_store_set_before_commit(st, refuse_commit, NULL);
    CHECK(sz_store_block(st, "twitter", "u1", 4000000000, &err) < 0, "block rolled back");
    sz_store_set_before_commit(st, note_level, NULL);
    CHECK(sz_store_synced_commits(st) == 0, "a rolled-back commit does not count");
    for (int i = 0; i < 3; i++) CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue: %s", err.msg);
    CHECK(sz_store_block(st, "twitter", "u1", 4000000000, &err) == 0, "block: %s", err.msg);
    CHECK(sz_store_outbox_enqueue(st, &j, id, sizeof id, &err) == 0, "enqueue: %s", err.msg);
    int want[6] = {2, 2, 1, 1, 2, 1};
    CHECK(nseen == 6, "six commits, %d seen", nseen);
    for (int i = 0; i < 6 && i < nseen; i++) CHECK(seen[i] == want[i], "commit %d: level %d, %d expected", i, seen[i], want[i]);
    CHECK(sz_store_synced_commits(st) == 2, "two synced commits, %lld", sz_store_synced_commits(st));
    sz_store_close(st);
    o.outbox_sync_window = 0; /* 0: one second */
    st = sz_store_open(url, &o, &err);
    CHECK(st && sz_store_outbox_sync_window(st) == 1.0, "0 is one second");
    sz_store_close(st);
}

static void faults(const char *dir)
{
    sz_store_err err;
    char bad[600];
    snprintf(bad, sizeof bad, "sqlite:%s/no/such/dir/x.db", dir);
    sz_store *st = sz_store_open(bad, NULL, &err);
    CHECK(!st && err.code == SZ_STORE_IO, "missing dir: %s", st ? "opened" : err.msg);
    st = sz_store_open("mysql://x", NULL, &err);
    CHECK(!st && err.code == SZ_STORE_BAD_INPUT, "scheme");
    st = sz_store_open(NULL, NULL, &err);
    CHECK(!st && err.code == SZ_STORE_BAD_INPUT, "no url");
    snprintf(bad, sizeof bad, "%s/junk.db", dir);
    FILE *f = fopen(bad, "wb");
    if (f) {
        for (int i = 0; i < 200; i++) fputs("not a database at all\n", f);
        fclose(f);
    }
    snprintf(url, sizeof url, "sqlite:%s/junk.db", dir);
    st = sz_store_open(url, NULL, &err);
    CHECK(!st && err.code == SZ_STORE_CORRUPT, "junk: %s", st ? "opened" : err.msg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
        return 2;
    }
    snprintf(url, sizeof url, "sqlite:%s/c-api.db", argv[1]);
    remove(url + 7);
    RUN(round_trip);
    RUN(keys);
    RUN(states_and_leases);
    snprintf(url, sizeof url, "sqlite:%s/c-outbox.db", argv[1]);
    RUN(outbox);
    snprintf(url, sizeof url, "sqlite:%s/c-txn.db", argv[1]);
    remove(url + 7);
    RUN(host_txn);
    snprintf(url, sizeof url, "sqlite:%s/c-blocked.db", argv[1]);
    remove(url + 7);
    RUN(blocked_list);
    snprintf(url, sizeof url, "sqlite:%s/c-sync.db", argv[1]);
    remove(url + 7);
    RUN(sync_levels);
    RUN(sync_window);
    TAP_CASE("faults", faults(argv[1]));
    return tap_done("c-store");
}
