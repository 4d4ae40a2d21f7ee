#!/usr/bin/env python3
"""A fake MailerLite and Brevo contacts API for tests, on loopback.

MailerLite: POST /api/subscribers with "Authorization: Bearer <--mailerlite-key>"
  and {"email", "fields"?, "groups"?, "status"?}: 201 for a new subscriber, 200
  for an update, {"data": {"id", "email", "status"}}; a wrong key 401
  {"message": "Unauthenticated."}; no valid email 422 {"message", "errors"}.
Brevo: POST /v3/contacts with "api-key: <--brevo-key>" and {"email",
  "attributes"?, "listIds"?, "updateEnabled"?}: 201 {"id"} for a new contact,
  204 for an update (updateEnabled), 400 duplicate_parameter otherwise;
  PUT /v3/contacts/{email} {"emailBlacklisted"?}: 204, 404 document_not_found
  for an unknown contact; a wrong key 401 {"code": "unauthorized"}.
Test endpoints:
  GET  /_requests  every request {"method", "path", "auth", "body"} in order
  GET  /_contacts  {"mailerlite": {email: record}, "brevo": {email: record}}
  POST /_script    {"responses": [{"status", "retry_after"?, "message"?}]}:
                   the next API requests get these answers first (recorded too)
Prints "listening on PORT" once it accepts connections.
"""
import argparse
import asyncio
import json
import urllib.parse

STATE = {"ml_key": "", "brevo_key": "", "script": [], "requests": [],
         "contacts": {"mailerlite": {}, "brevo": {}}, "next_id": 1}

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


async def respond(writer, status, body, extra=None):
    data = b"" if body is None else json.dumps(body).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, REASONS.get(status, "Status"), len(data))
    if body is not None:
        head += "Content-Type: application/json\r\n"
    for k, v in (extra or {}).items():
        head += "%s: %s\r\n" % (k, v)
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()


def next_id():
    STATE["next_id"] += 1
    return STATE["next_id"]


def valid_email(e):
    return isinstance(e, str) and "@" in e and " " not in e and len(e) <= 254


def mailerlite(method, path, headers, doc):
    if headers.get("authorization", "") != "Bearer " + STATE["ml_key"]:
        return 401, {"message": "Unauthenticated."}
    if method != "POST" or path != "/api/subscribers":
        return 404, {"message": "Not found."}
    email = doc.get("email")
    if not valid_email(email):
        return 422, {"message": "The email must be a valid email address.",
                     "errors": {"email": ["The email must be a valid email address."]}}
    book = STATE["contacts"]["mailerlite"]
    created = email not in book
    rec = book.setdefault(email, {"id": str(next_id()), "email": email, "status": "active"})
    rec["status"] = doc.get("status", rec["status"])
    if "fields" in doc:
        rec["fields"] = doc["fields"]
    if "groups" in doc:
        rec["groups"] = doc["groups"]
    return (201 if created else 200), {"data": rec}


def brevo(method, path, headers, doc):
    if headers.get("api-key", "") != STATE["brevo_key"]:
        return 401, {"code": "unauthorized", "message": "Key not found"}
    book = STATE["contacts"]["brevo"]
    if method == "POST" and path == "/v3/contacts":
        email = doc.get("email")
        if not valid_email(email):
            return 400, {"code": "invalid_parameter", "message": "Invalid email address"}
        if email in book:
            if not doc.get("updateEnabled"):
                return 400, {"code": "duplicate_parameter", "message": "Contact already exist"}
            book[email].update({k: v for k, v in doc.items() if k not in ("email", "updateEnabled")})
            return 204, None
        book[email] = {"id": next_id(), "email": email, "emailBlacklisted": False,
                       **{k: v for k, v in doc.items() if k not in ("email", "updateEnabled")}}
        return 201, {"id": book[email]["id"]}
    if method == "PUT" and path.startswith("/v3/contacts/"):
        email = urllib.parse.unquote(path[len("/v3/contacts/"):])
        if email not in book:
            return 404, {"code": "document_not_found", "message": "Contact does not exist"}
        book[email].update(doc)
        return 204, None
    return 404, {"code": "not_found", "message": "Not found"}


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(length) if length else b""
            path = target.split("?", 1)[0]
            if path.startswith("/api/") or path.startswith("/v3/"):
                auth = headers.get("authorization", headers.get("api-key", ""))
                try:
                    doc = json.loads(raw or b"{}")
                except ValueError:
                    doc = None
                STATE["requests"].append({"method": method, "path": path, "auth": auth,
                                          "content_type": headers.get("content-type", ""),
                                          "body": doc})
                extra = {}
                if STATE["script"]:
                    entry = STATE["script"].pop(0)
                    status = entry.get("status", 500)
                    answer = {"message": entry.get("message", "scripted %d" % status)}
                    if "retry_after" in entry:
                        extra["Retry-After"] = str(entry["retry_after"])
                elif not isinstance(doc, dict):
                    status, answer = 400, {"message": "malformed JSON"}
                elif path.startswith("/api/"):
                    status, answer = mailerlite(method, path, headers, doc)
                else:
                    status, answer = brevo(method, path, headers, doc)
                await respond(writer, status, answer, extra)
            elif path == "/_script" and method == "POST":
                STATE["script"].extend(json.loads(raw or b"{}").get("responses", []))
                await respond(writer, 200, {"ok": True})
            elif path == "/_requests":
                await respond(writer, 200, STATE["requests"])
            elif path == "/_contacts":
                await respond(writer, 200, STATE["contacts"])
            else:
                await respond(writer, 404, {"message": "Not found."})
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mailerlite-key", required=True)
    parser.add_argument("--brevo-key", required=True)
    args = parser.parse_args()
    STATE["ml_key"] = args.mailerlite_key
    STATE["brevo_key"] = args.brevo_key
    server = await asyncio.start_server(serve, "127.0.0.1", args.port)
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
