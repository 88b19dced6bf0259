/* libFuzzer: Gigya reply parsing. First byte picks the HTTP status. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "socialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 201, 400, 403, 500, 502, 0, 301};
    sz_error err;
    sz_response *r;
    int status = size ? statuses[data[0] & 7] : 200;
    r = sz_response_parse((const char *)data + (size ? 1 : 0), size ? size - 1 : 0, status, &err);
    if (r) {
        (void)sz_response_error_code(r);
        (void)sz_response_status_code(r);
        (void)sz_response_string(r, "errorMessage");
        {
            size_t n = 0;
            char *t = sz_response_json(r, NULL, &n, &err); /* the whole reply as text */
            if (!t || t[0] != '{' || n != strlen(t))
                __builtin_trap();
            free(t);
        }
        sz_response_free(r);
    }
    return 0;
}
