/* C unit tests: the generic text step (sz_compose.c), driven by a
 * descriptor of the test's own, so that the engine is checked apart from
 * any network; and every registered network's text.compose spec. */
#include "test_util.h"
#include "sz_netkit.h"

static sz_request *no_build(sz_ctx *x)
{
    (void)x;
    return NULL;
}

/* A network of the test's own: 20 code points, " / " between parts. */
static const sz_net LOCAL = {
    .name = "local", .display = "Local",
    .text = {20, SZ_TEXT_CODEPOINTS, -1, " / ", "description,subtitle|title;card=linkBack", .notify_max = 30},
    .build = no_build,
};
static const sz_net INLINE = {
    .name = "inline", .display = "Inline",
    .text = {20, SZ_TEXT_CODEPOINTS, -1, " ", "title|userMessage;linkBack"},
    .build = no_build,
};

/* The text of one call to nt; *res receives the failure's category (or NULL). */
static char *text(const sz_net *nt, const char *act, json_t *in, json_t *setup, sz_action *a, char *cat,
                  size_t n)
{
    sz_call_json c;
    sz_ctx x;
    char *t;
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    c.provider = nt->name;
    c.action = act;
    x.c = &c;
    x.nt = nt;
    x.in = in;
    x.setup = setup;
    t = sz_nk_text(&x, a);
    snprintf(cat, n, "%s", x.result ? S(x.result, "category") : "");
    if (x.result && !t)
        snprintf(cat, n, "%s: %s", S(x.result, "category"), S(x.result, "errorDetails"));
    json_decref(x.result);
    return t;
}

#define UA(fmt, ...) json_pack("{s:{" fmt "}}", "userAction", __VA_ARGS__)

