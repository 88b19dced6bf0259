/* socialize store: connections, pending connect states, app registrations,
 * setup sessions, blocked-until entries and per-connection leases, kept in
 * SQLite (embedded) or PostgreSQL (libpq), every secret sealed with
 * AES-256-GCM. This header names no third-party type: handles are opaque,
 * errors are owned by the caller. Every call blocks on file or socket I/O
 * (docs/store.md says what that means inside OpenResty). */
#ifndef SZ_STORE_H
#define SZ_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifndef SZ_STORE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define SZ_STORE_API __attribute__((visibility("default")))
#else
#define SZ_STORE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes; sz_store_code_name gives each its stable name. */
typedef enum {
    SZ_STORE_OK = 0,
    SZ_STORE_BAD_INPUT,     /* "bad_input": an argument is missing, too long or malformed */
    SZ_STORE_NOMEM,         /* "nomem" */
    SZ_STORE_BUSY,          /* "store_busy": locked by another process past the busy timeout */
    SZ_STORE_READONLY,      /* "store_readonly": the file or database refuses writes */
    SZ_STORE_FULL,          /* "store_full": disk or database size limit reached */
    SZ_STORE_CORRUPT,       /* "store_corrupt": not a database, or a damaged one */
    SZ_STORE_IO,            /* "store_io": cannot open or read or write the store */
    SZ_STORE_GONE,          /* "store_gone": the database server went away */
    SZ_STORE_SCHEMA,        /* "store_schema": written by a newer socialize */
    SZ_STORE_KEY_MISMATCH,  /* "key_mismatch": no configured key opens this store */
    SZ_STORE_KEY_MISSING,   /* "key_missing": the store is sealed and no key was given */
    SZ_STORE_NO_KEY,        /* "no_key": a secret without a key and without plaintext = true */
    SZ_STORE_SEAL,          /* "seal_failed": a sealed field does not open (tampered or moved) */
    SZ_STORE_STATE_UNKNOWN, /* "state_unknown": no such pending state (forged or replayed) */
    SZ_STORE_STATE_EXPIRED, /* "state_expired" */
    SZ_STORE_LEASE_LOST,    /* "lease_lost": the lease expired or another holder took it */
    SZ_STORE_LOCKED,        /* "lock_busy": another holder has the lease */
    SZ_STORE_INTERNAL,      /* "store_internal" */
    SZ_STORE_JOB_UNKNOWN,   /* "job_unknown": no such job (or no such delivery of it) */
    SZ_STORE_JOB_SENDING,   /* "job_sending": a delivery of the job is being sent now */
    SZ_STORE_BAD_STATE,     /* "bad_state": the delivery is not in the state the call needs */
    SZ_STORE_IN_TXN,        /* "in_transaction": inside the host's transaction, and the call does not join it */
    SZ_STORE_NO_TXN,        /* "no_transaction": no host transaction is open (or it has ended) */
    SZ_STORE_TXN_FAILED     /* "txn_failed": a statement failed inside it: only a rollback is left */
} sz_store_code;

typedef struct sz_store_err {
    sz_store_code code;
    char msg[256]; /* never holds a secret nor a password */
} sz_store_err;

typedef struct sz_store sz_store;

/* Options of sz_store_open; zero means the default. */
typedef struct sz_store_opts {
    const char *const *keys; /* Base64 of 32 bytes each; the first seals, all open */
    size_t nkeys;
    int plaintext;           /* hold secrets unsealed when no key is given */
    int busy_timeout_ms;     /* default 5000 */
    long long max_pages;     /* SQLite only: PRAGMA max_page_count (caps the file size) */
    int outbox_sync;         /* SQLite only: the durability of the outbox's enqueues: SZ_SYNC_FULL
                              * (0, the C default), SZ_SYNC_NORMAL or SZ_SYNC_WINDOW (docs/store.md
                              * "Durability"; the Lua binding's default is SZ_SYNC_WINDOW of 1 s) */
    double outbox_sync_window; /* SZ_SYNC_WINDOW: seconds, 0 < N <= 3600 (0: 1 s); an enqueue commits
                                * with NORMAL unless this connection's last FULL commit is N
                                * seconds old or more (or none yet), then with FULL */
} sz_store_opts;

#define SZ_SYNC_FULL 0
#define SZ_SYNC_NORMAL 1
#define SZ_SYNC_WINDOW 2
#define SZ_SYNC_WINDOW_MAX 3600.0

/* The record kinds sharing one shape: two identity parts, an account,
 * scopes, public fields (a JSON object text), secrets (sealed one by one)
 * and times in seconds. */
