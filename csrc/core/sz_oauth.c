/* OAuth 2.0 connect primitives (docs/connections.md), sans-IO: PKCE from the
 * caller's random bytes, the authorization URL of a network, the token
 * requests (authorization_code, refresh_token), the identity request, the
 * revoke request, and the reading of their replies. Everything a network
 * says about its OAuth is data in its descriptor (nt->oauth); nothing here
 * names a network. Nothing here sends, reads a clock or draws randomness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "sz_netkit.h"

#define OA_MAX_EXPIRES 315360000LL /* expires_in saturated at 10 years */
#define OA_MAX_TEXT 200            /* what a network's error text may show */
#define OA_MAX_SCOPES 4096         /* bytes of a scope list */
#define OA_MAX_BODY 1048576        /* a token or identity reply past this is not read */

/* ---- PKCE (RFC 7636) ------------------------------------------------------ */

/* verifier = base64url(rnd) without padding (32 to 96 bytes give 43 to 128
 * characters, RFC 7636 4.1); challenge = base64url(SHA-256(verifier)). */
int sz_oauth_pkce(const unsigned char *rnd, size_t n, char verifier[129], char challenge[44],
                  sz_error *err)
{
    sz_buf b;
    unsigned char md[32];
    unsigned mdlen = 0;
    char *v;
    size_t vl = 0;
    if (!rnd || n < 32 || n > 96) {
        sz_seterr(err, SZ_EINVALID, "PKCE: the random bytes must be 32 to 96 bytes, got %zu", rnd ? n : 0);
        return -1;
    }
    sz_buf_init(&b);
    sz_base64_encode_buf(&b, rnd, n, 1);
    v = sz_buf_finish(&b, &vl);
    if (!v || vl < 43 || vl > 128) {
        sz_free_str(v);
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return -1;
    }
    memcpy(verifier, v, vl + 1);
    sz_free_wiped(v, vl);
    if (!EVP_Digest(verifier, vl, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        sz_seterr(err, SZ_ECRYPTO, "PKCE: SHA-256 failed");
        return -1;
    }
    sz_buf_init(&b);
    sz_base64_encode_buf(&b, md, 32, 1);
    v = sz_buf_finish(&b, &vl);
    if (!v || vl != 43) {
        sz_free_str(v);
        sz_seterr(err, SZ_ENOMEM, "out of memory");
        return -1;
    }
    memcpy(challenge, v, 44);
    sz_free_str(v);
    return 0;
}

/* ---- endpoints ------------------------------------------------------------- */

/* The endpoint URL: app[key] when given (an absolute http(s) URL), else the
 * descriptor's, its origin replaced by app.baseUrl when that is set (the
 * sandbox, a proxy). NULL with *why set. Caller frees. */
char *sz_oauth_endpoint(const net *nt, json_t *app, const char *key, const char *url, const char **why)
{
    const char *o = jstr(app, key), *base = jstr(app, "baseUrl"), *path;
    sz_buf b;
    if (o && *o) {
        if (!url_ok(o)) {
            *why = "not an http(s) URL";
            return NULL;
        }
        return sz_strndup(o, strlen(o));
    }
    if (!url) {
        *why = "the network has no such endpoint";
        return NULL;
    }
    if (!base || !*base)
        return sz_strndup(url, strlen(url));
    if (!url_ok(base)) {
        *why = "app.baseUrl is not an http(s) URL";
        return NULL;
    }
    path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    sz_buf_init(&b);
    sz_buf_add(&b, base, strlen(base) - (base[strlen(base) - 1] == '/'));
    sz_buf_adds(&b, path ? path : "/");
    (void)nt;
    return sz_buf_finish(&b, NULL);
}

/* A scope list (a string with spaces or commas, or an array of strings)
 * normalised to one space-separated string; the descriptor's default when
 * absent. NULL with *why set when malformed. Caller frees. */
static char *scope_list(const net *nt, json_t *v, const char **why)
{
    sz_buf b;
    size_t i;
    sz_buf_init(&b);
    if (!v || json_is_null(v)) {
        sz_buf_adds(&b, nt->oauth.scopes ? nt->oauth.scopes : "");
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int sp = 0;
        for (; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if (ch == ' ' || ch == ',') {
                sp = b.len > 0;
                continue;
            }
            if (ch < 0x21 || ch == '"' || ch == '\\' || ch > 0x7e) {
                sz_buf_reset(&b);
                *why = "a scope holds a character RFC 6749 3.3 does not allow";
                return NULL;
            }
            if (sp)
                sz_buf_addc(&b, ' ');
            sp = 0;
            sz_buf_addc(&b, (char)ch);
        }
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            const char *s = json_string_value(e);
            if (!s || !*s || strcspn(s, " ,\"\\") != strlen(s)) {
                sz_buf_reset(&b);
                *why = "scopes[] must be non-empty strings without spaces";
                return NULL;
            }
            if (b.len)
                sz_buf_addc(&b, ' ');
            sz_buf_adds(&b, s);
        }
    } else {
        *why = "scopes must be a string or a list of strings";
        return NULL;
    }
    if (b.len > OA_MAX_SCOPES) {
        sz_buf_reset(&b);
        *why = "the scope list is longer than 4096 bytes";
        return NULL;
    }
    return sz_buf_finish(&b, NULL);
}

