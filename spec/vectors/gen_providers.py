#!/usr/bin/env python3
"""Derives the request vectors of spec/vectors/providers/<network>.json from
each network's documented wire format (shared/reference/providers.md: the
endpoints, parameters, headers and text rules), with Python's standard
library only: an implementation independent of the C core. It rewrites the
`requests` array (and `about`, `timestamp`, `nonce`) of the eight files it
knows and leaves their `replies`, and threads.json, as they are. The C tests
(csrc/test/test_net.c) and spec/provider_vectors_spec.lua both walk them.

  python3 spec/vectors/gen_providers.py          # rewrite the files
  python3 spec/vectors/gen_providers.py --check  # exit 1 if a file differs

Where text is counted, the texts are built from units whose weight the
network documents (X: twitter-text v3 ranges, an emoji sequence 2, every URL
23; Mastodon and Bluesky: grapheme clusters; Weibo: half-width 1, other 2 of
280; Telegram: UTF-16 code units; the others: code points), so every
expected cut is known by construction. With the npm oracles installed (make
oracles) the X texts are also checked with twitter-text and the Bluesky
facets with @atproto/api.

Project rules (not the networks'), stated here as the vectors pin them:
- the text of a publish is composed per network (docs/api.md) and, when too
  long, its text part (never the link) is cut and "…" appended; a status or a
  notification body is never cut, it is refused (content_invalid);
- form bodies and query strings: keys sorted, RFC 3986 percent-encoding;
  JSON bodies: keys sorted, no whitespace, raw UTF-8;
- VK's guid = the first 32 hex digits of SHA-256(owner "\\n" canonical input),
  Mastodon's Idempotency-Key = SHA-256(access token "\\n" canonical input),
  the canonical input being the call's input as the core's JSON writer
  writes it (sz_json_writer): sorted compact JSON, an integral number in the
  int64 range without fraction, any other the shortest of "%.15g", "%.16g",
  "%.17g" that reads back.
"""
import base64, hashlib, hmac, json, os, subprocess, sys
from urllib.parse import quote, urlsplit

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "providers")
TS, NONCE = 1700000000, "n1"
ELL = "\u2026"  # …

UA = {"title": "Level 3 done", "linkBack": "https://game.example/l3",
      "userMessage": "Beat it (finally) #win @home", "description": "Cleared in 4:12"}
LINK = UA["linkBack"]
FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # 👨‍👩‍👧: one grapheme, one emoji (X weight 2), 18 bytes


def enc(s):
    return quote(str(s).encode("utf-8"), safe="-_.~")


def form(params):
    return "&".join(enc(k) + "=" + enc(v) for k, v in sorted(params.items()))


def jdump(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def canon(v):
    """The canonical input as the core's JSON writer writes it: sorted compact
    JSON, raw UTF-8, an integral number in the int64 range as an integer, any
    other number the shortest of "%.15g", "%.16g", "%.17g" that reads back."""
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    if isinstance(v, float):
        if v == int(v) and -2.0 ** 63 <= v < 2.0 ** 63:
            return str(int(v))
        for prec in (15, 16, 17):
            s = "%.*g" % (prec, v)
            if float(s) == v:
                return s
        return s
    return json.dumps(v, ensure_ascii=False)


def sha256hex(*parts):
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def oauth1(method, url, ck, cs, tk, tsec, ts=TS, nonce=NONCE):
    """RFC 5849 3.4.1 / 3.4.2 (HMAC-SHA1) and 3.5.1 (the header): the JSON
    body is not a parameter."""
    u = urlsplit(url)
    base_url = u.scheme.lower() + "://" + u.hostname.lower()
    if u.port and not ((u.scheme == "https" and u.port == 443) or (u.scheme == "http" and u.port == 80)):
        base_url += ":%d" % u.port
    base_url += u.path
    p = {"oauth_consumer_key": ck, "oauth_nonce": nonce, "oauth_signature_method": "HMAC-SHA1",
         "oauth_timestamp": str(ts), "oauth_token": tk, "oauth_version": "1.0"}
    base = method.upper() + "&" + enc(base_url) + "&" + enc(form(p))
    sig = base64.b64encode(hmac.new((enc(cs) + "&" + enc(tsec)).encode(), base.encode(), hashlib.sha1).digest())
    p["oauth_signature"] = sig.decode()
    return "OAuth " + ", ".join('%s="%s"' % (k, enc(v)) for k, v in sorted(p.items()))


def iso(ts):
    import datetime
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ok(name, action, input, app, user, method, url, headers, body=None, setup=None):
    v = {"name": name, "action": action, "input": input, "app": app, "user": user}
    if setup is not None:
        v["setup"] = setup
    e = {"method": method, "url": url, "headers": headers}
    if body is not None:
        e["body"] = body
    v["expect"] = e
    return v


# the categories' Gigya codes (docs/api.md "Direct delivery")
CODES = {"content_invalid": 400006, "not_connected": 400106, "unsupported": 400096}


def refused(name, action, input, app, user, category, network, setup=None, details=None):
    """A refusal; details: how errorDetails starts (the count, the field)."""
    v = {"name": name, "action": action, "input": input, "app": app, "user": user}
    if setup is not None:
        v["setup"] = setup
    v["expect_result"] = {"ok": False, "category": category, "errorCode": CODES[category], "provider": network}
    if details:
        v["expect_result"]["detailsPrefix"] = details
    return v


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}

# ---- X ------------------------------------------------------------------------
X_APP, X_USER = {"consumerKey": "ck", "consumerSecret": "cs"}, {"token": "t", "tokenSecret": "ts"}
X_TWEETS = "https://api.x.com/2/tweets"
X_CHECK = []  # texts twitter-text must find valid at exactly this weight


def x_oauth(url, app=X_APP, user=X_USER):
    return {"Authorization": oauth1("POST", url, app["consumerKey"], app["consumerSecret"], user["token"],
                                    user["tokenSecret"]), "Content-Type": "application/json"}


def x_bearer(tok="B1"):
    return {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}


