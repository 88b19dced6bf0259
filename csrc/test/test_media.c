/* C unit tests: what the network files share for media (sz_media.c):
 * multipart bodies byte for byte, sniffing, the items of a publish and the
 * upload step's state; and actionLinks in the compose grammar. */
#include "test_util.h"
#include "sz_netkit.h"

static sz_request *no_build(sz_ctx *x)
{
    (void)x;
    return NULL;
}

static const sz_net LINKS = {
    .name = "links", .display = "Links",
    .text = {120, SZ_TEXT_CODEPOINTS, -1, "\n", "title,actionLinks;linkBack"},
    .build = no_build,
};

void test_media_multipart(void)
{
    sz_multipart m;
    sz_request *r;
    const char *body, *hn, *hv;
    size_t n, i;
    char want[600];
    const char bin[] = {'\x89', 'P', '\0', '\r', '\n', '-'};
    multipart_begin(&m, "nonce-1");
    CHECK(strncmp(m.boundary, "socialize-", 10) == 0 && strlen(m.boundary) == 34, "boundary %s", m.boundary);
    multipart_field(&m, "description", "a \"cat\"");
    multipart_file(&m, "file", "a\"b\r\n.png", "image/png", bin, sizeof bin);
    r = multipart_finish(&m, "POST", "https://m.example/api/v2/media");
    CHECK(r != NULL, "multipart request built");
    body = sz_request_body(r, &n);
    snprintf(want, sizeof want,
             "--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\na \"cat\"\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b__.png\"\r\n"
             "Content-Type: image/png\r\n\r\n",
             m.boundary, m.boundary);
    CHECK(n == strlen(want) + sizeof bin + 2 + strlen(m.boundary) + 6, "body length %zu", n);
    CHECK(memcmp(body, want, strlen(want)) == 0, "parts rendered byte for byte (quotes and CR LF in a name replaced)");
    CHECK(memcmp(body + strlen(want), bin, sizeof bin) == 0, "the file's bytes, NUL included, verbatim");
    for (i = 0; i < sz_request_header_count(r); i++) {
        sz_request_header(r, i, &hn, &hv);
        if (strcmp(hn, "Content-Type") == 0)
            CHECK(strncmp(hv, "multipart/form-data; boundary=socialize-", 40) == 0, "content type %s", hv);
    }
    sz_request_free(r);
    /* the same seed, the same boundary; another seed, another */
    {
        sz_multipart a, b;
        multipart_begin(&a, "nonce-1");
        multipart_begin(&b, "nonce-2");
        CHECK(strcmp(a.boundary, m.boundary) == 0 && strcmp(a.boundary, b.boundary) != 0, "deterministic boundary");
        sz_buf_reset(&a.b);
        sz_buf_reset(&b.b);
    }
}

void test_media_sniff(void)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                        0, 0, 0x05, 0, 0, 0, 0x02, 0xd0};
    static const unsigned char huge[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                         0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    sz_media_info mi;
    size_t k;
    CHECK(sz_media_sniff(png, sizeof png, &mi) == 0 && strcmp(mi.mime, "image/png") == 0 && mi.width == 1280 &&
              mi.height == 720, "PNG 1280x720");
    CHECK(sz_media_sniff(huge, sizeof huge, &mi) == 0 && mi.width == 0, "an absurd width is not reported");
    for (k = 0; k < sizeof png; k++) /* every truncation: no read past the end (ASan) */
        (void)sz_media_sniff(png, k, &mi);
    CHECK(sz_media_sniff(NULL, 10, &mi) == -1 && sz_media_sniff(png, sizeof png, NULL) == -1, "NULL refused");
    CHECK(sz_media_sniff("<html>", 6, &mi) == -1 && mi.mime == NULL, "HTML is no media");
}

void test_media_items(void)
{
    sz_call_json c;
    sz_ctx x;
    sz_media m;
    sz_blob blobs[2] = {{"abc", 3}, {NULL, 0}};
    json_t *in = json_pack("{s:[{s:i, s:s, s:s, s:s}, {s:i, s:s, s:s}]}", "media", "index", 1, "kind", "image",
                           "mime", "image/png", "alt", "", "index", 2, "kind", "video", "url",
                           "https://cdn.example/v.mp4");
    json_t *step = json_pack("{s:{s:i, s:s}}", "item", "index", 2, "url", "https://cdn.example/v.mp4");
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    c.provider = "links";
    c.action = "publish";
    c.blobs = blobs;
    c.nblobs = 2;
    x.c = &c;
    x.nt = &LINKS;
    x.in = in;
    CHECK(media_count(&x) == 2, "two items");
    CHECK(media_at(&x, 0, &m) == 0 && m.len == 3 && memcmp(m.data, "abc", 3) == 0 && m.size == 3 && !m.alt,
          "item 1 with its bytes; an empty alt is none");
    CHECK(media_at(&x, 1, &m) == 0 && !m.data && strcmp(m.url, "https://cdn.example/v.mp4") == 0 &&
              strcmp(m.kind, "video") == 0, "item 2 by URL, no bytes");
    CHECK(media_at(&x, 2, &m) == -1, "no item 3");
    c.step = step;
    c.action = "upload";
    CHECK(step_item(&x, &m) == 0 && m.index == 2 && step_state(&c) == NULL, "the step's item, first step");
    json_object_set_new(step, "item", json_pack("{s:i}", "index", 9));
    CHECK(step_item(&x, &m) == -1 && x.result, "an item with nothing to upload is refused");
    json_decref(x.result);
    json_decref(in);
    json_decref(step);
}