static json_t *refuse(const char *cat, const char *fmt, const char *a, const char *b)
{
    return fail(cat, fmt, a, b);
}

/* A required string argument: NULL (and *r set) when absent or empty. */
static const char *need(json_t *o, const char *k, const char *prov, const char *what, json_t **r)
{
    const char *v = jstr(o, k);
    if (v && *v)
        return v;
    int app = what[0] == 'a' && what[1] == 'p';
    /* an app setting names where it goes: config.providers.<network>.<name> */
    *r = fail(app ? "not_connected" : "content_invalid", "%s: missing %s '%s'%s%s%s%s%s", prov, what, k,
              app ? " (config.providers." : "", app ? prov : "", app ? "." : "", app ? k : "", app ? ")" : "");
    return NULL;
}

/* The client authentication of a token or revoke call: HTTP Basic
 * (RFC 6749 2.3.1, each part form-encoded) when the network wants it and
 * the app has a secret, else client_id (and client_secret) in the body. */
static int client_auth(const net *nt, sz_request *r, sz_params *p, const char *id, const char *secret)
{
    if (nt->oauth.basic && secret && *secret) {
        sz_buf u, b;
        char *raw;
        size_t n = 0;
        int rc;
        sz_buf_init(&u);
        sz_url_encode_buf(&u, id, strlen(id));
        sz_buf_addc(&u, ':');
        sz_url_encode_buf(&u, secret, strlen(secret));
        raw = sz_buf_finish(&u, &n);
        if (!raw)
            return -1;
        sz_buf_init(&b);
        sz_buf_adds(&b, "Basic ");
        sz_base64_encode_buf(&b, (const unsigned char *)raw, n, 0);
        sz_free_wiped(raw, n);
        if (b.failed) {
            sz_buf_reset(&b);
            return -1;
        }
        sz_buf_addc(&b, '\0');
        rc = b.failed ? -1 : sz_request_add_header(r, "Authorization", b.data);
        sz_wipe(b.data, b.len);
        sz_buf_reset(&b);
        return rc;
    }
    if (p) {
        if (pset(p, "client_id", id))
            return -1;
        if (secret && *secret && pset(p, "client_secret", secret))
            return -1;
    }
    return 0;
}


/* The POST of a token or revoke call with the client's authentication:
 * HTTP Basic (RFC 6749 2.3.1) when the network wants it and the app has a
 * secret (client_id is still sent in the body, as X's docs show), else
 * client_id (and client_secret) in the body. NULL: out of memory. */
