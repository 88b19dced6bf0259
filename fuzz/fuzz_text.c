/* libFuzzer: the text step over any valid UTF-8 userMessage on every
 * network (byte 0: odd, a setup state's limits from it): the text fits its
 * count, a cut text is a prefix of the original and "…", an uncut one is
 * the original; and sz_media_sniff over the same bytes (a type found has a
 * mime, a kind, and sizes that are not negative). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "socialize.h"
#include "sz_internal.h"
#include "sz_jansson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *names = sz_provider_names();
    sz_media_info mi;
    size_t k;
    char *msg;
    if (sz_media_sniff(data, size, &mi) == 0 && (!mi.mime || !mi.kind || mi.width < 0 || mi.height < 0))
        __builtin_trap();
    if (size < 1 || !sz_utf8_valid((const char *)data + 1, size - 1) || memchr(data + 1, 0, size - 1))
        return 0;
    msg = malloc(size);
    if (!msg)
        return 0;
    memcpy(msg, data + 1, size - 1);
    msg[size - 1] = 0;
    for (k = 0; names[k]; k++) {
        sz_call_json c;
        sz_error err;
        json_t *in = json_pack("{s:{s:s}}", "userAction", "userMessage", msg), *setup = NULL, *r;
        memset(&c, 0, sizeof c);
        if (data[0] & 1) {
            setup = json_pack("{s:i, s:i}", "maxCharacters", 1 + data[0] / 2, "charactersReservedPerUrl", data[0] & 31);
        }
        c.provider = names[k];
        c.action = "publish";
        c.input = in;
        c.setup = setup;
        r = sz_provider_text_json(&c, &err);
        if (r && json_is_true(json_object_get(r, "ok"))) {
            const char *t = json_string_value(json_object_get(r, "text"));
            json_int_t len = json_integer_value(json_object_get(r, "length")),
                       max = json_integer_value(json_object_get(r, "max"));
            int tr = json_is_true(json_object_get(r, "truncated"));
            size_t tl = strlen(t);
            if (len > max)
                __builtin_trap();
            if (!tr && strcmp(t, msg) != 0)
                __builtin_trap();
            if (tr && (tl < 3 || memcmp(t + tl - 3, "\xE2\x80\xA6", 3) != 0 || strncmp(t, msg, tl - 3) != 0))
                __builtin_trap();
        }
        json_decref(r);
        json_decref(in);
        json_decref(setup);
    }
    free(msg);
    return 0;
}
