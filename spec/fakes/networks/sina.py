"""Weibo statuses/share.json: the safe domain and rip checked."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "sina"
CONF = {"safeDomain": "game.example"}


def wb_error(code, msg):
    return Reply(400 if code < 21000 else 403, {"error": msg, "error_code": code, "request": "/2/statuses/share.json"})


class Weibo(Base):
    network = "sina"

    def route(self, method, path, q, raw):
        p = self.form(raw)
        token = p.get("access_token", "")
        if "expired" in token:
            raise wb_error(21327, "expired_token")
        if "ratelimit" in token:
            raise wb_error(10023, "User requests out of rate limit!")
        if "dup" in token:
            raise wb_error(20019, "repeat content!")
        if not p.get("rip"):
            raise wb_error(10016, "miss required parameter (rip) , see doc for more info.")
        status = p.get("status", "")
        if ("://" + CONF["safeDomain"]) not in status and ("." + CONF["safeDomain"]) not in status:
            raise wb_error(10017, "parameter (status)'s value invalid,expect (must contain a safe domain url)")
        # share.json refuses #topic# tags; a '#' inside a URL is a fragment
        if re.search(r"#[^#\r\n]+#", re.sub(r"https?://\S+", " ", status)):
            raise wb_error(10017, "parameter (status)'s value invalid,expect (no #topic#)")
        if "delayed" in token:
            raise wb_error(20032, "Update success, while server slow now, please wait 1-2 minutes")
        i = next_id()
        return 200, {"created_at": formatdate(usegmt=True), "id": 4000000000000000 + i, "idstr": str(4000000000000000 + i),
                     "mid": str(i), "text": status, "user": {"id": 1}}, None


Handler = Weibo