static sz_request *finish_form(const net *nt, const char *url, sz_params *p, const char *id, const char *secret)
{
    int basic = nt->oauth.basic && secret && *secret;
    sz_request *r;
    if (pset(p, "client_id", id) || (!basic && secret && *secret && pset(p, "client_secret", secret)))
        return NULL;
    if (!(r = req_form("POST", url, p)))
        return NULL;
    if ((basic && client_auth(nt, r, NULL, id, secret)) || sz_request_add_header(r, "Accept", "application/json")) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

/* A GET of url with p as its query (appended after '?' or '&'). NULL: out of memory. */
static sz_request *get_with(const char *url, sz_params *p)
{
    size_t n = 0;
    char *u;
    sz_request *r = NULL;
    if ((u = sz_url_with_query(url, p, &n))) {
        r = sz_request_new("GET", u);
        if (r && sz_request_add_header(r, "Accept", "application/json")) {
            sz_request_free(r);
            r = NULL;
        }
        sz_free_wiped(u, n);
    }
    return r;
}

/* The request of one OAuth step of a network (op: "authorize", "token",
 * "refresh", "identity", "revoke"), from the app config (clientId,
 * clientSecret, baseUrl, authorizeUrl/tokenUrl/revokeUrl/identityUrl) and the
 * step's arguments. NULL with *refusal set (a failure result; NULL with no
 * refusal: out of memory). "authorize" gives a GET whose url is where to send
 * the user. */
sz_request *sz_oauth_request_json(const char *provider, const char *op, json_t *app, json_t *args,
                                  json_t **refusal)
{
    const net *nt = provider ? sz_net_find(provider) : NULL;
    sz_request *r = NULL;
    sz_params *p = NULL;
    char *url = NULL, *scopes = NULL;
    const char *why = "out of memory", *id, *secret;
    *refusal = NULL;
    if (nt && op && strncmp(op, "oauth1_", 7) == 0)
        return sz_oauth1_request_json(nt, op, app, args, refusal);
    if (!nt || !nt->oauth.authorize) {
        *refusal = fail("unsupported", "%s: no OAuth 2.0 connect flow", provider ? provider : "(none)");
        return NULL;
    }
    if (!(id = (nt->oauth.instance && (strcmp(op, "register") == 0 || strcmp(op, "discover") == 0))
                   ? "" : need(app, "clientId", nt->name, "app config", refusal)))
        return NULL;
    if ((strcmp(op, "pages") == 0 && nt->oauth.pages) || (strcmp(op, "permissions") == 0 && nt->oauth.permissions))
        return sz_oauth_graph_request_json(nt, op, app, args, refusal); /* sz_oauth_graph.c */
    secret = jstr(app, "clientSecret");
    if (!(p = sz_params_new()))
        return NULL;
    if (strcmp(op, "authorize") == 0) {
        const char *redirect = need(args, "redirectURI", nt->name, "argument", refusal), *state,
                   *challenge = jstr(args, "challenge");
        if (!redirect || !(state = need(args, "state", nt->name, "argument", refusal)))
            goto done;
        if (!url_ok(redirect)) {
            *refusal = refuse("content_invalid", "%s: redirectURI is not an http(s) URL%s", nt->name, "");
            goto done;
        }
        if (nt->oauth.pkce && (!challenge || strlen(challenge) != 43)) {
            *refusal = refuse("content_invalid", "%s: the network requires PKCE: a 43-character S256 challenge%s",
                              nt->name, "");
            goto done;
        }
        if (!(scopes = scope_list(nt, json_object_get(args, "scopes"), &why))) {
            *refusal = refuse("content_invalid", "%s: %s", nt->name, why);
            goto done;
        }
        if (nt->oauth.scope_sep) /* Threads: comma-separated */
            for (char *c = scopes; *c; c++)
                if (*c == ' ')
                    *c = nt->oauth.scope_sep;
        if (!(url = sz_oauth_endpoint(nt, app, "authorizeUrl", nt->oauth.authorize, &why))) {
            *refusal = refuse("content_invalid", "%s: the authorization endpoint: %s", nt->name, why);
            goto done;
        }
        if (pset(p, "response_type", "code") || pset(p, "client_id", id) || pset(p, "redirect_uri", redirect) ||
            pset(p, "state", state) || (*scopes && pset(p, "scope", scopes)) ||
            (challenge && *challenge &&
             (pset(p, "code_challenge", challenge) || pset(p, "code_challenge_method", "S256"))))
            goto done;
        {
            char *u = sz_url_with_query(url, p, NULL);
            sz_free_str(url);
            if (!(url = u))
                goto done;
            r = sz_request_new("GET", url);
        }
    } else if ((strcmp(op, "register") == 0 || strcmp(op, "discover") == 0) && nt->oauth.instance) {
        /* per instance (Mastodon): app.baseUrl is the instance */
        const char *base = need(app, "baseUrl", nt->name, "app config", refusal), *redirect;
        if (!base || !(url = sz_oauth_endpoint(nt, app, "-", op[0] == 'r' ? nt->oauth.register_path : nt->oauth.discovery,
                                      &why))) {
            if (!*refusal)
                *refusal = refuse("content_invalid", "%s: the instance: %s", nt->name, why);
            goto done;
        }
        if (op[0] == 'd') {
            r = get_with(url, p);
            goto done;
        }
        if (!(redirect = need(args, "redirectURI", nt->name, "argument", refusal)))
            goto done;
        if (!(scopes = scope_list(nt, json_object_get(args, "scopes"), &why))) {
            *refusal = refuse("content_invalid", "%s: %s", nt->name, why);
            goto done;
        }
        if (pset(p, "client_name", jstr(app, "clientName") ? jstr(app, "clientName") : "socialize") ||
            pset(p, "redirect_uris", redirect) || pset(p, "scopes", scopes) ||
            (jstr(app, "website") && pset(p, "website", jstr(app, "website"))))
            goto done;
        if ((r = req_form("POST", url, p)) && sz_request_add_header(r, "Accept", "application/json")) {
            sz_request_free(r);
            r = NULL;
        }
    } else if ((strcmp(op, "refresh") == 0 && nt->oauth.refresh_get) || strcmp(op, "exchange") == 0) {
        /* Threads: GET, the access token itself (refresh), or the short-lived
         * one with the client secret (exchange) */
        int ex = op[0] == 'e';
        const char *tk = need(args, ex ? "accessToken" : "refreshToken", nt->name, "argument", refusal);
        if (!tk)
            goto done;
        if (ex && !nt->oauth.exchange) {
            *refusal = refuse("unsupported", "%s: the network has no token exchange%s", nt->name, "");
            goto done;
        }
        if (ex && !(secret && *secret)) {
            *refusal = fail("not_connected", "%s: missing app config 'clientSecret' (config.providers.%s.clientSecret)",
                            nt->name, nt->name);
            goto done;
        }
        if (!(url = sz_oauth_endpoint(nt, app, ex ? "exchangeUrl" : "tokenUrl", ex ? nt->oauth.exchange : nt->oauth.refresh_get,
                             &why))) {
            *refusal = refuse("content_invalid", "%s: the token endpoint: %s", nt->name, why);
            goto done;
        }
        if (pset(p, "grant_type", ex ? nt->oauth.exchange_grant : nt->oauth.refresh_grant) ||
            (ex && nt->oauth.exchange_param && pset(p, "client_id", id)) || /* Facebook's form */
            (ex && pset(p, "client_secret", secret)) ||
            pset(p, ex && nt->oauth.exchange_param ? nt->oauth.exchange_param : "access_token", tk))
            goto done;
        r = get_with(url, p);
    } else if (strcmp(op, "token") == 0 || strcmp(op, "refresh") == 0) {
        int refresh = op[0] == 'r';
        if (!(url = sz_oauth_endpoint(nt, app, "tokenUrl", nt->oauth.token, &why))) {
            *refusal = refuse("content_invalid", "%s: the token endpoint: %s", nt->name, why);
            goto done;
        }
        if (nt->oauth.callback_param) { /* e.g. device_id: from the callback, kept since */
            const char *ex = need(args, "extra", nt->name, "argument", refusal);
            if (!ex || pset(p, nt->oauth.callback_param, ex))
                goto done;
        }
        if (nt->oauth.token_state) {
            const char *st = need(args, "state", nt->name, "argument", refusal);
            if (!st || pset(p, "state", st))
                goto done;
        }
        if (refresh) {
            const char *rt = need(args, "refreshToken", nt->name, "argument", refusal);
            if (!rt)
                goto done;
            if (pset(p, "grant_type", "refresh_token") || pset(p, "refresh_token", rt))
                goto done;
        } else {
            const char *code = need(args, "code", nt->name, "argument", refusal), *redirect, *verifier;
            if (!code || !(redirect = need(args, "redirectURI", nt->name, "argument", refusal)))
                goto done;
            verifier = jstr(args, "verifier");
            if (nt->oauth.pkce && (!verifier || strlen(verifier) < 43 || strlen(verifier) > 128)) {
                *refusal = refuse("content_invalid", "%s: the network requires PKCE: a verifier of 43 to 128 "
                                  "characters%s", nt->name, "");
                goto done;
            }
            if (pset(p, "grant_type", "authorization_code") || pset(p, "code", code) ||
                pset(p, "redirect_uri", redirect) || (verifier && pset(p, "code_verifier", verifier)))
                goto done;
        }
        r = finish_form(nt, url, p, id, secret);
    } else if (strcmp(op, "identity") == 0) {
        const char *at = need(args, "accessToken", nt->name, "argument", refusal);
        sz_buf b;
        if (!at)
            goto done;
        if (!(url = sz_oauth_endpoint(nt, app, "identityUrl", nt->oauth.identity, &why))) {
            *refusal = refuse("content_invalid", "%s: the identity endpoint: %s", nt->name, why);
            goto done;
        }
        if (nt->oauth.token_query) {
            r = sz_oauth_token_query("GET", url, app, at);
            goto done;
        }
        if (nt->oauth.identity_query) { /* the account the token reply named */
            const char *acc = need(args, "account", nt->name, "argument", refusal);
            sz_buf q;
            if (!acc)
                goto done;
            sz_buf_init(&q);
            sz_buf_adds(&q, url);
            sz_buf_addc(&q, strchr(url, '?') ? '&' : '?');
            sz_buf_adds(&q, nt->oauth.identity_query);
            sz_buf_addc(&q, '=');
            sz_url_encode_buf(&q, acc, strlen(acc));
            sz_free_str(url);
            if (!(url = sz_buf_finish(&q, NULL)))
                goto done;
        }
        if (nt->oauth.identity_post) {
            if (pset(p, "access_token", at) || pset(p, "client_id", id))
                goto done;
            r = req_form("POST", url, p);
            if (r && sz_request_add_header(r, "Accept", "application/json")) {
                sz_request_free(r);
                r = NULL;
            }
            goto done;
        }
        if (!(r = sz_request_new("GET", url)))
            goto done;
        sz_buf_init(&b);
        sz_buf_adds(&b, nt->oauth.auth_scheme ? nt->oauth.auth_scheme : "Bearer");
        sz_buf_addc(&b, ' ');
        sz_buf_adds(&b, at);
        sz_buf_addc(&b, '\0');
        if (b.failed || sz_request_add_header(r, "Authorization", b.data) ||
            sz_request_add_header(r, "Accept", "application/json")) {
            sz_request_free(r);
            r = NULL;
        }
        if (b.data)
            sz_wipe(b.data, b.len);
        sz_buf_reset(&b);
    } else if (strcmp(op, "revoke") == 0) {
        const char *tk = need(args, "token", nt->name, "argument", refusal), *hint = jstr(args, "hint");
        if (!tk)
            goto done;
        if (!nt->oauth.revoke && !jstr(app, "revokeUrl")) {
            *refusal = refuse("unsupported", "%s: the network has no revoke endpoint%s", nt->name, "");
            goto done;
        }
        if (!(url = sz_oauth_endpoint(nt, app, "revokeUrl", nt->oauth.revoke, &why))) {
            *refusal = refuse("content_invalid", "%s: the revoke endpoint: %s", nt->name, why);
            goto done;
        }
        if (nt->oauth.token_query) {
            r = sz_oauth_token_query("DELETE", url, app, tk);
            goto done;
        }
        if (nt->oauth.revoke_param ? pset(p, nt->oauth.revoke_param, tk)
                                   : (pset(p, "token", tk) || (hint && *hint && pset(p, "token_type_hint", hint))))
            goto done;
        r = finish_form(nt, url, p, id, secret);
    } else {
        *refusal = fail("content_invalid", "%s: unknown OAuth step '%s'", nt->name, op);
    }
done:
    sz_params_free(p);
    sz_free_str(url);
    sz_free_str(scopes);
    return r;
}

/* ---- replies ------------------------------------------------------------- */

/* A network's text for a message: at most OA_MAX_TEXT bytes of printable
 * ASCII (anything else becomes '?'), never a token (the caller never puts
 * one there). */
static void safe_text(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s && *s && i + 1 < n && i < OA_MAX_TEXT; s++)
        out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[i] = 0;
}

