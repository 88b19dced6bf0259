/* Shared by the outbox's files (sz_outbox.c, sz_outbox_record.c). Not installed. */
#ifndef SZ_OUTBOX_INT_H
#define SZ_OUTBOX_INT_H

#include "sz_store.h"

/* The job's status written from its deliveries' states (inside the caller's
 * transaction; on PostgreSQL the job's row locked first). */
int sz_outbox_refresh_status(sz_store *st, const char *job_id, int64_t now, sz_store_err *err);

#endif
