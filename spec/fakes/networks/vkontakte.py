"""VK wall.post: errors with HTTP 200; guid de-duplicates."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "vkontakte"
CONF = {}
STATE_DEFAULTS = {"guids": {}}


def vk_error(code, msg, params):
    return Reply(200, {"error": {"error_code": code, "error_msg": msg,
                                 "request_params": [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]}})


class VK(Base):
    network = "vkontakte"

    def route(self, method, path, q, raw):
        p = dict(q)
        p.update(self.form(raw))
        if path != "/method/wall.post":
            raise vk_error(3, "Unknown method passed", p)
        if not p.get("v"):
            raise vk_error(8, "Invalid request: v (version) is required", p)
        token = p.get("access_token", "")
        if not token or "expired" in token:
            raise vk_error(5, "User authorization failed: invalid access_token (4).", p)
        if "noperm" in token:
            raise vk_error(15, "Access denied: no access to call this method", p)
        if "ratelimit" in token:
            raise vk_error(6, "Too many requests per second", p)
        if "policy" in token:
            raise vk_error(14, "Captcha needed", p)
        if "boom" in token:
            raise Reply(502, b"<html>502 Bad Gateway</html>")
        if not p.get("message") and not p.get("attachments"):
            raise vk_error(100, "One of the parameters specified was missing or invalid: message is empty", p)
        key = (p.get("owner_id"), p.get("guid"))
        with LOCK:
            if p.get("guid") and key in STATE["guids"]:
                return 200, {"response": {"post_id": STATE["guids"][key]}}, None
        pid = next_id()
        with LOCK:
            STATE["guids"][key] = pid
        return 200, {"response": {"post_id": pid}}, None


Handler = VK
