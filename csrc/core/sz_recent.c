/* The read-back op ("recent", docs/delivery.md "Reading back"): the reply's
 * list of the account's recent posts made into {id, text, createdAt?}. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

/* The value at a dotted path ("post.record.text") of o, or NULL. */
static json_t *at_path(json_t *o, const char *path)
{
    char key[64];
    int depth = 0;
    while (o && path && *path && depth++ < 8) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_is_object(o) ? json_object_get(o, key) : NULL;
        path = dot ? dot + 1 : NULL;
    }
    return path && *path ? NULL : o;
}

json_t *sz_nk_recent(json_t *arr, const char *id_path, const char *text_path, const char *time_path)
{
    json_t *posts = json_array(), *r;
    size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (!posts)
        return NULL;
    if (!json_is_array(arr)) {
        sz_json_free(posts);
        return fail("transient", "the list of recent posts is missing from the reply");
    }
    for (i = 0; i < n && i < SZ_RECENT_MAX && json_array_size(posts) < SZ_RECENT_MAX; i++) {
        json_t *it = json_array_get(arr, i), *idv = at_path(it, id_path), *tv = at_path(it, text_path), *p;
        char idb[40];
        const char *id = NULL;
        long long when = time_path ? parse_iso8601(json_string_value(at_path(it, time_path))) : -1;
        if (json_is_string(idv))
            id = json_string_value(idv);
        else if (json_is_integer(idv) && json_integer_value(idv) >= 0) {
            snprintf(idb, sizeof idb, "%lld", (long long)json_integer_value(idv));
            id = idb;
        }
        /* a post without an id, or too long an id, is of no use; a post
         * without text (a photo alone) cannot be ours by its text */
        if (!id || !*id || strlen(id) > SZ_RECENT_MAX_ID || !json_is_string(tv) ||
            json_string_length(tv) > SZ_RECENT_MAX_TEXT)
            continue;
        p = json_pack("{s:s, s:O}", "id", id, "text", tv);
        if (p && when >= 0)
            json_object_set_new(p, "createdAt", json_integer(when));
        if (!p || json_array_append_new(posts, p) != 0) {
            sz_json_free(posts);
            return NULL;
        }
    }
    r = success(NULL);
    if (!r || json_object_set_new(r, "data", json_pack("{s:o, s:I, s:i}", "posts", posts, "listed", (json_int_t)n,
                                                   "asked", SZ_RECENT_COUNT)) != 0) {
        sz_json_free(r);
        return NULL;
    }
    return r;
}
