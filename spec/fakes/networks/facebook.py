"""Facebook Graph API: Page feed posts and passthrough; appsecret_proof checked."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "facebook"
CONF = {"appSecret": "fb-app-secret"}


def fb_error(status, code, message, subcode=None, headers=None):
    e = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A" + uuid.uuid4().hex[:10]}
    if subcode:
        e["error_subcode"] = subcode
    return Reply(status, {"error": e}, headers)


class Facebook(Base):
    network = "facebook"

    def route(self, method, path, q, raw):
        p = dict(q)
        if method == "POST":
            p.update(self.form(raw))
        token = p.get("access_token")
        if not token:
            raise fb_error(400, 2500, "An active access token must be used to query information about the current user.")
        want = hmac.new(CONF["appSecret"].encode(), token.encode(), hashlib.sha256).hexdigest()
        if p.get("appsecret_proof") != want:
            raise fb_error(400, 100, "Invalid appsecret_proof provided in the API argument")
        if "leaky" in token:  # Facebook really echoes what it cannot parse
            raise fb_error(400, 190, "Invalid OAuth access token - Cannot parse access token: " + token)
        if "expired" in token:
            raise fb_error(400, 190, "Error validating access token: Session has expired.", 463)
        if "noperm" in token:
            raise fb_error(403, 200, "(#200) Requires pages_manage_posts permission to manage the object")
        if "dup" in token:
            raise fb_error(400, 506, "(#506) Duplicate status message")
        if "policy" in token:
            raise fb_error(400, 368, "It looks like you were misusing this feature by going too fast.")
        if "ratelimit" in token:
            raise fb_error(400, 32, "Page request limit reached", headers={"X-Business-Use-Case-Usage": json.dumps(
                {"1234": [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                           "estimated_time_to_regain_access": 12}]})})
        if "boom" in token:
            raise Reply(500, {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "feed" and method == "POST":
            if not p.get("message") and not p.get("link"):
                raise fb_error(400, 100, "(#100) Missing message or attachment")
            return 200, {"id": "%s_%d" % (parts[1], next_id())}, None
        return 200, {"id": str(next_id()), "path": "/" + "/".join(parts[1:]), "method": method,
                     "params": {k: v for k, v in p.items() if k not in ("access_token", "appsecret_proof")}}, None


Handler = Facebook
