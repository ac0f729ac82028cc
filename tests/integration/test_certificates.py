"""The webapp's TLS certificate swapped through the API without a restart (§4.1-4.2)."""
import socket
import ssl
import subprocess

import requests

from test_users import err


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_chain(d, days="30", leaf_days=None):
    """root CA -> intermediate -> leaf for localhost/127.0.0.1, in directory d."""
    ext = d / "ext.cnf"
    ext.write_text("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n"
                   "[leaf]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=Test Root", "-days", days,
            "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Test Intermediate", cwd=d)
    openssl("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key",
            "-CAcreateserial", "-out", "int.pem", "-days", days, "-extfile", "ext.cnf",
            "-extensions", "ca", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost", cwd=d)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", leaf_days or days,
            "-extfile", "ext.cnf", "-extensions", "leaf", cwd=d)
    return {n: (d / n).read_text() for n in ("root.pem", "int.pem", "leaf.pem", "leaf.key",
                                              "int.key")}


def served_cert(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True))


def norm(pem):
    return "".join(pem.split())


def test_certificate_swap_without_restart(api, stack, tmp_path):
    admin = api.as_token(api.admin_token())
    before = served_cert(stack.web_port)
    # with the self-signed certificate, the CA download is that certificate
    r = admin.get("/v1/certificates/external/ca")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain"
    assert norm(r.text) == norm(before)

    c = make_chain(tmp_path)
    bundle = c["leaf.key"] + c["leaf.pem"] + c["int.pem"]
    r = admin.post("/v1/certificates/external", data=bundle, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"meta"}
    assert norm(served_cert(stack.web_port)) == norm(c["leaf.pem"])
    # a client trusting only our root now verifies the webapp, same process
    root = tmp_path / "root.pem"
    h = requests.get(stack.url("/v1/health"), verify=str(root), timeout=5,
                     headers={"Authorization": "Apikey " + stack.api_key})
    assert h.status_code == 200
    r = admin.get("/v1/certificates/external/ca")
    assert norm(r.text) == norm(c["int.pem"])


def test_certificate_upload_errors(api, stack, tmp_path):
    admin = api.as_token(api.admin_token())
    good = make_chain(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    o = make_chain(other)
    cases = {
        "garbage": "hello",
        "no key": good["leaf.pem"] + good["int.pem"],
        "no intermediate": good["leaf.key"] + good["leaf.pem"],
        "wrong key": o["leaf.key"] + good["leaf.pem"] + good["int.pem"],
        "bad pem": good["leaf.key"] + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    }
    served = served_cert(stack.web_port)
    for name, body in cases.items():
        e = err(admin.post("/v1/certificates/external", data=body,
                           headers={"Content-Type": "text/plain"}), 400, 1009)
        assert e["details"], name
    err(admin.post("/v1/certificates/external", data=b""), 400, 1008)
    expired = tmp_path / "exp"
    expired.mkdir()
    x = make_chain(expired, leaf_days="-1")
    e = err(admin.post("/v1/certificates/external", data=x["leaf.key"] + x["leaf.pem"] + x["int.pem"]),
            400, 1009)
    assert "expired" in e["details"]
    assert norm(served_cert(stack.web_port)) == norm(served)   # nothing changed
    # admin only
    assert admin.post("/v1/users", json={"username": "certuser", "password": "C3rt!pass"}).status_code == 201
    user = api.as_token()
    user.login("certuser", "C3rt!pass")
    err(user.post("/v1/certificates/external", data=good["leaf.key"]), 403, 1005)
    err(user.get("/v1/certificates/external/ca"), 403, 1005)
