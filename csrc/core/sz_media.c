/* Media: what the network files share for mediaItems (sz_netkit.h
 * "media"): the items of a publish, the upload step's state, a
 * multipart/form-data body rendered byte for byte, and the sniffing of a
 * file's real type and size by its first bytes (sz_media_sniff). Sans-IO:
 * the bytes come in from the front (c->blobs); nothing is read or sent here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "sz_netkit.h"

/* ---- the items ------------------------------------------------------------- */

static int read_media(ctx *x, json_t *o, sz_media *m)
{
    memset(m, 0, sizeof *m);
    if (!json_is_object(o))
        return -1;
    m->obj = o;
    m->kind = jstr(o, "kind");
    m->mime = jstr(o, "mime");
    m->alt = jstr(o, "alt");
    m->url = jstr(o, "url");
    m->id = jstr(o, "id");
    m->size = jnat(o, "size", 0);
    m->width = jnat(o, "width", 0);
    m->height = jnat(o, "height", 0);
    m->index = (int)jint(o, "index", 1, 1000, 0);
    if (!m->kind)
        m->kind = "image";
    if (m->alt && !*m->alt)
        m->alt = NULL;
    if (m->index > 0 && (size_t)m->index <= x->c->nblobs && x->c->blobs[m->index - 1].data &&
        x->c->blobs[m->index - 1].len > 0) {
        m->data = x->c->blobs[m->index - 1].data;
        m->len = x->c->blobs[m->index - 1].len;
        m->size = (long long)m->len;
    }
    return 0;
}

size_t sz_nk_media_count(ctx *x)
{
    json_t *a = json_object_get(x->in, "media");
    return json_is_array(a) ? json_array_size(a) : 0;
}

int sz_nk_media_at(ctx *x, size_t k, sz_media *m)
{
    return read_media(x, json_array_get(json_object_get(x->in, "media"), k), m);
}

int sz_nk_step_item(ctx *x, sz_media *m)
{
    if (read_media(x, json_object_get(x->c->step, "item"), m) != 0 || (!m->data && !m->url && !m->id)) {
        x->result = fail("content_invalid", "%s: the upload step has no media item (no bytes, url or id)",
                         x->nt->name);
        return -1;
    }
    return 0;
}

int sz_nk_step_image(ctx *x, sz_media *m, long long max, const char *only, const char *per)
{
    if (sz_nk_step_item(x, m) != 0)
        return -1;
    if (strcmp(m->kind, "image") != 0 && strcmp(m->kind, "gif") != 0)
        x->result = fail("content_invalid", "%s: mediaItems[%d] is %s; %s", x->nt->name, m->index, m->kind, only);
    else if (!m->data)
        x->result = fail("content_invalid", "%s: mediaItems[%d] has no bytes to upload", x->nt->name, m->index);
    else if ((long long)m->len > max)
        x->result = fail("content_invalid", "%s: mediaItems[%d] is %zu bytes; at most %lld bytes per %s",
                         x->nt->name, m->index, m->len, max, per);
    else
        return 0;
    return -1;
}

json_t *sz_nk_step_state(const sz_call_json *c)
{
    json_t *s = json_object_get(c->step, strcmp(c->action, "unmedia") == 0 ? "media" : "step");
    return json_is_object(s) ? s : NULL;
}

json_t *sz_nk_media_done(json_t *media)
{
    json_t *r = success(NULL);
    if (!media)
        media = json_object();
    json_object_set_new(r, "data", json_pack("{s:o}", "media", media));
    return r;
}

json_t *sz_nk_media_next(json_t *state, long long wait)
{
    json_t *r = success(NULL);
    if (!state)
        state = json_object();
    if (wait > 0)
        json_object_set_new(state, "wait", json_integer(wait > 60 ? 60 : wait));
    json_object_set_new(r, "data", state);
    return r;
}

/* ---- multipart/form-data (RFC 7578) --------------------------------------- */

/* "socialize-" and 24 hex digits of SHA-256(seed), or of seed "#" k when
 * k > 0 (another try after a clash). */
