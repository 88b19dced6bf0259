"""Telegram Bot API sendMessage."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "telegram"
CONF = {"botToken": "123456:sandbox-bot-token"}


class Telegram(Base):
    network = "telegram"

    def route(self, method, path, q, raw):
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            raise Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if parts[0][3:] != CONF["botToken"]:
            raise Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        body = self.json_body(raw)
        chat = str(body.get("chat_id", ""))
        if "blocked" in chat:
            raise Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        if "ratelimit" in chat:
            after = int(chat.split("ratelimit")[1] or 7)  # "ratelimit1": retry after 1 s
            raise Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after %d" % after,
                              "parameters": {"retry_after": after}})
        if "upgraded" in chat:
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
                              "parameters": {"migrate_to_chat_id": -1009876543210}})
        if not body.get("text"):
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        if len(body["text"]) > 4096:
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
        cid = int(chat) if chat.lstrip("-").isdigit() else chat
        return 200, {"ok": True, "result": {"message_id": next_id(), "chat": {"id": cid}, "text": body["text"],
                                            "date": int(time.time())}}, None


Handler = Telegram
