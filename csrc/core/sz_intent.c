/* Share intents (postBookmark): a URL the user opens to share, no network
 * call. A network's own intent is in its descriptor (net/<network>.c); the
 * destinations here are the sharing services that are not networks the
 * library delivers to. Sans-IO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sz_netkit.h"

typedef struct intent {
    const char *name;
    const char *tmpl; /* {u} url, {t} title, {d} description, {i} image, {tu} "title url" */
    int dead;
} intent;

/* providers.md 12: the destinations without a network file */
static const intent INTENTS[] = {
    {"reddit", "https://www.reddit.com/submit?url={u}&title={t}", 0},
    {"pinterest", "https://www.pinterest.com/pin/create/button/?url={u}&media={i}&description={d}", 0},
    /* a link post: content is the link (tumblr.com/docs/en/share_button) */
    {"tumblr", "https://www.tumblr.com/widgets/share/tool?posttype=link&canonicalUrl={u}&content={u}&title={t}&caption={d}", 0},
    {"whatsapp", "https://api.whatsapp.com/send?text={tu}", 0},
    {"email", "mailto:?subject={t}&body={ud}", 0},
    {"hackernews", "https://news.ycombinator.com/submitlink?u={u}&t={t}", 0},
    {"threads", "https://www.threads.com/intent/post?text={t}&url={u}", 0},
    {"pocket", NULL, 1},
    {NULL, NULL, 0}
};

#define SZ_MAX_INTENTS 64

static const char *names[SZ_MAX_INTENTS + 1];

static void fill_names(void)
{
    size_t n = 0, i, k;
    const sz_net *const *reg = sz_nets();
    for (i = 0; reg[i] && n < SZ_MAX_INTENTS; i++)
        if (reg[i]->intent && !reg[i]->discontinued)
            names[n++] = reg[i]->name;
    for (i = 0; INTENTS[i].name && n < SZ_MAX_INTENTS; i++) {
        int dup = 0;
        for (k = 0; k < n; k++)
            dup |= strcmp(names[k], INTENTS[i].name) == 0;
        if (!INTENTS[i].dead && !dup)
            names[n++] = INTENTS[i].name;
    }
    names[n] = NULL;
}

/* The networks' intents (default delivery order), then the other destinations. */
const char *const *sz_bookmark_names(void)
{
    static int state;
    sz_once(&state, fill_names);
    return names;
}

static void add_enc(sz_buf *b, const char *s)
{
    if (s)
        sz_url_encode_buf(b, s, strlen(s));
}

/* The template of a destination: a network's own first, then INTENTS. */
static const char *find_intent(const char *dest, int *dead, const char **field)
{
    const intent *it;
    const sz_net *nt = sz_net_find(dest);
    *dead = 0;
    *field = NULL;
    if (nt && (nt->intent || nt->discontinued)) {
        *dead = nt->discontinued;
        *field = nt->url_field;
        return nt->intent ? nt->intent : "";
    }
    for (it = INTENTS; it->name && strcmp(it->name, dest) != 0; it++)
        ;
    *dead = it->dead;
    return it->name ? (it->tmpl ? it->tmpl : "") : NULL;
}

json_t *sz_bookmark_url_json(const char *dest, const char *url, const char *title, const char *desc,
                        const char *image, const char *instance)
{
    const char *p, *tmpl, *field;
    int dead;
    sz_buf b;
    json_t *r;
    tmpl = find_intent(dest, &dead, &field);
    if (!tmpl)
        return fail("unsupported", "unknown bookmark destination '%.40s'", dest);
    if (dead)
        return fail("provider_discontinued", "%s: the share service is discontinued", dest);
    if (!url || !url_ok(url))
        return fail("content_invalid", "url must be an http(s) URL");
    sz_buf_init(&b);
    for (p = tmpl; *p;) {
        if (strncmp(p, "{instance}", 10) == 0) {
            if (!instance || !url_ok(instance)) {
                sz_buf_reset(&b);
                return fail("content_invalid", "%s needs the user's %s (https://host)", dest,
                            field ? field : "instance");
            }
            sz_buf_add(&b, instance, strlen(instance) - (instance[strlen(instance) - 1] == '/'));
            p += 10;
        } else if (strncmp(p, "{tu}", 4) == 0 || strncmp(p, "{ud}", 4) == 0) {
            int tu = p[1] == 't';
            sz_buf t;
            sz_buf_init(&t);
            if (tu && title && *title) {
                sz_buf_adds(&t, title);
                sz_buf_addc(&t, ' ');
            }
            sz_buf_adds(&t, url);
            if (!tu && desc && *desc) {
                sz_buf_addc(&t, ' ');
                sz_buf_adds(&t, desc);
            }
            add_enc(&b, t.data);
            sz_buf_reset(&t);
            p += 4;
        } else if (p[0] == '{' && p[2] == '}') {
            add_enc(&b, p[1] == 'u' ? url : p[1] == 't' ? title : p[1] == 'd' ? desc : image);
            p += 3;
        } else {
            sz_buf_addc(&b, *p++);
        }
    }
    r = success(NULL);
    json_object_set_new(r, "url", json_string(b.data ? b.data : ""));
    json_object_set_new(r, "provider", json_string(dest));
    sz_buf_reset(&b);
    return r;
}
