"""The sandbox's media host: where tests' and the demo's mediaItems[i].src
point. Serves real image, video and audio files built here (a PNG with a
valid zlib stream and CRCs, a GIF, a JPEG header with its frame size, an
MP4 ftyp box, an MP3 ID3 header), files of any size, and the bad cases a
fetch must survive:

  GET /img/<w>x<h>.png          a PNG of that size (1..4000)
  GET /img/anim.gif             a GIF 320x240
  GET /img/photo.jpg            a JPEG header (SOF0 400x300) and padding
  GET /big.png?bytes=N          a PNG header padded to N bytes (N <= 64 MB)
  GET /video.mp4?bytes=N        an MP4 (ftyp) of N bytes (N <= 64 MB), streamed
  GET /song.mp3                 an MP3 (ID3)
  GET /page.html?as=image/png   an HTML page, Content-Type lying as asked
  GET /redirect?to=URL          302 to URL (any URL: private ones included)
  GET /slow                     headers, then a byte a second, ending after 60 s at most
  GET /status/<code>            that status, empty body
Everything else: 404.
"""
import struct, time, zlib
from urllib.parse import parse_qs, urlsplit

from sandbox_core import Base

MAX_BYTES = 64 * 1024 * 1024


def png(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([(x * 7 + y * 3) & 0xFF for x in range(w)] * 1)[:w] * 3 for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


GIF = b"GIF89a\x40\x01\xf0\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xc0\x00\x11\x08\x01\x2c\x01\x90\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01" + b"\x00" * 64 + b"\xff\xd9")
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
HTML = b"<!doctype html><html><head><title>Not an image</title></head><body>login</body></html>"


def mp4_head():
    return struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00" + b"mp42isom"


def padded(head, n):
    n = max(len(head), min(n, MAX_BYTES))
    return head + bytes((i * 31) & 0xFF for i in range(256)) * ((n - len(head)) // 256) + b"\x00" * ((n - len(head)) % 256)


class MediaCDN(Base):
    network = "media"

    def send_bytes(self, status, data, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        p = u.path
        if p.startswith("/img/") and p.endswith(".png"):
            try:
                w, h = (int(x) for x in p[5:-4].split("x"))
            except ValueError:
                return self.send_bytes(404, b"", "text/plain")
            if not (0 < w <= 4000 and 0 < h <= 4000):
                return self.send_bytes(404, b"", "text/plain")
            return self.send_bytes(200, png(w, h), "image/png")
        if p == "/img/anim.gif":
            return self.send_bytes(200, GIF, "image/gif")
        if p == "/img/photo.jpg":
            return self.send_bytes(200, JPEG, "image/jpeg")
        if p == "/big.png":
            return self.send_bytes(200, padded(png(2, 2), int(q.get("bytes", "1000"))), "image/png")
        if p == "/video.mp4":
            n = max(24, min(int(q.get("bytes", "100000")), MAX_BYTES))
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.wfile.write(padded(mp4_head(), n))
            return
        if p == "/song.mp3":
            return self.send_bytes(200, MP3, "audio/mpeg")
        if p == "/page.html":
            return self.send_bytes(200, HTML, q.get("as", "text/html"))
        if p == "/redirect":
            self.send_response(302)
            self.send_header("Location", q.get("to", "/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if p == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                self.wfile.write(png(2, 2)[:16])
                self.wfile.flush()
                for _ in range(60):  # bounded: the client's deadline ends it first
                    time.sleep(1)
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
            except OSError:
                pass
            return
        if p.startswith("/status/"):
            try:
                code = int(p[8:])
            except ValueError:
                code = 404
            return self.send_bytes(code if 200 <= code < 600 else 404, b"", "text/plain")
        return self.send_bytes(404, b"", "text/plain")


Handler = MediaCDN
