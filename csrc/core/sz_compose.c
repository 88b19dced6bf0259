/* The generic text step of every network (sz_netkit.h sz_nk_text): the
 * UserAction is read, its fields composed in the order the descriptor's
 * `text.compose` names, and the result measured with the network's counter
 * and fitted to its limit (the text cut with an ellipsis, never the link).
 * A status or a notification body is measured, never cut: the caller wrote
 * it for that network. Sans-IO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "sz_netkit.h"

/* One code point of valid UTF-8 (jansson's strings are) at s[i]; its length. */
static size_t own_cp(const char *s, size_t len, size_t i, unsigned *cp)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t n = u[0] < 0x80 ? 1 : u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4, k;
    if (n > len - i)
        n = len - i;
    *cp = n == 1 ? u[0] : n == 2 ? (u[0] & 0x1Fu) : n == 3 ? (u[0] & 0x0Fu) : (u[0] & 0x07u);
    for (k = 1; k < n; k++)
        *cp = (*cp << 6) | (u[k] & 0x3Fu);
    return n;
}

/* The network's measure: its own counter's, or sz_text's. */
static long measure(const net *nt, const char *s, size_t len, long url_weight)
{
    size_t i = 0;
    long n = 0;
    unsigned cp;
    if (!nt->text.own)
        return sz_text_measure(s, len, nt->text.count, url_weight);
    while (i < len) {
        i += own_cp(s, len, i, &cp);
        n = (long)sz_sat_add(n, nt->text.own->weigh(cp));
    }
    return n;
}

/* The longest prefix that fits budget with an ellipsis after it, at a
 * grapheme boundary and outside links (sz_cut.c); (size_t)-1: out of memory. */
static size_t cut_to(const net *nt, const char *s, size_t len, long url_weight, long budget)
{
    if (!nt->text.own)
        return sz_text_cut(s, len, nt->text.count, url_weight, budget);
    return sz_text_cut_weighed(s, len, nt->text.own->weigh, budget);
}

/* text + " " + link, with text cut (never a URL) so the whole fits the
 * network's limit. Fails when the link alone does not fit. */
static char *fit(const net *nt, const char *text, const char *link, long url_weight, long max,
                 const char *sep, int may_cut, json_t **err, int *truncated)
{
    sz_buf b;
    size_t tl = text ? strlen(text) : 0;
    sz_text_rule rule = nt->text.count;
    /* the separator is there only when some text is */
    long lw = link && *link ? measure(nt, link, strlen(link), url_weight) : 0,
         sw = link && *link && tl ? measure(nt, sep, strlen(sep), url_weight) : 0,
         linkw = lw + sw;
    long textw = measure(nt, text ? text : "", tl, url_weight);
    long maxb = nt->text.own ? -1 : sz_text_byte_limit(rule),
         linkb = link && *link ? (long)(strlen(link) + (tl ? strlen(sep) : 0)) : 0;
    if (textw < 0 || lw < 0 || sw < 0)
        return NULL; /* out of memory */
    sz_buf_init(&b);
    if (textw + linkw > max || (maxb >= 0 && (long)tl + linkb > maxb)) {
        size_t cut;
        if (!may_cut) {
            if (textw + linkw > max)
                *err = fail("content_invalid", "%s: text counts %ld of %ld allowed", nt->name, textw + linkw, max);
            else
                *err = fail("content_invalid", "%s: text is %ld bytes of %ld allowed", nt->name, (long)tl + linkb,
                            maxb);
            return NULL;
        }
        cut = !(linkw < max && (maxb < 0 || linkb < maxb)) ? 0
              : nt->text.own ? cut_to(nt, text, tl, url_weight, max - linkw)
                             : sz_text_cut_bytes(text, tl, rule, url_weight, max - linkw, maxb < 0 ? -1 : maxb - linkb);
        if (cut == (size_t)-1) {
            sz_buf_reset(&b);
            return NULL; /* out of memory */
        }
        if (cut == 0 && (linkw >= max || (maxb >= 0 && linkb >= maxb))) {
            *err = fail("content_invalid", "%s: the link alone is longer than the text may be", nt->name);
            return NULL;
        }
        sz_buf_add(&b, text, cut);
        *truncated = 1;
        if (cut)
            sz_buf_adds(&b, "\xE2\x80\xA6"); /* … */
    } else if (text) {
        sz_buf_adds(&b, text);
    }
    if (link && *link) {
        if (b.len)
            sz_buf_adds(&b, sep);
        sz_buf_adds(&b, link);
    }
    return sz_buf_finish(&b, NULL);
}


