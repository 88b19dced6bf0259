// examples/c/example.cpp - the C library from C++ (a game server, say):
// check a user signature Gigya sent, post to a Telegram chat, read the reply.
// The handles are owned by std::unique_ptr with the library's free functions.
//
//   g++ example.cpp $(pkg-config --cflags --libs socialize) -o example-cpp
//   (examples/c/run links it statically: pkg-config --static, libsocialize.a)
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <socialize.h>

namespace {

struct free_request { void operator()(sz_request *r) const { sz_request_free(r); } };
struct free_result { void operator()(sz_result *r) const { sz_result_free(r); } };
struct free_string { void operator()(char *s) const { sz_free(s); } };
using request_ptr = std::unique_ptr<sz_request, free_request>;
using result_ptr = std::unique_ptr<sz_result, free_result>;
using string_ptr = std::unique_ptr<char, free_string>;

int n = 0, failed = 0;

void report(bool ok, const std::string &what)
{
    std::printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n, what.c_str());
    if (!ok)
        failed++;
}

// A call whose inputs are JSON texts kept in std::strings (alive during the call).
sz_provider_call call(const char *provider, const char *action, const std::string &input,
                      const std::string &app, const std::string &user)
{
    sz_provider_call c;
    std::memset(&c, 0, sizeof c);
    c.provider = provider;
    c.action = action;
    c.input = input.data();
    c.input_len = input.size();
    c.app = app.data();
    c.app_len = app.size();
    c.user = user.data();
    c.user_len = user.size();
    c.timestamp = 1700000000;
    return c;
}

} // namespace

int main()
{
    const char *secret = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";
    sz_error err;

    // 1. Gigya's user signature: Base64(HMAC-SHA1(secret, timestamp + "_" + UID)).
    string_ptr sig(sz_sign(secret, "1700000000_user_123", 19, &err));
    report(sig != nullptr, "sign");
    report(sig && sz_validate_user_signature("user_123", "1700000000", secret, sig.get(), 180, 1700000060) == 1,
           "a fresh user signature is valid");
    report(sig && sz_validate_user_signature("user_123", "1700000000", secret, sig.get(), 180, 1700009999) == 0,
           "an old one is not");

    // 2. A Telegram message to the player's chat.
    const std::string app = R"({"botToken":"123:bot-token"})";
    const std::string user = R"({"chatId":"-100777"})";
    const std::string input = R"({"status":"Level 3 done in 4:12"})";
    sz_provider_call c = call("telegram", "status", input, app, user);
    sz_result *refusal = nullptr;
    request_ptr req(sz_provider_request(&c, &refusal, &err));
    result_ptr refused(refusal);
    report(req && std::strcmp(sz_request_url(req.get()), "https://api.telegram.org/bot123:bot-token/sendMessage") == 0,
           "Telegram request");
    if (req) {
        size_t len;
        const char *body = sz_request_body(req.get(), &len);
        std::printf("    %s [body] %.*s\n", sz_request_method(req.get()), static_cast<int>(len), body);
    }

    const std::string reply = R"({"ok":true,"result":{"message_id":55,"chat":{"id":-100777}}})";
    result_ptr res(sz_provider_parse(&c, 200, nullptr, 0, reply.data(), reply.size(), 1700000000, &err));
    report(res && sz_result_ok(res.get()) && std::string(sz_result_post_id(res.get())) == "-100777:55",
           "Telegram reply: post id");
    if (res) {
        string_ptr text(sz_result_json(res.get(), nullptr, nullptr, &err));
        std::printf("    %s\n", text ? text.get() : sz_strerror(err.status));
    }

    // 3. An unknown network is a wrong call, not a result.
    sz_provider_call bad = call("myspace", "status", input, app, user);
    request_ptr none(sz_provider_request(&bad, &refusal, &err));
    report(!none && !refusal && err.status == SZ_EINVALID, std::string("unknown network: ") + err.message);

    std::printf("example-cpp: %d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}
