#!/usr/bin/env python3
"""Python standard library doing the official SDK's signing (GSRequest:
sorted params, UrlEncode, HMAC-SHA1 with the Base64-decoded secret) and a new
connection per call, as the SDK's urllib use does.
python3 bench/client_python.py URL N  -> prints "calls/s ok" """
import base64, hashlib, hmac, json, random, sys, time
import urllib.request
from urllib.parse import quote

url, n = sys.argv[1], int(sys.argv[2])
# the request of bench/request.lua: the 509-byte userAction JSON string, sent as is
with open(__import__("os").path.join(__import__("os").environ.get("SOCIALIZE_ROOT", "."), "bench/user_action.json")) as f:
    UA = f.read()
secret = base64.b64decode("c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==")


def enc(s):
    return quote(str(s).encode("utf-8"), safe="-_.~")


def call():
    ts = int(time.time())
    p = {"UID": "user_123", "apiKey": "3_benchApiKey", "format": "json", "httpStatusCodes": "false",
         "nonce": "%d_%d" % (ts * 1000, random.randrange(2 ** 31)), "sdk": "python_stdlib", "timestamp": str(ts),
         "userAction": UA, "cid": "bench-campaign", "shortURLs": "never"}
    qs = "&".join(k + "=" + enc(p[k]) for k in sorted(p))
    full = url + "/socialize.publishUserAction"
    base = "POST&" + enc(full) + "&" + enc(qs)
    sig = base64.b64encode(hmac.new(secret, base.encode(), hashlib.sha1).digest()).decode()
    body = (qs + "&sig=" + enc(sig)).encode()
    req = urllib.request.Request(full, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read()).get("errorCode") == 0


ok = 0
t0 = time.time()
for _ in range(n):
    if call():
        ok += 1
print("%.0f %d" % (n / (time.time() - t0), ok))