static void read_action(json_t *in, action *a)
{
    json_t *ua = json_object_get(in, "userAction");
    memset(a, 0, sizeof *a);
    a->title = jstr(ua, "title");
    a->subtitle = jstr(ua, "subtitle");
    a->description = jstr(ua, "description");
    a->link = jstr(ua, "linkBack");
    a->message = jstr(ua, "userMessage");
    a->media = json_object_get(ua, "mediaItems");
    a->links = json_object_get(ua, "actionLinks");
    if (a->link && !*a->link)
        a->link = NULL;
}

/* ---- the compose spec ------------------------------------------------------
 * spec  := group ("," group)* [";" [param "="] "linkBack"]
 * group := field ("|" field)*      the first field present and non-empty
 * field := userMessage | title | subtitle | description | actionLinks
 * Groups are joined with text.sep, empty ones skipped. actionLinks become
 * one line per link with an http(s) href: "text: href" (or the href alone). "linkBack" alone puts
 * the link after the text (text.sep between, never cut); "param=linkBack"
 * sends it in the request's param instead (a link card or attachment). */

static const char *const FIELDS[] = {"userMessage", "title", "subtitle", "description", "actionLinks", NULL};
#define ACTION_LINKS 4
#define MAX_ACTION_LINKS 5

static const char *field_value(const action *a, int i)
{
    return i == 0 ? a->message : i == 1 ? a->title : i == 2 ? a->subtitle : i == 3 ? a->description : NULL;
}

/* An http(s) URL with a host, without spaces or control characters. */
static int link_ok(const char *h)
{
    size_t n = strlen(h), p = strncasecmp(h, "https://", 8) == 0 ? 8 : strncasecmp(h, "http://", 7) == 0 ? 7 : 0;
    return p && n > p && h[p] != '/' && sz_ctl_span(h, n, 0) == n && !strchr(h, ' ');
}

/* An action link's href when it is an http(s) URL without controls. */
static const char *link_href(json_t *l)
{
    const char *h = jstr(l, "href");
    if (!h || (strncmp(h, "https://", 8) != 0 && strncmp(h, "http://", 7) != 0) ||
        sz_ctl_span(h, strlen(h), 0) != strlen(h) ||
        strchr(h, ' '))
        return NULL;
    return h;
}

/* actionLinks as text into b (nothing when none qualifies); 1 when some. */
static int render_links(sz_buf *b, json_t *links, int write)
{
    size_t i, n = 0;
    json_t *l;
    if (!json_is_array(links))
        return 0;
    json_array_foreach(links, i, l) {
        const char *h = link_href(l), *t = jstr(l, "title"); /* Gigya's {title, href} */
        if (!h || n >= MAX_ACTION_LINKS)
            continue;
        if (write) {
            if (n)
                sz_buf_addc(b, '\n');
            if (!t || !*t)
                t = jstr(l, "text");
            if (t && *t && sz_ctl_span(t, strlen(t), 0) == strlen(t)) {
                sz_buf_adds(b, t);
                sz_buf_adds(b, ": ");
            }
            sz_buf_adds(b, h);
        }
        n++;
    }
    return n > 0;
}

/* The field named s[0..n), or -1. */
static int field_index(const char *s, size_t n)
{
    int i;
    for (i = 0; FIELDS[i]; i++)
        if (strlen(FIELDS[i]) == n && memcmp(FIELDS[i], s, n) == 0)
            return i;
    return -1;
}

