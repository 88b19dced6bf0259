/* Graph-style OAuth steps (Facebook, docs/connections.md): the identity,
 * pages and revoke calls carrying access_token and appsecret_proof in the
 * query (nt->oauth.token_query), and the reading of the page list
 * (nt->oauth.pages). Sans-IO, like sz_oauth.c. */
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

#define OA_MAX_PAGES 100 /* pages read from one reply */

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
    return r;
}