typedef enum { SZ_REC_CONNECTION = 0, SZ_REC_APP, SZ_REC_SESSION } sz_rec_kind;

typedef struct sz_secret {
    const char *name;
    const char *value;
    size_t len;
} sz_secret;

typedef struct sz_record {
    const char *id1, *id2;   /* connection: UID, provider; app: provider, instance; session: provider, key */
    const char *account;     /* may be NULL */
    const char *scopes;      /* may be NULL */
    const char *fields_json; /* a JSON object text, may be NULL */
    const sz_secret *secrets;
    size_t nsecrets;
    int64_t expires_at;      /* 0: none */
    int64_t updated_at;
    const char *lease;       /* put only: the lease token that must still be held */
} sz_record;

/* A record read back: everything in one allocation, freed with sz_store_free. */
typedef struct sz_record_out {
    char *id1, *id2, *account, *scopes, *fields_json;
    sz_secret *secrets; /* values unsealed; sz_store_free wipes them */
    size_t nsecrets;
    int64_t expires_at, updated_at;
} sz_record_out;

typedef struct sz_state {
    const char *state, *uid, *provider, *redirect;
    const char *verifier; /* sealed; may be NULL */
    size_t verifier_len;
    int64_t expires_at;
} sz_state;

typedef struct sz_state_out {
    char *state, *uid, *provider, *redirect, *verifier;
    size_t verifier_len;
    int64_t expires_at;
} sz_state_out;

SZ_STORE_API const char *sz_store_code_name(sz_store_code code);

/* url: "sqlite:/path/file.db", "sqlite::memory:" or "postgresql://..." /
 * "postgres://...". Creates or migrates the schema; checks the keys. */
SZ_STORE_API sz_store *sz_store_open(const char *url, const sz_store_opts *opts, sz_store_err *err);
SZ_STORE_API void sz_store_close(sz_store *st);
SZ_STORE_API const char *sz_store_engine(const sz_store *st);
SZ_STORE_API int sz_store_schema_version(const sz_store *st);

/* Test hook: called inside every write transaction, before COMMIT; a
 * non-zero return rolls back. */
SZ_STORE_API void sz_store_set_before_commit(sz_store *st, int (*fn)(void *ud), void *ud);
/* opts->outbox_sync as given at open */
SZ_STORE_API int sz_store_outbox_sync(const sz_store *st);
/* SZ_SYNC_WINDOW: its seconds (0 in the other modes) */
SZ_STORE_API double sz_store_outbox_sync_window(const sz_store *st);
/* Test hook: how many write transactions of this connection committed with
 * FULL since it was opened (SQLite; 0 on PostgreSQL) */
SZ_STORE_API long long sz_store_synced_commits(const sz_store *st);
/* Test hook: SQLite's PRAGMA synchronous on the connection now (1 NORMAL,
 * 2 FULL; read inside a transaction, the level it commits with); -1 on
 * PostgreSQL or on error. */
SZ_STORE_API int sz_store_sync_level(sz_store *st);

SZ_STORE_API int sz_store_put(sz_store *st, sz_rec_kind kind, const sz_record *rec, sz_store_err *err);
/* Returns 1 and fills *out when found, 0 when not, -1 on error. */
SZ_STORE_API int sz_store_get(sz_store *st, sz_rec_kind kind, const char *id1, const char *id2,
                              sz_record_out **out, sz_store_err *err);
/* All records whose first identity part is id1 (connections of a UID). */
SZ_STORE_API int sz_store_list(sz_store *st, sz_rec_kind kind, const char *id1, sz_record_out ***out,
                               size_t *n, sz_store_err *err);
/* id2 NULL: every record of id1. Returns the number deleted, -1 on error. */
SZ_STORE_API long long sz_store_delete(sz_store *st, sz_rec_kind kind, const char *id1, const char *id2,
                                       sz_store_err *err);
SZ_STORE_API void sz_store_free(sz_record_out *rec);
SZ_STORE_API void sz_store_free_list(sz_record_out **recs, size_t n);

/* Pending connect states: single use. take deletes the state in the same
 * statement that reads it (SZ_STORE_STATE_UNKNOWN / _EXPIRED otherwise). */
SZ_STORE_API int sz_store_put_state(sz_store *st, const sz_state *s, sz_store_err *err);
SZ_STORE_API int sz_store_take_state(sz_store *st, const char *state, int64_t now, sz_state_out **out,
                                     sz_store_err *err);
