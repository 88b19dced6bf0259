"""The sandbox as a network's OAuth 2.0 authorization server (RFC 6749,
RFC 7636 PKCE, RFC 7009 revocation), with its own checks of the wire format:
it never calls the library. A network module gives its PROFILE (paths,
client credentials, client authentication style, PKCE, rotation, the
identity it answers) and calls handle() first in its route.

Behaviour:
- authorize (GET): checks response_type, client_id, redirect_uri, state,
  scope (known scopes only), PKCE (S256; required when the profile says so),
  then answers 302 to redirect_uri with code and state. Scenario "deny":
  302 with error=access_denied.
- token (POST, form): client authentication (HTTP Basic, each part
  form-decoded, or client_id/client_secret in the body), then
  authorization_code (single use, 60 s, same redirect_uri and client, the
  S256 of code_verifier equal to the challenge) or refresh_token. Rotating
  profiles (X) issue a new refresh token on each refresh and the old one
  dies: reusing it is invalid_grant, counted in STATE["oauth_<net>"]["reuse"],
  and (as X does) kills the token family. Scenarios "html" (a 502 HTML
  page), "500", "429", "narrow" (grants fewer scopes than asked: without the
  refresh scope, else without the last one), "invalid_grant"; Threads'
  GET refresh: "refresh500", "refresh429", "invalid_grant".
- revoke (POST, form): the token dies (200).
- STATE["oauth_revoke_early"][network] = true: at the next bearer check every
  live access token of that network dies before its expiry (once), its
  refresh tokens stay live (a token revoked early: a 401, then a refresh).
- identity (GET with a bearer token issued here): the profile's account
  (scenario "identity503": 503).
- check_bearer(): an API call with a token issued here must carry a live one.

Control: POST /__config {"oauth_scenario": {"twitter": "html"}, "oauth_ttl": 7200}.
GET /__oauth on the control port: {network: {"reuse": n, "refreshes": n, ...}}."""
import base64, hashlib, re, secrets as rnd
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from sandbox_core import LOCK, STATE, Reply, now as sandbox_now

UNRESERVED = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def defaults(network):
    """The state a network module adds to STATE_DEFAULTS (reset with the sandbox)."""
    return {"oauth_" + network: {"codes": {}, "access": {}, "refresh": {}, "reuse": 0, "refreshes": 0,
                                 "exchanges": 0, "revoked": 0, "families_killed": 0},
            "oauth_scenario": {}, "oauth_ttl": 7200}


def _err(status, code, desc=None):
    body = {"error": code}
    if desc:
        body["error_description"] = desc
    return Reply(status, body)


