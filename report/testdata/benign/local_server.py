# A test suite's local HTTP server (pytest-httpserver, a fixture of
# http.server): bound to loopback on a port the kernel picks, served from
# a thread, queried, shut down. Ordinary: nothing above low.
import http.server, threading, urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
t = threading.Thread(target=srv.serve_forever, daemon=True)
t.start()
port = srv.server_address[1]
for _ in range(3):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as r:
        assert r.read() == b"ok\n"
srv.shutdown()
print("served on 127.0.0.1:%d" % port)
