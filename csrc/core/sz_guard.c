/* sz_guard.c - the private-network guard: one strict parser for the URLs the
 * library takes from connection data (and, later, media URLs) and one
 * classifier for the address a name resolves to. Pure functions: no I/O, no
 * allocation, no global state. Every input is read by length, never up to a
 * NUL. */
#include <string.h>
#include "socialize.h"
#include "sz_internal.h" /* sz_ctl_byte (a macro): the guard links nothing else of the core */

#define MAX_URL 2048

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- addresses ----------------------------------------------------------- */

static int v4_blocked(const unsigned char *a)
{
    return a[0] == 0                                 /* 0.0.0.0/8 "this network" */
        || a[0] == 127                               /* loopback */
        || a[0] == 10                                /* RFC 1918 */
        || (a[0] == 172 && (a[1] & 0xf0) == 16)      /* 172.16/12 */
        || (a[0] == 192 && a[1] == 168)              /* 192.168/16 */
        || (a[0] == 169 && a[1] == 254)              /* link-local, cloud metadata */
        || (a[0] == 100 && (a[1] & 0xc0) == 64)      /* 100.64/10 shared (CGN) */
        || (a[0] == 192 && a[1] == 0 && a[2] == 0)   /* 192.0.0/24 IETF protocol assignments */
        || (a[0] == 198 && (a[1] & 0xfe) == 18)      /* 198.18/15 benchmarking, often internal */
        || a[0] >= 224;                              /* 224/4 multicast, 240/4, broadcast */
}

static int all_zero(const unsigned char *a, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (a[i])
            return 0;
    return 1;
}

int sz_addr_blocked(int family, const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char siit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!a)
        return 1;
    if (family == 4)
        return v4_blocked(a);
    if (family != 6)
        return 1;
    if (all_zero(a, 12))                  /* ::, ::1 and IPv4-compatible ::a.b.c.d */
        return 1;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, siit, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_blocked(a + 12);        /* ::ffff:a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::a.b.c.d */
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
        return 1;                         /* 64:ff9b:1::/48 local-use NAT64 */
    if (a[0] == 0x20 && a[1] == 0x02)     /* 2002::/16 6to4 embeds an IPv4 address */
        return v4_blocked(a + 2);
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)
        return 1;                         /* 2001::/32 Teredo: tunnels to an obfuscated IPv4 address */
    return (a[0] & 0xfe) == 0xfc            /* fc00::/7 unique local */
        || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10 old site-local */
        || a[0] == 0xff;                    /* ff00::/8 multicast */
}

/* ---- IP literals --------------------------------------------------------- */

/* Strict dotted-decimal: four parts 0-255, no leading zeros. */
static int v4_canonical(const char *s, size_t n, unsigned char *out)
{
    size_t i = 0;
    int part;
    for (part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits && v == 0)
                return 0; /* leading zero */
            v = v * 10 + (unsigned)(s[i] - '0');
            if (v > 255)
                return 0;
            digits++;
            i++;
        }
        if (!digits)
            return 0;
        out[part] = (unsigned char)v;
    }
    return i == n;
}

/* One inet_aton/WHATWG number: decimal, 0-prefixed octal or 0x hex.
 * Returns 0 on success; saturates instead of overflowing. */
static int v4_number(const char *s, size_t n, unsigned long long *out)
{
    unsigned long long v = 0;
    unsigned base = 10;
    size_t i = 0;
    if (n == 0)
        return -1;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        i = 1;
    }
    for (; i < n; i++) {
        int d = hexval((unsigned char)s[i]);
        if (d < 0 || (unsigned)d >= base)
            return -1;
        v = v * base + (unsigned)d;
        if (v > 0xffffffffULL)
            v = 0x100000000ULL; /* saturate: too large for any part */
    }
    *out = v;
    return 0;
}

/* inet_aton forms: a, a.b, a.b.c, a.b.c.d. Returns 1 and fills out, 0 when
 * not a valid IPv4 number form. */
