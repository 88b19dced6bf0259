/* Parses a Gigya reply into the response model. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_jansson.h"

struct sz_response {
    json_t *root;
    int     error_code;
    int     status_code;
};

void sz_response_free(sz_response *r)
{
    if (!r)
        return;
    sz_json_free(r->root); /* a reply may carry tokens and session secrets */
    free(r);
}

int sz_response_error_code(const sz_response *r) { return r->error_code; }
int sz_response_status_code(const sz_response *r) { return r->status_code; }
json_t *sz_response_root(const sz_response *r) { return r->root; }

const char *sz_response_string(const sz_response *r, const char *field)
{
    return json_string_value(json_object_get(r->root, field));
}

/* An int field; numbers out of int range, or not whole, do not count. */
static int get_int(json_t *o, const char *k, int *out)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < INT_MIN || i > INT_MAX)
            return 0;
        *out = (int)i;
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= INT_MIN && d <= INT_MAX) || d != (double)(int)d)
            return 0;
        *out = (int)d;
        return 1;
    }
    if (json_is_string(v)) { /* some proxies stringify numbers */
        char *end;
        long x = strtol(json_string_value(v), &end, 10);
        if (*json_string_value(v) && !*end && x >= INT_MIN && x <= INT_MAX) {
            *out = (int)x;
            return 1;
        }
    }
    return 0;
}

/* Error details are shown to people: printable ASCII only. */
static void ascii_only(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Request Entity Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 200 && status < 300 ? "OK" : "Error";
    }
}

/* An HTTP status that means an error (Gigya answers its own errors with 200). */
static int http_error(int status)
{
    return status > 0 && (status < 200 || status >= 300);
}

/* Puts a field in unless the reply already has it. */
static int put_default(json_t *o, const char *k, json_t *v)
{
    if (!v)
        return -1;
    if (json_object_get(o, k)) {
        json_decref(v);
        return 0;
    }
    return json_object_set_new(o, k, v);
}

sz_response *sz_response_parse(const char *body, size_t len, int http_status, sz_error *err)
{
    sz_response *r = calloc(1, sizeof *r);
    size_t i = 0;
    int code, local = 0;
    char details[256], what[200];
    details[0] = '\0';
    what[0] = '\0';
    if (!r)
        goto oom;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i < len && body[i] == '{') {
        json_error_t je;
        r->root = json_loadb(body + i, len - i, JSON_REJECT_DUPLICATES, &je);
        if (!r->root)
            snprintf(what, sizeof what, "reply is not valid JSON (%s at byte %d)", je.text,
                     je.position + (int)i);
        else if (!json_is_object(r->root)) {
            sz_json_free(r->root);
            r->root = NULL;
        }
    } else {
        snprintf(what, sizeof what, "reply is not a JSON object (%zu bytes)", len);
    }
    if (!r->root) {
        r->root = json_object();
        if (!r->root)
            goto oom;
        if (http_error(http_status)) { /* an error page (HTML from a proxy...): the status says it */
            local = 500001;
            snprintf(details, sizeof details, "HTTP %d %s: %s", http_status, reason(http_status), what);
        } else {
            local = 500000;
            snprintf(details, sizeof details, "%s, HTTP %d", what, http_status);
        }
    }
    if (!local) {
        if (get_int(r->root, "errorCode", &code))
            r->error_code = code;
        else if (json_object_get(r->root, "errorCode")) {
            local = 500000; /* present, but not a whole number */
            snprintf(details, sizeof details, "errorCode is not a number, HTTP %d", http_status);
        } else if (http_status >= 200 && http_status < 300)
            r->error_code = 0; /* Java, .NET and PHP SDKs default to 0 */
        else {
            local = 500001;
            snprintf(details, sizeof details, "HTTP %d without an errorCode", http_status);
        }
    }
    if (local) {
        ascii_only(details);
        r->error_code = local;
        if (json_object_set_new(r->root, "errorCode", json_integer(local)) ||
            json_object_set_new(r->root, "errorMessage",
                                json_string(local == 500000 ? "Invalid response" : sz_gigya_message(local))) ||
            json_object_set_new(r->root, "errorDetails", json_string(details)) ||
            json_object_set_new(r->root, "statusCode",
                                json_integer(http_status > 0 ? http_status : 500)) ||
            json_object_set_new(r->root, "statusReason",
                                json_string(reason(http_status > 0 ? http_status : 500))))
            goto oom;
    } else {
        int sc = r->error_code == 0 ? 200 : (http_status >= 400 ? http_status : r->error_code / 1000);
        if (json_object_set_new(r->root, "errorCode", json_integer(r->error_code)) ||
            put_default(r->root, "statusCode", json_integer(sc)))
            goto oom;
        if (r->error_code != 0 &&
            put_default(r->root, "errorMessage", json_string(sz_gigya_message(r->error_code))))
            goto oom;
        if (put_default(r->root, "statusReason", json_string(reason(sc))))
            goto oom;
    }
    if (!get_int(r->root, "statusCode", &r->status_code))
        r->status_code = 0;
    return r;
oom:
    sz_seterr(err, SZ_ENOMEM, "out of memory");
    sz_response_free(r);
    return NULL;
}
