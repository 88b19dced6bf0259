/* The store's operations beyond records: pending connect states (single
 * use), blocked-until entries, per-connection leases and key rotation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sz_store_ops.h"

/* ---- pending connect states ---- */
int sz_store_put_state(sz_store *st, const sz_state *s, sz_store_err *err)
{
    if (sz_st_check_id(s->state, "state", 1, err) < 0 || sz_st_check_id(s->uid, "UID", 1, err) < 0 ||
        sz_st_check_id(s->provider, "provider", 1, err) < 0 || sz_st_check_id(s->redirect, "redirect", 0, err) < 0)
        return -1;
    if (s->expires_at <= 0) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "state: no expiry");
    char *v = NULL;
    const char *ident[4] = {"state", s->state, s->uid, s->provider};
    if (s->verifier && sz_seal(st, ident, "verifier", s->verifier, s->verifier_len, &v, err) < 0) return -1;
    sz_param p[] = {P_TEXT(s->state),    P_TEXT(s->uid), P_TEXT(s->provider), P_TEXT(s->redirect ? s->redirect : ""),
                    P_TEXT(v),           P_INT(s->expires_at)};
    if (!v) p[4].type = 0;
    int r = 0;
    if (sz_st_begin(st, err) < 0 ||
        sz_st_exec(st,
             "INSERT INTO socialize_states (state, uid, provider, redirect, verifier, expires_at) "
             "VALUES ($1, $2, $3, $4, $5, $6)",
             p, 6, NULL, err) < 0 ||
        sz_st_commit(st, err) < 0)
        r = sz_st_fail(st);
    free(v);
    return r;
}

void sz_store_free_state(sz_state_out *s)
{
    if (!s) return;
    free(s->state), free(s->uid), free(s->provider), free(s->redirect);
    sz_wipe_free(s->verifier, s->verifier_len);
    free(s);
}

int sz_store_take_state(sz_store *st, const char *state, int64_t now, sz_state_out **out, sz_store_err *err)
{
    *out = NULL;
    if (sz_st_check_id(state, "state", 1, err) < 0) return -1;
    sz_param p[] = {P_TEXT(state)};
    rows r;
    memset(&r, 0, sizeof r);
    /* one statement: two takers of the same state never both get it */
    if (sz_st_begin(st, err) < 0 || st->eng->exec(st,
                                            "DELETE FROM socialize_states WHERE state = $1 "
                                            "RETURNING state, uid, provider, redirect, verifier, expires_at",
                                            p, 1, sz_st_rows_add, &r, NULL, err) < 0 ||
        sz_st_commit(st, err) < 0) {
        sz_st_rows_free(&r);
        return sz_st_fail(st);
    }
    if (r.oom) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    if (r.nrows == 0) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_STATE_UNKNOWN, "unknown state (forged, or already used)");
    }
    int64_t exp = sz_st_cell(&r, 0, 5) ? strtoll(sz_st_cell(&r, 0, 5), NULL, 10) : 0;
    if (exp <= now) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_STATE_EXPIRED, "the state has expired");
    }
    sz_state_out *o = calloc(1, sizeof *o);
    if (!o) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    o->state = sz_st_take(&r, 0, 0), o->uid = sz_st_take(&r, 0, 1), o->provider = sz_st_take(&r, 0, 2);
    o->redirect = sz_st_take(&r, 0, 3), o->expires_at = exp;
    const char *v = sz_st_cell(&r, 0, 4);
    const char *ident[4] = {"state", o->state, o->uid, o->provider};
    if (v && sz_unseal(st, ident, "verifier", v, strlen(v), &o->verifier, &o->verifier_len, err) < 0) {
        sz_st_rows_free(&r);
        sz_store_free_state(o);
        return -1;
    }
    sz_st_rows_free(&r);
    *out = o;
    return 0;
}