static int v4_loose(const char *s, size_t n, unsigned char *out)
{
    unsigned long long part[4] = {0, 0, 0, 0}, v;
    size_t np = 0, i = 0, start = 0;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (np == 4 || v4_number(s + start, i - start, &part[np]) != 0)
                return 0;
            np++;
            start = i + 1;
        }
    }
    for (i = 0; i + 1 < np; i++)
        if (part[i] > 255)
            return 0;
    if (part[np - 1] >= (1ULL << (8 * (5 - np))))
        return 0;
    v = part[np - 1];
    for (i = 0; i + 1 < np; i++)
        v |= part[i] << (8 * (3 - i));
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
    return 1;
}

/* RFC 4291 text form, with an optional dotted-decimal tail; no zone id. */
static int v6_parse(const char *s, size_t n, unsigned char *out)
{
    unsigned char b[16];
    size_t i = 0, nb = 0;
    long gap = -1;
    memset(b, 0, sizeof b);
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
        if (n == 2)
            goto done;
    } else if (n >= 1 && s[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t j = i;
        unsigned v = 0;
        while (j < n && j - i < 5 && hexval((unsigned char)s[j]) >= 0)
            v = v * 16 + (unsigned)hexval((unsigned char)s[j++]);
        if (j < n && s[j] == '.') { /* embedded IPv4 to the end */
            if (nb > 12 || !v4_canonical(s + i, n - i, b + nb))
                return 0;
            nb += 4;
            i = n;
            break;
        }
        if (j == i || j - i > 4 || nb > 14)
            return 0;
        b[nb++] = (unsigned char)(v >> 8);
        b[nb++] = (unsigned char)v;
        i = j;
        if (i == n)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0)
                return 0;
            gap = (long)nb;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return 0; /* trailing single ':' */
        }
    }
done:
    if (gap >= 0) {
        size_t tail = nb - (size_t)gap;
        if (nb == 16)
            return 0; /* '::' must stand for at least one group */
        memmove(b + 16 - tail, b + gap, tail);
        memset(b + gap, 0, 16 - nb);
    } else if (nb != 16) {
        return 0;
    }
    memcpy(out, b, 16);
    return 1;
}

int sz_ip_parse(const char *s, size_t n, unsigned char out[16])
{
    if (!s || !out)
        return 0;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (v4_canonical(s, n, out))
        return 4;
    if (memchr(s, ':', n) && v6_parse(s, n, out))
        return 6;
    return 0;
}

/* ---- URLs ---------------------------------------------------------------- */

