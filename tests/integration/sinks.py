#!/usr/bin/python3
"""sinks.py: receivers on 127.0.0.1 for notify.sh, recording what arrives.

  sinks.py smtp DIR PORTFILE       an SMTP server (aiosmtpd): each message
                                   as DIR/N.eml, its envelope in DIR/N.rcpt
  sinks.py http DIR PORTFILE CODE  an HTTP server: each POST body as
                                   DIR/N.json, answered with status CODE
                                   (or the number in DIR/code, if present)

The port chosen is written to PORTFILE once the server listens.  Runs
until killed; Debian's /usr/bin/python3, for python3-aiosmtpd.
"""
import http.server
import itertools
import os
import signal
import socket
import sys
import time

count = itertools.count(1)


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def run_smtp(out, portfile):
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            n = next(count)
            write(os.path.join(out, "%d.rcpt" % n),
                  "\n".join(envelope.rcpt_tos).encode() + b"\n")
            write(os.path.join(out, "%d.eml" % n), envelope.original_content)
            return "250 OK"

    # The controller wants a port of its own: take one the kernel gives.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    write(portfile, b"%d\n" % port)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    ctl.stop()


def run_http(out, portfile, code):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = code
            try:
                with open(os.path.join(out, "code")) as f:
                    status = int(f.read())
            except OSError:
                pass
            if 200 <= status < 300:
                write(os.path.join(out, "%d.json" % next(count)), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    write(portfile, b"%d\n" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.argv[1] == "smtp":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        run_smtp(sys.argv[2], sys.argv[3])
    else:
        run_http(sys.argv[2], sys.argv[3], int(sys.argv[4]))
