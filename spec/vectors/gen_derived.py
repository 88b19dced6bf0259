#!/usr/bin/env python3
"""Derives signing vectors from the rules of gigya-protocol.md, with Python's
standard library only (hmac, hashlib, base64, urllib.parse, json): an
implementation independent of the C core. Run it to regenerate
derived_vectors.json; the C tests and the busted specs both check them.

  python3 spec/vectors/gen_derived.py > spec/vectors/derived_vectors.json
"""
import base64, hashlib, hmac, json, sys
from urllib.parse import quote, urlsplit

SECRET = base64.b64encode(b"socialize-derived-secret-0002").decode()
SECRET2 = base64.b64encode(bytes(range(256))[::7]).decode()
AUTH = {"apiKey": "3_derivedKey", "format": "json", "httpStatusCodes": "false",
        "nonce": "1700000000000_42", "sdk": "socialize_c_0.1.0", "timestamp": "1700000000"}


def enc(s):
    return quote(s.encode("utf-8"), safe="-_.~")


def norm(url):
    u = urlsplit(url)
    scheme, host = u.scheme.lower(), (u.hostname or "").lower()
    if u.netloc.startswith("["):
        host = "[" + host + "]"
    port = u.port
    out = scheme + "://" + host
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        out += ":" + str(port)
    return out + u.path


