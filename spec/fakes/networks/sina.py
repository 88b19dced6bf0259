"""Weibo statuses/share.json: the safe domain and rip checked. A form, or
multipart/form-data (media_kit's own reader) when a picture comes as the
part "pic": one JPEG, PNG or GIF under 5 MB (20006 "image size too large",
20005 "unsupported image type"), its Content-Type its bytes' real type. A
picture that is one of the sandbox's test media must be it byte for byte
(its pic_id is then the medium's name). GET /__media/<name> serves them."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id
import oauth_server

NETWORK = "sina"
CONF = {"safeDomain": "game.example"}
# make demo's account (examples/direct.lua joins every network that offers one)
DEMO = {"provider": {"safeDomain": CONF["safeDomain"], "baseUrl": "{base}"},
        "connection": {"accessToken": "wb-token", "ip": "203.0.113.7"}}


STATE_DEFAULTS = oauth_server.defaults(NETWORK)
# OAuth 2.0 (open.weibo.com/wiki/Oauth2): client credentials in the body, no
# PKCE, no refresh token for a web app; the token reply carries the uid
# (a string) and no token_type; users/show.json takes the uid and the
# token as "Authorization: OAuth2 <token>"; revokeoauth2 takes access_token
OAUTH = {"authorize": "/oauth2/authorize", "token": "/oauth2/access_token", "revoke": "/oauth2/revokeoauth2",
         "identity": "/2/users/show.json", "client_id": "wb-client-id", "client_secret": "wb-client-secret",
         "basic": False, "pkce": False, "rotating": False, "refresh_scope": "(none)", "prefix": "wb",
         "scopes": {"all", "email", "follow_app_official_microblog"}, "user": "1404376560", "scope_optional": True,
         "token_reply": "weibo", "revoke_param": "access_token", "revoke_reply": {"result": "true"},
         "identity_scheme": "OAuth2", "identity_query": "uid",
         "identity_reply": {"id": 1404376560, "idstr": "1404376560", "screen_name": "sandbox_weibo",
                            "name": "sandbox_weibo"},
         "unauthorized": {"error": "invalid_access_token", "error_code": 21332,
                          "request": "/2/users/show.json"}}


def wb_error(code, msg):
    return Reply(400 if code < 21000 else 403, {"error": msg, "error_code": code, "request": "/2/statuses/share.json"})


class Weibo(Base):
    network = "sina"
    OAUTH = OAUTH

    def do_GET(self):
        if self.path.startswith("/__media/"):
            return media_kit.serve(self, self.path[len("/__media/"):],
                                   lambda: self.respond(404, {"error": "not found", "error_code": 404}))
        return self.handle_any("GET")

    def pic_of(self, raw):
        """(fields, the pic part or None)"""
        ct = self.headers.get("Content-Type") or ""
        if not ct.startswith("multipart/form-data"):
            return self.form(raw), None
        try:
            parts = media_kit.parse_multipart(ct, raw)
        except media_kit.FormError as e:
            raise wb_error(10017, "parameter (multipart)'s value invalid: %s" % e)
        fields, pic = {}, None
        for part in parts:
            if part["name"] == "pic" and part["filename"]:
                pic = part
            elif part["filename"] is None:
                fields[part["name"]] = part["data"].decode("utf-8")
            else:
                raise wb_error(10017, "parameter (%s)'s value invalid, expect (a text field)" % part["name"])
        if pic is None:
            raise wb_error(10016, "miss required parameter (pic) , see doc for more info.")
        return fields, pic

    def route(self, method, path, q, raw):
        r = oauth_server.handle(self, method, path, q, raw)
        if r:
            return r
        p, pic = self.pic_of(raw)
        token = p.get("access_token", "")
        if token.startswith(OAUTH["prefix"] + "at-"):  # issued by the sandbox's Weibo: live
            try:
                oauth_server.check_bearer(self, token)
            except Reply:
                raise wb_error(21332, "invalid_access_token")
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
        extra = {}
        if pic is not None:
            real = media_kit.sniff(pic["data"])
            if len(pic["data"]) >= media_kit.FIVE_MB:
                raise wb_error(20006, "image size too large")
            if real not in ("image/jpeg", "image/png", "image/gif"):
                raise wb_error(20005, "unsupported image type, only suport JPG, GIF, PNG")
            if pic["type"] != real:
                raise wb_error(10017, "parameter (pic)'s value invalid: Content-Type %s, bytes %s" % (pic["type"], real))
            pid = media_kit.known(pic["data"]) or media_kit.digest(pic["data"])[:16]
            extra = {"pic_ids": [pid], "thumbnail_pic": "https://wx1.sinaimg.cn/thumbnail/%s.jpg" % pid}
        if "delayed" in token:
            raise wb_error(20032, "Update success, while server slow now, please wait 1-2 minutes")
        i = next_id()
        return 200, {"created_at": formatdate(usegmt=True), "id": 4000000000000000 + i, "idstr": str(4000000000000000 + i),
                     "mid": str(i), "text": status, "user": {"id": 1}, **extra}, None


Handler = Weibo
