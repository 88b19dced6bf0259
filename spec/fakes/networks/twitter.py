"""X: POST /2/tweets and DMs; OAuth 1.0a signatures checked (RFC 5849), or a bearer token."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import parse_qsl, quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now

NETWORK = "twitter"
CONF = {"consumerKey": "tw-consumer-key", "consumerSecret": "tw-consumer-secret"}


def problem(status, title, detail, type_="about:blank", headers=None):
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status}, headers)


class Twitter(Base):
    network = "twitter"

    def oauth_token(self, method, path, query=""):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth[7:]
        if not auth.startswith("OAuth "):
            raise problem(401, "Unauthorized", "Unauthorized")
        params = {}
        for part in auth[6:].split(", "):
            k, _, v = part.partition("=")
            params[k] = v.strip('"')
        from urllib.parse import unquote
        params = {k: unquote(v) for k, v in params.items()}
        sig = params.pop("oauth_signature", "")
        token = params.get("oauth_token", "")
        if params.get("oauth_consumer_key") != CONF["consumerKey"]:
            raise problem(401, "Unauthorized", "Unauthorized")
        # RFC 5849 signature, independent of the C core; the token secret is
        # "<token>-secret" in this sandbox
        url = "http://" + self.headers.get("Host") + path
        # the query's parameters are signed too (RFC 5849 3.4.1.3.1), repeated names kept
        pairs = [(enc(k), enc(v)) for k, v in params.items()]
        pairs += [(enc(k), enc(v)) for k, v in parse_qsl(query, keep_blank_values=True)]
        qs = "&".join(k + "=" + v for k, v in sorted(pairs))
        base = method + "&" + enc(url) + "&" + enc(qs)
        key = enc(CONF["consumerSecret"]) + "&" + enc(token + "-secret")
        want = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, sig):
            raise problem(401, "Unauthorized", "Could not authenticate you: bad oauth_signature")
        return token

    def scenario(self, token):
        if "expired" in token:
            raise problem(401, "Unauthorized", "Unauthorized")
        if "noperm" in token:
            raise Reply(403, {"title": "Client Forbidden", "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint.",
                              "type": "https://api.x.com/2/problems/client-forbidden", "reason": "client-not-enrolled", "status": 403})
        if "dup" in token:
            raise problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        if "capped" in token:
            raise problem(429, "UsageCapExceeded", "Usage cap exceeded: Monthly product cap",
                          "https://api.x.com/2/problems/usage-capped")
        if "ratelimit" in token:
            reset = int(sandbox_now()) + 900
            raise problem(429, "Too Many Requests", "Too Many Requests", headers={
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
        if "daily" in token:  # the user's 24-hour cap spent
            now = int(sandbox_now())
            raise problem(429, "Too Many Requests", "Too Many Requests", headers={
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "99", "x-rate-limit-reset": str(now + 900),
                "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(now + 80000)})
        if "credits" in token:
            raise problem(402, "CreditsDepleted", "Your enrolled account [1] does not have any credits to fulfill this request.",
                          "https://api.twitter.com/2/problems/credits")
        if "boom" in token:
            raise Reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})

    def route(self, method, path, q, raw):
        token = self.oauth_token(method, path)
        self.scenario(token)
        body = self.json_body(raw)
        if path == "/2/tweets" and method == "POST":
            if not body.get("text"):
                raise problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
            return 201, {"data": {"id": str(1346889436626259968 + next_id()), "text": body["text"],
                                  "edit_history_tweet_ids": []}}, None
        if path.startswith("/2/dm_conversations/with/") and path.endswith("/messages"):
            return 201, {"data": {"dm_conversation_id": "1-%d" % next_id(), "dm_event_id": str(next_id())}}, None
        raise Reply(404, {"title": "Not Found Error", "status": 404, "type": "about:blank", "detail": path})


Handler = Twitter