static const char *name_check(const char *h, size_t n)
{
    size_t i, label = 0;
    if (n == 0)
        return "the URL has an empty host";
    if (n > 253)
        return "the URL's host name is too long";
    for (i = 0; i < n; i++) {
        int c = (unsigned char)h[i];
        if (c == '.') {
            if (label == 0)
                return "the URL's host has an empty label";
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return "the URL's host has a character not allowed in a host name";
        if (++label > 63)
            return "the URL's host has a label longer than 63 bytes";
    }
    return NULL;
}

static int ends_with(const char *h, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(h + n - k, suffix, k) == 0;
}

const char *sz_url_check(const char *url, size_t len, sz_url_parts *out)
{
    const char *end, *auth, *aend, *host, *hend, *colon = NULL;
    size_t i, hn;
    int https;
    if (!out)
        return "no output";
    memset(out, 0, sizeof *out);
    if (!url || len == 0)
        return "the URL is empty";
    if (len > MAX_URL)
        return "the URL is longer than 2048 bytes";
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (sz_ctl_byte(c, SZ_CTL_SPACE | SZ_CTL_8BIT))
            return "the URL contains a control character, space, NUL or non-ASCII byte";
        if (c == '\\')
            return "the URL contains a backslash";
    }
    end = url + len;
    if (len >= 8 && lower(url[0]) == 'h' && lower(url[1]) == 't' && lower(url[2]) == 't'
        && lower(url[3]) == 'p' && lower(url[4]) == 's' && memcmp(url + 5, "://", 3) == 0) {
        https = 1;
        auth = url + 8;
    } else if (len >= 7 && lower(url[0]) == 'h' && lower(url[1]) == 't' && lower(url[2]) == 't'
               && lower(url[3]) == 'p' && memcmp(url + 4, "://", 3) == 0) {
        https = 0;
        auth = url + 7;
    } else {
        return "the URL must start with https:// or http://";
    }
    for (aend = auth; aend < end && *aend != '/' && *aend != '?' && *aend != '#'; aend++)
        if (*aend == '@')
            return "the URL has user information (user@host), which is refused";
    if (aend == auth)
        return "the URL has an empty host";
    if (*auth == '[') {
        const char *rb = memchr(auth, ']', (size_t)(aend - auth));
        if (!rb)
            return "the URL's IPv6 host has no closing bracket";
        if (memchr(auth, '%', (size_t)(rb - auth)))
            return "the URL's IPv6 host has a zone id, which is refused";
        host = auth + 1;
        hend = rb;
        if (rb + 1 < aend) {
            if (rb[1] != ':')
                return "the URL has bytes after its IPv6 host";
            colon = rb + 1;
        }
        out->family = 6;
        if (!v6_parse(host, (size_t)(hend - host), out->addr))
            return "the URL's IPv6 host is not a valid address";
    } else {
        host = auth;
        colon = memchr(auth, ':', (size_t)(aend - auth));
        hend = colon ? colon : aend;
    }
    if (colon) {
        const char *q;
        unsigned long port = 0;
        if (colon + 1 == aend)
            return "the URL has an empty port";
        if (aend - (colon + 1) > 5)
            return "the URL's port is out of range (1-65535)";
        for (q = colon + 1; q < aend; q++) {
            if (*q < '0' || *q > '9')
                return "the URL's port is not a number";
            port = port * 10 + (unsigned long)(*q - '0');
        }
        if (port < 1 || port > 65535)
            return "the URL's port is out of range (1-65535)";
        out->port = (int)port;
    } else {
        out->port = https ? 443 : 80;
    }
    out->https = https;
    hn = (size_t)(hend - host);
    if (out->family == 6) {
        if (hn + 2 >= sizeof out->host)
            return "the URL's host name is too long";
        for (i = 0; i < hn; i++)
            out->host[i] = (char)lower((unsigned char)host[i]);
        out->host[hn] = '\0';
        if (sz_addr_blocked(6, out->addr) && (out->blocked = 1))
            return "the URL's host is a loopback, private, link-local or reserved address";
        return NULL;
    }
    if (hn == 0)
        return "the URL has an empty host";
    if (memchr(host, '%', hn))
        return "the URL's host is percent-encoded, which is refused";
    if (hn >= sizeof out->host)
        return "the URL's host name is too long";
    for (i = 0; i < hn; i++)
        out->host[i] = (char)lower((unsigned char)host[i]);
    out->host[hn] = '\0';
    if (hn > 1 && out->host[hn - 1] == '.')
        out->host[--hn] = '\0'; /* one trailing dot names the same host */
    {
        const char *why = name_check(out->host, hn);
        const char *last = strrchr(out->host, '.');
        size_t ln;
        int numeric = 1;
        if (why)
            return why;
        last = last ? last + 1 : out->host;
        ln = hn - (size_t)(last - out->host);
        /* WHATWG: a host whose last label is a number is an IPv4 address */
        if (ln >= 2 && last[0] == '0' && last[1] == 'x') {
            for (i = 2; i < ln; i++)
                if (hexval((unsigned char)last[i]) < 0)
                    numeric = 0;
        } else {
            for (i = 0; i < ln; i++)
                if (last[i] < '0' || last[i] > '9')
                    numeric = 0;
        }
        if (numeric) {
            out->family = 4;
            if (!v4_loose(out->host, hn, out->addr))
                return "the URL's host is not a valid IPv4 address";
            if (sz_addr_blocked(4, out->addr)) {
                /* only a canonical literal is "just" a private address */
                out->blocked = v4_canonical(out->host, hn, out->addr);
                return "the URL's host is a loopback, private, link-local or reserved address";
            }
            if (!v4_canonical(out->host, hn, out->addr))
                return "the URL's IPv4 host is not in dotted-decimal form";
            return NULL;
        }
        if (strcmp(out->host, "localhost") == 0 || ends_with(out->host, hn, ".localhost")) {
            out->blocked = 1;
            return "the URL's host is localhost";
        }
    }
    return NULL;
}
