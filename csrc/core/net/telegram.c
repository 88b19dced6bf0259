/* Telegram: Bot API sendMessage to the connection's chat; the bot token is the app's. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "sz_netkit.h"

static sz_request *build_telegram(ctx *x)
{
    const char *act = x->c->action;
    char *root = base_url(x->nt, x->app, NULL, NULL), *text = NULL, idb[32];
    json_t *body = NULL;
    sz_request *r = NULL;
    sz_buf url;
    const char *chat;
    action a;
    sz_buf_init(&url);
    NEED(x->app, botToken, "bot token");
    {
        /* "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11" (Bot API, Authorizing your bot):
         * a path segment of the URL, so nothing else ('/', '?', '#', '%', '.') */
        size_t d = strspn(botToken, "0123456789");
        if (d == 0 || botToken[d] != ':' || !botToken[d + 1] ||
            strspn(botToken + d + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                strlen(botToken + d + 1)) {
            x->result = fail("content_invalid", "telegram: the provider config's botToken is not a bot token "
                                                "(digits, ':', then letters, digits, '_' or '-')");
            goto done;
        }
    }
    chat = strcmp(act, "notify") == 0 ? jid(x->in, "recipient", idb, sizeof idb)
                                      : jid(x->user, "chatId", idb, sizeof idb);
    if (!chat || !*chat) {
        x->result = fail("not_connected", "telegram: %s has no chatId",
                         strcmp(act, "notify") == 0 ? "the recipient" : "the connection");
        goto done;
    }
    if (!(text = text_of(x, &a)))
        goto done;
    body = json_pack("{s:s, s:s}", "chat_id", chat, "text", text);
    sz_buf_printf(&url, "%s/bot%s/sendMessage", root, botToken);
    if (body && !url.failed)
        r = req_json("POST", url.data, body);
done:
    free(root);
    free(text);
    sz_json_free(body);
    sz_buf_reset(&url);
    return r;
}

static json_t *parse_telegram(const sz_call_json *c, int status, const sz_header *h, size_t nh,
                              json_t *j, long long now)
{
    json_t *res = json_object_get(j, "result"), *r, *ra;
    long code = (long)json_integer_value(json_object_get(j, "error_code"));
    char cb[32];
    (void)c;
    (void)h;
    (void)nh;
    (void)now;
    if (json_is_true(json_object_get(j, "ok")) && res) {
        char pid[64];
        snprintf(pid, sizeof pid, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_object_get(res, "chat"), "id")),
                 json_integer_value(json_object_get(res, "message_id")));
        return success(pid);
    }
    snprintf(cb, sizeof cb, "%ld", code);
    r = classify(by_status(code >= 100 && code <= 599 ? (int)code : status), status, code ? cb : NULL,
                 jstr(j, "description"));
    ra = json_object_get(json_object_get(j, "parameters"), "retry_after");
    if (json_is_integer(ra))
        set_retry(r, json_integer_value(ra));
    /* "group chat was upgraded to a supergroup chat": the chat has a new id
     * (ResponseParameters.migrate_to_chat_id) the caller must store; the
     * request as sent stays invalid (content_invalid), the connection works. */
    ra = json_object_get(json_object_get(j, "parameters"), "migrate_to_chat_id");
    if (json_is_integer(ra)) {
        char id[32], d[600];
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(ra));
        snprintf(d, sizeof d, "%s; migrate_to_chat_id %s", jstr(r, "errorDetails"), id);
        json_object_set_new(r, "errorDetails", json_string(d));
        json_object_set_new(r, "migrateToChatId", json_string(id));
    }
    set_scope(r, "app"); /* the bot's limit */
    return r;
}

const sz_net sz_net_telegram = {
    .name = "telegram", .display = "Telegram", .rank = 10, .note = "Bot API sendMessage",
    .base_url = "https://api.telegram.org",
    .text = {4096, SZ_TEXT_CODEPOINTS, -1, "\n\n", "userMessage,title,description;linkBack"},
    .auth = SZ_AUTH_URL_TOKEN,
    .auth_fields = {"botToken"},
    .secret_fields = {"botToken"},
    .account_fields = {"chatId"},
    .app_key_fields = {"botToken", "baseUrl"},
    .recipient_field = "chatId", .recipient_numeric_uid = 1,
    .intent = "https://t.me/share/url?url={u}&text={t}",
    .rate_scope = "app",
    .build = build_telegram, .parse = parse_telegram,
};
