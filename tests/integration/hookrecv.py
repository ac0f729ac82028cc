"""An HTTPS webhook receiver for the tests, with throwaway CAs.

make_pki(dir) creates two CAs ("trusted" and "unknown": the test decides which
one it uploads) and a server certificate for 127.0.0.1 from each. Receiver is
a threaded HTTP/1.1 server (keep-alive, like a real receiver) that records
every POST, answers with scripted statuses, and counts concurrent requests
and TLS handshakes that failed.
"""
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _make_server_cert(ca_key, ca_cert, directory, stem):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    certfile = os.path.join(directory, stem + ".crt")
    keyfile = os.path.join(directory, stem + ".key")
    with open(certfile, "w") as f:
        f.write(_pem(cert))
    with open(keyfile, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certfile, keyfile, key


class Pki:
    """ca_pem / unknown_ca_pem: the two CAs as PEM; server / unknown_server:
    (certfile, keyfile) of a 127.0.0.1 certificate from each; key_pem: a
    private key in PEM, to check that uploads refuse it."""

    def __init__(self, directory):
        ca_key, ca = _make_ca("wa test webhook CA")
        other_key, other = _make_ca("wa test unknown CA")
        self.ca_pem = _pem(ca)
        self.unknown_ca_pem = _pem(other)
        c, k, key = _make_server_cert(ca_key, ca, directory, "server")
        self.server = (c, k)
        c, k, _ = _make_server_cert(other_key, other, directory, "unknown")
        self.unknown_server = (c, k)
        self.key_pem = key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the dispatcher reuses connections
    timeout = 30

    def setup(self):
        self.request.do_handshake()  # here, in the connection's thread, not in accept()
        super().setup()

    def log_message(self, *args):
        pass

    def do_POST(self):
        r = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with r.cond:
            r.in_flight += 1
            r.max_in_flight = max(r.max_in_flight, r.in_flight)
            status = r.script.pop(0) if r.script else r.default
            delay = r.delay
        if delay:
            time.sleep(delay)
        with r.cond:
            r.in_flight -= 1
            r.hits.append({"t": time.monotonic(), "status": status, "path": self.path,
                           "headers": dict(self.headers), "body": body,
                           "conn": self.client_address[1]})
            r.cond.notify_all()
        payload = b"ok"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "https://127.0.0.1:%d/elsewhere" % r.port)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # a followed redirect would show up here
        r = self.server.receiver
        with r.cond:
            r.gets += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        with self.receiver.cond:
            self.receiver.tls_failures += 1
            self.receiver.cond.notify_all()


class Receiver:
    def __init__(self, certfile, keyfile):
        self.script = []      # statuses to answer, in order; then default
        self.default = 200
        self.delay = 0.0      # seconds before answering
        self.hits = []        # every POST received
        self.gets = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.tls_failures = 0
        self.cond = threading.Condition()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.receiver = self
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                             do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.url = "https://127.0.0.1:%d/hook" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def delivered(self):
        """Bodies (parsed) of the POSTs answered 200."""
        with self.cond:
            return [json.loads(h["body"]) for h in self.hits if h["status"] == 200]

    def wait(self, predicate, timeout, what="condition"):
        """Wait until predicate(self) holds (checked under the lock)."""
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError("receiver: no %s within %.1f s; hits=%s tls_failures=%d" % (
                    what, timeout, [(h["status"], h["body"][:80]) for h in self.hits],
                    self.tls_failures))

    def wait_delivered(self, n, timeout=10):
        self.wait(lambda r: sum(1 for h in r.hits if h["status"] == 200) >= n, timeout,
                  "%d deliveries" % n)
        return self.delivered()


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
