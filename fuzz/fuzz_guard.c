/* libFuzzer: the private-network guard. sz_url_check and sz_ip_parse read
 * exactly `size` bytes (no NUL terminator is given); what is accepted must
 * be consistent: a host, a port in range, and never a blocked literal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "socialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sz_url_parts u;
    unsigned char a[16];
    int family;
    const char *why = sz_url_check((const char *)data, size, &u);
    if (!why) {
        if (u.host[0] == '\0' || u.port < 1 || u.port > 65535)
            abort();
        if (u.family && sz_addr_blocked(u.family, u.addr))
            abort();
        if (u.family == 0 && (strcmp(u.host, "localhost") == 0 || memchr(u.host, '%', strlen(u.host))))
            abort();
    }
    family = sz_ip_parse((const char *)data, size, a);
    if (family != 0 && family != 4 && family != 6)
        abort();
    if (family)
        (void)sz_addr_blocked(family, a);
    return 0;
}