static json_t *object_at(json_t *j, const char *path, char *buf, size_t bn)
{
    char seg[64];
    const char *p = path;
    while (j && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = 0;
        j = json_object_get(j, seg);
        p += n + (p[n] == '.');
    }
    (void)buf;
    (void)bn;
    return j;
}

/* scope names asked and not in the granted list (both space-separated) */
json_t *sz_oauth_missing_scopes(const char *asked, const char *granted)
{
    json_t *m = json_array();
    const char *a = asked;
    while (m && a && *a) {
        size_t n = strcspn(a, " ");
        const char *g = granted;
        int found = 0;
        while (n && *g) {
            size_t k = strcspn(g, " ,");
            if (k == n && strncmp(a, g, n) == 0)
                found = 1;
            g += k;
            g += strspn(g, " ,");
        }
        if (n && !found) {
            char *s = sz_strndup(a, n);
            if (!s || json_array_append_new(m, json_string(s))) {
                sz_free_str(s);
                json_decref(m);
                return NULL;
            }
            sz_free_str(s);
        }
        a += n;
        a += strspn(a, " ");
    }
    return m;
}

/* The failure of a token call from its status and error code (RFC 6749 5.2):
 * only invalid_grant says the grant (the refresh token, the code) is dead:
 * "auth_expired", which marks a stored connection expired. 429, 5xx and
 * anything not JSON are "transient": the connection stays as it was. */
