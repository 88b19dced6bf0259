/* OAuth 1.0a 3-legged connect (RFC 5849 section 2), sans-IO: the temporary
 * credentials request (oauth_callback), the authorization URL (oauth_token),
 * the token request (oauth_verifier), and the reading of their form-encoded
 * replies. The endpoints are data in the descriptor (nt->oauth1); the
 * signature is the one every OAuth 1.0a call uses (oauth1_header_x). The
 * caller gives the timestamp and the nonce: nothing here reads a clock or
 * draws randomness. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

#define O1_MAX_BODY 65536  /* a reply past this is not read */
#define O1_MAX_VALUE 2048  /* a token, secret, id or name */

/* the percent-decoded value of name in a form body (NULL: absent, too long
 * or repeated). Caller frees (wiped: it may be a secret). */
static char *form_value(const char *body, size_t len, const char *name)
{
    size_t nl = strlen(name), i = 0;
    char *out = NULL;
    while (i < len) {
        size_t e = i, k;
        while (e < len && body[e] != '&')
            e++;
        if (e - i > nl && memcmp(body + i, name, nl) == 0 && body[i + nl] == '=') {
            size_t o = 0;
            if (out || e - i - nl - 1 > O1_MAX_VALUE) {
                if (out)
                    sz_free_wiped(out, strlen(out));
                return NULL;
            }
            if (!(out = malloc(e - i - nl)))
                return NULL;
            for (k = i + nl + 1; k < e; k++) {
                char c = body[k];
                if (c == '+')
                    c = ' ';
                else if (c == '%') {
                    char hx[3] = {k + 1 < e ? body[k + 1] : 0, k + 2 < e ? body[k + 2] : 0, 0};
                    char *end;
                    long v = strtol(hx, &end, 16);
                    if (*end || !isxdigit((unsigned char)hx[0]) || !isxdigit((unsigned char)hx[1]) || v == 0) {
                        sz_free_wiped(out, o);
                        return NULL;
                    }
                    c = (char)v;
                    k += 2;
                }
                out[o++] = c;
            }
            out[o] = 0;
        }
        i = e + 1;
    }
    return out;
}

sz_request *sz_oauth1_request_json(const net *nt, const char *op, json_t *app, json_t *args, json_t **refusal)
{
    const char *ck = jstr(app, "consumerKey"), *cs = jstr(app, "consumerSecret"), *why = "out of memory";
    const char *nonce = jstr(args, "nonce");
    json_t *tsv = json_object_get(args, "timestamp");
    sz_request *r = NULL;
    char *url = NULL, *h = NULL;
    int authorize = strcmp(op, "oauth1_authorize") == 0, request = strcmp(op, "oauth1_request") == 0,
        access = strcmp(op, "oauth1_access") == 0, invalidate = strcmp(op, "oauth1_invalidate") == 0;
    *refusal = NULL;
    if (!nt->oauth1.request) {
        *refusal = fail("unsupported", "%s: no OAuth 1.0a connect flow", nt->name);
        return NULL;
    }
    if (!authorize && !request && !access && !(invalidate && nt->oauth1.invalidate)) {
        *refusal = fail("content_invalid", "%s: unknown OAuth step '%s'", nt->name, op);
        return NULL;
    }
    if (!ck || !*ck || !cs || !*cs) {
        *refusal = fail("not_connected", "%s: OAuth 1.0a needs the app's consumerKey and consumerSecret%s", nt->name, "");
        return NULL;
    }
    if (authorize) {
        const char *tk = jstr(args, "token");
        sz_params *p;
        char *q;
        if (!tk || !*tk) {
            *refusal = fail("content_invalid", "%s: missing argument 'token'%s", nt->name, "");
            return NULL;
        }
        if (!(url = sz_oauth_endpoint(nt, app, "oauth1AuthorizeUrl", nt->oauth1.authorize, &why))) {
            *refusal = fail("content_invalid", "%s: the authorization endpoint: %s", nt->name, why);
            return NULL;
        }
        q = (p = sz_params_new()) && !pset(p, "oauth_token", tk) ? sz_url_with_query(url, p, NULL) : NULL;
        sz_params_free(p);
        sz_free_str(url);
        url = q;
        r = url ? sz_request_new("GET", url) : NULL;
        sz_free_str(url);
        return r;
    }
    if (!nonce || !*nonce || !json_is_integer(tsv) || json_integer_value(tsv) <= 0) {
        *refusal = fail("content_invalid", "%s: OAuth 1.0a needs a nonce and a timestamp%s", nt->name, "");
        return NULL;
    }
    if (request) {
        const char *cb = jstr(args, "redirectURI");
        if (!cb || !url_ok(cb)) {
            *refusal = fail("content_invalid", "%s: redirectURI is not an http(s) URL%s", nt->name, "");
            return NULL;
        }
        if (!(url = sz_oauth_endpoint(nt, app, "requestTokenUrl", nt->oauth1.request, &why))) {
            *refusal = fail("content_invalid", "%s: the request token endpoint: %s", nt->name, why);
            return NULL;
        }
        h = oauth1_header_x("POST", url, ck, cs, NULL, "", (long long)json_integer_value(tsv), nonce,
                            "oauth_callback", cb, NULL);
    } else if (invalidate) { /* the user's token, signed with itself: it dies */
        const char *tk = jstr(args, "token"), *ts = jstr(args, "tokenSecret");
        if (!tk || !*tk || !ts || !*ts) {
            *refusal = fail("content_invalid", "%s: OAuth 1.0a: missing the token or its secret%s", nt->name, "");
            return NULL;
        }
        if (!(url = sz_oauth_endpoint(nt, app, "invalidateUrl", nt->oauth1.invalidate, &why))) {
            *refusal = fail("content_invalid", "%s: the invalidate endpoint: %s", nt->name, why);
            return NULL;
        }
        h = oauth1_header_x("POST", url, ck, cs, tk, ts, (long long)json_integer_value(tsv), nonce, NULL, NULL, NULL);
    } else {
        const char *tk = jstr(args, "token"), *ts = jstr(args, "tokenSecret"), *v = jstr(args, "verifier");
        if (!tk || !*tk || !ts || !v || !*v) {
            *refusal = fail("content_invalid", "%s: OAuth 1.0a: missing the request token or oauth_verifier%s",
                            nt->name, "");
            return NULL;
        }
        if (!(url = sz_oauth_endpoint(nt, app, "accessTokenUrl", nt->oauth1.access, &why))) {
            *refusal = fail("content_invalid", "%s: the access token endpoint: %s", nt->name, why);
            return NULL;
        }
        h = oauth1_header_x("POST", url, ck, cs, tk, ts, (long long)json_integer_value(tsv), nonce,
                            "oauth_verifier", v, NULL);
    }
    if (h) {
        sz_params *p = sz_params_new();
        r = p ? req_form("POST", url, p) : NULL;
        sz_params_free(p);
        if (r && (sz_request_add_header(r, "Authorization", h) || sz_request_add_header(r, "Accept", "*/*"))) {
            sz_request_free(r);
            r = NULL;
        }
        sz_free_wiped(h, strlen(h));
    }
    sz_free_str(url);
    return r;
}

