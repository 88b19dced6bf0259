#!/usr/bin/env python3
"""A misbehaving HTTP server on 127.0.0.1 for fault-injection tests.

The first path segment picks the fault; the rest of the path is ignored, so
a client configured with base URL http://127.0.0.1:P/<fault> sends there.

  drop        read the request, close without a reply
  reset       read the request, reset the connection (RST)
  slow        wait 3 s before replying (longer than the tests' timeouts)
  trickle     send the reply one byte every 0.5 s
  truncated   Content-Length 200, send 30 bytes, close
  badjson     {"errorCode":0,            (truncated JSON)
  utf8        a JSON reply with invalid UTF-8 inside a string
  huge        a 2 MB body (over the 1 MB cap the specs set)
  html        200 text/html page
  e500, e503  HTTP 500 / 503 with an HTML body
  e502        HTTP 502 with a proxy's HTML error page
  redirect    302 to http://127.0.0.1:1/elsewhere
  empty       200 with an empty body
  nolength    200 JSON, no Content-Length, close after the body
  keepdrop    200 JSON kept alive for the first request of a connection; the
              next request on that connection is read whole, then the
              connection closed without a reply (a reused connection that
              dies after the request was sent); /count/<path> answers how
              many requests reached /keepdrop/<path>

  faults.py --ready FILE [--lifetime 300]
"""
import argparse, json, os, socket, struct, sys, threading, time

OK_JSON = b'{"errorCode":0,"statusCode":200,"callId":"f1"}'


def read_request(conn):
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    line = head.split(b"\r\n")[0].decode("latin-1")
    return line.split(" ")[1] if " " in line else "/"


def reply(conn, status, body, ctype="application/json", extra=b""):
    head = ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n" %
            (status, ctype, len(body))).encode() + extra + b"\r\n"
    conn.sendall(head + body)


COUNTS = {}
COUNTS_LOCK = threading.Lock()


def counted(path):
    with COUNTS_LOCK:
        COUNTS[path] = COUNTS.get(path, 0) + 1


def keepdrop(conn, path):
    counted(path)
    conn.sendall(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
                  len(OK_JSON)).encode() + OK_JSON)
    path = read_request(conn)
    if path is not None:
        counted(path)  # read whole, then closed without a byte of reply


def handle(conn):
    try:
        path = read_request(conn)
        if path is None:
            return
        fault = path.strip("/").split("/")[0]
        if fault == "keepdrop":
            keepdrop(conn, path)
        elif fault == "count":
            with COUNTS_LOCK:
                n = COUNTS.get("/keepdrop/" + path.strip("/").split("/", 1)[-1], 0)
            reply(conn, "200 OK", json.dumps({"count": n}).encode())
        elif fault == "drop":
            pass
        elif fault == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault == "slow":
            time.sleep(3)
            reply(conn, "200 OK", OK_JSON)
        elif fault == "trickle":
            data = b"HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n" + OK_JSON
            for i in range(len(data)):
                conn.sendall(data[i:i + 1])
                time.sleep(0.5)
        elif fault == "truncated":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n" + OK_JSON[:30])
        elif fault == "badjson":
            reply(conn, "200 OK", b'{"errorCode":0,')
        elif fault == "utf8":
            reply(conn, "200 OK", b'{"errorCode":0,"statusCode":200,"note":"\xff\xfe bad","id":"1"}')
        elif fault == "huge":
            body = b'{"errorCode":0,"pad":"' + b"x" * (2 * 1024 * 1024) + b'"}'
            reply(conn, "200 OK", body)
        elif fault == "html":
            reply(conn, "200 OK", b"<html><body>Maintenance</body></html>", "text/html")
        elif fault == "e500":
            reply(conn, "500 Internal Server Error", b"<html>500</html>", "text/html")
        elif fault == "e502":
            reply(conn, "502 Bad Gateway", b"<html><head><title>502 Bad Gateway</title></head></html>", "text/html")
        elif fault == "e503":
            reply(conn, "503 Service Unavailable", b"<html>503</html>", "text/html", b"Retry-After: 1\r\n")
        elif fault == "redirect":
            reply(conn, "302 Found", b"", "text/plain", b"Location: http://127.0.0.1:1/elsewhere\r\n")
        elif fault == "empty":
            reply(conn, "200 OK", b"")
        elif fault == "nolength":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + OK_JSON)
        else:
            reply(conn, "404 Not Found", b'{"error":"unknown fault"}')
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    s.settimeout(0.2)
    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps({"http": s.getsockname()[1], "pid": os.getpid()}) + "\n")
    os.rename(a.ready + ".tmp", a.ready)
    deadline = time.time() + a.lifetime
    while time.time() < deadline:
        try:
            conn, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