static json_t *token_failure(const net *nt, int status, json_t *j, int is_json)
{
    const char *code = is_json ? jstr(j, "error") : NULL;
    const char *desc = is_json ? jstr(j, "error_description") : NULL;
    char c[OA_MAX_TEXT + 1], d[OA_MAX_TEXT + 1];
    json_t *r;
    safe_text(code, c, sizeof c);
    safe_text(desc, d, sizeof d);
    if (status == 429 || status >= 500 || status <= 0 || !is_json)
        r = fail("transient", "%s: the token endpoint answered %d%s%s", nt->name, status,
                 is_json ? " " : " (not JSON)", c);
    else if (code && strcmp(code, "invalid_grant") == 0)
        r = fail("auth_expired", "%s: invalid_grant%s%s (the grant is no longer valid: connect again)", nt->name,
                 *d ? ": " : "", d);
    else if (code && (strcmp(code, "invalid_client") == 0 || strcmp(code, "unauthorized_client") == 0))
        r = fail("not_connected", "%s: %s%s%s (the app's clientId/clientSecret)", nt->name, c, *d ? ": " : "", d);
    else if (status >= 200 && status < 300)
        r = fail("transient", "%s: the token reply has no access_token", nt->name);
    else
        r = fail("content_invalid", "%s: the token endpoint answered %d %s%s%s", nt->name, status,
                 *c ? c : "(no error code)", *d ? ": " : "", d);
    if (r) {
        json_object_set_new(r, "oauthError", json_string(*c ? c : ""));
        json_object_set_new(r, "httpStatus", json_integer(status));
    }
    return r;
}

