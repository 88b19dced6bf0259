/* Shared by the outbox's files (sz_outbox.c, sz_outbox_record.c). Not installed. */
#ifndef SZ_OUTBOX_INT_H
#define SZ_OUTBOX_INT_H

#include "sz_store.h"

/* The job's status written from its deliveries' states (inside the caller's
 * transaction; on PostgreSQL the job's row locked first). */
int sz_outbox_refresh_status(sz_store *st, const char *job_id, int64_t now, sz_store_err *err);

/* PostgreSQL: "UPDATE socialize_jobs SET updated_at = $2, status = " this
 * subquery over its deliveries (aliased d) then "WHERE d.job_id = ...":
 * open = queued, sending, retrying, waiting_reconnect, or unconfirmed and
 * due again (resent with its key, or read back); fresh = queued with no
 * attempt; no delivery at all counts as all sent (the rule of
 * refresh_status_read in sz_outbox.c) */
#define SZ_OUTBOX_STATUS_FROM_DELIVERIES                                                                           \
    "(SELECT CASE"                                                                                                 \
    " WHEN COALESCE(SUM(CASE WHEN d.state IN ('queued', 'sending', 'retrying', 'waiting_reconnect')"               \
    " OR (d.state = 'unconfirmed' AND d.next_at > 0) THEN 1 ELSE 0 END), 0) > 0 THEN"                              \
    " CASE WHEN COALESCE(SUM(CASE WHEN d.state = 'queued' AND d.attempts = 0 THEN 1 ELSE 0 END), 0)"               \
    " = COUNT(*) THEN 'queued' ELSE 'active' END"                                                                  \
    " WHEN COALESCE(SUM(CASE WHEN d.state = 'unconfirmed' THEN 1 ELSE 0 END), 0) > 0 THEN 'unconfirmed'"           \
    " WHEN COALESCE(SUM(CASE WHEN d.state = 'cancelled' THEN 1 ELSE 0 END), 0) > 0 THEN 'cancelled'"               \
    " WHEN COALESCE(SUM(CASE WHEN d.state = 'sent' THEN 1 ELSE 0 END), 0) = COUNT(*) THEN 'sent'"                  \
    " WHEN COALESCE(SUM(CASE WHEN d.state = 'sent' THEN 1 ELSE 0 END), 0) > 0 THEN 'partial'"                      \
    " ELSE 'dead' END FROM socialize_deliveries d"

#endif
