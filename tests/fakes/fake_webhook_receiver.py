#!/usr/bin/env python3
"""A fake completion-webhook receiver for tests, on loopback.

POST <any other path>: records {"path", "headers" (lower-case names), "body"
(text), "at" (monotonic seconds), "status", "verified"} and answers 200
{"ok": true}, unless scripted answers are queued: those come first.
When --secret (or POST /_secret {"secret"}) is set, each delivery's
EchoPilot-Signature (t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>)
is checked here too ("verified": true/false), independently of the node.
  POST /_script {"responses": [500, 503, ...]}   statuses for the next posts
  POST /_secret {"secret": "..."}
  GET  /_received                                 every post, oldest first
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import time

STATE = {"script": [], "received": [], "secret": ""}

REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


async def respond(writer, status, body):
    data = json.dumps(body).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        status, REASONS.get(status, "Status"), len(data))
    writer.write(head.encode() + data)
    await writer.drain()


def verify(header, body):
    if not STATE["secret"]:
        return None
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    mac = hmac.new(STATE["secret"].encode(), (parts["t"] + ".").encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            if path == "/_script" and method == "POST":
                STATE["script"].extend(json.loads(body or b"{}").get("responses", []))
                await respond(writer, 200, {"ok": True})
            elif path == "/_secret" and method == "POST":
                STATE["secret"] = json.loads(body or b"{}").get("secret", "")
                await respond(writer, 200, {"ok": True})
            elif path == "/_received" and method == "GET":
                await respond(writer, 200, STATE["received"])
            elif method == "POST":
                status = STATE["script"].pop(0) if STATE["script"] else 200
                STATE["received"].append({"path": path, "headers": headers, "body": body.decode("utf-8", "replace"),
                                          "at": time.monotonic(), "status": status,
                                          "verified": verify(headers.get("echopilot-signature", ""), body)})
                await respond(writer, status, {"ok": status == 200})
            else:
                await respond(writer, 404, {"ok": False})
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    STATE["secret"] = args.secret
    server = await asyncio.start_server(serve, "127.0.0.1", args.port)
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
