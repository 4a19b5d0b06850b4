#!/usr/bin/env python3
"""Serves synthetic scrape targets: N ports from BASE, each with M counter series whose
values grow on every scrape. Usage: targets.py BASE_PORT N M"""
import http.server
import socketserver
import sys
import threading
import time

base, n, m = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def handler_for(port):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            now = int(time.time())
            lines = ["# TYPE bench_requests_total counter"]
            for i in range(m):
                lines.append(f'bench_requests_total{{series="{i}",shard="{i % 10}",port="{port}"}} {now * (i % 7 + 1)}')
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    return H


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


for p in range(base, base + n):
    s = Server(("127.0.0.1", p), handler_for(p))
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