SZ_STORE_API void sz_store_free_state(sz_state_out *s);
SZ_STORE_API long long sz_store_purge(sz_store *st, int64_t now, sz_store_err *err);

/* Blocked-until: until 0 clears. blocked returns the until time, 0 when not blocked. */
SZ_STORE_API int sz_store_block(sz_store *st, const char *provider, const char *key, int64_t until,
                                sz_store_err *err);
SZ_STORE_API int64_t sz_store_blocked(sz_store *st, const char *provider, const char *key, int64_t now,
                                      sz_store_err *err);
/* the later of two keys' blocks (key2 NULL: key alone), in one read */
SZ_STORE_API int64_t sz_store_blocked2(sz_store *st, const char *provider, const char *key, const char *key2,
                                       int64_t now, sz_store_err *err);
/* The unexpired entries (until > now), longest first, at most max of them:
 * *out is malloc'd (free with sz_store_free_blocked), *n its length. */
typedef struct {
    char *provider, *key;
    int64_t until;
} sz_blocked_entry;
SZ_STORE_API int sz_store_blocked_list(sz_store *st, int64_t now, size_t max, sz_blocked_entry **out, size_t *n,
                                       sz_store_err *err);
SZ_STORE_API void sz_store_free_blocked(sz_blocked_entry *e, size_t n);
/* Clears entries: all of them (provider NULL), a provider's (key NULL) or one.
 * Returns how many, -1 on error. */
SZ_STORE_API long long sz_store_unblock(sz_store *st, const char *provider, const char *key, sz_store_err *err);

/* Leases (per connection, across processes): lock writes a token (at least
 * 33 bytes) when the lease is free or expired, SZ_STORE_LOCKED otherwise. */
SZ_STORE_API int sz_store_lock(sz_store *st, const char *uid, const char *provider, int64_t now_ms,
                               int64_t ttl_ms, char *token, size_t token_size, sz_store_err *err);
SZ_STORE_API int sz_store_unlock(sz_store *st, const char *uid, const char *provider, const char *token,
                                 sz_store_err *err);

/* Re-seals every secret with the first key, in one transaction; returns the
 * number of fields re-sealed, -1 on error. */
SZ_STORE_API long long sz_store_rotate(sz_store *st, sz_store_err *err);

/* ---- the outbox (sz_outbox.c, docs/delivery.md) ----
 * A job is one queued call (its UID, method and parameters as a JSON object
 * text); it has one delivery per target provider. Delivery states: "queued",
 * "sending" (claimed by a worker under a lease), "sent", "retrying" (due at
 * next_at), "unconfirmed" (the request went out and no reply came; next_at 0:
 * left for the host, else resent at next_at with the same idempotency key, or
 * read back at next_at until wait_until),
 * "waiting_reconnect" (auth expired; rechecked at next_at until wait_until),
 * "dead" and "cancelled". Times are Unix seconds given by the caller. Every
 * write is one transaction. */
#define SZ_OUTBOX_MAX_KEY 200        /* a dedup key, in bytes */
#define SZ_OUTBOX_MAX_PARAMS 1048576 /* the parameters' JSON text */
#define SZ_OUTBOX_MAX_PROVIDERS 32   /* deliveries per job */
#define SZ_OUTBOX_MAX_CLAIM 100      /* deliveries per claim */
#define SZ_OUTBOX_MAX_POST_ID 65536  /* an outcome's postID (a notification's progress record) */
#define SZ_OUTBOX_MAX_ATTEMPTS 1000000 /* attempts saturate here */

/* What sz_store_outbox_enqueue reads; the caller owns every pointer. */
typedef struct sz_job_in {
    const char *uid, *method;       /* required, UTF-8, at most 1024 bytes each */
    const char *params_json;        /* a JSON object text of params_len bytes */
    size_t params_len;
    const char *const *providers;   /* nproviders names, distinct, 1..SZ_OUTBOX_MAX_PROVIDERS */
    size_t nproviders;
    const char *dedup_key;          /* NULL: none; at most SZ_OUTBOX_MAX_KEY bytes */
    int64_t dedup_window;           /* seconds the key dedupes; <= 0: 86400 */
    int64_t now, run_at;            /* run_at before now: due now */
    int join_txn;                   /* 1: written inside the host's open transaction (sz_store_txn_begin),
                                     * committed with it; 0: its own transaction (refused with
                                     * SZ_STORE_IN_TXN while a host transaction is open) */
} sz_job_in;