void test_compose_engine(void)
{
    sz_action a;
    char cat[300], *t;
    json_t *in, *setup;

    /* groups in the spec's order, the first present field of a group, the
     * link sent elsewhere, never in the text */
    in = UA("s:s, s:s, s:s, s:s", "title", "T", "subtitle", "", "description", "D", "linkBack", "https://l.example");
    t = text(&LOCAL, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "D / T", "description, then subtitle|title (an empty subtitle skipped)");
    CHECK_STR(a.link_to, "card", "the link goes to the spec's param");
    CHECK_STR(a.link, "https://l.example", "the link is read");
    free(t);
    json_decref(in);

    /* a publish over the limit is cut with an ellipsis: 19 code points + … */
    in = UA("s:s", "title", "abcdefghijklmnopqrstuvwxyz");
    t = text(&LOCAL, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "abcdefghijklmnopqrs\xE2\x80\xA6", "cut to 20 with an ellipsis");
    free(t);
    json_decref(in);

    /* the link inside the text is never cut: the text before it is */
    in = UA("s:s, s:s", "title", "0123456789abcdef", "linkBack", "https://e.x");
    t = text(&INLINE, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "0123456\xE2\x80\xA6 https://e.x", "text cut, link kept whole");
    CHECK(a.link_to[0] == '\0', "a link in the text has no param");
    free(t);
    json_decref(in);

    /* title|userMessage: an empty title falls back to the message */
    in = UA("s:s, s:s", "title", "", "userMessage", "M");
    t = text(&INLINE, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "M", "empty title: the message");
    free(t);
    json_decref(in);

    /* a link alone: fine when it goes elsewhere, the text when inline */
    in = UA("s:s", "linkBack", "https://only.example");
    t = text(&LOCAL, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "", "link alone, sent as the card: empty text");
    free(t);
    t = text(&INLINE, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "https://only.example", "link alone, inline: the text is the link");
    free(t);
    json_decref(in);

    /* nothing at all: refused, naming the network */
    in = UA("s:s", "title", "");
    t = text(&LOCAL, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK(!t && strncmp(cat, "content_invalid: local: nothing to post", 39) == 0, "nothing: %s", cat);
    json_decref(in);

    /* a status is measured, never cut; the body of a notification has its own limit */
    in = json_pack("{s:s, s:s}", "status", "abcdefghijklmnopqrstu", "body", "abcdefghijklmnopqrstuvwxyz0123");
    t = text(&LOCAL, "status", in, NULL, &a, cat, sizeof cat);
    CHECK(!t && strstr(cat, "content_invalid: local: text counts 21 of 20 allowed"), "status over: %s", cat);
    t = text(&LOCAL, "notify", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, "abcdefghijklmnopqrstuvwxyz0123", "notify_max 30 applies to a body");
    free(t);
    json_decref(in);
    in = json_pack("{s:s}", "status", "");
    t = text(&LOCAL, "status", in, NULL, &a, cat, sizeof cat);
    CHECK(!t && strstr(cat, "nothing to post (the status is empty)"), "empty status: %s", cat);
    json_decref(in);

    /* the setup state's limits replace the descriptor's, within their caps */
    in = UA("s:s", "title", "abcdefghij");
    setup = json_pack("{s:i}", "maxCharacters", 5);
    t = text(&LOCAL, "publish", in, setup, &a, cat, sizeof cat);
    CHECK_STR(t, "abcd\xE2\x80\xA6", "maxCharacters 5 from the setup state");
    free(t);
    json_decref(setup);
    setup = json_pack("{s:I}", "maxCharacters", (json_int_t)SZ_MAX_TEXT_LIMIT + 1);
    t = text(&LOCAL, "publish", in, setup, &a, cat, sizeof cat);
    CHECK_STR(t, "abcdefghij", "an out-of-range maxCharacters keeps the descriptor's");
    free(t);
    json_decref(setup);
    setup = json_pack("{s:s}", "maxCharacters", "5");
    t = text(&LOCAL, "publish", in, setup, &a, cat, sizeof cat);
    CHECK_STR(t, "abcdefghij", "a maxCharacters that is not an integer is ignored");
    free(t);
    json_decref(setup);
    json_decref(in);
}

void test_compose_specs(void)
{
    const char *const bad[] = {"", "nope", "title,,userMessage", "title|", "title;", "title;=linkBack",
                               "title;x=link", "title;linkBack;linkBack", ",title",
                               "title;a_parameter_name_of_32_characters=linkBack", NULL};
    const char *const good[] = {"title", "title|userMessage;linkBack", "userMessage,title,description;link=linkBack",
                                "subtitle;content.article=linkBack", NULL};
    const sz_net *const *n;
    char why[200];
    int i, nets = 0;
    for (n = sz_nets(); *n; n++) {
        if (!(*n)->build)
            continue; /* discontinued: no text */
        nets++;
        CHECK((*n)->text.compose && sz_nk_compose_check((*n)->text.compose, why, sizeof why) == 0,
              "%s: text.compose: %s", (*n)->name, (*n)->text.compose ? why : "missing");
        CHECK((*n)->text.max > 0 && (*n)->text.sep, "%s: text.max and text.sep", (*n)->name);
    }
    CHECK(nets >= 9, "the live networks were walked (%d)", nets);
    for (i = 0; bad[i]; i++)
        CHECK(sz_nk_compose_check(bad[i], why, sizeof why) == -1 && why[0], "'%s' is refused", bad[i]);
    for (i = 0; good[i]; i++)
        CHECK(sz_nk_compose_check(good[i], why, sizeof why) == 0, "'%s' is valid: %s", good[i], why);
}

/* ---- the cut point over hostile texts --------------------------------------
 * "cut at its end with …, never inside a URL" (docs/api.md) holds for every
 * counter, including those where a URL weighs its length (url_weight -1),
 * the networks' own counters and Bluesky's; and a cut never splits a
 * grapheme cluster (a flag, a ZWJ family, a keycap) into other emoji. */
static long weigh_one(unsigned cp)
{
    (void)cp;
    return 1;
}
static const sz_counter COUNT_ONE = {"one", weigh_one};
static const sz_net OWN = {
    .name = "own", .display = "Own",
    .text = {20, SZ_TEXT_CODEPOINTS, -1, " ", "title;linkBack", &COUNT_ONE},
    .build = no_build,
};
static const sz_net BSKY20 = {
    .name = "bsky20", .display = "Bsky20",
    .text = {20, SZ_TEXT_BSKY, -1, " ", "title;linkBack"},
    .build = no_build,
};
static const sz_net WEIBO20 = {
    .name = "weibo20", .display = "Weibo20",
    .text = {20, SZ_TEXT_WEIBO, -1, " ", "title;linkBack"},
    .build = no_build,
};

static void cut_case(const sz_net *nt, const char *title, const char *want, const char *what)
{
    sz_action a;
    char cat[300], *t;
    json_t *in = UA("s:s", "title", title);
    t = text(nt, "publish", in, NULL, &a, cat, sizeof cat);
    CHECK_STR(t, want, what);
    free(t);
    json_decref(in);
}

void test_compose_cut_hostile(void)
{
    const sz_net *nets[] = {&INLINE, &OWN};
    size_t k;
    for (k = 0; k < 2; k++) {
        const sz_net *nt = nets[k];
        char what[200];
        /* a URL in the text that does not fit is dropped whole, never cut */
        snprintf(what, sizeof what, "%s: a URL in the text is not cut", nt->name);
        cut_case(nt, "ab https://bank.example.com/pay", "ab\xE2\x80\xA6", what);
        snprintf(what, sizeof what, "%s: a URL after punctuation is not cut", nt->name);
        cut_case(nt, "ab Link:https://bank.example.com/pay", "ab Link:\xE2\x80\xA6", what);
        snprintf(what, sizeof what, "%s: a text that is only a long URL: nothing is left", nt->name);
        {
            sz_action a;
            char cat[300], *t;
            json_t *in = UA("s:s", "title", "https://example.com/abcdefghijklmnopqrstuvwxyz");
            t = text(nt, "publish", in, NULL, &a, cat, sizeof cat);
            CHECK(!t && strstr(cat, "content_invalid"), "%s: got %s (%s)", what, t ? t : "NULL", cat);
            free(t);
            json_decref(in);
        }
        /* 18 letters + a flag (two regional indicators): the flag is not halved */
        snprintf(what, sizeof what, "%s: a flag is not halved", nt->name);
        cut_case(nt, "abcdefghijklmnopqr\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7zz", "abcdefghijklmnopqr\xE2\x80\xA6", what);
        /* 17 letters + man ZWJ woman ZWJ girl: the family is not cut after the first ZWJ or woman */
        snprintf(what, sizeof what, "%s: a ZWJ family is not cut", nt->name);
        cut_case(nt, "abcdefghijklmnopq\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7z",
                 "abcdefghijklmnopq\xE2\x80\xA6", what);
        snprintf(what, sizeof what, "%s: a ZWJ family is not cut after a person", nt->name);
        cut_case(nt, "abcdefghijklmnopqr\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7z",
                 "abcdefghijklmnopqr\xE2\x80\xA6", what);
        /* a keycap: 1 FE0F 20E3 */
        snprintf(what, sizeof what, "%s: a keycap is not cut", nt->name);
        cut_case(nt, "abcdefghijklmnopqr1\xEF\xB8\x8F\xE2\x83\xA3zz", "abcdefghijklmnopqr\xE2\x80\xA6", what);
    }
    /* Weibo counts half-units: a URL is still not cut */
    cut_case(&WEIBO20, "ab https://bank.example.com/pay", "ab\xE2\x80\xA6", "weibo: a URL in the text is not cut");
    /* Bluesky links bare domains too (detectFacets): neither kind is cut */
    cut_case(&BSKY20, "ab https://bank.example.com/pay", "ab\xE2\x80\xA6", "bsky: a URL in the text is not cut");
    cut_case(&BSKY20, "ab bank.example.com/transfer", "ab\xE2\x80\xA6", "bsky: a bare domain is not cut");
}

/* The URL finder (twitter-text's extractor) tries every start inside a run
 * of letters with no space (CJK) and after every '.': each start read the
 * whole run again, and the up to 127 labels after it, so a 120 KB CJK
 * message took 5 s and a 1 MB one many minutes, 1 MB of "a." 13 s, on X
 * and Mastodon.
 * The work is counted (code points read by label scans), not timed. */
void test_text_urls_linear(void)
{
    static const char *pieces[] = {"\xE6\xBC\xA2", "\xE6\xBC\xA2.\xE6\xBC\xA2", "a_", "\xE6\xBC\xA2.com", "a.", "a_b.", "com."};
    size_t k;
    for (k = 0; k < sizeof pieces / sizeof *pieces; k++) {
        size_t pl = strlen(pieces[k]), n = 20000 / pl * pl, i;
        char *s = malloc(n + 1);
        long w;
        for (i = 0; i < n; i += pl)
            memcpy(s + i, pieces[k], pl);
        s[n] = '\0';
        sz_test_label_steps = 0;
        w = sz_text_measure(s, n, SZ_TEXT_X, 23);
        CHECK(w > 0 && sz_test_label_steps <= 4 * (unsigned long long)n,
              "piece %zu: %llu code points read for %zu bytes", k, sz_test_label_steps, n);
        sz_test_label_steps = 0;
        w = sz_text_measure(s, n, SZ_TEXT_GRAPHEMES, 23);
        CHECK(w > 0 && sz_test_label_steps <= 4 * (unsigned long long)n,
              "piece %zu, graphemes: %llu code points read for %zu bytes", k, sz_test_label_steps, n);
        free(s);
    }
}

/* A NUL byte: what sz_provider_request refuses (a C string would cut the
 * value short) is refused by the text preview too, and in the media step's
 * state (an item's alt text goes into a multipart body). */
void test_compose_nul(void)
{
    sz_call_json c;
    sz_error err;
    json_t *r, *in, *user, *step;
    json_t *req_res = NULL;
    sz_request *req;
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                        0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0};
    sz_blob blob = {png, sizeof png};
    memset(&c, 0, sizeof c);
    in = json_pack("{s:{s:s%}}", "userAction", "userMessage", "x\0y", (size_t)3);
    c.provider = "twitter";
    c.action = "publish";
    c.input = in;
    r = sz_provider_text_json(&c, &err);
    CHECK(r && !json_is_true(json_object_get(r, "ok")) && strstr(S(r, "errorDetails"), "NUL"),
          "a NUL in the message: the preview refuses it as the request does (%s)", r ? S(r, "errorDetails") : "NULL");
    json_decref(r);
    json_decref(in);

    user = json_pack("{s:s, s:s}", "accessToken", "t", "instance", "https://m.example");
    step = json_pack("{s:{s:i, s:s, s:s, s:s%}}", "item", "index", 1, "kind", "image", "mime", "image/png", "alt",
                     "a\0\r\n--socialize", (size_t)15);
    in = json_object();
    memset(&c, 0, sizeof c);
    c.provider = "mastodon";
    c.action = "upload";
    c.input = in;
    c.user = user;
    c.step = step;
    c.blobs = &blob;
    c.nblobs = 1;
    c.timestamp = 1700000000;
    c.nonce = "n";
    req = sz_provider_request_json(&c, &req_res, &err);
    CHECK(!req && err.status == SZ_EREFUSED && req_res && strstr(S(req_res, "errorDetails"), "step state.item.alt"),
          "a NUL in the step's alt text is refused: %s", req_res ? S(req_res, "errorDetails") : err.message);
    sz_request_free(req);
    json_decref(req_res);
    json_decref(in);
    json_decref(user);
    json_decref(step);
}