static void derive_boundary(char out[80], const char *seed, int k)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    char h[65], *s = NULL;
    const char *in = seed ? seed : "";
    if (k > 0) {
        size_t n = strlen(in) + 16;
        if ((s = malloc(n)) != NULL) {
            snprintf(s, n, "%s#%d", in, k);
            in = s;
        }
    }
    if (!EVP_Digest(in, strlen(in), d, &dl, EVP_sha256(), NULL) || dl < 16) {
        memset(d, 0x5a + k, 16);
        dl = 16;
    }
    free(s);
    hex(d, 12, h);
    snprintf(out, 80, "socialize-%s", h);
}

void sz_nk_multipart_begin(sz_multipart *m, const char *seed)
{
    sz_buf_init(&m->b);
    m->seed = seed;
    m->nat = 0;
    derive_boundary(m->boundary, seed, 0);
}

/* "--boundary" (then what follows), its place kept for a clash */
static void delimiter(sz_multipart *m, const char *after)
{
    sz_buf_adds(&m->b, "--");
    if (m->nat < SZ_MULTIPART_MAX_DELIMS)
        m->at[m->nat] = m->b.len;
    m->nat++;
    sz_buf_adds(&m->b, m->boundary);
    sz_buf_adds(&m->b, after);
}

static size_t occurrences(const char *h, size_t hn, const char *nd)
{
    size_t c = 0, nl = strlen(nd), i = 0;
    const char *p;
    while (nl && i + nl <= hn && (p = memchr(h + i, nd[0], hn - i - nl + 1)) != NULL) {
        i = (size_t)(p - h);
        if (memcmp(p, nd, nl) == 0) {
            c++;
            i += nl;
        } else {
            i++;
        }
    }
    return c;
}

/* The boundary occurs only where the delimiters are; else another one that
 * occurs nowhere in the body is written over them. 0, or -1 when none. */
static int unclash(sz_multipart *m)
{
    int k;
    size_t i, bl = strlen(m->boundary);
    if (occurrences(m->b.data, m->b.len, m->boundary) == m->nat)
        return 0;
    if (m->nat > SZ_MULTIPART_MAX_DELIMS)
        return -1;
    for (k = 1; k <= 64; k++) {
        char nb[80];
        derive_boundary(nb, m->seed, k);
        if (strlen(nb) != bl || occurrences(m->b.data, m->b.len, nb) != 0)
            continue;
        for (i = 0; i < m->nat; i++)
            memcpy(m->b.data + m->at[i], nb, bl);
        memcpy(m->boundary, nb, bl + 1);
        return 0;
    }
    return -1;
}

/* a quoted-string value of a header parameter: quotes, backslashes and
 * controls become '_' (they cannot be escaped portably) */
static void quoted(sz_buf *b, const char *v)
{
    sz_buf_addc(b, '"');
    for (; *v; v++)
        sz_buf_addc(b, (*v == '"' || *v == '\\' || (unsigned char)*v < 0x20 || *v == 0x7f) ? '_' : *v);
    sz_buf_addc(b, '"');
}

void sz_nk_multipart_field(sz_multipart *m, const char *name, const char *value)
{
    delimiter(m, "\r\nContent-Disposition: form-data; name=");
    quoted(&m->b, name);
    sz_buf_adds(&m->b, "\r\n\r\n");
    sz_buf_adds(&m->b, value ? value : "");
    sz_buf_adds(&m->b, "\r\n");
}

void sz_nk_multipart_file(sz_multipart *m, const char *name, const char *filename, const char *mime,
                          const void *data, size_t len)
{
    delimiter(m, "\r\nContent-Disposition: form-data; name=");
    quoted(&m->b, name);
    sz_buf_adds(&m->b, "; filename=");
    quoted(&m->b, filename && *filename ? filename : "file");
    sz_buf_adds(&m->b, "\r\nContent-Type: ");
    sz_buf_adds(&m->b, mime && *mime && sz_ctl_span(mime, strlen(mime), 0) == strlen(mime) ? mime
                       : "application/octet-stream");
    sz_buf_adds(&m->b, "\r\n\r\n");
    if (data && len)
        sz_buf_add(&m->b, data, len);
    sz_buf_adds(&m->b, "\r\n");
}

sz_request *sz_nk_multipart_finish(sz_multipart *m, const char *method, const char *url)
{
    sz_request *r = NULL;
    char ct[128];
    size_t n;
    char *body;
    delimiter(m, "--\r\n");
    if (m->b.failed || unclash(m) != 0 || !(r = sz_request_new(method, url))) {
        sz_buf_reset(&m->b);
        return NULL;
    }
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", m->boundary);
    body = sz_buf_finish(&m->b, &n);
    if (!body || sz_request_set_body(r, body, n) != 0 || sz_request_add_header(r, "Content-Type", ct) != 0) {
        sz_request_free(r);
        return NULL;
    }
    return r;
}

