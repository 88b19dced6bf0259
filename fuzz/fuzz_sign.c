/* libFuzzer: percent-encoding, Base64, URL normalisation, base strings,
 * signatures and the validators. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "socialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *z = malloc(size + 1), *e, *n;
    unsigned char *dec = NULL;
    size_t dlen = 0, half = size / 2, i;
    sz_error err;
    sz_params *p;
    if (!z)
        return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    e = sz_url_encode(s, size, NULL);
    for (i = 0; e && e[i]; i++) /* only unreserved characters and %XX upper-case */
        if (!((e[i] >= 'A' && e[i] <= 'Z') || (e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9') ||
              strchr("-_.~%", e[i])))
            __builtin_trap();
    sz_free(e);
    if (sz_base64_decode(s, size, "x", &dec, &dlen, &err) == 0) {
        char *back = sz_base64_encode(dec, dlen, NULL);
        sz_free(back);
    }
    sz_free(dec);
    (void)sz_utf8_valid(s, size);
    n = sz_normalize_url(z, &err);
    sz_free(n);
    p = sz_params_new();
    if (p) {
        sz_params_set(p, s, half, s + half, size - half);
        sz_params_set(p, "UID", 3, s, half);
        n = sz_base_string("POST", z, p, NULL, &err);
        if (n) {
            char *sig = sz_sign("c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==", n, strlen(n), &err);
            sz_free(sig);
        }
        sz_free(n);
        n = sz_base_string("POST", "https://socialize.us1.gigya.com/socialize.setStatus", p, NULL, &err);
        sz_free(n);
        sz_params_free(p);
    }
    (void)sz_validate_user_signature(z, "1700000000", "c2VjcmV0", z, 180, 1700000000);
    (void)sz_validate_friend_signature(z, z, z, z, z, -1, 0);
    (void)sz_validate_webhook_signature(s, size, "c2VjcmV0", z);
    (void)sz_consttime_equal(s, half, s + half, size - half);
    free(z);
    return 0;
}
