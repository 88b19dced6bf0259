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