int sz_nk_compose_check(const char *spec, char *why, size_t n)
{
    const char *p = spec, *semi, *end;
    if (!spec || !*spec) {
        snprintf(why, n, "empty compose spec");
        return -1;
    }
    semi = strchr(spec, ';');
    end = semi ? semi : spec + strlen(spec);
    while (p < end) {
        size_t len = strcspn(p, ",|;");
        if (p + len > end)
            len = (size_t)(end - p);
        if (field_index(p, len) < 0) {
            snprintf(why, n, "unknown field '%.*s' in '%s'", (int)len, p, spec);
            return -1;
        }
        p += len;
        if (p < end && (p + 1 == end || p[1] == ',' || p[1] == '|')) {
            snprintf(why, n, "empty field in '%s'", spec);
            return -1;
        }
        if (p < end)
            p++;
    }
    if (semi) {
        const char *l = strchr(semi + 1, '=');
        l = l ? l + 1 : semi + 1;
        if (strcmp(l, "linkBack") != 0 || (l > semi + 1 && l - 1 == semi + 1) ||
            (l > semi + 1 && (size_t)(l - semi - 2) >= sizeof ((action *)0)->link_to)) {
            snprintf(why, n, "the link part of '%s' must be linkBack or param=linkBack", spec);
            return -1;
        }
    }
    return 0;
}

/* The composed text of a publish; a->link_to says where the link goes. */
static void compose_spec(sz_buf *b, const char *spec, const char *sep, action *a, int *link_in_text)
{
    const char *p = spec, *semi = strchr(spec, ';'), *end = semi ? semi : spec + strlen(spec);
    int first = 1;
    while (p < end) {
        const char *v = NULL;
        int links = 0;
        for (;;) { /* one group: the first field present */
            size_t len = strcspn(p, ",|;");
            int i = field_index(p, len);
            if (!v && !links && i == ACTION_LINKS)
                links = render_links(b, a->links, 0);
            else if (!v && !links && i >= 0 && field_value(a, i) && *field_value(a, i))
                v = field_value(a, i);
            p += len;
            if (*p != '|')
                break;
            p++;
        }
        if (v || links) {
            if (!first)
                sz_buf_adds(b, sep);
            if (v)
                sz_buf_adds(b, v);
            else
                render_links(b, a->links, 1);
            first = 0;
        }
        if (*p == ',')
            p++;
    }
    if (first)
        sz_buf_add(b, "", 0); /* an empty, NUL-terminated string */
    *link_in_text = semi && !strchr(semi, '=');
    if (semi && strchr(semi, '=')) {
        size_t n = (size_t)(strchr(semi, '=') - semi - 1);
        snprintf(a->link_to, sizeof a->link_to, "%.*s", (int)n, semi + 1);
    }
}

/* The call has media the network posts: an empty text is then fine. Items
 * a network without media would drop, or that are not objects, are not. */
static int has_media(ctx *x)
{
    json_t *list = json_object_get(x->in, "media"), *it;
    size_t k;
    if (!(x->nt->media.images || x->nt->media.videos || x->nt->media.audio))
        return 0;
    json_array_foreach(list, k, it)
        if (json_is_object(it))
            return 1;
    return 0;
}

char *sz_nk_text(ctx *x, action *a)
{
    const net *nt = x->nt;
    const char *act = x->c->action, *what;
    /* a setup step may have read the account's own limits (a Mastodon instance) */
    long max = (long)jint(x->setup, "maxCharacters", 1, SZ_MAX_TEXT_LIMIT, nt->text.max),
         urlw = (long)jint(x->setup, "charactersReservedPerUrl", 0, SZ_MAX_URL_WEIGHT, nt->text.url_weight);
    char *text;
    read_action(x->in, a);
    if (strcmp(act, "status") == 0 || strcmp(act, "notify") == 0) {
        int notify = act[0] == 'n';
        if (notify && nt->text.notify_max)
            max = nt->text.notify_max;
        what = notify ? "the body is empty" : "the status is empty";
        text = fit(nt, jstr(x->in, notify ? "body" : "status"), NULL, urlw, max, nt->text.sep, 0, &x->result,
                   &a->truncated);
        a->link = NULL;
    } else {
        sz_buf t;
        int in_text = 0;
        sz_buf_init(&t);
        compose_spec(&t, nt->text.compose ? nt->text.compose : "userMessage,title;linkBack", nt->text.sep, a,
                     &in_text);
        what = "no userMessage, title or linkBack";
        text = t.failed ? NULL : fit(nt, t.data, in_text ? a->link : NULL, urlw, max, nt->text.sep, 1, &x->result,
                                     &a->truncated);
        sz_buf_reset(&t);
    }
    a->max = max;
    if (a->truncated)
        x->truncated = 1;
    if (text && a->link && !link_ok(a->link)) {
        free(text);
        x->result = fail("content_invalid", "%s: linkBack must be an http(s) URL without spaces or control "
                                            "characters", nt->name);
        return NULL;
    }
    if (text && !*text && !(a->link_to[0] && a->link) && !has_media(x)) {
        free(text);
        x->result = fail("content_invalid", "%s: nothing to post (%s)", nt->name, what);
        return NULL;
    }
    return text;
}