def jsonify(v):
    """Project choice: sorted keys, no whitespace, raw UTF-8, '/' unescaped,
    integral numbers without a fraction."""
    def fix(x):
        if isinstance(x, float) and x.is_integer() and abs(x) < 2**63:
            return int(x)
        if isinstance(x, dict):
            return {k: fix(w) for k, w in x.items()}
        if isinstance(x, list):
            return [fix(w) for w in x]
        return x
    return json.dumps(fix(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stringify(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return jsonify(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def sign(secret, msg):
    return base64.b64encode(hmac.new(base64.b64decode(secret), msg.encode("utf-8"), hashlib.sha1).digest()).decode()


def request(name, url, params, secret=SECRET, method="POST", table=None, auth=True):
    p = dict(AUTH) if auth else {}
    p.update(params)
    sp = {k: stringify(v) for k, v in p.items()}
    qs = "&".join(k + "=" + enc(sp[k]) for k in sorted(sp, key=lambda k: k.encode("utf-8")))
    base = method.upper() + "&" + enc(norm(url)) + "&" + enc(qs)
    v = {"name": name, "kind": "request", "method": method, "url": url, "normalized_url": norm(url),
         "params": sp, "query_string": qs, "secret_b64": secret, "base_string": base,
         "expected_sig": sign(secret, base)}
    if table is not None:
        v["params_table"] = table
    return v


V = []
U = "https://socialize.us1.gigya.com/socialize.setStatus"
texts = {
    "emoji_astral": "I \U0001F600 it \U0001F44D\U0001F3FD",
    "cjk": "\u4f60\u597d\uff0c\u4e16\u754c",
    "arabic_rtl": "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "combining_marks": "e\u0301 n\u0303 a\u030a",
    "zero_width_joiner": "\U0001F468\u200d\U0001F469\u200d\U0001F467",
    "bmp_edge": "\u07ff\u0800\uffff",
    "astral_edge": "\U00010000\U0010FFFF",
    "tilde_and_star": "~*~*",
    "all_unreserved": "ABCXYZabcxyz0189-_.~",
    "percent_sequences": "100% %41 %%",
    "plus_and_space": "a+b c  d",
    "newline_tab": "line1\nline2\tend\r\n",
    "quotes_backslash": "say \"hi\" \\ 'there'",
    "html": "<b>bold</b> & <i>it</i>",
    "equals_ampersand": "k=v&k2=v2",
    "long_status": "x" * 1000 + "\u00e9" * 100,
    "brackets_braces": "[]{}|^`",
    "latin1_range": "\u00a0\u00ff\u00e4\u00f6\u00fc\u00df",
}
for n, t in texts.items():
    V.append(request("derived_" + n, U, {"UID": "user_123", "status": t}))

urls = {
    "upper_scheme_host": "HTTPS://Socialize.US1.Gigya.COM/socialize.setStatus",
    "path_case_kept": "https://socialize.us1.gigya.com/Socialize.SetStatus",
    "query_dropped": "https://socialize.us1.gigya.com/socialize.setStatus?x=1&y=2",
    "fragment_dropped": "https://socialize.us1.gigya.com/socialize.setStatus#frag",
    "https_8443": "https://socialize.us1.gigya.com:8443/socialize.setStatus",
    "http_8080": "http://socialize.us1.gigya.com:8080/socialize.setStatus",
    "http_on_443_kept": "http://socialize.us1.gigya.com:443/socialize.setStatus",
    "https_on_80_kept": "https://socialize.us1.gigya.com:80/socialize.setStatus",
    "http_default_80": "http://socialize.us1.gigya.com:80/socialize.setStatus",
    "loopback_port": "http://127.0.0.1:18080/socialize.publishUserAction",
    "ipv6_loopback": "http://[::1]:18080/socialize.publishUserAction",
    "cn_domain": "https://socialize.cn1.gigya-api.cn/socialize.setStatus",
    "accounts_namespace": "https://accounts.eu1.gigya.com/accounts.tfa.getProviders",
    "prefix_path": "http://127.0.0.1:9000/gigya/socialize.setStatus",
}
for n, u in urls.items():
    V.append(request("derived_url_" + n, u, {"UID": "u1", "status": "s"}))

V.append(request("derived_key_order_mixed_case", U, {
    "UID": "u", "Zeta": "z", "_under": "_", "a-b": "1", "a.b": "2", "a1": "3", "a_b": "4",
    "alpha": "5", "A": "6", "zz": "7", "status": "x"}))
V.append(request("derived_empty_values", U, {"UID": "u", "status": "", "cid": "", "tags": ""}))
V.append(request("derived_numbers_and_booleans", U,
                 {"UID": "u", "status": "s", "limit": 50, "neg": -7, "ratio": 0.25,
                  "big": 12345678901234, "flag": True, "off": False, "tiny": 1e-7, "pi": 3.141592653589793},
                 table={"UID": "u", "status": "s", "limit": 50, "neg": -7, "ratio": 0.25,
                        "big": 12345678901234, "flag": True, "off": False, "tiny": 1e-7,
                        "pi": 3.141592653589793}))
nested = [
    ("user_action_full", {"UID": "u", "userAction": {
        "title": "T\u00edtulo / \u2713", "subtitle": "sub", "description": "d\n2",
        "linkBack": "https://example.com/a?b=1&c=\u00e9", "userMessage": "msg \U0001F600",
        "mediaItems": [{"type": "image", "src": "https://example.com/i.png", "href": "https://example.com/"}],
        "actionLinks": [{"title": "Read", "href": "https://example.com/r"}]}}),
    ("action_attributes", {"UID": "u", "status": "s", "actionAttributes": {"tv-show": ["glee", "lost"], "tags": "x"}}),
    ("user_location", {"UID": "u", "userAction": {"title": "t"}, "userLocation": {"latitude": 32.0853, "longitude": 34.781768, "placeID": "p1"}}),
    ("deep_nesting", {"UID": "u", "graphParams": {"a": {"b": {"c": {"d": [1, [2, [3, {"e": "f"}]]]}}}}}),
    ("json_escapes", {"UID": "u", "userAction": {"title": "q\"b\\s/\u0001\u001f\t\b\f", "z": None}}),
    ("key_sort_in_objects", {"UID": "u", "userAction": {"b": 1, "B": 2, "a": 3, "_": 4, "\u00e9": 5, "A1": 6}}),
    ("array_of_mixed", {"UID": "u", "userAction": {"list": [True, False, 0, -1.5, "s", {"k": "v"}]}}),
    ("provider_overrides", {"UID": "u", "userAction": {"title": "default"},
                            "twitterUserAction": {"title": "tw", "linkBack": "https://t.example/x"},
                            "facebookUserAction": {"title": "fb"}, "enabledProviders": "facebook,twitter"}),
]
for n, params in nested:
    V.append(request("derived_json_" + n, "https://socialize.us1.gigya.com/socialize.publishUserAction",
                     params, table=params))

V.append(request("derived_other_secret", U, {"UID": "u", "status": "s"}, secret=SECRET2))
V.append(request("derived_lowercase_method", U, {"UID": "u"}, method="post"))
V.append(request("derived_get_method", U, {"UID": "u"}, method="GET"))

# validators
for i, (uid, ts) in enumerate([("_guid_abc==", "1700000000"), ("user@example.com", "1"),
                               ("\u05de\u05e9\u05ea\u05de\u05e9", "1700000123"), ("u+/=", "0")]):
    V.append({"name": "derived_user_signature_%d" % i, "kind": "user_signature", "UID": uid, "timestamp": ts,
              "secret_b64": SECRET, "base_string": ts + "_" + uid, "expected_sig": sign(SECRET, ts + "_" + uid)})
    f = "friend_" + uid
    V.append({"name": "derived_friend_signature_%d" % i, "kind": "friend_signature", "UID": uid,
              "friendUID": f, "timestamp": ts, "secret_b64": SECRET, "base_string": ts + "_" + f + "_" + uid,
              "expected_sig": sign(SECRET, ts + "_" + f + "_" + uid)})
for i, body in enumerate(['{"events":[],"nonce":"n","timestamp":1}', '', '{"a":"\u00e9 \U0001F600"}\n']):
    V.append({"name": "derived_webhook_%d" % i, "kind": "webhook_hmac_sha1", "body": body, "secret_b64": SECRET,
              "base_string": body, "expected_sig": sign(SECRET, body), "header": "X-Gigya-Sig-Hmac-Sha1"})
for n, t in texts.items():
    V.append({"name": "derived_url_encode_" + n, "kind": "url_encode", "input": t, "expected": enc(t)})
V.append({"name": "derived_url_encode_every_byte", "kind": "url_encode",
          "input": "".join(chr(c) for c in range(1, 128)), "expected": enc("".join(chr(c) for c in range(1, 128)))})

json.dump(V, sys.stdout, ensure_ascii=False, indent=1)
sys.stdout.write("\n")
