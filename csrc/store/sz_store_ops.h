/* The store's shared machinery (sz_store.c), used by sz_store_ops.c. */
#ifndef SZ_STORE_OPS_H
#define SZ_STORE_OPS_H
#include "sz_store_int.h"

/* a result copied out of the engine */
typedef struct {
    char **v;     /* nrows * ncol, each NUL-terminated (NULL for SQL NULL) */
    size_t *n;
    size_t nrows, cap;
    int ncol, oom;
} rows;

typedef struct {
    const char *kind, *table, *k1, *k2, *n1, *n2; /* n1, n2: the names in messages */
} kind_desc;

extern const kind_desc SZ_ST_KINDS[3];
extern const char *const SZ_ST_KEYCHECK_IDENT[4];
#define KEYCHECK_TEXT "socialize-store-keycheck"

int sz_st_rows_add(void *ud, int ncol, const char *const *vals, const size_t *lens);
void sz_st_rows_free(rows *r);
const char *sz_st_cell(const rows *r, size_t row, int col);
char *sz_st_take(rows *r, size_t row, int col);
int sz_st_query(sz_store *st, const char *sql, const sz_param *p, int np, rows *r, sz_store_err *err);
int sz_st_exec(sz_store *st, const char *sql, const sz_param *p, int np, long long *changes, sz_store_err *err);
int sz_st_begin(sz_store *st, sz_store_err *err);
int sz_st_commit(sz_store *st, sz_store_err *err);
int sz_st_fail(sz_store *st);
int sz_st_giveback(sz_store *st);
int sz_st_utf8_ok(const unsigned char *s, size_t n);
int sz_st_check_id(const char *s, const char *what, int required, sz_store_err *err);
int sz_st_write_meta(sz_store *st, const char *name, const char *value, sz_store_err *err);
#endif