/* oauth1_request: {ok, token, tokenSecret} (oauth_callback_confirmed must be
 * "true"); oauth1_access: {ok, token, tokenSecret, providerUID, nickname?}.
 * A 401 on the access step (a dead request token or verifier) is
 * auth_expired; 401 on the request step: the app's keys (not_connected);
 * 429, 5xx: transient. */
json_t *sz_oauth1_parse_json(const net *nt, const char *op, int status, const char *body, size_t len)
{
    int access = strcmp(op, "oauth1_access") == 0;
    char *tk = NULL, *ts = NULL, *id = NULL, *nick = NULL, *conf = NULL;
    json_t *r = NULL;
    if (!nt->oauth1.request)
        return fail("unsupported", "%s: no OAuth 1.0a connect flow%s", nt->name, "");
    if (strcmp(op, "oauth1_invalidate") == 0 && nt->oauth1.invalidate) {
        /* 200: gone; 401 (89, invalid or expired token): gone already */
        if ((status >= 200 && status < 300) || status == 401)
            r = json_pack("{s:b, s:s}", "ok", 1, "provider", nt->name);
        else
            r = fail(status == 429 || status >= 500 || status <= 0 ? "transient" : "content_invalid",
                     "%s: the invalidate endpoint answered %d", nt->name, status);
        return r;
    }
    if (!access && strcmp(op, "oauth1_request") != 0)
        return fail("content_invalid", "%s: unknown OAuth step '%s'", nt->name, op);
    if (status == 429 || status >= 500 || status <= 0)
        return fail("transient", "%s: the OAuth 1.0a endpoint answered %d", nt->name, status);
    if (status == 401)
        return access ? fail("auth_expired", "%s: the access token request was refused (401): the request token "
                                             "or the verifier is no longer valid: connect again%s", nt->name, "")
                      : fail("not_connected", "%s: the request token call was refused (401): the app's "
                                              "consumerKey/consumerSecret or its callback URL%s", nt->name, "");
    if (status < 200 || status >= 300)
        return fail("content_invalid", "%s: the OAuth 1.0a endpoint answered %d", nt->name, status);
    if (!body || len > O1_MAX_BODY)
        return fail("transient", "%s: the OAuth 1.0a reply is empty or too long%s", nt->name, "");
    tk = form_value(body, len, "oauth_token");
    ts = form_value(body, len, "oauth_token_secret");
    if (access) {
        id = form_value(body, len, nt->oauth1.account ? nt->oauth1.account : "user_id");
        if (nt->oauth1.nick)
            nick = form_value(body, len, nt->oauth1.nick);
    } else {
        conf = form_value(body, len, "oauth_callback_confirmed");
    }
    if (!tk || !*tk || !ts || !*ts || (access && (!id || !*id || strspn(id, "0123456789") != strlen(id))))
        r = fail("transient", "%s: the OAuth 1.0a reply lacks oauth_token, oauth_token_secret%s", nt->name,
                 access ? " or a numeric account id" : "");
    else if (!access && (!conf || strcmp(conf, "true") != 0))
        r = fail("content_invalid", "%s: the request token reply did not confirm the callback%s", nt->name, "");
    else {
        r = json_pack("{s:b, s:s, s:s}", "ok", 1, "token", tk, "tokenSecret", ts);
        if (r && access && (json_object_set_new(r, "providerUID", json_string(id)) ||
                            (nick && json_object_set_new(r, "nickname", json_string(nick))))) {
            sz_json_free(r);
            r = NULL;
        }
    }
    if (tk)
        sz_free_wiped(tk, strlen(tk));
    if (ts)
        sz_free_wiped(ts, strlen(ts));
    free(id);
    free(nick);
    free(conf);
    if (r)
        json_object_set_new(r, "provider", json_string(nt->name));
    return r;
}