char *sz_nk_text_link_inline(ctx *x, action *a)
{
    net alt = *x->nt;
    const net *save = x->nt;
    char spec[160], *t;
    const char *c = x->nt->text.compose ? x->nt->text.compose : "userMessage,title;linkBack",
               *semi = strchr(c, ';');
    /* the descriptor's fields, the link after them ("...;param=linkBack" -> "...;linkBack") */
    snprintf(spec, sizeof spec, "%.*s;linkBack", (int)(semi ? (size_t)(semi - c) : strlen(c)), c);
    alt.text.compose = spec;
    x->nt = &alt;
    t = text_of(x, a);
    x->nt = save;
    return t;
}

json_t *sz_provider_text_json(const sz_call_json *c, sz_error *err)
{
    ctx x;
    action a;
    char *text;
    json_t *r;
    long urlw;
    sz_clearerr(err);
    memset(&x, 0, sizeof x);
    x.c = c;
    if (!c || !(x.nt = sz_call_check(c->provider, c->action, err)))
        return NULL;
    x.in = c->input;
    x.app = c->app;
    x.user = c->user;
    x.setup = c->setup;
    if (strcmp(c->action, "publish") != 0 && strcmp(c->action, "status") != 0 && strcmp(c->action, "notify") != 0) {
        sz_seterr(err, SZ_EINVALID, "Invalid parameter value: action '%.40s' has no text", c->action);
        return NULL;
    }
    if (x.nt->discontinued || !x.nt->build) {
        r = fail("provider_discontinued", "%s: %s", x.nt->name, x.nt->note);
        json_object_set_new(r, "provider", json_string(x.nt->name));
        return r;
    }
    { /* what sz_provider_request refuses is not previewed as cut short */
        char w[128];
        if (sz_call_nul(c, w, sizeof w)) {
            r = fail("content_invalid", "%s: %s contains a NUL byte", x.nt->name, w);
            json_object_set_new(r, "provider", json_string(x.nt->name));
            return r;
        }
    }
    text = text_of(&x, &a);
    if (!text) {
        if (!x.result) {
            sz_seterr(err, SZ_ENOMEM, "out of memory");
            return NULL;
        }
        json_object_set_new(x.result, "provider", json_string(x.nt->name));
        return x.result;
    }
    urlw = (long)jint(x.setup, "charactersReservedPerUrl", 0, SZ_MAX_URL_WEIGHT, x.nt->text.url_weight);
    r = json_pack("{s:b, s:s, s:s, s:I, s:I, s:b, s:s}", "ok", 1, "provider", x.nt->name, "text", text,
                  "length", (json_int_t)measure(x.nt, text, strlen(text), urlw), "max", (json_int_t)a.max,
                  "truncated", a.truncated, "counter",
                  x.nt->text.own ? x.nt->text.own->name : sz_text_rule_name(x.nt->text.count));
    if (r && a.link_to[0] && a.link)
        json_object_set_new(r, "link", json_pack("{s:s, s:s}", "field", a.link_to, "url", a.link));
    free(text);
    if (!r)
        sz_seterr(err, SZ_ENOMEM, "out of memory");
    return r;
}
