#!/usr/bin/env bash
# Strikes PREFILL clients once each (a wrong key from its own loopback
# address, 127.2.x.y) on the node at 127.0.0.1:$PORT.
set -euo pipefail
exec python3 - "${PREFILL:-5000}" "$PORT" <<'PY'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.socket()
    s.bind(("127.2.%d.%d" % (i // 250, i % 250 + 1), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/flags/get HTTP/1.1\r\nHost: x\r\nX-Dash-Key: wrong\r\nConnection: close\r\n\r\n")
    reply = s.recv(64)
    if b" 401 " not in reply:
        sys.exit("prefill: expected 401, got %r" % reply[:40])
    s.close()
PY