/* One delivery read back; strings are NULL when absent. */
typedef struct sz_delivery_out {
    char *job_id, *provider, *state, *lease_owner, *idem_key, *post_id, *error_category, *error_reason;
    char *prev_state;               /* claim only: the state it was claimed from */
    int64_t attempts, next_at, lease_until, error_code, sent_at, updated_at, wait_until;
    /* claim only: the job's fields */
    char *uid, *method, *params_json;
    size_t params_len;
} sz_delivery_out;

typedef struct sz_job_out {
    char *id, *uid, *method, *params_json, *dedup_key, *status;
    size_t params_len;
    int64_t created_at, run_at, updated_at;
    sz_delivery_out *deliveries;    /* ndeliveries, ordered by provider */
    size_t ndeliveries;
} sz_job_out;

/* The outcome of one attempt, recorded by the worker holding its lease. */
typedef struct sz_outcome {
    const char *state;              /* "sent", "retrying", "unconfirmed", "dead", "waiting_reconnect",
                                     * or "queued" (given back unsent, with release) */
    const char *post_id;            /* sent: may be NULL */
    int64_t next_at;                /* retrying, unconfirmed (0: left for the host), waiting_reconnect */
    int64_t wait_until;             /* waiting_reconnect: dead after this time; unconfirmed: the
                                     * time of its last read-back check (0: kept as it is) */
    int64_t error_code;
    const char *error_category, *error_reason; /* may be NULL; the reason is cut to 1024 bytes */
    int release;                    /* given back unsent: the claim's attempt is not counted */
} sz_outcome;

/* Writes one job and a delivery per provider in one transaction. job_id
 * (at least 33 bytes) receives its id. Returns 1 when a job with the same
 * dedup key was enqueued within its window and not cancelled (job_id is
 * that job's, nothing written), 0 when written, -1 on error. */
SZ_STORE_API int sz_store_outbox_enqueue(sz_store *st, const sz_job_in *job, char *job_id, size_t job_id_size,
                                   sz_store_err *err);
/* Claims up to limit (1..SZ_OUTBOX_MAX_CLAIM) due deliveries for worker:
 * queued or retrying ones due by now, unconfirmed ones with a due next_at,
 * waiting_reconnect ones due for a recheck, and sending ones whose lease ran
 * out (taken over). Each becomes "sending" under worker's lease until now +
 * lease_s, its attempts counted. *out: an array of *n, freed with
 * sz_store_outbox_free_deliveries (NULL when none). */
SZ_STORE_API int sz_store_outbox_claim(sz_store *st, const char *worker, int64_t now, int64_t lease_s, int limit,
                                 sz_delivery_out **out, size_t *n, sz_store_err *err);
/* Records the outcome of a claimed delivery: SZ_STORE_LEASE_LOST when worker
 * no longer holds it (taken over, cancelled): nothing written. */
SZ_STORE_API int sz_store_outbox_record(sz_store *st, const char *job_id, const char *provider, const char *worker,
                                  int64_t now, const sz_outcome *o, sz_store_err *err);
/* One delivery's outcome among several recorded together. */
typedef struct sz_outcome_item {
    const char *job_id, *provider;
    sz_outcome outcome;
} sz_outcome_item;
/* Records the outcomes of n (at most SZ_OUTBOX_MAX_CLAIM) claimed deliveries
 * in one transaction, each as sz_store_outbox_record would: res[i] is
 * SZ_STORE_OK when written, SZ_STORE_LEASE_LOST when worker no longer holds
 * that delivery (nothing written for it, the others still are). Returns the
 * number written, or -1 with nothing written at all: a bad element (the
 * error names it, "outcomes[i]: ...", counted from 1; the same delivery
 * twice is one) or the store failing. */
SZ_STORE_API int sz_store_outbox_record_many(sz_store *st, const char *worker, int64_t now,
                                             const sz_outcome_item *items, size_t n, int *res, sz_store_err *err);
/* A claimed delivery's progress, written while it is still being sent (a
 * notification's per-recipient record, docs/delivery.md): post_id replaces
 * the delivery's postID and its lease is extended to now + lease_s (never
 * shortened), in one transaction, only while worker holds it:
 * SZ_STORE_LEASE_LOST (nothing written) otherwise. The state stays "sending". */
SZ_STORE_API int sz_store_outbox_progress(sz_store *st, const char *job_id, const char *provider, const char *worker,
                                          int64_t now, int64_t lease_s, const char *post_id, sz_store_err *err);
