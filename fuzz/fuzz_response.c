/* libFuzzer: Gigya reply parsing. First byte picks the HTTP status. */
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>
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
        if (!json_is_object(sz_response_json(r)))
            __builtin_trap();
        sz_response_free(r);
    }
    return 0;
}
