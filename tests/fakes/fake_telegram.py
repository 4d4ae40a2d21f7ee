#!/usr/bin/env python3
"""A fake Telegram Bot API (sendMessage only) for tests, on loopback.

POST /bot<TOKEN>/sendMessage with a JSON body {"chat_id", "text", ...}:
  - a token other than --token: 404 {"ok": false, "error_code": 404,
    "description": "Not Found"} (what the real API answers);
  - a chat_id other than --chat-id: 400 "Bad Request: chat not found";
  - no text or an empty one: 400 "Bad Request: message text is empty";
  - otherwise 200 {"ok": true, "result": {"message_id", "chat", "date", "text"}}.
Scripted answers come first:
  POST /_script {"responses": [{"status", "retry_after", "description"}...]}
  GET  /_messages  every accepted message {"chat_id", "text"}
  GET  /_stats     {"requests", "statuses", "bad_paths"}
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import asyncio
import json
import time

STATE = {"token": "", "chat_id": "", "script": [], "messages": [], "requests": 0,
         "statuses": {}, "bad_paths": 0}

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}


async def respond(writer, status, body):
    data = json.dumps(body).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        status, REASONS.get(status, "Status"), len(data))
    writer.write(head.encode() + data)
    await writer.drain()


def error(status, description, retry_after=None):
    body = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


def send_message(path, body):
    STATE["requests"] += 1
    if path != "/bot%s/sendMessage" % STATE["token"]:
        STATE["bad_paths"] += 1
        return error(404, "Not Found")
    if STATE["script"]:
        entry = STATE["script"].pop(0)
        status = entry.get("status", 500)
        return error(status, entry.get("description", "scripted %d" % status), entry.get("retry_after"))
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return error(400, "Bad Request: can't parse JSON object")
    if str(request.get("chat_id", "")) != STATE["chat_id"]:
        return error(400, "Bad Request: chat not found")
    text = request.get("text")
    if not isinstance(text, str) or not text:
        return error(400, "Bad Request: message text is empty")
    STATE["messages"].append({"chat_id": str(request["chat_id"]), "text": text})
    return 200, {"ok": True, "result": {"message_id": len(STATE["messages"]),
                                        "chat": {"id": request["chat_id"], "type": "private"},
                                        "date": int(time.time()), "text": text}}


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
            if path.startswith("/bot") and method == "POST":
                status, answer = send_message(path, body)
                STATE["statuses"][str(status)] = STATE["statuses"].get(str(status), 0) + 1
                await respond(writer, status, answer)
            elif path == "/_script" and method == "POST":
                STATE["script"].extend(json.loads(body or b"{}").get("responses", []))
                await respond(writer, 200, {"ok": True})
            elif path == "/_messages":
                await respond(writer, 200, STATE["messages"])
            elif path == "/_stats":
                await respond(writer, 200, {k: STATE[k] for k in ("requests", "statuses", "bad_paths")})
            else:
                await respond(writer, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--chat-id", required=True)
    args = parser.parse_args()
    STATE["token"] = args.token
    STATE["chat_id"] = args.chat_id
    server = await asyncio.start_server(serve, "127.0.0.1", args.port)
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