long long sz_store_purge(sz_store *st, int64_t now, sz_store_err *err)
{
    long long a = 0, b = 0, c = 0;
    sz_param p[] = {P_INT(now), P_INT(now * 1000)};
    if (sz_st_begin(st, err) < 0 || sz_st_exec(st, "DELETE FROM socialize_states WHERE expires_at <= $1", p, 1, &a, err) < 0 ||
        sz_st_exec(st, "DELETE FROM socialize_blocked WHERE until_at <= $1", p, 1, &b, err) < 0 ||
        sz_st_exec(st, "DELETE FROM socialize_locks WHERE until_ms <= $1", p + 1, 1, &c, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return a + b + c;
}

/* ---- blocked-until ---- */
int sz_store_block(sz_store *st, const char *provider, const char *key, int64_t until, sz_store_err *err)
{
    if (sz_st_check_id(provider, "provider", 1, err) < 0 || sz_st_check_id(key, "key", 0, err) < 0) return -1;
    sz_param p[] = {P_TEXT(provider), P_TEXT(key ? key : ""), P_INT(until)};
    /* two processes blocking the same key: the later reset wins */
    const char *sql = until > 0 ? "INSERT INTO socialize_blocked (provider, bkey, until_at) VALUES ($1, $2, $3) "
                                  "ON CONFLICT (provider, bkey) DO UPDATE SET until_at = CASE WHEN "
                                  "excluded.until_at > socialize_blocked.until_at THEN excluded.until_at "
                                  "ELSE socialize_blocked.until_at END"
                                : "DELETE FROM socialize_blocked WHERE provider = $1 AND bkey = $2";
    if (sz_st_begin(st, err) < 0 || sz_st_exec(st, sql, p, until > 0 ? 3 : 2, NULL, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return 0;
}

int64_t sz_store_blocked(sz_store *st, const char *provider, const char *key, int64_t now, sz_store_err *err)
{
    return sz_store_blocked2(st, provider, key, NULL, now, err);
}

int64_t sz_store_blocked2(sz_store *st, const char *provider, const char *key, const char *key2, int64_t now,
                          sz_store_err *err)
{
    if (sz_st_check_id(provider, "provider", 1, err) < 0 || sz_st_check_id(key, "key", 0, err) < 0 ||
        sz_st_check_id(key2, "key", 0, err) < 0)
        return -1;
    sz_param p[] = {P_TEXT(provider), P_TEXT(key ? key : ""), P_INT(now), P_TEXT(key2 ? key2 : (key ? key : ""))};
    rows r;
    /* both keys in one read (the primary key's range, at most two rows) */
    if (sz_st_query(st,
                    "SELECT MAX(until_at) FROM socialize_blocked WHERE provider = $1 AND bkey IN ($2, $4)"
                    " AND until_at > $3",
                    p, 4, &r, err) < 0)
        return -1;
    int64_t until = r.nrows && sz_st_cell(&r, 0, 0) ? strtoll(sz_st_cell(&r, 0, 0), NULL, 10) : 0;
    sz_st_rows_free(&r);
    return until;
}

void sz_store_free_blocked(sz_blocked_entry *e, size_t n)
{
    if (!e) return;
    for (size_t i = 0; i < n; i++) free(e[i].provider), free(e[i].key);
    free(e);
}

int sz_store_blocked_list(sz_store *st, int64_t now, size_t max, sz_blocked_entry **out, size_t *n,
                          sz_store_err *err)
{
    *out = NULL, *n = 0;
    if (max == 0) return 0;
    if (max > 100000) max = 100000;
    sz_param p[] = {P_INT(now), P_INT((long long)max)};
    rows r;
    if (sz_st_query(st,
                    "SELECT provider, bkey, until_at FROM socialize_blocked WHERE until_at > $1 "
                    "ORDER BY until_at DESC LIMIT $2",
                    p, 2, &r, err) < 0)
        return -1;
    size_t m = r.nrows < max ? r.nrows : max;
    sz_blocked_entry *e = m ? calloc(m, sizeof *e) : NULL;
    if (m && !e) {
        sz_st_rows_free(&r);
        return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const char *u = sz_st_cell(&r, i, 2);
        if (!sz_st_cell(&r, i, 0) || !sz_st_cell(&r, i, 1) || !u) continue; /* a NULL the schema forbids */
        e[k].until = strtoll(u, NULL, 10);
        e[k].provider = sz_st_take(&r, i, 0), e[k].key = sz_st_take(&r, i, 1);
        k++;
    }
    sz_st_rows_free(&r);
    *out = e, *n = k;
    return 0;
}

long long sz_store_unblock(sz_store *st, const char *provider, const char *key, sz_store_err *err)
{
    if (sz_st_check_id(provider, "provider", 0, err) < 0 || sz_st_check_id(key, "key", 0, err) < 0) return -1;
    if (key && !provider) return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "provider is missing (a key is given)");
    sz_param p[] = {P_TEXT(provider), P_TEXT(key)};
    int np = key ? 2 : provider ? 1 : 0;
    const char *sql = key ? "DELETE FROM socialize_blocked WHERE provider = $1 AND bkey = $2"
                    : provider ? "DELETE FROM socialize_blocked WHERE provider = $1"
                               : "DELETE FROM socialize_blocked WHERE 1 = 1";
    long long c = 0;
    if (sz_st_begin(st, err) < 0 || sz_st_exec(st, sql, np ? p : NULL, np, &c, err) < 0 || sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return c;
}

/* ---- leases ---- */
int sz_store_lock(sz_store *st, const char *uid, const char *provider, int64_t now_ms, int64_t ttl_ms, char *token,
                  size_t token_size, sz_store_err *err)
{
    unsigned char rnd[16];
    static const char hex[] = "0123456789abcdef";
    if (sz_st_check_id(uid, "UID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0) return -1;
    if (token_size < 33 || ttl_ms <= 0)
        return sz_store_seterr(err, SZ_STORE_BAD_INPUT, "lock: a token buffer of 33 bytes and a positive ttl");
    if (sz_random(rnd, sizeof rnd) < 0) return sz_store_seterr(err, SZ_STORE_INTERNAL, "no random bytes");
    for (int i = 0; i < 16; i++) token[2 * i] = hex[rnd[i] >> 4], token[2 * i + 1] = hex[rnd[i] & 15];
    token[32] = 0;
    sz_param p[] = {P_TEXT(uid), P_TEXT(provider), P_TEXT(token), P_INT(now_ms + ttl_ms), P_INT(now_ms)};
    long long changes = 0;
    /* one statement: taken when free or when the previous lease has run out */
    if (sz_st_begin(st, err) < 0 ||
        sz_st_exec(st,
             "INSERT INTO socialize_locks (uid, provider, owner, until_ms) VALUES ($1, $2, $3, $4) "
             "ON CONFLICT (uid, provider) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms "
             "WHERE socialize_locks.until_ms <= $5",
             p, 5, &changes, err) < 0 ||
        sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    if (changes != 1) {
        token[0] = 0;
        return sz_store_seterr(err, SZ_STORE_LOCKED, "the connection is locked by another holder");
    }
    return 0;
}

int sz_store_unlock(sz_store *st, const char *uid, const char *provider, const char *token, sz_store_err *err)
{
    if (sz_st_check_id(uid, "UID", 1, err) < 0 || sz_st_check_id(provider, "provider", 1, err) < 0 ||
        sz_st_check_id(token, "token", 1, err) < 0)
        return -1;
    sz_param p[] = {P_TEXT(uid), P_TEXT(provider), P_TEXT(token)};
    long long changes = 0;
    if (sz_st_begin(st, err) < 0 ||
        sz_st_exec(st, "DELETE FROM socialize_locks WHERE uid = $1 AND provider = $2 AND owner = $3", p, 3, &changes,
             err) < 0 ||
        sz_st_commit(st, err) < 0)
        return sz_st_fail(st);
    return changes == 1 ? 0 : sz_store_seterr(err, SZ_STORE_LEASE_LOST, "the lease on this connection was lost");
}

/* ---- rotation ---- */
static long long reseal_json(sz_store *st, const char *const ident[4], const char *text, char **out,
                             sz_store_err *err)
{
    json_t *j = json_loads(text, 0, NULL);
    long long n = 0;
    *out = NULL;
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return sz_store_seterr(err, SZ_STORE_CORRUPT, "a secrets column is damaged");
    }
    const char *name;
    json_t *v;
    json_object_foreach(j, name, v)
    {
        if (!json_is_string(v) || !sz_seal_stale(st, json_string_value(v))) continue;
        char *plain, *sealed;
        size_t len;
        if (sz_unseal(st, ident, name, json_string_value(v), json_string_length(v), &plain, &len, err) < 0) {
            json_decref(j);
            return -1;
        }
        int r = sz_seal(st, ident, name, plain, len, &sealed, err);
        sz_wipe_free(plain, len + 1);
        if (r < 0) {
            json_decref(j);
            return -1;
        }
        json_object_set_new(j, name, json_string(sealed));
        free(sealed);
        n++;
    }
    if (n) *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (n && !*out) return sz_store_seterr(err, SZ_STORE_NOMEM, "out of memory");
    return n;
}

long long sz_store_rotate(sz_store *st, sz_store_err *err)
{
    long long total = 0;
    char sql[256];
    if (st->nkeys == 0) return sz_store_seterr(err, SZ_STORE_NO_KEY, "rotate: no store key");
    if (sz_st_begin(st, err) < 0) return -1;
    for (int k = 0; k < 3; k++) {
        const kind_desc *d = &SZ_ST_KINDS[k];
        rows r;
        snprintf(sql, sizeof sql, "SELECT %s, %s, secrets FROM %s", d->k1, d->k2, d->table);
        if (sz_st_query(st, sql, NULL, 0, &r, err) < 0) return sz_st_fail(st);
        snprintf(sql, sizeof sql, "UPDATE %s SET secrets = $3 WHERE %s = $1 AND %s = $2", d->table, d->k1, d->k2);
        for (size_t i = 0; i < r.nrows; i++) {
            const char *ident[4] = {d->kind, sz_st_cell(&r, i, 0), sz_st_cell(&r, i, 1), NULL};
            char *resealed;
            long long n = sz_st_cell(&r, i, 2) ? reseal_json(st, ident, sz_st_cell(&r, i, 2), &resealed, err) : 0;
            if (n < 0) {
                sz_st_rows_free(&r);
                return sz_st_fail(st);
            }
            if (n == 0) continue;
            sz_param p[] = {P_TEXT(ident[1]), P_TEXT(ident[2]), P_TEXT(resealed)};
            int bad = sz_st_exec(st, sql, p, 3, NULL, err) < 0;
            free(resealed);
            if (bad) {
                sz_st_rows_free(&r);
                return sz_st_fail(st);
            }
            total += n;
        }
        sz_st_rows_free(&r);
    }
    rows r;
    if (sz_st_query(st, "SELECT state, uid, provider, verifier FROM socialize_states WHERE verifier IS NOT NULL", NULL, 0,
              &r, err) < 0)
        return sz_st_fail(st);
    for (size_t i = 0; i < r.nrows; i++) {
        const char *ident[4] = {"state", sz_st_cell(&r, i, 0), sz_st_cell(&r, i, 1), sz_st_cell(&r, i, 2)};
        const char *v = sz_st_cell(&r, i, 3);
        char *plain, *sealed;
        size_t len;
        if (!sz_seal_stale(st, v)) continue;
        if (sz_unseal(st, ident, "verifier", v, strlen(v), &plain, &len, err) < 0) {
            sz_st_rows_free(&r);
            return sz_st_fail(st);
        }
        int bad = sz_seal(st, ident, "verifier", plain, len, &sealed, err) < 0;
        sz_wipe_free(plain, len + 1);
        if (!bad) {
            sz_param p[] = {P_TEXT(ident[1]), P_TEXT(sealed)};
            bad = sz_st_exec(st, "UPDATE socialize_states SET verifier = $2 WHERE state = $1", p, 2, NULL, err) < 0;
            free(sealed);
        }
        if (bad) {
            sz_st_rows_free(&r);
            return sz_st_fail(st);
        }
        total++;
    }
    sz_st_rows_free(&r);
    char *kc;
    if (sz_seal(st, SZ_ST_KEYCHECK_IDENT, "keycheck", KEYCHECK_TEXT, strlen(KEYCHECK_TEXT), &kc, err) < 0)
        return sz_st_fail(st);
    int bad = sz_st_write_meta(st, "keycheck", kc, err) < 0;
    free(kc);
    if (bad || sz_st_commit(st, err) < 0) return sz_st_fail(st);
    return total;
}