/* Returns 1 and fills *out (freed with sz_store_outbox_free_job), 0 when no such job. */
SZ_STORE_API int sz_store_outbox_job(sz_store *st, const char *job_id, sz_job_out **out, sz_store_err *err);
/* Jobs, newest first, without their parameters; uid and status may be NULL. */
SZ_STORE_API int sz_store_outbox_list(sz_store *st, const char *uid, const char *status, int limit, sz_job_out ***out,
                                size_t *n, sz_store_err *err);
/* Cancels every delivery not yet finished: SZ_STORE_JOB_SENDING while one is
 * being sent, SZ_STORE_JOB_UNKNOWN for no such job. Returns how many were cancelled. */
SZ_STORE_API long long sz_store_outbox_cancel(sz_store *st, const char *job_id, int64_t now, sz_store_err *err);
/* Queues the dead deliveries of a job again (provider NULL: all), due now,
 * attempts from 0; SZ_STORE_BAD_STATE when none is dead. Returns how many. */
SZ_STORE_API long long sz_store_outbox_retry(sz_store *st, const char *job_id, const char *provider, int64_t now,
                                       sz_store_err *err);
/* The host's decision on an unconfirmed delivery: "sent" or "resend" (queued,
 * due now); SZ_STORE_BAD_STATE when it is not unconfirmed. */
SZ_STORE_API int sz_store_outbox_resolve(sz_store *st, const char *job_id, const char *provider, const char *decision,
                                   int64_t now, sz_store_err *err);
/* The user reconnected to provider: that UID's waiting_reconnect deliveries
 * on it are due now. Returns how many. */
SZ_STORE_API long long sz_store_outbox_resume(sz_store *st, const char *uid, const char *provider, int64_t now,
                                              sz_store_err *err);
/* Deletes finished jobs (sent, dead, partial, cancelled) last changed before
 * `before`, with their deliveries. Returns how many jobs. */
SZ_STORE_API long long sz_store_outbox_prune(sz_store *st, int64_t before, sz_store_err *err);
/* ---- the host's transaction (sz_txn.c, docs/delivery.md) ----
 * One engine transaction on the store's connection (SQLite BEGIN IMMEDIATE:
 * the writer lock is held until it ends; PostgreSQL BEGIN), in which the
 * host runs its own SQL and enqueues (join_txn). Nested: SZ_STORE_IN_TXN.
 * While it is open, a store write that does not join it is refused
 * (SZ_STORE_IN_TXN). After any failure inside it (a statement of the host's
 * or a write of the store) only a rollback is left: commit rolls back and
 * answers that first failure. */
typedef enum { SZ_SQL_NULL = 0, SZ_SQL_TEXT, SZ_SQL_INTEGER, SZ_SQL_REAL } sz_sql_type;
typedef struct sz_sql_value {
    sz_sql_type type;
    const char *text; /* SZ_SQL_TEXT: len bytes of UTF-8 (PostgreSQL: no NUL) */
    size_t len;
    int64_t integer;
    double real;
} sz_sql_value;
/* Called first with lens NULL and vals the column names, then once per
 * row (vals[i] NULL for SQL NULL; every value as text). Non-zero: no more rows. */
typedef int (*sz_sql_row_fn)(void *ud, int ncol, const char *const *vals, const size_t *lens);
SZ_STORE_API int sz_store_txn_begin(sz_store *st, sz_store_err *err);
/* The same for the outbox's own batch (enqueues only): committed with
 * opts->outbox_sync, and the host's SQL is refused in it. */
SZ_STORE_API int sz_store_txn_begin_outbox(sz_store *st, sz_store_err *err);
/* One statement of the host's, $1..$nv bound (at most 64 values and 64
 * result columns). Refused: transaction control, PRAGMA, SET (but SET
 * LOCAL), and any statement naming a socialize_ table. changes may be NULL. */
SZ_STORE_API int sz_store_txn_exec(sz_store *st, const char *sql, const sz_sql_value *v, int nv, sz_sql_row_fn fn,
                                   void *ud, long long *changes, sz_store_err *err);
SZ_STORE_API int sz_store_txn_commit(sz_store *st, sz_store_err *err);
SZ_STORE_API void sz_store_txn_rollback(sz_store *st);
/* 0 none open, 1 open, 2 failed (only a rollback is left) */
SZ_STORE_API int sz_store_txn_state(const sz_store *st);

SZ_STORE_API void sz_store_outbox_free_deliveries(sz_delivery_out *d, size_t n);
SZ_STORE_API void sz_store_outbox_free_job(sz_job_out *j);
SZ_STORE_API void sz_store_outbox_free_jobs(sz_job_out **j, size_t n);

#ifdef __cplusplus
}
#endif
#endif
