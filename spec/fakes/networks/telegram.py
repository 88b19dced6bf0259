"""Telegram Bot API: sendMessage, and the media methods sendPhoto, sendVideo,
sendAudio, sendAnimation, sendMediaGroup (core.telegram.org/bots/api).

A body is JSON, a form, or multipart/form-data (read by media_kit's own
reader). A media field is an http(s) URL (the fake fetches it when it is the
sandbox's own, GET /__media/<name>; another URL containing "unfetchable"
cannot be fetched; any other is taken as fetched), a file_id, or an uploaded
part: "attach://<name>" in sendMediaGroup's media JSON names a part present.
Checked as Telegram does: caption <= 1024 and text <= 4096 UTF-16 code units, albums of 2..10, audio
only with audio, a photo upload <= 10 MB and by URL <= 5 MB, the bytes' real
type. An uploaded file that is one of the sandbox's test media must be it
byte for byte; its file_unique_id is then the medium's name. A chat id with
"textfail" answers sendMessage with 502, one with "textlimit" with 429 retry
after 1 s (the media methods still answer)."""
import hashlib, json, time
from urllib.parse import parse_qsl, urlsplit
from urllib.request import urlopen

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "telegram"
CONF = {"botToken": "123456:sandbox-bot-token"}

PHOTO_UPLOAD, PHOTO_URL, FILE_UPLOAD, FILE_URL = 10 * 1024 * 1024, 5 * 1024 * 1024, 50 * 1024 * 1024, 20 * 1024 * 1024
FIELD = {"sendPhoto": "photo", "sendVideo": "video", "sendAudio": "audio", "sendAnimation": "animation"}
# what each media type's bytes may be
ACCEPT = {"photo": ("image/jpeg", "image/png", "image/webp", "image/gif"), "video": ("video/mp4",),
          "audio": ("audio/mpeg",), "animation": ("image/gif", "video/mp4")}


def bad(desc, code=400):
    return Reply(code, {"ok": False, "error_code": code, "description": ("Bad Request: " if code == 400 else "") + desc})


WRONG_FILE = "wrong file identifier/HTTP URL specified"


def utf16(s):
    """Telegram's length of a text or caption: UTF-16 code units (an emoji past the BMP counts 2)."""
    return len(s.encode("utf-16-le")) // 2