void test_compose_action_links(void)
{
    sz_call_json c;
    sz_ctx x;
    sz_action a;
    char *t;
    json_t *in = json_pack("{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s}, {s:s, s:s}], s:s}}", "userAction", "title",
                           "Won", "actionLinks", "title", "Play", "href", "https://g.example/p", "text", "Bad",
                           "href", "javascript:alert(1)", "href", "https://g.example/q", "text", "CRLF\r\nX",
                           "href", "https://g.example/r", "linkBack", "https://g.example/");
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    c.provider = "links";
    c.action = "publish";
    x.c = &c;
    x.nt = &LINKS;
    x.in = in;
    t = sz_nk_text(&x, &a);
    CHECK_STR(t, "Won\nPlay: https://g.example/p\nhttps://g.example/q\nhttps://g.example/r\nhttps://g.example/",
              "action links as lines: text: href; a javascript: href skipped; a text with CR LF left out");
    CHECK(a.truncated == 0 && a.max == 120, "not cut, the limit read");
    free(t);
    json_object_set_new(json_object_get(in, "userAction"), "title", json_string("0123456789012345678901234567890123456789012345678901234567890123456789"));
    t = sz_nk_text(&x, &a);
    CHECK(t && a.truncated == 1, "cut to fit: truncated says so (%s)", t ? t : "NULL");
    free(t);
    json_decref(in);
}

/* The boundary is derived from the nonce: a caller who knows it (a fixed
 * nonce, a C host's counter) could put the delimiter in an alt text or in
 * the file's bytes and add parts of their own (RFC 2046: the boundary must
 * not occur in the content). Then another boundary is chosen, absent from
 * every part. */
static size_t count_in(const char *h, size_t hn, const char *nd)
{
    size_t c = 0, nl = strlen(nd), i;
    for (i = 0; i + nl <= hn; i++)
        if (memcmp(h + i, nd, nl) == 0)
            c++;
    return c;
}

void test_media_multipart_boundary_clash(void)
{
    sz_multipart m;
    sz_request *r;
    char b0[80], evil[400], file[200], delim[90];
    const char *body, *hn, *hv, *ct = NULL;
    size_t n, i;
    multipart_begin(&m, "nonce-1");
    snprintf(b0, sizeof b0, "%s", m.boundary);
    sz_buf_reset(&m.b);
    snprintf(evil, sizeof evil, "cat\r\n--%s\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nowned", b0);
    snprintf(file, sizeof file, "\x89PNG....\r\n--%s--\r\n", b0);
    multipart_begin(&m, "nonce-1");
    multipart_field(&m, "description", evil);
    multipart_file(&m, "file", "a.png", "image/png", file, strlen(file));
    r = multipart_finish(&m, "POST", "https://m.example/api/v2/media");
    CHECK(r != NULL, "built");
    if (!r)
        return;
    body = sz_request_body(r, &n);
    for (i = 0; i < sz_request_header_count(r); i++) {
        sz_request_header(r, i, &hn, &hv);
        if (strcmp(hn, "Content-Type") == 0)
            ct = hv;
    }
    CHECK(ct && strncmp(ct, "multipart/form-data; boundary=socialize-", 40) == 0 && !strstr(ct, b0),
          "another boundary than the one in the content: %s", ct ? ct : "none");
    snprintf(delim, sizeof delim, "--%s", ct ? ct + 30 : "?");
    CHECK(count_in(body, n, delim) == 3, "the delimiter occurs for the two parts and the close only: %zu",
          count_in(body, n, delim));
    CHECK(count_in(body, n, evil) == 1 && count_in(body, n, file) == 1, "the parts' bytes are unchanged");
    sz_request_free(r);
}

/* An ISO-BMFF file is a video only when its brand says so: an AVIF or HEIC
 * photo, or an M4A song, has an ftyp box too and was reported as
 * video/mp4 (an image item refused as "video/mp4, not an image", or a photo
 * uploaded to a network as a video). */
void test_media_sniff_brands(void)
{
    static const char *const not_video[] = {"avif", "avis", "heic", "heix", "mif1", "msf1", "M4A ", "M4B "};
    static const char *const video[] = {"isom", "mp42", "mp41", "avc1", "M4V ", "3gp5", "iso5", "dash"};
    unsigned char b[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p'};
    sz_media_info mi;
    size_t k;
    for (k = 0; k < sizeof not_video / sizeof *not_video; k++) {
        memcpy(b + 8, not_video[k], 4);
        CHECK(sz_media_sniff(b, sizeof b, &mi) == -1 && !mi.mime, "brand '%s' is not a video we know", not_video[k]);
    }
    for (k = 0; k < sizeof video / sizeof *video; k++) {
        memcpy(b + 8, video[k], 4);
        CHECK(sz_media_sniff(b, sizeof b, &mi) == 0 && strcmp(mi.mime, "video/mp4") == 0, "brand '%s': video/mp4",
              video[k]);
    }
    memcpy(b + 8, "qt  ", 4);
    CHECK(sz_media_sniff(b, sizeof b, &mi) == 0 && strcmp(mi.mime, "video/quicktime") == 0, "qt: QuickTime");
}