def twitter():
    net, B = "twitter", {"bearerToken": "B1"}
    dm = "https://api.x.com/2/dm_conversations/with/2244994945/messages"
    r = []
    r.append(ok("publish: POST /2/tweets, OAuth 1.0a user context (RFC 5849 HMAC-SHA1), only the title and "
                "the link, the place id as geo.place_id", "publish",
                {"userAction": UA, "userLocation": {"placeID": "df51dec6f4ee2b2c"}}, X_APP, X_USER,
                "POST", X_TWEETS, x_oauth(X_TWEETS),
                jdump({"geo": {"place_id": "df51dec6f4ee2b2c"}, "text": "Level 3 done " + LINK})))
    r.append(ok("publish with an OAuth 2.0 user token: Authorization Bearer", "publish", {"userAction": UA}, {}, B,
                "POST", X_TWEETS, x_bearer(), jdump({"text": "Level 3 done " + LINK})))
    r.append(ok("publish without a title: the userMessage, then the link", "publish",
                {"userAction": {"userMessage": "Beat it (finally) #win @home", "linkBack": LINK,
                                "description": "not posted"}}, {}, B,
                "POST", X_TWEETS, x_bearer(), jdump({"text": "Beat it (finally) #win @home " + LINK})))
    r.append(ok("publish of a link alone", "publish", {"userAction": {"linkBack": LINK}}, {}, B,
                "POST", X_TWEETS, x_bearer(), jdump({"text": LINK})))
    r.append(ok("status: the text as it is", "status", {"status": "Hello from the game https://game.example"},
                X_APP, X_USER, "POST", X_TWEETS, x_oauth(X_TWEETS),
                jdump({"text": "Hello from the game https://game.example"})))
    r.append(ok("baseUrl from the provider config: the URL and the signature base string follow it", "status",
                {"status": "x"}, dict(X_APP, baseUrl="http://127.0.0.1:9/"), X_USER,
                "POST", "http://127.0.0.1:9/2/tweets", x_oauth("http://127.0.0.1:9/2/tweets"), jdump({"text": "x"})))
    r.append(ok("sendNotification: a DM to a numeric user id, POST /2/dm_conversations/with/{id}/messages",
                "notify", {"body": "Join me https://game.example", "recipient": "2244994945"}, X_APP, X_USER,
                "POST", dm, x_oauth(dm), jdump({"text": "Join me https://game.example"})))
    r.append(ok("sendNotification: a recipient given as a JSON number", "notify",
                {"body": "hi", "recipient": 2244994945}, {}, B, "POST", dm, x_bearer(), jdump({"text": "hi"})))
    r.append(refused("sendNotification to a handle: X needs the numeric user id", "notify",
                     {"body": "x", "recipient": "@handle"}, {}, B, "content_invalid", net))
    r.append(refused("sendNotification: a recipient that is a path (1/../2) is refused", "notify",
                     {"body": "x", "recipient": "1/../2"}, {}, B, "content_invalid", net))
    # 280 weighted: the link counts 23 whatever its length (here 34), the separator 1
    xl = "https://game.example.com/levels/3"
    for n, text in ((256, "a" * 256), (257, "a" * 254 + ELL)):
        X_CHECK.append((text + " " + xl, 280))
        r.append(ok("publish: a title of %d + space + link (34 characters, 23) = %d: %s" %
                    (n, n + 24, "fits whole" if n == 256 else "the title is cut to 254 + '\u2026' (2) = 280"),
                    "publish", {"userAction": {"title": "a" * n, "linkBack": xl}}, {}, B,
                    "POST", X_TWEETS, x_bearer(), jdump({"text": text + " " + xl})))
    long_link = "https://example.com/" + "x" * 100
    X_CHECK.append(("\u754c" * 127 + ELL + " " + long_link, 280))
    r.append(ok("publish: CJK weighs 2 and a 120-character URL 23: 200 \u754c (400) are cut to 127 (254) + '\u2026' (2) "
                "+ space + URL = 280", "publish", {"userAction": {"title": "\u754c" * 200, "linkBack": long_link}},
                {}, B, "POST", X_TWEETS, x_bearer(), jdump({"text": "\u754c" * 127 + ELL + " " + long_link})))
    X_CHECK.append(("\U0001F600" * 140, 280))
    r.append(ok("status: 140 emoji weigh 280 and fit", "status", {"status": "\U0001F600" * 140}, {}, B,
                "POST", X_TWEETS, x_bearer(), jdump({"text": "\U0001F600" * 140})))
    r.append(refused("status: 141 emoji weigh 282: refused, a status is never cut", "status",
                     {"status": "\U0001F600" * 141}, {}, B, "content_invalid", net, details=net + ": text counts 282 of 280"))
    X_CHECK.append((FAMILY * 140, 280))
    r.append(ok("status: a ZWJ family is one emoji sequence (2): 140 of them fit", "status",
                {"status": FAMILY * 140}, {}, B, "POST", X_TWEETS, x_bearer(), jdump({"text": FAMILY * 140})))
    url200 = "https://example.com/" + "y" * 200
    X_CHECK.append(("a" * 256 + " " + url200, 280))
    r.append(ok("status: a URL inside the text counts 23 too: 256 + 1 + 23 = 280 fits", "status",
                {"status": "a" * 256 + " " + url200}, {}, B, "POST", X_TWEETS, x_bearer(),
                jdump({"text": "a" * 256 + " " + url200})))
    r.append(refused("status: 257 + 1 + 23 = 281 is refused", "status", {"status": "a" * 257 + " " + url200}, {}, B,
                     "content_invalid", net, details=net + ": text counts 281 of 280"))
    needs = "twitter: the connection needs bearerToken, or token and tokenSecret with the app's consumerKey and " \
        "consumerSecret"
    r.append(refused("no tokenSecret: not_connected", "publish", {"userAction": UA}, X_APP, {"token": "t"},
                     "not_connected", net, details=needs))
    r.append(refused("OAuth 1.0a without the app's consumerKey and consumerSecret: not_connected", "publish",
                     {"userAction": UA}, {}, X_USER, "not_connected", net, details=needs))
    r.append(refused("nothing to post (a description alone is not posted)", "publish",
                     {"userAction": {"description": "only this"}}, {}, B, "content_invalid", net))
    r.append(refused("graph operations are Facebook's", "graph", {"graphPath": "/me"}, {}, B, "unsupported", net))
    # media (docs.x.com/x-api/media, POST /2/tweets media.media_ids): the tweet names the uploaded ids, in item
    # order; up to 4 images, or one GIF or video alone; with media the text may be absent
    imgs = [{"index": i, "kind": "image", "mime": "image/png", "id": str(1880028106020515840 + i)} for i in (1, 2)]
    r.append(ok("publish with media: media.media_ids in item order", "publish", {"userAction": UA, "media": imgs},
                X_APP, X_USER, "POST", X_TWEETS, x_oauth(X_TWEETS),
                jdump({"media": {"media_ids": [m["id"] for m in imgs]}, "text": "Level 3 done " + LINK})))
    r.append(ok("publish: a video and no text at all (no text field)", "publish",
                {"userAction": {}, "media": [{"index": 1, "kind": "video", "mime": "video/mp4", "id": "1912"}]},
                {}, B, "POST", X_TWEETS, x_bearer(), jdump({"media": {"media_ids": ["1912"]}})))
    five = [dict(imgs[0], index=i, id=str(i)) for i in range(1, 6)]
    r.append(refused("publish: 5 images (X takes 4)", "publish", {"userAction": UA, "media": five}, {}, B,
                     "content_invalid", net, details="twitter: mediaItems[5]: X takes up to 4 images"))
    r.append(refused("publish: a GIF beside an image", "publish",
                     {"userAction": UA, "media": [imgs[0], {"index": 2, "kind": "gif", "id": "7"}]}, {}, B,
                     "content_invalid", net, details="twitter: mediaItems[2]: X takes one GIF or video alone"))
    r.append(refused("publish: an item that was not uploaded", "publish",
                     {"userAction": UA, "media": [imgs[0], {"index": 2, "kind": "image", "mime": "image/png"}]}, {}, B,
                     "content_invalid", net, details="twitter: mediaItems[2] was not uploaded"))
    r.append(refused("publish: a media id that is not digits", "publish",
                     {"userAction": UA, "media": [dict(imgs[0], id="1,2")]}, {}, B,
                     "content_invalid", net, details="twitter: mediaItems[1] was not uploaded"))
    return r


# ---- Facebook -----------------------------------------------------------------
FB_SECRET, FB_TOKEN = "fb-app-secret", "fb-page-token"


def proof(secret, token):
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def facebook():
    net, G = "facebook", "https://graph.facebook.com/v26.0"
    user = {"accessToken": FB_TOKEN, "pageId": "1647395831"}
    app = {"appSecret": FB_SECRET}
    pf = proof(FB_SECRET, FB_TOKEN)
    feed = G + "/1647395831/feed"
    msg = "\n\n".join([UA["userMessage"], UA["title"], UA["description"]])
    r = []
    r.append(ok("publish: the Page feed; since Graph v2.9 title and description go in the message, the link in "
                "link; appsecret_proof = HMAC-SHA256(app secret, token)", "publish", {"userAction": UA}, app, user,
                "POST", feed, FORM, form({"access_token": FB_TOKEN, "appsecret_proof": pf, "link": LINK,
                                          "message": msg})))
    r.append(ok("the Graph version from the provider config; no appSecret, no appsecret_proof", "publish",
                {"userAction": UA}, {"version": "v25.0"}, {"accessToken": "t", "pageId": "1"},
                "POST", "https://graph.facebook.com/v25.0/1/feed", FORM,
                form({"access_token": "t", "link": LINK, "message": msg})))
    r.append(ok("publish of a link alone: no message", "publish", {"userAction": {"linkBack": LINK}}, app, user,
                "POST", feed, FORM, form({"access_token": FB_TOKEN, "appsecret_proof": pf, "link": LINK})))
    r.append(ok("publish without a link: no link parameter", "publish",
                {"userAction": {"userMessage": "m", "title": "t"}}, app, user,
                "POST", feed, FORM, form({"access_token": FB_TOKEN, "appsecret_proof": pf, "message": "m\n\nt"})))
    r.append(ok("status: the message as it is, a URL in it stays in it", "status",
                {"status": "Hello Page https://game.example/l3"}, app, user, "POST", feed, FORM,
                form({"access_token": FB_TOKEN, "appsecret_proof": pf,
                      "message": "Hello Page https://game.example/l3"})))
    r.append(ok("baseUrl from the provider config", "status", {"status": "x"}, {"baseUrl": "http://127.0.0.1:9/"},
                {"accessToken": "t", "pageId": "1"}, "POST", "http://127.0.0.1:9/v26.0/1/feed", FORM,
                form({"access_token": "t", "message": "x"})))
    r.append(refused("sendNotification: unsupported (Messenger Platform)", "notify", {"body": "hi", "recipient": "1"},
                     app, user, "unsupported", net))
    r.append(ok("facebookGraphOperation POST: graphPath, method and graphParams passed through, with the "
                "connection's token and proof", "graph",
                {"graphPath": "/me/feed", "method": "POST", "graphParams": {"message": "hi", "n": 1}}, app,
                {"accessToken": FB_TOKEN}, "POST", G + "/me/feed", FORM,
                form({"access_token": FB_TOKEN, "appsecret_proof": pf, "message": "hi", "n": "1"})))
    r.append(ok("facebookGraphOperation GET (the default method): the parameters in the query, no body", "graph",
                {"graphPath": "/me", "graphParams": {"fields": "id,name"}}, {}, {"accessToken": "tok"},
                "GET", G + "/me?" + form({"access_token": "tok", "fields": "id,name"}), {}))
    r.append(ok("facebookGraphOperation GET with appsecret_proof", "graph",
                {"graphPath": "/me", "graphParams": {"fields": "id"}}, app, {"accessToken": FB_TOKEN},
                "GET", G + "/me?" + form({"access_token": FB_TOKEN, "appsecret_proof": pf, "fields": "id"}), {}))
    r.append(ok("facebookGraphOperation DELETE", "graph", {"graphPath": "/123", "method": "DELETE"}, {},
                {"accessToken": "tok"}, "DELETE", G + "/123?access_token=tok", {}))
    r.append(ok("a graphPath without its leading slash", "graph", {"graphPath": "me/accounts"}, {},
                {"accessToken": "tok"}, "GET", G + "/me/accounts?access_token=tok", {}))
    target = {"geo_locations": {"countries": ["FR"]}}
    r.append(ok("a graphParams value that is an object is sent as its JSON", "graph",
                {"graphPath": "/1/feed", "method": "POST", "graphParams": {"targeting": target}}, {},
                {"accessToken": "tok"}, "POST", G + "/1/feed", FORM,
                form({"access_token": "tok", "targeting": jdump(target)})))
    for path in ("/../x", "/me?fields=id", "/me#x", "/me/%2e%2e/x", ""):
        r.append(refused("graphPath %r is refused (no dot segment, query, fragment or escape)" % path, "graph",
                         {"graphPath": path}, {}, {"accessToken": "tok"}, "content_invalid", net))
    r.append(refused("graphParams cannot replace the connection's access_token", "graph",
                     {"graphPath": "/me", "graphParams": {"access_token": "other"}}, {}, {"accessToken": "tok"},
                     "content_invalid", net))
    r.append(refused("no access token: not_connected", "publish", {"userAction": UA}, app, {"pageId": "1"},
                     "not_connected", net, details="facebook: missing Page access token 'accessToken'"))
    r.append(refused("no pageId: not_connected", "publish", {"userAction": UA}, app, {"accessToken": "t"},
                     "not_connected", net, details="facebook: missing Facebook Page id 'pageId'"))
    r.append(refused("a pageId that is a path (1/../me) is refused", "publish", {"userAction": UA}, app,
                     {"accessToken": "t", "pageId": "1/../me"}, "content_invalid", net))
    r.append(refused("nothing to post", "publish", {"userAction": {"description": ""}}, app, user,
                     "content_invalid", net))
    return r