class Telegram(Base):
    network = "telegram"

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path.startswith("/__media/"):
            return media_kit.serve(self, u.path[len("/__media/"):],
                                   lambda: self.respond(404, {"ok": False, "error_code": 404, "description": "Not Found"}))
        return self.handle_any("GET")

    def body_of(self, raw):
        """(fields, files): fields a dict of strings (JSON values kept), files a dict name -> part."""
        ct = self.headers.get("Content-Type") or ""
        if ct.startswith("multipart/form-data"):
            try:
                parts = media_kit.parse_multipart(ct, raw)
            except media_kit.FormError as e:
                raise bad("can't parse multipart/form-data: %s" % e)
            fields, files = {}, {}
            for p in parts:
                if p["filename"] is None:
                    fields[p["name"]] = p["data"].decode("utf-8")
                else:
                    files[p["name"]] = p
            return fields, files
        if ct.startswith("application/json"):
            return self.json_body(raw), {}
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)), {}

    def fetch(self, url, kind):
        """The bytes behind an http(s) URL, as Telegram's servers would get them."""
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise bad(WRONG_FILE)
        if u.hostname in ("127.0.0.1", "localhost"):
            try:  # the sandbox's own media (loopback only)
                with urlopen(url, timeout=5) as r:
                    data = r.read(PHOTO_URL * 5)
            except Exception:
                raise bad(WRONG_FILE)
            if media_kit.sniff(data) is None and data.lstrip()[:1] == b"<":
                raise bad("wrong type of the web page content")
            if len(data) > (PHOTO_URL if kind == "photo" else FILE_URL):
                raise bad("failed to get HTTP URL content")
            return data
        if "unfetchable" in url:
            raise bad(WRONG_FILE)
        return None  # out of the sandbox's reach: taken as fetched

    def media(self, kind, value, files, used):
        """A file object for the reply, after Telegram's checks of one media value."""
        if isinstance(value, dict) and "data" in value:  # sendPhoto & co: the field is a part
            part = value
        elif not isinstance(value, str) or not value:
            raise bad("there is no %s in the request" % kind)
        elif value.startswith("attach://"):
            name = value[len("attach://"):]
            if name not in files:
                raise bad(WRONG_FILE)
            part = files[name]
            used.add(name)
        else:
            part = None
        if part is not None:
            data, size = part["data"], len(part["data"])
            real = media_kit.sniff(data)
            if size > (PHOTO_UPLOAD if kind == "photo" else FILE_UPLOAD):
                raise Reply(413, {"ok": False, "error_code": 413, "description": "Request Entity Too Large"})
            if real not in ACCEPT[kind]:
                raise bad("wrong file type: the %s part is not a %s" % (part["name"], kind) if real else
                          "IMAGE_PROCESS_FAILED" if kind == "photo" else "wrong file type")
            if part["type"] != real:
                raise bad("the %s part says Content-Type %s, its bytes are %s" % (part["name"], part["type"], real))
            name = media_kit.known(data)
            uid = name or hashlib.sha256(data).hexdigest()[:16]
        elif value.startswith("http://") or value.startswith("https://"):
            data = self.fetch(value, kind)
            size = len(data) if data is not None else 0
            if data is not None and media_kit.sniff(data) not in ACCEPT[kind]:
                raise bad("wrong type of the web page content")
            uid = (media_kit.known(data) if data else None) or "url-" + hashlib.sha1(value.encode()).hexdigest()[:12]
        elif value.startswith("AgAD-") or value.startswith("BAAD-"):
            uid, size = value[5:], 0  # a file_id this fake gave
        else:
            raise bad(WRONG_FILE)
        f = {"file_id": ("AgAD-" if kind == "photo" else "BAAD-") + uid, "file_unique_id": uid, "file_size": size}
        if kind == "photo":  # the sizes Telegram made; the largest is last
            return [dict(f, file_id=f["file_id"] + "-s", width=90, height=60), dict(f, width=640, height=480)]
        return f

    def message(self, chat, **extra):
        cid = int(chat) if chat.lstrip("-").isdigit() else chat
        m = {"message_id": next_id(), "chat": {"id": cid}, "date": int(time.time())}
        m.update(extra)
        return m

    def caption(self, v):
        if v is None:
            return {}
        if utf16(v) > 1024:
            raise bad("message caption is too long")
        return {"caption": v} if v else {}

    def route(self, method, path, q, raw):
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            raise Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if parts[0][3:] != CONF["botToken"]:
            raise Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        api = parts[1]
        body, files = self.body_of(raw)
        chat = str(body.get("chat_id", ""))
        if "leak" in chat:  # a hostile reply: the bot token in its description
            raise Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot%s was blocked" % CONF["botToken"]})
        if "blocked" in chat:
            raise Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        if "ratelimit" in chat:
            after = int(chat.split("ratelimit")[1] or 7)  # "ratelimit1": retry after 1 s
            raise Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after %d" % after,
                              "parameters": {"retry_after": after}})
        if "upgraded" in chat:
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
                              "parameters": {"migrate_to_chat_id": -1009876543210}})
        if not chat:
            raise bad("chat not found")
        if api == "sendMessage":
            if "textfail" in chat:  # the media methods answer, the text message does not
                raise Reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
            if "textlimit" in chat:
                raise Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                  "parameters": {"retry_after": 1}})
            if not body.get("text"):
                raise bad("message text is empty")
            if utf16(body["text"]) > 4096:
                raise bad("message is too long")
            return 200, {"ok": True, "result": self.message(chat, text=body["text"])}, None
        if api in FIELD:
            kind = FIELD[api]
            used = set()
            value = files[kind] if kind in files else body.get(kind)
            if kind in files:
                used.add(kind)
            f = self.media(kind, value, files, used)
            extra = set(files) - used
            if extra:
                raise bad("the request has file parts no field names: %s" % ", ".join(sorted(extra)))
            return 200, {"ok": True, "result": self.message(chat, **dict(self.caption(body.get("caption")), **{kind: f}))}, None
        if api == "sendMediaGroup":
            media = body.get("media")
            if isinstance(media, str):  # a form or multipart field: JSON text
                try:
                    media = json.loads(media)
                except ValueError:
                    raise bad("can't parse media JSON object")
            if not isinstance(media, list):
                raise bad("field \"media\" must be an Array")
            if not 2 <= len(media) <= 10:
                raise bad("too many messages to send as an album" if len(media) > 10 else
                          "wrong number of media in the album: from 2 to 10 are allowed")
            kinds = [m.get("type") if isinstance(m, dict) else None for m in media]
            if any(k not in ("photo", "video", "audio", "document") for k in kinds):
                raise bad("can't parse InputMedia: unsupported type")
            if ("audio" in kinds and set(kinds) != {"audio"}) or ("document" in kinds and set(kinds) != {"document"}):
                raise bad("Documents and audio files can be only grouped in an album with messages of the same type")
            used, out, group = set(), [], str(next_id())
            for i, m in enumerate(media):
                f = self.media(m["type"], m.get("media"), files, used)
                msg = self.message(chat, media_group_id=group, **dict(self.caption(m.get("caption")), **{m["type"]: f}))
                out.append(msg)
            extra = set(files) - used
            if extra:
                raise bad("the request has file parts no attach:// names: %s" % ", ".join(sorted(extra)))
            return 200, {"ok": True, "result": out}, None
        raise Reply(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})


Handler = Telegram