/* Reads the reply of an OAuth step (op: "token", "refresh", "identity",
 * "revoke"). token/refresh: {ok, accessToken, refreshToken?, expiresIn,
 * expiresAt (0: no expiry said), scope, missingScopes?}; args.scopes is what
 * was asked (missingScopes lists what the grant lacks). identity: {ok,
 * providerUID, nickname?}. revoke: {ok} (a 200, or a 400 invalid_token for a
 * token already gone). Failures as sz_nk_fail results with a category. Never
 * NULL unless memory runs out. */
json_t *sz_oauth_parse_json(const char *provider, const char *op, int status, const char *body, size_t len,
                            long long now, json_t *args)
{
    const net *nt = provider ? sz_net_find(provider) : NULL;
    json_t *j = NULL, *r;
    int is_json = 0;
    if (nt && op && strncmp(op, "oauth1_", 7) == 0)
        return sz_oauth1_parse_json(nt, op, status, body, len);
    if (!nt || !nt->oauth.authorize)
        return fail("unsupported", "%s: no OAuth 2.0 connect flow", provider ? provider : "(none)");
    if (body && len && len <= OA_MAX_BODY) {
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        is_json = json_is_object(j);
    }
    if (strcmp(op, "token") == 0 || strcmp(op, "refresh") == 0 || strcmp(op, "exchange") == 0) {
        const char *at = is_json ? jstr(j, "access_token") : NULL, *rt, *tt, *scope;
        json_t *ei;
        long long expires = 0;
        char *asked = NULL;
        const char *why = NULL;
        int bad = 0;
        if (status < 200 || status >= 300 || !at || !*at) {
            r = token_failure(nt, status, j, is_json);
            goto out;
        }
        tt = jstr(j, "token_type");
        if (tt && strcasecmp(tt, "bearer") != 0) {
            r = fail("transient", "%s: the token reply's token_type is not bearer", nt->name);
            goto out;
        }
        ei = json_object_get(j, "expires_in");
        if (json_is_integer(ei))
            expires = json_integer_value(ei);
        else if (json_is_real(ei))
            expires = sz_sat_from_double(json_real_value(ei));
        else if (json_is_string(ei) && sz_parse_uint(json_string_value(ei), &expires) != 0)
            expires = 0;
        if (expires < 0)
            expires = 0;
        if (expires > OA_MAX_EXPIRES)
            expires = OA_MAX_EXPIRES;
        rt = jstr(j, "refresh_token");
        scope = jstr(j, "scope");
        r = json_pack("{s:b, s:s, s:I, s:I}", "ok", 1, "accessToken", at, "expiresIn", (json_int_t)expires,
                      "expiresAt", (json_int_t)(expires ? sz_sat_add(now, expires) : 0));
        /* every field or none: a lost refreshToken or missingScopes under
         * memory pressure would keep a spent token or accept a narrow grant */
        if (!r || (rt && *rt && json_object_set_new(r, "refreshToken", json_string(rt))))
            bad = 1;
        if (!bad && nt->oauth.token_account) { /* the account the reply names (a string or integer) */
            json_t *av = json_object_get(j, nt->oauth.token_account);
            char ab[32];
            const char *acc = json_is_string(av) ? json_string_value(av) : NULL;
            if (json_is_integer(av)) {
                snprintf(ab, sizeof ab, "%lld", (long long)json_integer_value(av));
                acc = ab;
            }
            if (!acc || !*acc || strlen(acc) > 300) {
                sz_json_free(r);
                r = fail("transient", "%s: the token reply has no account (%s)", nt->name, nt->oauth.token_account);
                goto out;
            }
            if (json_object_set_new(r, "account", json_string(acc)))
                bad = 1;
        }
        asked = scope_list(nt, json_object_get(args, "scopes"), &why);
        if (!asked && !why)
            bad = 1;
        if (!bad && scope) {
            char *granted;
            why = NULL;
            granted = scope_list(nt, json_object_get(j, "scope"), &why);
            if (!granted && !why)
                bad = 1;
            else if (json_object_set_new(r, "scope", json_string(granted ? granted : "")))
                bad = 1;
            if (!bad && asked) {
                json_t *m = sz_oauth_missing_scopes(asked, granted ? granted : "");
                if (!m)
                    bad = 1;
                else if (!json_array_size(m))
                    json_decref(m);
                else if (json_object_set_new(r, "missingScopes", m))
                    bad = 1;
            }
            sz_free_str(granted);
        } else if (!bad) { /* RFC 6749 5.1: no scope means the scope asked */
            if (json_object_set_new(r, "scope", json_string(asked ? asked : "")))
                bad = 1;
        }
        sz_free_str(asked);
        if (bad) {
            sz_json_free(r);
            r = NULL;
        }
    } else if (strcmp(op, "register") == 0) { /* {client_id, client_secret} */
        const char *ci = is_json ? jstr(j, "client_id") : NULL, *cs = is_json ? jstr(j, "client_secret") : NULL;
        if (status >= 200 && status < 300 && ci && *ci && cs && *cs && strlen(ci) <= 512 && strlen(cs) <= 512)
            r = json_pack("{s:b, s:s, s:s}", "ok", 1, "clientId", ci, "clientSecret", cs);
        else if (status == 429 || status >= 500 || status <= 0 || !is_json)
            r = fail("transient", "%s: the instance's app registration answered %d", nt->name, status);
        else
            r = fail("content_invalid", "%s: the instance refused the app registration (%d)", nt->name, status);
    } else if (strcmp(op, "pages") == 0) {
        r = sz_oauth_pages_reply(nt, status, j, is_json);
    } else if (strcmp(op, "permissions") == 0) {
        r = sz_oauth_permissions_reply(nt, status, j, is_json, jstr(args, "scopes"));
    } else if (strcmp(op, "discover") == 0) { /* RFC 8414: PKCE when S256 is listed */
        json_t *m = is_json && status == 200 ? json_object_get(j, "code_challenge_methods_supported") : NULL;
        size_t i;
        int s256 = 0;
        for (i = 0; json_is_array(m) && i < json_array_size(m) && i < 16; i++) {
            const char *v = json_string_value(json_array_get(m, i));
            s256 |= v && strcmp(v, "S256") == 0;
        }
        r = json_pack("{s:b, s:b}", "ok", 1, "pkce", s256);
    } else if (strcmp(op, "identity") == 0) {
        char idb[64];
        json_t *idv = is_json ? object_at(j, nt->oauth.id_path ? nt->oauth.id_path : "id", NULL, 0) : NULL;
        json_t *nv = is_json && nt->oauth.nick_path ? object_at(j, nt->oauth.nick_path, NULL, 0) : NULL;
        const char *id = NULL;
        if (json_is_string(idv))
            id = json_string_value(idv);
        else if (json_is_integer(idv)) {
            snprintf(idb, sizeof idb, "%lld", (long long)json_integer_value(idv));
            id = idb;
        }
        if (status == 401)
            r = fail("auth_expired", "%s: the identity endpoint refused the new token (401)", nt->name);
        else if (status < 200 || status >= 300 || !is_json)
            r = fail("transient", "%s: the identity endpoint answered %d%s", nt->name, status,
                     is_json ? "" : " (not JSON)");
        else if (!id || !*id || strlen(id) > 300)
            r = fail("transient", "%s: the identity reply has no account id (%s)", nt->name,
                     nt->oauth.id_path ? nt->oauth.id_path : "id");
        else {
            r = json_pack("{s:b, s:s}", "ok", 1, "providerUID", id);
            if (r && json_is_string(nv) && json_string_length(nv) <= 300)
                json_object_set_new(r, "nickname", json_string(json_string_value(nv)));
        }
    } else if (strcmp(op, "revoke") == 0) {
        const char *code = is_json ? jstr(j, "error") : NULL;
        if ((status >= 200 && status < 300) || (status == 400 && code && strcmp(code, "invalid_token") == 0))
            r = json_pack("{s:b}", "ok", 1);
        else
            r = token_failure(nt, status, j, is_json);
    } else {
        r = fail("content_invalid", "%s: unknown OAuth step '%s'", nt->name, op);
    }
out:
    sz_json_free(j); /* a token reply: wiped */
    if (r)
        json_object_set_new(r, "provider", json_string(nt->name));
    return r;
}