# ---- LinkedIn -----------------------------------------------------------------
LI_POSTS = "https://api.linkedin.com/rest/posts"


def li_headers(token="li-token", version="202605"):
    return {"Authorization": "Bearer " + token, "Content-Type": "application/json",
            "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}


def little(s):
    """learn.microsoft.com little-text-format: every reserved character
    backslash-escaped, URLs included; a '#' that starts a word (outside a URL)
    and is followed by a word character stays a hashtag."""
    out, i = [], 0
    words_url = set()
    pos = 0
    for w in s.split(" "):
        if w.startswith("https://") or w.startswith("http://"):
            words_url.update(range(pos, pos + len(w)))
        pos += len(w) + 1
    for i, ch in enumerate(s):
        nxt = s[i + 1] if i + 1 < len(s) else ""
        hashtag = (ch == "#" and i not in words_url and (nxt.isalnum() or ord(nxt or "\0") >= 0x80)
                   and (i == 0 or s[i - 1] in " \t\r\n([{\"'"))
        if not hashtag and ch in "\\|{}@[]()<>#*_~":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def li_body(author, commentary, article=None):
    b = {"author": author, "commentary": commentary, "visibility": "PUBLIC",
         "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
         "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    if article is not None:
        b["content"] = {"article": article}
    return jdump(b)


def linkedin():
    net, U = "linkedin", {"accessToken": "li-token", "personId": "abc123"}
    me = "urn:li:person:abc123"
    r = []
    assert little(UA["userMessage"]) == "Beat it \\(finally\\) #win \\@home"
    r.append(ok("publish: POST /rest/posts with the version headers, the userMessage as little text, the link as "
                "an article with title and description as plain strings", "publish", {"userAction": UA}, {}, U,
                "POST", LI_POSTS, li_headers(),
                li_body(me, "Beat it \\(finally\\) #win \\@home",
                        {"description": "Cleared in 4:12", "source": LINK, "title": "Level 3 done"})))
    s = "a\\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p # https://x.example/a_b(c)"
    want = "a\\\\b\\|c\\{d\\}e\\@f\\[g\\]h\\(i\\)j\\<k\\>l\\#m\\*n\\_o\\~p \\# https://x.example/a\\_b\\(c\\)"
    assert little(s) == want
    r.append(ok("status: every reserved character of little text escaped, in words and URLs; an organization "
                "author URN", "status", {"status": s}, {},
                {"accessToken": "li-token", "author": "urn:li:organization:42"},
                "POST", LI_POSTS, li_headers(), li_body("urn:li:organization:42", want)))
    for text, esc in (("Hello World", "Hello World"), ("#hashtag", "#hashtag"),
                      ("@[Eddy](urn:li:person:1234)", "\\@\\[Eddy\\]\\(urn:li:person:1234\\)"),
                      ("{hashtag|\\#|MyHashtag}", "\\{hashtag\\|\\\\\\#\\|MyHashtag\\}")):
        assert little(text) == esc, (text, little(text))
        r.append(ok("status: the little-text spec's example %r (a mention or template from the caller stays "
                    "plain text)" % text, "status", {"status": text}, {}, U, "POST", LI_POSTS, li_headers(),
                    li_body(me, esc)))
    for text, esc in (("see https://x.example/a_b(c)#top", "see https://x.example/a\\_b\\(c\\)\\#top"),
                      ("see https://x.example/a_b(c)~d?q=*#top now",
                       "see https://x.example/a\\_b\\(c\\)\\~d?q=\\*\\#top now"),
                      ("https://x.example/#/route #tag", "https://x.example/\\#/route #tag"),
                      ("Go #win (now)", "Go #win \\(now\\)"), ("C# and l#m", "C\\# and l\\#m"),
                      ("# ##x", "\\# \\#\\#x"), ("https://x.example/p#frag", "https://x.example/p\\#frag")):
        assert little(text) == esc, (text, little(text), esc)
        r.append(ok("status: %r: reserved characters in a URL are escaped, a '#' is a hashtag only at a word "
                    "start outside URLs" % text, "status", {"status": text}, {}, U, "POST", LI_POSTS, li_headers(),
                    li_body(me, esc)))
    r.append(ok("an article's title and description are plain strings, not little text", "publish",
                {"userAction": {"title": "A (b) #c", "description": "d_e", "userMessage": "m", "linkBack": LINK}},
                {}, U, "POST", LI_POSTS, li_headers(),
                li_body(me, "m", {"description": "d_e", "source": LINK, "title": "A (b) #c"})))
    r.append(ok("an article without a title takes the subtitle", "publish",
                {"userAction": {"subtitle": "Sub", "userMessage": "m", "linkBack": LINK}}, {}, U,
                "POST", LI_POSTS, li_headers(), li_body(me, "m", {"source": LINK, "title": "Sub"})))
    lb = "https://www.Game.example/a_b(c)#top"
    assert little("Go #win (now) C#") == "Go #win \\(now\\) C\\#"
    r.append(ok("an article without title or subtitle takes the link's host (lower case, no www.); the source is "
                "the link as given", "publish", {"userAction": {"userMessage": "Go #win (now) C#", "linkBack": lb}},
                {}, U, "POST", LI_POSTS, li_headers(),
                li_body(me, "Go #win \\(now\\) C\\#", {"source": lb, "title": "game.example"})))
    lb2 = "https://user@Game.Example:8443/l3?x=1#top"
    r.append(ok("an empty title: the host, without user information or port", "publish",
                {"userAction": {"title": "", "userMessage": "m", "linkBack": lb2}}, {}, U,
                "POST", LI_POSTS, li_headers(), li_body(me, "m", {"source": lb2, "title": "game.example"})))
    r.append(ok("no userMessage: the title is the commentary (escaped) and the article's title (plain)", "publish",
                {"userAction": {"title": "Level 3 (done)", "linkBack": LINK}}, {}, U,
                "POST", LI_POSTS, li_headers(),
                li_body(me, "Level 3 \\(done\\)", {"source": LINK, "title": "Level 3 (done)"})))
    r.append(ok("a link alone: an empty commentary and the article", "publish", {"userAction": {"linkBack": LINK}},
                {}, U, "POST", LI_POSTS, li_headers(), li_body(me, "", {"source": LINK, "title": "game.example"})))
    r.append(ok("LinkedIn-Version from the provider config", "status", {"status": "x"}, {"version": "202612"}, U,
                "POST", LI_POSTS, li_headers(version="202612"), li_body(me, "x")))
    r.append(ok("publish: 3000 characters fit (the link is in the article, not the commentary)", "publish",
                {"userAction": {"userMessage": "a" * 3000, "linkBack": LINK}}, {}, U, "POST", LI_POSTS, li_headers(),
                li_body(me, "a" * 3000, {"source": LINK, "title": "game.example"})))
    r.append(ok("publish: 3001 characters are cut to 2999 + '\u2026'", "publish",
                {"userAction": {"userMessage": "a" * 3001}}, {}, U, "POST", LI_POSTS, li_headers(),
                li_body(me, "a" * 2999 + ELL)))
    r.append(refused("status: 3001 characters are refused, not cut", "status", {"status": "a" * 3001}, {}, U,
                     "content_invalid", net, details=net + ": text counts 3001 of 3000"))
    r.append(refused("sendNotification: unsupported (Messages API for approved partners only)", "notify",
                     {"body": "x", "recipient": "p", "subject": "s"}, {}, U, "unsupported", net))
    r.append(refused("no access token: not_connected", "publish", {"userAction": UA}, {}, {"personId": "p"},
                     "not_connected", net, details="linkedin: missing member access token 'accessToken'"))
    r.append(refused("no personId or author: not_connected", "publish", {"userAction": UA}, {},
                     {"accessToken": "t"}, "not_connected", net,
                     details="linkedin: the connection needs author (a URN) or personId"))
    r.append(refused("nothing to post", "publish", {"userAction": {"description": "d"}}, {}, U,
                     "content_invalid", net))
    # media (Images and Videos APIs, Posts API content): one image in content.media with its altText, 2 to 20 in
    # content.multiImage, one with a link as the article's thumbnail; several images or a video leave no room
    # for the article: the link goes in the commentary
    def li_media_body(commentary, content):
        b = json.loads(li_body(me, commentary))
        b["content"] = content
        return jdump(b)
    a = {"index": 1, "kind": "image", "mime": "image/png", "id": "urn:li:image:C4E10AQA", "alt": "The boss (defeated)"}
    b2 = {"index": 2, "kind": "gif", "mime": "image/gif", "id": "urn:li:image:C4E10AQB"}
    r.append(ok("publish with one image: content.media with its altText (plain, not little text)", "publish",
                {"userAction": {"userMessage": "GG"}, "media": [a]}, {}, U, "POST", LI_POSTS, li_headers(),
                li_media_body("GG", {"media": {"altText": "The boss (defeated)", "id": a["id"]}})))
    r.append(ok("publish with two images: content.multiImage, the link in the commentary (escaped)", "publish",
                {"userAction": {"title": "Album", "linkBack": "https://game.example/a_b"}, "media": [a, b2]}, {}, U,
                "POST", LI_POSTS, li_headers(),
                li_media_body(little("Album https://game.example/a_b"),
                              {"multiImage": {"images": [{"altText": a["alt"], "id": a["id"]}, {"id": b2["id"]}]}})))
    r.append(ok("publish with a link and one image: the image is the article's thumbnail, its alt thumbnailAltText",
                "publish", {"userAction": UA, "media": [a]}, {}, U, "POST", LI_POSTS, li_headers(),
                li_media_body(little(UA["userMessage"]), {"article": {"description": "Cleared in 4:12", "source": LINK,
                                                                      "thumbnail": a["id"],
                                                                      "thumbnailAltText": a["alt"],
                                                                      "title": "Level 3 done"}})))
    v = {"index": 1, "kind": "video", "mime": "video/mp4", "id": "urn:li:video:C5505AQH", "alt": "not sent"}
    r.append(ok("publish with a video: content.media (no altText), the link in the commentary", "publish",
                {"userAction": {"title": "Replay", "linkBack": LINK}, "media": [v]}, {}, U, "POST", LI_POSTS,
                li_headers(), li_media_body("Replay " + LINK, {"media": {"id": v["id"]}})))
    r.append(refused("publish: an image that was not uploaded", "publish",
                     {"userAction": UA, "media": [dict(a, id="urn:li:share:1")]}, {}, U, "content_invalid", net,
                     details="linkedin: mediaItems[1] was not uploaded"))
    r.append(refused("publish: 21 images (a post takes 20)", "publish",
                     {"userAction": UA, "media": [dict(a, index=i) for i in range(1, 22)]}, {}, U, "content_invalid",
                     net, details="linkedin: mediaItems[1]: a post takes at most 20 images"))
    return r


# ---- VK -------------------------------------------------------------------------
VK_POST = "https://api.vk.com/method/wall.post"


def vk_body(input, owner, token="vk-token", v="5.199", **params):
    p = dict(params, owner_id=owner, access_token=token, v=v, guid=sha256hex(owner, canon(input))[:32])
    return form(p)


def vkontakte():
    net, U = "vkontakte", {"accessToken": "vk-token", "userId": 1001}
    msg = "\n\n".join([UA["userMessage"], UA["title"], UA["description"]])
    r = []
    i1 = {"userAction": UA, "userLocation": {"latitude": 55.75, "longitude": 37.62}}
    r.append(ok("publish: wall.post with the pinned API version, the link as the one attachment, title and "
                "description in the message, lat/long, a guid from the owner and the content", "publish", i1, {}, U,
                "POST", VK_POST, FORM,
                vk_body(i1, "1001", attachments=LINK, lat="55.75", long="37.62", message=msg)))
    i2 = {"userAction": UA}
    r.append(ok("the same content on another wall has another guid", "publish", i2, {},
                {"accessToken": "vk-token", "userId": 1002}, "POST", VK_POST, FORM,
                vk_body(i2, "1002", attachments=LINK, message=msg)))
    i3 = {"status": "Hello VK"}
    r.append(ok("status: a wall post of the text", "status", i3, {}, U, "POST", VK_POST, FORM,
                vk_body(i3, "1001", message="Hello VK")))
    r.append(ok("a community wall: ownerId (negative) before userId", "status", i3, {},
                {"accessToken": "vk-token", "ownerId": "-123", "userId": 1001}, "POST", VK_POST, FORM,
                vk_body(i3, "-123", message="Hello VK")))
    i4 = {"userAction": {"linkBack": LINK}}
    r.append(ok("a link alone: attachments, no message", "publish", i4, {}, U, "POST", VK_POST, FORM,
                vk_body(i4, "1001", attachments=LINK)))
    r.append(ok("the API version and base URL from the provider config", "status", i3,
                {"version": "5.251", "baseUrl": "http://127.0.0.1:9"}, U, "POST",
                "http://127.0.0.1:9/method/wall.post", FORM, vk_body(i3, "1001", v="5.251", message="Hello VK")))
    i5 = {"status": "a" * 16384}
    r.append(ok("status: 16384 characters fit", "status", i5, {}, U, "POST", VK_POST, FORM,
                vk_body(i5, "1001", message="a" * 16384)))
    r.append(refused("sendNotification: unsupported", "notify", {"body": "x", "recipient": "1"}, {}, U,
                     "unsupported", net))
    r.append(refused("no access token: not_connected", "publish", {"userAction": UA}, {}, {"userId": 1},
                     "not_connected", net, details="vkontakte: missing user access token (wall scope) 'accessToken'"))
    r.append(refused("no ownerId or userId: not_connected", "publish", {"userAction": UA}, {},
                     {"accessToken": "t"}, "not_connected", net,
                     details="vkontakte: the connection needs ownerId or userId"))
    r.append(refused("nothing to post", "publish", {"userAction": {"description": ""}}, {}, U, "content_invalid", net))
    # media (photos.getWallUploadServer -> upload -> photos.saveWallPhoto): the post names the saved photos,
    # photo<owner>_<id>, in item order in attachments, the link last (at most 10 attachments: vk.com/dev/wall.post)
    photos = [{"index": 1, "kind": "image", "mime": "image/png", "id": "photo1001_457239017"},
              {"index": 2, "kind": "image", "mime": "image/jpeg", "id": "photo-77_5"}]
    i6 = {"userAction": UA, "media": photos}
    r.append(ok("publish: the saved photos in attachments, then the link", "publish", i6, {}, U, "POST", VK_POST,
                FORM, vk_body(i6, "1001", attachments="photo1001_457239017,photo-77_5," + LINK, message=msg)))
    i7 = {"userAction": {}, "media": photos[:1]}
    r.append(ok("publish: a photo alone: attachments, no message", "publish", i7, {}, U, "POST", VK_POST, FORM,
                vk_body(i7, "1001", attachments="photo1001_457239017")))
    r.append(refused("publish: an item never uploaded (no photo id) is refused naming it", "publish",
                     {"userAction": UA, "media": [photos[0], {"index": 2, "kind": "image", "mime": "image/png"}]},
                     {}, U, "content_invalid", net, details="vkontakte: mediaItems[2] was not uploaded"))
    r.append(refused("publish: an id that is not a photo's is refused", "publish",
                     {"userAction": UA, "media": [dict(photos[0], id="photo1_2,wall1_1")]}, {}, U,
                     "content_invalid", net, details="vkontakte: mediaItems[1] was not uploaded"))
    r.append(refused("publish: 10 photos and the link are 11 attachments", "publish",
                     {"userAction": UA, "media": [dict(photos[0], index=i, id="photo1001_%d" % i)
                                                  for i in range(1, 11)]}, {}, U, "content_invalid", net,
                     details="vkontakte: 10 photos and a link; at most 10 attachments"))
    return r


# ---- Weibo ----------------------------------------------------------------------
WB_SHARE = "https://api.weibo.com/2/statuses/share.json"


def sina():
    net, APP, U = "sina", {"safeDomain": "game.example"}, {"accessToken": "wb-token"}
    r = []

    def share(status, rip="203.0.113.7", token="wb-token"):
        return form({"access_token": token, "rip": rip, "status": status})

    r.append(ok("publish: share.json, the userMessage, title and link (on the safe domain) in status, the "
                "user's real IP as rip", "publish", {"userAction": UA, "rip": "203.0.113.7"}, APP, U,
                "POST", WB_SHARE, FORM, share(" ".join([UA["userMessage"], UA["title"], LINK]))))
    r.append(ok("the rip from the connection's ip", "publish",
                {"userAction": {"title": "t", "linkBack": LINK}}, APP, dict(U, ip="198.51.100.2"),
                "POST", WB_SHARE, FORM, share("t " + LINK, rip="198.51.100.2")))
    r.append(ok("a link on a subdomain of the safe domain", "publish",
                {"userAction": {"title": "t", "linkBack": "https://www.game.example/x"}, "rip": "203.0.113.7"},
                APP, U, "POST", WB_SHARE, FORM, share("t https://www.game.example/x")))
    r.append(ok("a '#' in the link's fragment next to a hashtag is not a #topic#", "publish",
                {"userAction": {"userMessage": "Beat it #win", "linkBack": "https://game.example/l3#top"},
                 "rip": "203.0.113.7"}, APP, U, "POST", WB_SHARE, FORM,
                share("Beat it #win https://game.example/l3#top")))
    s = "see https://game.example/a#b and https://game.example/c#d"
    r.append(ok("status: a text with URLs on the safe domain, fragments included", "status",
                {"status": s, "rip": "203.0.113.7"}, APP, U, "POST", WB_SHARE, FORM, share(s)))
    topic = "sina: share.json refuses #topic#"
    for bad in ("#topic# https://game.example/x", "#\u8bdd\u9898# https://game.example/x#frag",
                "a #b c# https://game.example/x", "https://game.example/x#f #tag# "):
        r.append(refused("status: a #topic# tag is refused (%s)" % bad, "status", {"status": bad, "rip": "1.2.3.4"},
                         APP, U, "content_invalid", net, details=topic))
    r.append(refused("publish: a title making a #topic# is refused", "publish",
                     {"userAction": {"title": "#win# now", "linkBack": LINK}, "rip": "1.2.3.4"}, APP, U,
                     "content_invalid", net, details=topic))
    for link in ("https://other.example/", "https://notgame.example/x", "https://game.example.evil.com/x"):
        r.append(refused("publish: a link outside the safe domain is refused (%s)" % link, "publish",
                         {"userAction": {"title": "t", "linkBack": link}, "rip": "1.2.3.4"}, APP, U,
                         "content_invalid", net,
                         details="sina: linkBack must be a URL on the safe domain game.example"))
    r.append(refused("status: no URL on the safe domain", "status", {"status": "hi https://other.example/",
                                                                       "rip": "1.2.3.4"}, APP, U,
                     "content_invalid", net,
                     details="sina: the status must contain a URL on the safe domain game.example"))
    r.append(refused("no rip: refused", "publish", {"userAction": UA}, APP, U, "content_invalid", net,
                     details="sina: Weibo requires rip"))
    r.append(refused("no safeDomain in the provider config: not_connected", "publish",
                     {"userAction": UA, "rip": "1.2.3.4"}, {}, U, "not_connected", net,
                     details="sina: the provider config needs safeDomain"))
    r.append(refused("no access token: not_connected", "publish", {"userAction": UA, "rip": "1.2.3.4"}, APP, {},
                     "not_connected", net, details="sina: missing OAuth 2.0 access token 'accessToken'"))
    r.append(refused("sendNotification: unsupported", "notify", {"body": "x", "recipient": "1"}, APP, U,
                     "unsupported", net))
    # 140 汉字 = 280 half-width units; the link counts its length (22) and the space 1
    link = "https://game.example/x"
    zh = "\u4e2d"
    r.append(ok("publish: 'a' + 128 \u4e2d (1 + 256) + space + link (22) = 280 units: fits", "publish",
                {"userAction": {"title": "a" + zh * 128, "linkBack": link}, "rip": "1.2.3.4"}, APP, U,
                "POST", WB_SHARE, FORM, share("a" + zh * 128 + " " + link, rip="1.2.3.4")))
    # media: one picture, its bytes as the multipart part pic (share.json); never a URL, never two
    pic = {"userAction": {"title": "t", "linkBack": LINK}, "rip": "1.2.3.4"}
    for what, media, details in (
            ("a picture given by URL only", [{"index": 1, "kind": "image", "mime": "image/png",
                                              "url": "https://cdn.game.example/a.png"}],
             "sina: mediaItems[1] has no bytes"),
            ("two pictures", [{"index": 1, "kind": "image", "mime": "image/png"},
                              {"index": 2, "kind": "image", "mime": "image/png"}],
             "sina: 2 media items; Weibo takes one picture"),
            ("a video", [{"index": 1, "kind": "video", "mime": "video/mp4"}],
             "sina: mediaItems[1]: Weibo takes a picture, not a video"),
            ("a WebP picture", [{"index": 1, "kind": "image", "mime": "image/webp"}],
             "sina: mediaItems[1] is image/webp; Weibo takes JPEG, PNG or GIF")):
        r.append(refused("publish: %s is refused" % what, "publish", dict(pic, media=media), APP, U,
                         "content_invalid", net, details=details))
    r.append(ok("publish: 129 \u4e2d (258) + 23 = 281: cut to 127 \u4e2d + '\u2026' (2) = 256", "publish",
                {"userAction": {"title": zh * 129, "linkBack": link}, "rip": "1.2.3.4"}, APP, U,
                "POST", WB_SHARE, FORM, share(zh * 127 + ELL + " " + link, rip="1.2.3.4")))
    r.append(ok("status: 257 + 23 = 280 fits", "status", {"status": "a" * 257 + " " + link, "rip": "1.2.3.4"}, APP,
                U, "POST", WB_SHARE, FORM, share("a" * 257 + " " + link, rip="1.2.3.4")))
    r.append(refused("status: 258 + 23 = 281 is refused, not cut", "status",
                     {"status": "a" * 258 + " " + link, "rip": "1.2.3.4"}, APP, U, "content_invalid", net,
                     details=net + ": text counts 281 of 280"))
    return r


# ---- Mastodon -------------------------------------------------------------------
def mastodon():
    net, U = "mastodon", {"accessToken": "md-token", "instance": "https://mastodon.example"}
    LIM = {"maxCharacters": 500, "charactersReservedPerUrl": 23}
    statuses = "https://mastodon.example/api/v1/statuses"

    def headers(input, token="md-token"):
        return {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                "Idempotency-Key": sha256hex(token, canon(input))}

    def body(text):
        return jdump({"status": text, "visibility": "public"})

    r = []
    r.append(ok("setup step instance: GET /api/v2/instance (its configuration.statuses limits), no credentials "
                "needed", "instance", {}, {}, {"instance": "https://mastodon.example/"}, "GET",
                "https://mastodon.example/api/v2/instance", {}))
    i1 = {"userAction": UA}
    r.append(ok("publish: POST /api/v1/statuses, bearer token, an Idempotency-Key from the account and the "
                "content, userMessage and title then the link", "publish", i1, {}, U, "POST", statuses, headers(i1),
                body(UA["userMessage"] + "\n\n" + UA["title"] + "\n\n" + LINK), setup=LIM))
    i2 = {"status": "Hello fediverse"}
    r.append(ok("status without setup state: the defaults (500, URL 23)", "status", i2, {}, U, "POST", statuses,
                headers(i2), body("Hello fediverse")))
    link = "https://x.example.org/" + "p" * 80
    for n, text in ((35, "a" * 35), (36, "a" * 34 + ELL)):
        i = {"userAction": {"title": "a" * n, "linkBack": link}}
        r.append(ok("an instance limit of 60 from the setup state: %d + 2 + URL (23 whatever its length) %s" %
                    (n, "= 60 fits" if n == 35 else "= 61: cut to 34 + '\u2026' = 60"), "publish", i, {},
                    dict(U, instance="https://m.example"), "POST", "https://m.example/api/v1/statuses",
                    headers(i), body(text + "\n\n" + link), setup={"maxCharacters": 60,
                                                                  "charactersReservedPerUrl": 23}))
    for n, text in ((28, "a" * 28), (29, "a" * 27 + ELL)):
        i = {"userAction": {"title": "a" * n, "linkBack": link}}
        r.append(ok("the instance's characters_reserved_per_url (10) from the setup state: %d + 2 + URL (10) %s" %
                    (n, "= 40 fits" if n == 28 else "= 41: cut to 27 + '\u2026'"), "publish", i, {}, U,
                    "POST", statuses, headers(i), body(text + "\n\n" + link),
                    setup={"maxCharacters": 40, "charactersReservedPerUrl": 10}))
    i = {"status": FAMILY * 10}
    r.append(ok("status: grapheme clusters are counted: 10 ZWJ families fit a limit of 10", "status", i, {}, U,
                "POST", statuses, headers(i), body(FAMILY * 10), setup={"maxCharacters": 10}))
    r.append(refused("status: 11 families for a limit of 10 are refused, not cut", "status", {"status": FAMILY * 11},
                     {}, U, "content_invalid", net, setup={"maxCharacters": 10}, details=net + ": text counts 11 of 10"))
    r.append(refused("status: 501 characters for the default 500 are refused", "status", {"status": "a" * 501}, {},
                     U, "content_invalid", net, details=net + ": text counts 501 of 500"))
    r.append(refused("sendNotification: unsupported", "notify", {"body": "x", "recipient": "a@b"}, {}, U,
                     "unsupported", net))
    r.append(refused("no instance: not_connected", "publish", {"userAction": UA}, {}, {"accessToken": "t"},
                     "not_connected", net, details="mastodon: the connection needs instance"))
    r.append(refused("no access token: not_connected", "publish", {"userAction": UA}, {},
                     {"instance": "https://mastodon.example"}, "not_connected", net,
                     details="mastodon: missing access token (write:statuses) 'accessToken'"))
    r.append(refused("nothing to post", "publish", {"userAction": {"description": "d"}}, {}, U,
                     "content_invalid", net))
    return r


# ---- Bluesky --------------------------------------------------------------------
BSKY_TS = 1709251199  # 2024-02-29T23:59:59Z: createdAt comes from the call's timestamp
BSKY_FACETS = []  # (text, facets) for @atproto/api


def link_facet(text, uri, at=None):
    b = text.encode("utf-8")
    start = b.find(uri.encode("utf-8")) if at is None else at
    return {"features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            "index": {"byteEnd": start + len(uri.encode("utf-8")), "byteStart": start}}


def tag_facet(text, tag):
    start = text.encode("utf-8").find(("#" + tag).encode("utf-8"))
    return {"features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            "index": {"byteEnd": start + len(("#" + tag).encode("utf-8")), "byteStart": start}}


def bsky_record(text, facets, embed=None, images=None):
    BSKY_FACETS.append((text, facets))
    rec = {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso(BSKY_TS)}
    if facets:
        rec["facets"] = facets
    if embed:
        rec["embed"] = {"$type": "app.bsky.embed.external", "external": embed}
    if images is not None:
        rec["embed"] = {"$type": "app.bsky.embed.images", "images": images}
    return jdump({"repo": "did:plc:abc", "collection": "app.bsky.feed.post", "record": rec})


def bluesky():
    net, SESS = "bluesky", {"accessJwt": "acc", "did": "did:plc:abc"}
    U = {"identifier": "demo.bsky.social"}
    create = "https://bsky.social/xrpc/com.atproto.repo.createRecord"
    H = {"Authorization": "Bearer acc", "Content-Type": "application/json"}
    r = []
    r.append(ok("setup step session: createSession with the handle and the app password", "session", {}, {},
                {"identifier": "demo.bsky.social", "appPassword": "pw"}, "POST",
                "https://bsky.social/xrpc/com.atproto.server.createSession", JSON,
                jdump({"identifier": "demo.bsky.social", "password": "pw"})))
    r.append(ok("session on the account's own PDS", "session", {}, {},
                {"identifier": "demo.example", "appPassword": "pw", "pds": "https://pds.example/"}, "POST",
                "https://pds.example/xrpc/com.atproto.server.createSession", JSON,
                jdump({"identifier": "demo.example", "password": "pw"})))
    r.append(refused("session without an app password: not_connected", "session", {}, {}, U, "not_connected", net,
                     details="bluesky: missing app password 'appPassword'"))
    r.append(refused("session without an identifier: not_connected", "session", {}, {}, {"appPassword": "pw"},
                     "not_connected", net, details="bluesky: missing handle or DID 'identifier'"))
    t = "Niveau 3 r\u00e9ussi \U0001F680\n\n" + LINK
    # "Niveau 3 réussi " is 17 bytes (é is 2), the rocket 4, two newlines 2: the link is bytes 23..46
    assert link_facet(t, LINK)["index"] == {"byteEnd": 46, "byteStart": 23}
    r.append(ok("publish: createRecord with the session's DID and accessJwt, the link as a facet in UTF-8 byte "
                "offsets and as an external card (title, description), createdAt from the call's time", "publish",
                {"userAction": {"title": "Niveau 3 r\u00e9ussi \U0001F680", "linkBack": LINK, "description": "d"}},
                {}, U, "POST", create, H,
                bsky_record(t, [link_facet(t, LINK)], {"uri": LINK, "title": "Niveau 3 r\u00e9ussi \U0001F680",
                                                       "description": "d"}), setup=SESS))
    t = "Go #win\n\nLevel 3 done\n\n" + LINK
    r.append(ok("publish: a #tag facet and the link facet, in text order; a card without description has an "
                "empty one", "publish", {"userAction": {"userMessage": "Go #win", "title": "Level 3 done",
                                                        "linkBack": LINK}}, {}, U, "POST", create, H,
                bsky_record(t, [tag_facet(t, "win"), link_facet(t, LINK)],
                            {"uri": LINK, "title": "Level 3 done", "description": ""}), setup=SESS))
    t = "Go (https://game.example/l3#top) now."
    r.append(ok("status: an unmatched ')' and trailing punctuation are not part of a link", "status", {"status": t},
                {}, U, "POST", create, H, bsky_record(t, [link_facet(t, "https://game.example/l3#top")]), setup=SESS))
    t = "Read docs.python.org/3, then https://game.example/l3."
    r.append(ok("status: a bare domain is a link to https://; the trailing ',' and '.' are not in the links",
                "status", {"status": t}, {}, U, "POST", create, H,
                bsky_record(t, [dict(link_facet(t, "docs.python.org/3"),
                                     features=[{"$type": "app.bsky.richtext.facet#link",
                                                "uri": "https://docs.python.org/3"}]),
                                link_facet(t, LINK)]), setup=SESS))
    for n, text in ((275, "a" * 275), (276, "a" * 274 + ELL)):
        t = text + "\n\n" + LINK
        r.append(ok("publish: %d + 2 + link (23, counted in full) %s" %
                    (n, "= 300 graphemes fits" if n == 275 else "= 301: cut to 274 + '\u2026' = 300"), "publish",
                    {"userAction": {"title": "a" * n, "linkBack": LINK}}, {}, U, "POST", create, H,
                    bsky_record(t, [link_facet(t, LINK)], {"uri": LINK, "title": "a" * n, "description": ""}),
                    setup=SESS))
    t = FAMILY * 165 + ELL + "\n\n" + LINK
    assert len(t.encode("utf-8")) == 2998
    r.append(ok("publish: 200 ZWJ families (3600 bytes, 200 graphemes) are cut to fit 3000 bytes: 165 families "
                "(2970) + '\u2026' (3) + 2 + 23 = 2998", "publish",
                {"userAction": {"title": FAMILY * 200, "linkBack": LINK}}, {}, U, "POST", create, H,
                bsky_record(t, [link_facet(t, LINK)], {"uri": LINK, "title": FAMILY * 200, "description": ""}),
                setup=SESS))
    r.append(ok("status: 300 graphemes fit", "status", {"status": "b" * 300}, {}, U, "POST", create, H,
                bsky_record("b" * 300, []), setup=SESS))
    r.append(refused("status: 301 graphemes are refused, not cut", "status", {"status": "b" * 301}, {}, U,
                     "content_invalid", net, setup=SESS, details=net + ": text counts 301 of 300"))
    r.append(refused("status: 167 families (3006 bytes, 167 graphemes) are refused", "status",
                     {"status": FAMILY * 167}, {}, U, "content_invalid", net, setup=SESS,
                     details=net + ": text is 3006 bytes of 3000"))
    r.append(ok("createRecord on the account's own PDS", "status", {"status": "hi"}, {},
                {"identifier": "demo.example", "pds": "https://pds.example"}, "POST",
                "https://pds.example/xrpc/com.atproto.repo.createRecord", H, bsky_record("hi", []), setup=SESS))
    r.append(refused("publish without a session: not_connected", "publish", {"userAction": UA}, {}, U,
                     "not_connected", net, details="bluesky: no session"))
    r.append(refused("a session without a DID: not_connected", "publish", {"userAction": UA}, {}, U,
                     "not_connected", net, setup={"accessJwt": "acc"}))
    r.append(refused("sendNotification: unsupported", "notify", {"body": "x", "recipient": "a"}, {}, U,
                     "unsupported", net, setup=SESS))
    r.append(refused("nothing to post", "publish", {"userAction": {"description": "d"}}, {}, U,
                     "content_invalid", net, setup=SESS))
    # media (com.atproto.repo.uploadBlob, then the embed: lexicons app.bsky.embed.images / .external): each
    # uploaded item's blob ref {$type: blob, ref: {$link: CID}, mimeType, size}; alt always present ("" when
    # none), aspectRatio when the item's size is known; the link stays a facet. One image without alt text and
    # a link: the card with that image as its thumb (project rule, docs/api.md)
    cid1, cid2 = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

    def blob(cid, mime, size):
        return {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": size}
    m1 = {"index": 1, "kind": "image", "mime": "image/png", "size": 4321, "width": 1200, "height": 675,
          "alt": "The boss", "id": cid1, "blob": blob(cid1, "image/png", 4321)}
    m2 = {"index": 2, "kind": "gif", "mime": "image/gif", "size": 99, "id": cid2}
    t = "Level 3 done\n\n" + LINK
    r.append(ok("publish: two uploaded images as app.bsky.embed.images (alt, aspectRatio when known; a GIF is an "
                "image); the link stays a facet", "publish",
                {"userAction": {"title": "Level 3 done", "linkBack": LINK}, "media": [m1, m2]}, {}, U, "POST",
                create, H, bsky_record(t, [link_facet(t, LINK)], images=[
                    {"image": blob(cid1, "image/png", 4321), "alt": "The boss",
                     "aspectRatio": {"width": 1200, "height": 675}},
                    {"image": blob(cid2, "image/gif", 99), "alt": ""}]), setup=SESS))
    m3 = dict(m1)
    del m3["alt"]
    r.append(ok("publish: one image without alt text and a link: the link card with the image as its thumb",
                "publish", {"userAction": {"title": "Level 3 done", "description": "d", "linkBack": LINK},
                            "media": [m3]}, {}, U, "POST", create, H,
                bsky_record(t, [link_facet(t, LINK)], {"uri": LINK, "title": "Level 3 done", "description": "d",
                                                       "thumb": blob(cid1, "image/png", 4321)}), setup=SESS))
    r.append(ok("publish: images with no text at all", "publish", {"userAction": {}, "media": [m2]}, {}, U, "POST",
                create, H, bsky_record("", [], images=[{"image": blob(cid2, "image/gif", 99), "alt": ""}]),
                setup=SESS))
    r.append(refused("publish: 5 images are refused", "publish",
                     {"userAction": UA, "media": [dict(m2, index=i) for i in range(1, 6)]}, {}, U,
                     "content_invalid", net, setup=SESS, details="bluesky: 5 media items; at most 4 images"))
    r.append(refused("publish: an item never uploaded (no blob ref) is refused naming it", "publish",
                     {"userAction": UA, "media": [m1, {"index": 2, "kind": "image", "mime": "image/png"}]}, {}, U,
                     "content_invalid", net, setup=SESS, details="bluesky: mediaItems[2] was not uploaded"))
    return r


# ---- Telegram -------------------------------------------------------------------
def telegram():
    net, APP, U = "telegram", {"botToken": "123:abc"}, {"chatId": "-100777"}
    send = "https://api.telegram.org/bot123:abc/sendMessage"
    r = []
    r.append(ok("publish: sendMessage with the bot token in the path, the connection's chat, userMessage, title, "
                "description and link", "publish", {"userAction": UA}, APP, U, "POST", send, JSON,
                jdump({"chat_id": "-100777", "text": "\n\n".join([UA["userMessage"], UA["title"],
                                                                   UA["description"], LINK])})))
    r.append(ok("status: the text to the connection's chat", "status", {"status": "Hello channel"}, APP, U,
                "POST", send, JSON, jdump({"chat_id": "-100777", "text": "Hello channel"})))
    r.append(ok("sendNotification: the recipient is the chat", "notify", {"body": "hello", "recipient": "42"}, APP,
                {}, "POST", send, JSON, jdump({"chat_id": "42", "text": "hello"})))
    r.append(ok("sendNotification: a recipient given as a JSON number", "notify", {"body": "hello", "recipient": 42},
                APP, {}, "POST", send, JSON, jdump({"chat_id": "42", "text": "hello"})))
    r.append(ok("a chatId given as a JSON number (a supergroup)", "status", {"status": "hi"}, APP,
                {"chatId": -1001234567890}, "POST", send, JSON, jdump({"chat_id": "-1001234567890", "text": "hi"})))
    r.append(ok("a channel's @username as chatId", "status", {"status": "hi"}, APP, {"chatId": "@mychannel"},
                "POST", send, JSON, jdump({"chat_id": "@mychannel", "text": "hi"})))
    r.append(ok("baseUrl from the provider config", "status", {"status": "hi"},
                {"botToken": "123:abc", "baseUrl": "http://127.0.0.1:9/"}, U, "POST",
                "http://127.0.0.1:9/bot123:abc/sendMessage", JSON, jdump({"chat_id": "-100777", "text": "hi"})))
    for tok in ("123:abc/../../x", "123:abc?x=1", "123:abc#x", "123:a%2Fb", "abc"):
        r.append(refused("a bot token that is not digits ':' [A-Za-z0-9_-] (%s) is refused: it is a path "
                         "segment" % tok, "status", {"status": "hi"}, {"botToken": tok}, U, "content_invalid", net,
                         details="telegram: the provider config's botToken is not a bot token"))
    r.append(refused("no bot token: not_connected", "publish", {"userAction": UA}, {}, U, "not_connected", net,
                     details="telegram: missing bot token 'botToken' in the provider config"))
    r.append(refused("no chatId: not_connected", "publish", {"userAction": UA}, APP, {}, "not_connected", net,
                     details="telegram: the connection has no chatId"))
    r.append(refused("sendNotification without a recipient: not_connected", "notify", {"body": "x"}, APP, U,
                     "not_connected", net))
    for n, text in ((4071, "a" * 4071), (4072, "a" * 4070 + ELL)):
        r.append(ok("publish: %d + 2 + link (23) %s" % (n, "= 4096 fits" if n == 4071
                                                         else "= 4097: cut to 4070 + '\u2026' = 4096"),
                    "publish", {"userAction": {"title": "a" * n, "linkBack": LINK}}, APP, U, "POST", send, JSON,
                    jdump({"chat_id": "-100777", "text": text + "\n\n" + LINK})))
    emo = "\U0001F600"  # past the BMP: 2 UTF-16 code units, Telegram's unit
    r.append(ok("publish: 2036 emoji (4072 UTF-16 units) + 2 + link (23) = 4097: cut to 2035 + '\u2026' = 4071 + 25",
                "publish", {"userAction": {"title": emo * 2036, "linkBack": LINK}}, APP, U, "POST", send, JSON,
                jdump({"chat_id": "-100777", "text": emo * 2035 + ELL + "\n\n" + LINK})))
    r.append(refused("status: 2049 emoji are 4098 UTF-16 units: refused", "status", {"status": emo * 2049}, APP, U,
                     "content_invalid", net, details=net + ": text counts 4098 of 4096"))
    r.append(ok("status: 4096 characters fit", "status", {"status": "a" * 4096}, APP, U, "POST", send, JSON,
                jdump({"chat_id": "-100777", "text": "a" * 4096})))
    r.append(refused("status: 4097 characters are refused, not cut", "status", {"status": "a" * 4097}, APP, U,
                     "content_invalid", net, details=net + ": text counts 4097 of 4096"))
    r.append(refused("nothing to send", "publish", {"userAction": {}}, APP, U, "content_invalid", net))
    # media (core.telegram.org/bots/api: sendPhoto, sendVideo, sendAudio, sendAnimation, sendMediaGroup):
    # an http(s) item is sent as its URL; the text is the caption when it fits 1024 characters, otherwise
    # the media go without it and the follow-up step sendText posts the text (project rule, docs/api.md)
    bot = "https://api.telegram.org/bot123:abc/"
    full = "\n\n".join([UA["userMessage"], UA["title"], UA["description"], LINK])

    def item(i, kind, url, mime=None):
        it = {"index": i, "kind": kind, "url": url}
        if mime:
            it["mime"] = mime
        return it
    photo = item(1, "image", "https://cdn.game.example/shot.png", "image/png")
    for kind, method, field, url in (("image", "sendPhoto", "photo", "https://cdn.game.example/shot.png"),
                                     ("video", "sendVideo", "video", "https://cdn.game.example/clip.mp4"),
                                     ("audio", "sendAudio", "audio", "https://cdn.game.example/song.mp3"),
                                     ("gif", "sendAnimation", "animation", "https://cdn.game.example/a.gif")):
        r.append(ok("publish: one %s by URL: %s with the URL, the text as its caption" % (kind, method), "publish",
                    {"userAction": UA, "media": [item(1, kind, url)]}, APP, U, "POST", bot + method, JSON,
                    jdump({"caption": full, "chat_id": "-100777", field: url})))
    album = [photo, item(2, "video", "https://cdn.game.example/clip.mp4"), item(3, "gif", "https://cdn.game.example/a.gif")]
    r.append(ok("publish: an album by URL: sendMediaGroup, the caption on the first item, a GIF in an album is a photo",
                "publish", {"userAction": UA, "media": album}, APP, U, "POST", bot + "sendMediaGroup", JSON,
                jdump({"chat_id": "-100777", "media": [
                    {"caption": full, "media": album[0]["url"], "type": "photo"},
                    {"media": album[1]["url"], "type": "video"}, {"media": album[2]["url"], "type": "photo"}]})))
    r.append(ok("publish: a text of 1024 characters is the caption", "publish",
                {"userAction": {"title": "a" * 1024}, "media": [photo]}, APP, U, "POST", bot + "sendPhoto", JSON,
                jdump({"caption": "a" * 1024, "chat_id": "-100777", "photo": photo["url"]})))
    r.append(ok("publish: 512 emoji are 1024 UTF-16 units: the caption", "publish",
                {"userAction": {"title": emo * 512}, "media": [photo]}, APP, U, "POST", bot + "sendPhoto", JSON,
                jdump({"caption": emo * 512, "chat_id": "-100777", "photo": photo["url"]})))
    r.append(ok("publish: 513 emoji are 1026 UTF-16 units: no caption", "publish",
                {"userAction": {"title": emo * 513}, "media": [photo]}, APP, U, "POST", bot + "sendPhoto", JSON,
                jdump({"chat_id": "-100777", "photo": photo["url"]})))
    r.append(ok("publish: a text of 1025 characters: the photo goes without a caption", "publish",
                {"userAction": {"title": "a" * 1025}, "media": [photo]}, APP, U, "POST", bot + "sendPhoto", JSON,
                jdump({"chat_id": "-100777", "photo": photo["url"]})))
    r.append(ok("sendText (the follow-up of a bare photo): the whole text as a message", "sendText",
                {"userAction": {"title": "a" * 1025}, "media": [photo]}, APP, U, "POST", send, JSON,
                jdump({"chat_id": "-100777", "text": "a" * 1025}), setup={"mediaPostID": "-100777:5"}))
    r.append(ok("publish: media without text take no caption", "publish", {"userAction": {}, "media": [photo]},
                APP, U, "POST", bot + "sendPhoto", JSON, jdump({"chat_id": "-100777", "photo": photo["url"]})))
    r.append(refused("publish: 11 items are more than an album takes", "publish",
                     {"userAction": UA, "media": [item(i, "image", "https://cdn.game.example/%d.png" % i)
                                                  for i in range(1, 12)]}, APP, U, "content_invalid", net,
                     details="telegram: 11 media items; an album (sendMediaGroup) takes at most 10"))
    r.append(refused("publish: audio cannot share an album with a photo", "publish",
                     {"userAction": UA, "media": [item(1, "audio", "https://cdn.game.example/s.mp3"),
                                                  item(2, "image", "https://cdn.game.example/p.png")]}, APP, U,
                     "content_invalid", net, details="telegram: mediaItems: audio cannot share an album"))
    r.append(refused("publish: an item with neither bytes nor an http(s) URL", "publish",
                     {"userAction": UA, "media": [item(1, "image", "ftp://cdn.game.example/p.png")]}, APP, U,
                     "content_invalid", net, details="telegram: mediaItems[1] has neither bytes nor an http(s) URL"))
    return r


NETWORKS = {
    "twitter": (twitter, "X API v2 (docs.x.com: POST /2/tweets, POST /2/dm_conversations/with/{id}/messages, "
                         "OAuth 1.0a user context or an OAuth 2.0 user token, 280 weighted characters with every "
                         "URL 23)", {"timestamp": TS, "nonce": NONCE}),
    "facebook": (facebook, "Graph API Page posts (POST /v26.0/{page-id}/feed with message and link; "
                           "appsecret_proof = hex HMAC-SHA256(app secret, token)) and the graph passthrough", {}),
    "linkedin": (linkedin, "Posts API (POST /rest/posts, LinkedIn-Version and X-Restli-Protocol-Version headers, "
                           "little-text commentary, an article for the link)", {}),
    "vkontakte": (vkontakte, "wall.post (owner_id, message, one link in attachments, lat/long, guid, v=5.199)", {}),
    "sina": (sina, "statuses/share.json (status with a URL on the safe domain, no #topic#, 140 \u6c49\u5b57; "
                   "rip)", {}),
    "mastodon": (mastodon, "GET /api/v2/instance (setup), POST /api/v1/statuses with an Idempotency-Key; limits "
                           "from the instance (setup state)", {}),
    "bluesky": (bluesky, "createSession (setup), createRecord with link and tag facets in UTF-8 byte offsets and "
                         "an external card; 300 graphemes and 3000 bytes", {"timestamp": BSKY_TS, "nonce": NONCE}),
    "telegram": (telegram, "Bot API sendMessage (the bot token in the path, chat_id, text of 1-4096 UTF-16 code units); "
                           "sendPhoto, sendVideo, sendAudio, sendAnimation, sendMediaGroup by URL, the caption "
                           "within 1024 UTF-16 code units, else the text in the follow-up sendText",
                 {}),
}


def about(net, what):
    return ("%s: requests byte for byte, derived by spec/vectors/gen_providers.py from the documented wire "
            "format: %s; and replies with their classification (moved from spec/adapters_spec.lua). "
            "A request's expect is the request (method, URL, the exact header set, body: absent = none), "
            "expect_result the refusal; a reply's expect: every key must equal the parsed result's; null = absent; "
            "detailsPrefix = errorDetails starts with it." % (net, what))


def oracles():
    """twitter-text and @atproto/api, when `make oracles` installed them."""
    root = os.environ.get("ORACLES_NODE_MODULES") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracles", "node_modules")
    if not os.path.isdir(os.path.join(root, "twitter-text")):
        print("gen_providers: no npm oracles (make oracles); twitter-text and @atproto/api not consulted",
              file=sys.stderr)
        return
    js = r"""
const tt = require("twitter-text"), { RichText } = require("@atproto/api");
const q = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bad = [];
for (const [t, w] of q.x) { const p = tt.parseTweet(t); if (!p.valid || p.weightedLength !== w) bad.push(["x", t.slice(0, 40), p.weightedLength]); }
for (const [t, f] of q.bsky) {
  const rt = new RichText({ text: t }); rt.detectFacetsWithoutResolution();
  const got = JSON.stringify((rt.facets || []).map(x => ({ features: x.features.map(y => Object.fromEntries(Object.entries(y).sort())), index: { byteEnd: x.index.byteEnd, byteStart: x.index.byteStart } })));
  if (got !== JSON.stringify(f)) bad.push(["bsky", t.slice(0, 40), got]);
  if (rt.graphemeLength > 300 || rt.length > 3000) bad.push(["bsky-limit", t.slice(0, 40)]);
}
console.log(JSON.stringify(bad));
"""
    q = {"x": X_CHECK, "bsky": [[t, [{"features": [dict(sorted(y.items())) for y in f["features"]],
                                       "index": f["index"]} for f in fs]] for t, fs in BSKY_FACETS]}
    out = subprocess.run(["node", "-e", js], input=json.dumps(q), capture_output=True, text=True,
                         env=dict(os.environ, NODE_PATH=root), check=True).stdout
    bad = json.loads(out)
    if bad:
        sys.exit("gen_providers: the oracles disagree: %r" % bad)
    print("gen_providers: twitter-text agrees on %d X texts, @atproto/api on the facets of %d Bluesky texts" %
          (len(X_CHECK), len(BSKY_FACETS)), file=sys.stderr)


def main():
    check = "--check" in sys.argv[1:]
    differ = []
    for net, (fn, what, top) in NETWORKS.items():
        path = os.path.join(DIR, net + ".json")
        with open(path, encoding="utf-8") as f:
            old = f.read()
        v = json.loads(old)
        out = {"network": v["network"], "now": v.get("now", TS)}
        out.update(top)
        out["about"] = about(net, what)
        out["requests"] = fn()
        out["replies"] = v.get("replies", [])
        new = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
        if new != old:
            differ.append(path)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    oracles()
    if check and differ:
        sys.exit("gen_providers: out of date: " + ", ".join(differ))


if __name__ == "__main__":
    main()
