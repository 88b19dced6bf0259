/* Graph-style OAuth steps (Facebook, docs/connections.md): the identity,
 * pages, permissions and revoke calls carrying access_token and
 * appsecret_proof in the query (nt->oauth.token_query), the reading of the
 * page list (nt->oauth.pages, paged: paging.next) and of the permissions
 * granted (nt->oauth.permissions). Sans-IO, like sz_oauth.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

/* A Graph-style call (nt->oauth.token_query): METHOD url?access_token=..&
 * appsecret_proof=hex(HMAC-SHA256(app secret, token)) (the app's appSecret,
 * else its clientSecret; no proof without either). NULL: out of memory. */
sz_request *sz_oauth_token_query(const char *method, const char *url, json_t *app, const char *at)
{
    const char *sec = jstr(app, "appSecret");
    sz_params *p = sz_params_new();
    sz_request *r = NULL;
    char *q = NULL;
    size_t n = 0;
    if (!sec || !*sec)
        sec = jstr(app, "clientSecret");
    if (!p || pset(p, "access_token", at))
        goto out;
    if (sec && *sec) {
        unsigned char md[32];
        unsigned ml = 0, i;
        char hex[65];
        if (!HMAC(EVP_sha256(), sec, (int)strlen(sec), (const unsigned char *)at, strlen(at), md, &ml) || ml != 32)
            goto out;
        for (i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        if (pset(p, "appsecret_proof", hex))
            goto out;
    }
    if (!(q = sz_url_with_query(url, p, &n)))
        goto out;
    r = sz_request_new(method, q);
    if (r && sz_request_add_header(r, "Accept", "application/json")) {
        sz_request_free(r);
        r = NULL;
    }
out:
    if (q)
        sz_free_wiped(q, n);
    sz_params_free(p);
    return r;
}

#define OA_MAX_PAGES 100   /* pages read from one reply */
#define OA_MAX_NEXT 4096   /* a paging.next URL past this is not followed */
#define OA_MAX_CURSOR 512  /* an after cursor past this is not followed */

/* The length of url's origin and path (up to '?' or '#'). */
static size_t origin_path_len(const char *u)
{
    return strcspn(u, "?#");
}

/* Whether next (a reply's paging.next) names the same origin and path as
 * the endpoint url: byte for byte, except that a "/me/" segment of the
 * endpoint may be the user's numeric id in next (Graph writes it so). */
static int same_endpoint(const char *url, const char *next)
{
    size_t ul = origin_path_len(url), nl = origin_path_len(next);
    const char *me = strstr(url, "/me/");
    size_t pre, digits;
    if (ul == nl && strncmp(url, next, ul) == 0)
        return 1;
    if (!me || (size_t)(me - url) >= ul)
        return 0;
    pre = (size_t)(me - url) + 1; /* through the '/' before "me" */
    if (nl <= pre || strncmp(url, next, pre) != 0)
        return 0;
    digits = strspn(next + pre, "0123456789");
    if (digits == 0 || digits > 32 || pre + digits > nl)
        return 0;
    return ul - pre - 2 == nl - pre - digits && strncmp(me + 3, next + pre + digits, ul - pre - 2) == 0;
}

/* The after cursor of a next URL's query (NULL: none, repeated, too long,
 * or holding a byte outside [A-Za-z0-9_.~%=-]: it goes into our URL as it
 * is). Caller frees. */
static char *after_of(const char *next)
{
    const char *q = strchr(next, '?'), *a, *found = NULL;
    size_t n = 0;
    if (!q)
        return NULL;
    for (a = q + 1; *a && *a != '#';) {
        size_t k = strcspn(a, "&#");
        if (k > 6 && strncmp(a, "after=", 6) == 0) {
            if (found)
                return NULL;
            found = a + 6;
            n = k - 6;
        }
        a += k;
        if (*a == '&')
            a++;
    }
    if (!found || n > OA_MAX_CURSOR ||
        strspn(found, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~%=-") < n)
        return NULL;
    return sz_strndup(found, n);
}

/* "pages" (args.accessToken; args.next: the previous reply's paging.next,
 * followed only on the pages endpoint's origin and path, and then only its
 * after cursor: the request is ours, on our endpoint) and "permissions"
 * (GET, the granted and declined permissions). */
sz_request *sz_oauth_graph_request_json(const net *nt, const char *op, json_t *app, json_t *args, json_t **refusal)
{
    const char *at = jstr(args, "accessToken"), *next = jstr(args, "next"), *why = "out of memory";
    int pages = strcmp(op, "pages") == 0;
    char *url, *after = NULL;
    sz_request *r = NULL;
    *refusal = NULL;
    if (!at || !*at) {
        *refusal = fail("content_invalid", "%s: missing argument '%s'", nt->name, "accessToken");
        return NULL;
    }
    url = sz_oauth_endpoint(nt, app, pages ? "pagesUrl" : "permissionsUrl",
                            pages ? nt->oauth.pages : nt->oauth.permissions, &why);
    if (!url) {
        *refusal = fail("content_invalid", "%s: the %s endpoint: %s", nt->name, op, why);
        return NULL;
    }
    if (pages && next) {
        sz_buf b;
        if (strlen(next) > OA_MAX_NEXT || !same_endpoint(url, next) || !(after = after_of(next))) {
            *refusal = fail("content_invalid", "%s: the pages reply's paging.next is not the pages endpoint "
                                               "with an after cursor; not followed%s", nt->name, "");
            sz_free_str(url);
            return NULL;
        }
        sz_buf_init(&b);
        sz_buf_adds(&b, url);
        sz_buf_adds(&b, strchr(url, '?') ? "&after=" : "?after=");
        sz_buf_adds(&b, after);
        sz_free_str(url);
        sz_free_str(after);
        if (!(url = sz_buf_finish(&b, NULL)))
            return NULL;
    }
    r = sz_oauth_token_query("GET", url, app, at);
    sz_free_str(url);
    return r;
}

/* GET /me/permissions: {data: [{permission, status}]}. {ok, scope (the
 * granted ones, space-separated), missingScopes? (asked and not granted:
 * declined or absent)}. A 400/401 with Graph code 190 is auth_expired. */
json_t *sz_oauth_permissions_reply(const net *nt, int status, json_t *j, int is_json, const char *asked)
{
    json_t *data = is_json ? json_object_get(j, "data") : NULL, *r, *m;
    sz_buf b;
    size_t i;
    char *granted;
    if (status < 200 || status >= 300 || !json_is_array(data)) {
        json_t *c = json_object_get(is_json ? json_object_get(j, "error") : NULL, "code");
        if ((status == 400 || status == 401) && json_is_integer(c) && json_integer_value(c) == 190)
            return fail("auth_expired", "%s: the permissions endpoint refused the user token (190)%s", nt->name, "");
        return fail("transient", "%s: the permissions endpoint answered %d%s", nt->name, status,
                    is_json ? "" : " (not JSON)");
    }
    sz_buf_init(&b);
    for (i = 0; i < json_array_size(data) && i < 256; i++) {
        json_t *e = json_array_get(data, i);
        const char *pm = jstr(e, "permission"), *st = jstr(e, "status");
        size_t pl = pm ? strlen(pm) : 0;
        if (!pl || pl > 64 || strspn(pm, "abcdefghijklmnopqrstuvwxyz0123456789_") != pl || !st ||
            strcmp(st, "granted") != 0)
            continue;
        if (b.len)
            sz_buf_addc(&b, ' ');
        sz_buf_adds(&b, pm);
    }
    sz_buf_addc(&b, '\0');
    if (b.failed) {
        sz_buf_reset(&b);
        return NULL;
    }
    granted = b.data;
    m = sz_oauth_missing_scopes(asked ? asked : "", granted);
    r = m ? json_pack("{s:b, s:s}", "ok", 1, "scope", granted) : NULL;
    if (r && json_array_size(m))
        json_object_set(r, "missingScopes", m);
    json_decref(m);
    sz_buf_reset(&b);
    return r;
}

/* GET /me/accounts: {ok, pages = [{id, name?, accessToken}]}: each id 1 to
 * 32 digits, each token 1 to 2048 bytes; an entry without them is skipped.
 * A 400/401 with Graph code 190 (the token) is auth_expired. */
json_t *sz_oauth_pages_reply(const net *nt, int status, json_t *j, int is_json)
{
    json_t *data = is_json ? json_object_get(j, "data") : NULL, *list, *r;
    size_t i;
    if (status < 200 || status >= 300 || !json_is_array(data)) {
        json_t *e = is_json ? json_object_get(j, "error") : NULL;
        json_t *c = json_object_get(e, "code");
        if ((status == 400 || status == 401) && json_is_integer(c) && json_integer_value(c) == 190)
            return fail("auth_expired", "%s: the pages endpoint refused the user token (190)%s", nt->name, "");
        return fail("transient", "%s: the pages endpoint answered %d%s", nt->name, status,
                    is_json ? "" : " (not JSON)");
    }
    if (!(list = json_array()))
        return NULL;
    for (i = 0; i < json_array_size(data) && json_array_size(list) < OA_MAX_PAGES; i++) {
        json_t *e = json_array_get(data, i), *o;
        const char *id = jstr(e, "id"), *tk = jstr(e, "access_token"), *nm = jstr(e, "name");
        size_t idl = id ? strlen(id) : 0;
        if (!idl || idl > 32 || strspn(id, "0123456789") != idl || !tk || !*tk || strlen(tk) > 2048)
            continue;
        o = json_pack("{s:s, s:s}", "id", id, "accessToken", tk);
        if (!o || (nm && strlen(nm) <= 300 && json_object_set_new(o, "name", json_string(nm))) ||
            json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    r = json_pack("{s:b, s:o}", "ok", 1, "pages", list);
    { /* more pages: paging.next (checked when followed) and its cursor */
        const char *next = jstr(json_object_get(j, "paging"), "next");
        char *after = next && strlen(next) <= OA_MAX_NEXT ? after_of(next) : NULL;
        if (r && after && (json_object_set_new(r, "next", json_string(next)) ||
                           json_object_set_new(r, "after", json_string(after)))) {
            json_decref(r);
            r = NULL;
        }
        sz_free_str(after);
    }
    return r;
}