/* What provider_info says of a network's connect flow (NULL: none). */
json_t *sz_oauth_info_json(const net *nt)
{
    json_t *r;
    const char *k;
    void *tmp;
    json_t *v;
    if (!nt->oauth.authorize)
        return NULL;
    r = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:s, s:s?, s:s?, s:b, s:s?, s:b}", "kind", "oauth2", "scopes",
                  nt->oauth.scopes ? nt->oauth.scopes : "", "pkce", nt->oauth.pkce, "basicAuth", nt->oauth.basic,
                  "revoke", nt->oauth.revoke != NULL, "refresh", nt->oauth.refresh, "tokenField",
                  nt->oauth.token_field ? nt->oauth.token_field : "accessToken", "accountField",
                  nt->oauth.account_field, "refreshField", "refreshToken", "rotating", nt->oauth.rotating,
                  "callbackParam", nt->oauth.callback_param, "tokenState", nt->oauth.token_state);
    if (r && ((nt->oauth.instance && json_object_set_new(r, "instance", json_string(nt->oauth.instance))) ||
              (nt->oauth.exchange && json_object_set_new(r, "exchange", json_true())) ||
              (nt->oauth.refresh_get && json_object_set_new(r, "refreshWithAccess", json_true())) ||
              (nt->oauth.refresh_margin &&
               json_object_set_new(r, "refreshMargin", json_integer(nt->oauth.refresh_margin))) ||
              json_object_set_new(r, "pages", json_boolean(nt->oauth.pages != NULL)) ||
              json_object_set_new(r, "permissions", json_boolean(nt->oauth.permissions != NULL)) ||
              json_object_set_new(r, "revokeGrant", json_boolean(nt->oauth.revoke_grant)) ||
              json_object_set_new(r, "invalidate", json_boolean(nt->oauth1.invalidate != NULL)) ||
              json_object_set_new(r, "oauth1", json_boolean(nt->oauth1.request != NULL)))) {
        json_decref(r);
        return NULL;
    }
    /* a field the network does not have is absent, not null (a null is truthy in Lua) */
    json_object_foreach_safe(r, tmp, k, v) if (json_is_null(v)) json_object_del(r, k);
    return r;
}