def _form(h, raw):
    ct = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ct != "application/x-www-form-urlencoded":
        raise _err(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (ValueError, UnicodeDecodeError):
        raise _err(400, "invalid_request", "the body is not a form")
    form = {}
    for k, v in pairs:
        if k in form:
            raise _err(400, "invalid_request", "parameter repeated: " + k)  # RFC 6749 3.2
        form[k] = v
    return form


def _client(h, prof, form):
    """RFC 6749 2.3.1: Basic (form-encoded parts) or the body, never both secrets."""
    auth = h.headers.get("Authorization") or ""
    cid, secret = prof["client_id"], prof["client_secret"]
    if auth.startswith("Basic "):
        try:
            dec = base64.b64decode(auth[6:], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise _err(401, "invalid_client", "bad Basic credentials")
        user, sep, pw = dec.partition(":")
        if not sep or unquote_plus(user) != cid or unquote_plus(pw) != secret:
            raise _err(401, "invalid_client", "client authentication failed")
        if "client_secret" in form:
            raise _err(400, "invalid_request", "client authenticated twice")
        if form.get("client_id", cid) != cid:
            raise _err(401, "invalid_client", "client_id differs from the authenticated client")
        return cid
    if prof["basic"]:
        raise _err(401, "unauthorized_client", "Missing valid authorization header")
    if form.get("client_id") != cid:
        raise _err(401, "invalid_client", "client authentication failed")
    if form.get("client_secret") != secret and not (prof.get("public") and "client_secret" not in form):
        raise _err(401, "invalid_client", "client authentication failed")
    return cid


def _issue(net, prof, st, scope, user, family):
    ttl = int(STATE.get("oauth_ttl") or 7200)
    at = prof["prefix"] + "at-" + rnd.token_hex(16)
    st["access"][at] = {"user": user, "scope": scope, "exp": sandbox_now() + ttl, "family": family, "live": True}
    if prof.get("token_reply") == "mastodon":  # no expiry, no refresh token (docs.joinmastodon.org/entities/Token)
        st["access"][at]["exp"] = sandbox_now() + 10 * 365 * 86400
        return {"access_token": at, "token_type": "Bearer", "scope": scope, "created_at": int(sandbox_now())}
    if prof.get("token_reply") == "threads":  # a 1-hour token and the user id, nothing else
        st["access"][at].update(exp=sandbox_now() + 3600, kind="short")
        return {"access_token": at, "user_id": int(user)}
    if prof.get("token_reply") == "weibo":  # open.weibo.com/wiki/Oauth2/access_token: no token_type, no scope
        return {"access_token": at, "remind_in": str(ttl), "expires_in": ttl, "uid": user, "isRealName": "true"}
    reply = {"token_type": "bearer", "access_token": at, "expires_in": ttl, "scope": scope}
    if prof.get("refresh_scope") is None or prof["refresh_scope"] in scope.split(" "):
        rt = prof["prefix"] + "rt-" + rnd.token_hex(16)
        st["refresh"][rt] = {"user": user, "scope": scope, "family": family, "live": True}
        reply["refresh_token"] = rt
        if prof.get("refresh_expires_in"):
            reply["refresh_token_expires_in"] = prof["refresh_expires_in"]
    return reply


def _kill_family(st, family):
    for table in ("access", "refresh"):
        for rec in st[table].values():
            if rec["family"] == family:
                rec["live"] = False
    st["families_killed"] += 1


def authorize(h, prof, q):
    net = h.network
    scen = (STATE.get("oauth_scenario") or {}).get(net)
    for k in ("response_type", "client_id", "redirect_uri", "state"):
        if not q.get(k):
            raise _err(400, "invalid_request", "missing " + k)
    if q["response_type"] != "code":
        raise _err(400, "unsupported_response_type")
    if q["client_id"] != prof["client_id"]:
        raise _err(400, "invalid_client", "unknown client_id")
    ru = urlsplit(q["redirect_uri"])
    if ru.scheme not in ("http", "https") or not ru.netloc or ru.fragment:
        raise _err(400, "invalid_request", "redirect_uri must be an absolute http(s) URL without fragment")
    scope = q.get("scope", "")
    names = scope.split(prof.get("scope_sep") or " ") if scope else []  # Threads: commas
    if (not names and not prof.get("scope_optional")) or any(not SCOPE_TOKEN.match(s) or s not in prof["scopes"] for s in names):
        raise _err(400, "invalid_scope", "unknown scope in %r" % scope)
    ch, meth = q.get("code_challenge"), q.get("code_challenge_method")
    if prof["pkce"] and not ch:
        raise _err(400, "invalid_request", "code_challenge is required")
    if ch is not None and (meth != "S256" or not re.match(r"^[A-Za-z0-9_-]{43}$", ch)):
        raise _err(400, "invalid_request", "code_challenge must be a 43-character S256 challenge")
    sep = "&" if ru.query else "?"
    if scen == "deny":
        loc = q["redirect_uri"] + sep + urlencode({"error": "access_denied", "state": q["state"],
                                                   "error_description": "The user denied the request"})
        return 302, None, {"Location": loc}
    code = rnd.token_hex(20)
    extra = {}
    if prof.get("callback_param"):  # VK ID: the device the user authorized on
        extra[prof["callback_param"]] = "dev-" + rnd.token_hex(6)
    # "narrow": the grant lacks the refresh scope (X's offline.access) or else the last scope asked
    drop = prof.get("refresh_scope") if prof.get("refresh_scope") in names else (names[-1] if names else None)
    granted = " ".join(n for n in names if n != drop) if scen == "narrow" else scope
    with LOCK:
        STATE["oauth_" + net]["codes"][code] = {"client": q["client_id"], "redirect": q["redirect_uri"],
                                                 "challenge": ch, "scope": granted, "exp": sandbox_now() + 60,
                                                 "used": False, "family": rnd.token_hex(8), "extra": extra}
    params = {"code": code, "state": q["state"]}
    params.update(extra)
    return 302, None, {"Location": q["redirect_uri"] + sep + urlencode(params)}


def token(h, prof, raw):
    net = h.network
    form = _form(h, raw)
    _client(h, prof, form)
    scen = (STATE.get("oauth_scenario") or {}).get(net)
    if scen == "html":
        return 502, b"<html><head><title>502 Bad Gateway</title></head><body>Bad gateway</body></html>", \
            {"Content-Type": "text/html"}
    if scen == "500":
        return 500, {"error": "server_error"}, None
    if scen == "429":
        return 429, {"title": "Too Many Requests", "status": 429}, {"Retry-After": "60"}
    if scen == "invalid_grant":
        raise _err(400, "invalid_grant", "Value passed for the token was invalid.")
    grant = form.get("grant_type")
    if prof.get("token_state") and not form.get("state"):
        raise _err(400, "invalid_request", "state is required")
    cp = prof.get("callback_param")
    if cp and not form.get(cp):
        raise _err(400, "invalid_request", cp + " is required")
    with LOCK:
        st = STATE["oauth_" + net]
        if grant == "authorization_code":
            for k in ("code", "redirect_uri"):
                if not form.get(k):
                    raise _err(400, "invalid_request", "missing " + k)
            c = st["codes"].get(form["code"])
            if not c:
                raise _err(400, "invalid_grant", "unknown authorization code")
            if c["used"]:
                _kill_family(st, c["family"])  # RFC 6749 4.1.2: a code used twice revokes its tokens
                raise _err(400, "invalid_grant", "authorization code already used")
            c["used"] = True
            if cp and form[cp] != c["extra"][cp]:
                raise _err(400, "invalid_grant", cp + " differs from the authorization's")
            if c["exp"] < sandbox_now():
                raise _err(400, "invalid_grant", "authorization code expired")
            if c["redirect"] != form["redirect_uri"]:
                raise _err(400, "invalid_grant", "redirect_uri differs from the authorization request")
            if c["challenge"] is not None:
                v = form.get("code_verifier") or ""
                if not UNRESERVED.match(v):
                    raise _err(400, "invalid_request", "code_verifier must be 43-128 unreserved characters")
                s256 = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
                if s256 != c["challenge"]:
                    raise _err(400, "invalid_grant", "PKCE verification failed")
            elif "code_verifier" in form:
                raise _err(400, "invalid_request", "code_verifier without a challenge")
            st["exchanges"] += 1
            reply = _issue(net, prof, st, c["scope"], prof["user"], c["family"])
            if cp:
                st["refresh"][reply["refresh_token"]]["extra"] = form[cp]
            return 200, reply, None
        if grant == "refresh_token":
            rt = form.get("refresh_token")
            if not rt:
                raise _err(400, "invalid_request", "missing refresh_token")
            rec = st["refresh"].get(rt)
            if not rec:
                raise _err(400, "invalid_grant", "unknown refresh token")
            if cp and form[cp] != rec.get("extra"):
                raise _err(400, "invalid_grant", cp + " differs from the grant's")
            if not rec["live"]:
                if prof["rotating"]:
                    st["reuse"] += 1
                    _kill_family(st, rec["family"])
                raise _err(400, "invalid_grant", "Value passed for the token was invalid.")
            st["refreshes"] += 1
            if prof["rotating"]:
                # the old refresh token dies; the access tokens issued before
                # live until their own expiry (RFC 6749 6 revokes only the
                # refresh token; a reuse kills the whole family below)
                rec["live"] = False
                reply = _issue(net, prof, st, rec["scope"], rec["user"], rec["family"])
                if cp:
                    st["refresh"][reply["refresh_token"]]["extra"] = rec.get("extra")
                return 200, reply, None
            ttl = int(STATE.get("oauth_ttl") or 7200)
            at = prof["prefix"] + "at-" + rnd.token_hex(16)
            st["access"][at] = {"user": rec["user"], "scope": rec["scope"], "exp": sandbox_now() + ttl,
                                "family": rec["family"], "live": True}
            return 200, {"token_type": "bearer", "access_token": at, "expires_in": ttl, "scope": rec["scope"],
                         "refresh_token": rt}, None
    raise _err(400, "unsupported_grant_type", "grant_type %r" % grant)


def revoke(h, prof, raw):
    form = _form(h, raw)
    _client(h, prof, form)
    rp = prof.get("revoke_param") or "token"  # Weibo's revokeoauth2: access_token
    tk = form.get(rp)
    if not tk:
        raise _err(400, "invalid_request", "missing " + rp)
    if rp != "token" and ("token" in form or "token_type_hint" in form):
        raise _err(400, "invalid_request", "unexpected parameter: token")
    with LOCK:
        st = STATE["oauth_" + h.network]
        for table in ("access", "refresh"):
            if tk in st[table]:
                st[table][tk]["live"] = False
                st["revoked"] += 1
    # RFC 7009 2.2: 200 for an unknown token too
    return 200, prof.get("revoke_reply") or {"revoked": True}, None


def long_lived(h, prof, q, exchange):
    """Threads' GET th_exchange_token (a live short-lived token and the client
    secret) and th_refresh_token (a live long-lived token): a new long-lived
    token; the old one lives on until its own expiry, as Meta's do."""
    grant = prof["exchange_grant" if exchange else "refresh_grant"]
    if q.get("grant_type") != grant:
        raise _err(400, "unsupported_grant_type", "grant_type must be " + grant)
    if exchange and q.get("client_secret") != prof["client_secret"]:
        raise _err(400, "invalid_client", "Error validating client secret.")
    if not exchange and "client_secret" in q:
        raise _err(400, "invalid_request", "client_secret is not sent on a refresh")
    scen = (STATE.get("oauth_scenario") or {}).get(h.network)
    if scen == ("exchange500" if exchange else "refresh500"):
        return 500, {"error": "server_error"}, None
    if scen == "refresh429" and not exchange:
        return 429, {"error": {"message": "Application request limit reached", "code": 4}}, {"Retry-After": "60"}
    if scen == "invalid_grant" and not exchange:
        raise _err(400, "invalid_grant", "Session has expired.")
    tk = q.get("access_token") or ""
    with LOCK:
        st = STATE["oauth_" + h.network]
        rec = st["access"].get(tk)
        if not rec or not rec["live"] or rec["exp"] <= sandbox_now():
            raise _err(400, "invalid_grant", "Error validating access token: Session has expired.")
        if (rec.get("kind") == "short") != exchange:
            raise _err(400, "invalid_request", "a %s-lived token is needed" % ("short" if exchange else "long"))
        ttl = int(prof["long_ttl"])
        at = prof["prefix"] + "at-" + rnd.token_hex(16)
        st["access"][at] = {"user": rec["user"], "scope": rec["scope"], "exp": sandbox_now() + ttl,
                            "family": rec["family"], "live": True, "kind": "long"}
        st["exchanges" if exchange else "refreshes"] += 1
    return 200, {"access_token": at, "token_type": "bearer", "expires_in": ttl}, None


def check_bearer(h, token_value):
    """A token issued here must be live and unexpired: 401 otherwise. Returns its record (None: not ours)."""
    prof = h.OAUTH
    if not token_value or not token_value.startswith(prof["prefix"] + "at-"):
        return None
    with LOCK:
        early = STATE.get("oauth_revoke_early") or {}
        if early.get(h.network):  # every live access token dies now, before its expiry; refresh tokens live on
            for a in STATE["oauth_" + h.network]["access"].values():
                a["live"] = False
            early[h.network] = False
        rec = STATE["oauth_" + h.network]["access"].get(token_value)
        ok = rec and rec["live"] and rec["exp"] > sandbox_now()
    if not ok:
        raise Reply(401, prof["unauthorized"])
    return rec


def handle(h, method, path, q, raw):
    """The OAuth routes of a network module: a (status, body, headers) or None."""
    prof = h.OAUTH
    if path == prof["authorize"] and method == "GET":
        return authorize(h, prof, q)
    if path == prof["token"] and method == "POST":
        return token(h, prof, raw)
    if prof.get("exchange") and path == prof["exchange"] and method == "GET":
        return long_lived(h, prof, q, True)
    if prof.get("refresh_get") and path == prof["refresh_get"] and method == "GET":
        return long_lived(h, prof, q, False)
    if prof.get("revoke") and path == prof["revoke"] and method == "POST":
        return revoke(h, prof, raw)
    if path == prof["identity"] and method == ("POST" if prof.get("identity_post") else "GET"):
        if prof.get("identity_post"):  # VK ID: a form of access_token and client_id
            form = _form(h, raw)
            if form.get("client_id") != prof["client_id"]:
                raise _err(400, "invalid_client", "unknown client_id")
            tk = form.get("access_token", "")
        else:
            a = h.headers.get("Authorization") or ""
            scheme = (prof.get("identity_scheme") or "Bearer") + " "  # Weibo: "OAuth2 <token>"
            tk = a[len(scheme):] if a.startswith(scheme) else ""
        rec = check_bearer(h, tk)
        if rec is None:
            raise Reply(401, prof["unauthorized"])
        for k, v in (prof.get("identity_params") or {}).items():  # Threads: fields=id,username
            if q.get(k) != v:
                raise _err(400, "invalid_request", "%s must be %s" % (k, v))
        iq = prof.get("identity_query")  # Weibo's users/show.json?uid=: the token's own account
        if iq and q.get(iq) != rec["user"]:
            raise _err(400, "invalid_request", "%s must be the token's account" % iq)
        if (STATE.get("oauth_scenario") or {}).get(h.network) == "identity503":
            return 503, {"title": "Service Unavailable", "status": 503}, None
        return 200, prof["identity_reply"], None
    return None
