#!/usr/bin/env python3
"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

Shaped like the real API: POST .../chat/completions answers
{"id", "object": "chat.completion", "created", "model", "choices": [{"index",
"message": {"role", "content"}, "finish_reason"}], "usage": {"prompt_tokens",
"completion_tokens", "total_tokens"}}; errors answer {"error": {"message",
"type", "param", "code"}} with the real status codes.

A call is a QA call when its system prompt asks for a quality score (the
rubric); every other call is a processing call. Behaviour is scripted over
HTTP on the same port:
  POST /_config  {"latency_ms", "qa_score", "prompt_tokens", "completion_tokens"}
  POST /_script  {"responses": [{"kind": "process"|"qa"|"any", "status",
                  "retry_after", "latency_ms", "body", "raw"}...]}
                 each call takes the first scripted response of its kind
  GET  /_stats   counts, the Authorization headers seen, peak concurrency
  POST /_reset   forgets script and counts
POST .../audio/transcriptions (multipart/form-data: file, model) answers
{"text": "transcript of NAME: N bytes, sha256 HEX"} from the file's bytes, so
a test can tell that the whole file arrived; a scripted entry of kind
"audio" replaces the answer (its status and body).
Prints "listening on PORT" once it accepts connections. Loopback only.
"""
import argparse
import asyncio
import hashlib
import json
import sys
import time

STATE = {
    "latency_ms": 0,
    "qa_score": 96,
    "prompt_tokens": None,
    "completion_tokens": None,
    "script": [],
    "requests": 0,
    "by_kind": {"process": 0, "qa": 0},
    "statuses": {},
    "auth": [],
    "in_flight": 0,
    "max_in_flight": 0,
    "transcriptions": [],
}

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           408: "Request Timeout", 409: "Conflict", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}


def error_body(status):
    messages = {
        429: "Rate limit reached for requests. Please try again later.",
        500: "The server had an error while processing your request. Sorry about that!",
        503: "The engine is currently overloaded, please try again later.",
        401: "Incorrect API key provided.",
        400: "Invalid request.",
    }
    return {"error": {"message": messages.get(status, "error %d" % status),
                      "type": ERROR_TYPES.get(status, "server_error"),
                      "param": None, "code": None}}


def completion(request, kind):
    messages = request.get("messages", [])
    prompt = "".join(m.get("content", "") for m in messages if isinstance(m, dict))
    user = next((m.get("content", "") for m in messages
                 if isinstance(m, dict) and m.get("role") == "user"), "")
    if kind == "qa":
        content = json.dumps({"score": STATE["qa_score"], "reason": "clear, relevant and complete"})
    else:
        content = "Result for the task: " + user[:400]
    pt = STATE["prompt_tokens"] if STATE["prompt_tokens"] is not None else max(1, len(prompt) // 4)
    ct = STATE["completion_tokens"] if STATE["completion_tokens"] is not None else max(1, len(content) // 4)
    if kind == "qa":
        pt, ct = max(1, len(prompt) // 4), max(1, len(content) // 4)
    return {
        "id": "chatcmpl-fake%d" % STATE["requests"],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "gpt-4o"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
    }


def kind_of(request):
    for m in request.get("messages", []):
        if isinstance(m, dict) and m.get("role") == "system" and "quality reviewer" in m.get("content", ""):
            return "qa"
    return "process"


def take_script(kind):
    for i, entry in enumerate(STATE["script"]):
        if entry.get("kind", "any") in ("any", kind):
            return STATE["script"].pop(i)
    return None


async def respond(writer, status, body, headers=()):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        status, REASONS.get(status, "Status"), len(data))
    for name, value in headers:
        head += "%s: %s\r\n" % (name, value)
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()


async def chat(writer, headers, body):
    STATE["requests"] += 1
    auth = headers.get("authorization", "")
    if auth not in STATE["auth"]:
        STATE["auth"].append(auth)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        await respond(writer, 400, error_body(400))
        return
    kind = kind_of(request)
    STATE["by_kind"][kind] += 1
    entry = take_script(kind) or {}
    latency = entry.get("latency_ms", STATE["latency_ms"])
    STATE["in_flight"] += 1
    STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
    try:
        if latency:
            await asyncio.sleep(latency / 1000.0)
    finally:
        STATE["in_flight"] -= 1
    status = entry.get("status", 200)
    STATE["statuses"][str(status)] = STATE["statuses"].get(str(status), 0) + 1
    extra = []
    if "retry_after" in entry:
        extra.append(("Retry-After", str(entry["retry_after"])))
    if "raw" in entry:
        await respond(writer, status, entry["raw"].encode(), extra)
    elif status == 200:
        await respond(writer, 200, entry.get("body") or completion(request, kind), extra)
    else:
        await respond(writer, status, entry.get("body") or error_body(status), extra)


def multipart(content_type, body):
    """The parts of a multipart/form-data body: {name: (filename, bytes)}."""
    boundary = None
    for piece in content_type.split(";"):
        k, _, v = piece.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip('"')
    if not boundary:
        raise ValueError("no boundary")
    parts = {}
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = filename = None
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for attr in line.split(";")[1:]:
                    k, _, v = attr.strip().partition("=")
                    if k == "name":
                        name = v.strip('"')
                    elif k == "filename":
                        filename = v.strip('"')
        if name:
            parts[name] = (filename, data)
    return parts


async def transcription(writer, headers, body):
    STATE["requests"] += 1
    entry = take_script("audio")
    try:
        parts = multipart(headers.get("content-type", ""), body)
    except ValueError:
        await respond(writer, 400, error_body(400))
        return
    if "file" not in parts or "model" not in parts:
        await respond(writer, 400, {"error": {"message": "file and model are required",
                                              "type": "invalid_request_error"}})
        return
    filename, data = parts["file"]
    model = parts["model"][1].decode()
    STATE["transcriptions"].append({"model": model, "filename": filename, "bytes": len(data),
                                    "content_length": int(headers.get("content-length", "0"))})
    if entry and entry.get("status", 200) != 200:
        await respond(writer, entry["status"], entry.get("body") or error_body(entry["status"]))
        return
    text = "transcript of %s: %d bytes, sha256 %s" % (filename, len(data), hashlib.sha256(data).hexdigest())
    await respond(writer, 200, (entry or {}).get("body") or {"text": text})


async def control(writer, method, path, body):
    if path == "/_stats":
        await respond(writer, 200, {k: STATE[k] for k in
                                    ("requests", "by_kind", "statuses", "auth", "in_flight", "max_in_flight",
                                     "transcriptions")})
    elif path == "/_config" and method == "POST":
        for k, v in json.loads(body or b"{}").items():
            if k not in ("latency_ms", "qa_score", "prompt_tokens", "completion_tokens"):
                await respond(writer, 400, {"error": "unknown key " + k})
                return
            STATE[k] = v
        await respond(writer, 200, {"ok": True})
    elif path == "/_script" and method == "POST":
        STATE["script"].extend(json.loads(body or b"{}").get("responses", []))
        await respond(writer, 200, {"ok": True, "queued": len(STATE["script"])})
    elif path == "/_reset" and method == "POST":
        STATE.update(script=[], requests=0, by_kind={"process": 0, "qa": 0}, statuses={}, auth=[],
                     max_in_flight=0, transcriptions=[])
        await respond(writer, 200, {"ok": True})
    else:
        await respond(writer, 404, {"error": {"message": "no route " + path, "type": "invalid_request_error"}})


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
            if path.endswith("/chat/completions") and method == "POST":
                await chat(writer, headers, body)
            elif path.endswith("/audio/transcriptions") and method == "POST":
                await transcription(writer, headers, body)
            else:
                await control(writer, method, path.split("?")[0], body)
            if headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    STATE["latency_ms"] = args.latency_ms
    server = await asyncio.start_server(serve, "127.0.0.1", args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print("listening on %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