/* ---- sniffing -------------------------------------------------------------- */

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const unsigned char *p) { return (unsigned)p[1] << 8 | p[0]; }
static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* A JPEG's size from its first start-of-frame marker. */
static void jpeg_size(const unsigned char *p, size_t n, sz_media_info *mi)
{
    size_t i = 2;
    while (i + 9 < n) {
        unsigned mk, len;
        if (p[i] != 0xFF) {
            i++;
            continue;
        }
        mk = p[i + 1];
        if (mk == 0xFF) {
            i++;
            continue;
        }
        if (mk == 0xD8 || (mk >= 0xD0 && mk <= 0xD7) || mk == 0x01) {
            i += 2;
            continue;
        }
        len = be16(p + i + 2);
        if (len < 2)
            return;
        if (mk >= 0xC0 && mk <= 0xCF && mk != 0xC4 && mk != 0xC8 && mk != 0xCC) {
            mi->height = be16(p + i + 5);
            mi->width = be16(p + i + 7);
            return;
        }
        if (mk == 0xDA || mk == 0xD9)
            return;
        i += 2 + (size_t)len;
    }
}

int sz_media_sniff(const void *data, size_t n, sz_media_info *mi)
{
    const unsigned char *p = data;
    if (!mi)
        return -1;
    memset(mi, 0, sizeof *mi);
    if (!p)
        return -1;
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
        mi->mime = "image/jpeg";
        mi->kind = "image";
        jpeg_size(p, n, mi);
    } else if (n >= 24 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(p + 12, "IHDR", 4) == 0) {
        mi->mime = "image/png";
        mi->kind = "image";
        mi->width = (long)be32(p + 16);
        mi->height = (long)be32(p + 20);
    } else if (n >= 10 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) {
        mi->mime = "image/gif";
        mi->kind = "gif";
        mi->width = le16(p + 6);
        mi->height = le16(p + 8);
    } else if (n >= 16 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) {
        mi->mime = "image/webp";
        mi->kind = "image";
        if (n >= 30 && memcmp(p + 12, "VP8 ", 4) == 0) {
            mi->width = le16(p + 26) & 0x3FFF;
            mi->height = le16(p + 28) & 0x3FFF;
        } else if (n >= 25 && memcmp(p + 12, "VP8L", 4) == 0) {
            unsigned long b = (unsigned long)p[21] | (unsigned long)p[22] << 8 | (unsigned long)p[23] << 16 |
                              (unsigned long)p[24] << 24;
            mi->width = (long)(b & 0x3FFF) + 1;
            mi->height = (long)((b >> 14) & 0x3FFF) + 1;
        } else if (n >= 30 && memcmp(p + 12, "VP8X", 4) == 0) {
            mi->width = (long)(p[24] | p[25] << 8 | (unsigned long)p[26] << 16) + 1;
            mi->height = (long)(p[27] | p[28] << 8 | (unsigned long)p[29] << 16) + 1;
        }
    } else if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        /* ISO-BMFF: images (HEIF/HEIC, AVIF), audio (M4A, M4B, M4P) and
         * raw photos share the box; their brands are none of ours */
        static const char *const OTHER = "avifavisheicheixheimheishevchevxmif1msf1M4A M4B M4P F4A F4B crx ";
        size_t b;
        for (b = 0; OTHER[b]; b += 4)
            if (memcmp(p + 8, OTHER + b, 4) == 0)
                return -1;
        mi->kind = "video";
        mi->mime = memcmp(p + 8, "qt  ", 4) == 0 ? "video/quicktime" : "video/mp4";
    } else if ((n >= 3 && memcmp(p, "ID3", 3) == 0) || (n >= 2 && p[0] == 0xFF && (p[1] & 0xE6) == 0xE2)) {
        mi->kind = "audio";
        mi->mime = "audio/mpeg";
    } else {
        return -1;
    }
    if (mi->width < 0 || mi->width > 1000000)
        mi->width = 0;
    if (mi->height < 0 || mi->height > 1000000)
        mi->height = 0;
    return 0;
}