/* Nothing to post: media items make an empty text fine only on a network
 * that posts them, and only when they are items (objects). */
static const sz_net WITH_MEDIA = {
    .name = "withmedia", .display = "WithMedia",
    .text = {20, SZ_TEXT_CODEPOINTS, -1, " ", "title|userMessage;linkBack"},
    .media = {.images = 4, .upload = 1},
    .build = no_build,
};

void test_compose_media_nothing(void)
{
    const sz_net *nets[] = {&INLINE, &WITH_MEDIA};
    size_t k;
    for (k = 0; k < 2; k++) {
        sz_action a;
        char cat[300], *t;
        json_t *in = json_pack("{s:{}, s:[i, n, s]}", "userAction", "media", 5, "x");
        t = text(nets[k], "publish", in, NULL, &a, cat, sizeof cat);
        CHECK(!t && strstr(cat, "nothing to post"), "%s: media that are not items: nothing to post (%s)",
              nets[k]->name, cat);
        free(t);
        json_decref(in);
        in = json_pack("{s:{}, s:[{s:s, s:s}]}", "userAction", "media", "kind", "image", "id", "1");
        t = text(nets[k], "publish", in, NULL, &a, cat, sizeof cat);
        CHECK((t != NULL) == (nets[k] == &WITH_MEDIA), "%s: an image item and no text: %s", nets[k]->name,
              t ? "posted" : cat);
        free(t);
        json_decref(in);
    }
}
