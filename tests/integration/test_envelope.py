"""The envelope and the errors every route shares (spec/ENVELOPE.md)."""
import http.client
import json
import ssl

import pytest

from test_users import err

# Every documented route (spec/API.md §1), with a placeholder for ids.
ROUTES = [
    ("POST", "/v1/users/logout"), ("POST", "/v1/users"), ("GET", "/v1/users/x1"),
    ("PUT", "/v1/users/x1"), ("DELETE", "/v1/users/x1"), ("POST", "/v1/account"),
    ("POST", "/v1/account/verify"), ("POST", "/v1/account/shards"), ("GET", "/v1/account/shards"),
    ("GET", "/v1/certificates/external/ca"), ("POST", "/v1/certificates/external"),
    ("GET", "/v1/certificates/webhooks/ca"), ("POST", "/v1/certificates/webhooks/ca"),
    ("DELETE", "/v1/certificates/webhooks/ca"), ("POST", "/v1/contacts"),
    ("GET", "/v1/contacts/1/identity"), ("PUT", "/v1/contacts/1/identity"),
    ("POST", "/v1/messages"), ("PUT", "/v1/messages/abc"), ("POST", "/v1/media"),
    ("GET", "/v1/media/abc"), ("DELETE", "/v1/media/abc"), ("POST", "/v1/groups"),
    ("GET", "/v1/groups"), ("GET", "/v1/groups/g"), ("PUT", "/v1/groups/g"),
    ("GET", "/v1/groups/g/invite"), ("DELETE", "/v1/groups/g/invite"),
    ("DELETE", "/v1/groups/g/participants"), ("PATCH", "/v1/groups/g/admins"),
    ("DELETE", "/v1/groups/g/admins"), ("POST", "/v1/groups/g/leave"),
    ("POST", "/v1/groups/g/icon"), ("GET", "/v1/groups/g/icon"), ("DELETE", "/v1/groups/g/icon"),
    ("GET", "/v1/health"), ("GET", "/v1/stats/app"), ("GET", "/v1/stats/db"),
    ("GET", "/v1/stats/app/internal"), ("GET", "/v1/stats/db/internal"), ("GET", "/v1/metrics"),
    ("GET", "/v1/support"), ("GET", "/v1/settings/application"),
    ("PATCH", "/v1/settings/application"), ("DELETE", "/v1/settings/application"),
    ("GET", "/v1/settings/application/media/providers"),
    ("POST", "/v1/settings/application/media/providers"),
    ("DELETE", "/v1/settings/application/media/providers/p"), ("POST", "/v1/settings/backup"),
    ("POST", "/v1/settings/restore"), ("GET", "/v1/settings/business/profile"),
    ("POST", "/v1/settings/business/profile"), ("GET", "/v1/settings/profile/about"),
    ("PATCH", "/v1/settings/profile/about"), ("GET", "/v1/settings/profile/photo"),
    ("POST", "/v1/settings/profile/photo"), ("DELETE", "/v1/settings/profile/photo"),
    ("POST", "/v1/settings/account/two-step"), ("DELETE", "/v1/settings/account/two-step"),
    ("PUT", "/v1/services/message/gc"), ("GET", "/v1/stickerpacks"), ("POST", "/v1/stickerpacks"),
    ("GET", "/v1/stickerpacks/s"), ("PATCH", "/v1/stickerpacks/s"), ("DELETE", "/v1/stickerpacks/s"),
    ("GET", "/v1/stickerpacks/s/stickers"), ("POST", "/v1/stickerpacks/s/stickers"),
    ("GET", "/v1/stickerpacks/s/stickers/0"), ("PATCH", "/v1/stickerpacks/s/stickers/0"),
    ("DELETE", "/v1/stickerpacks/s/stickers/0"),
]


def test_every_documented_route_needs_auth(api):
    assert len(ROUTES) == 70  # plus login, tested in test_users
    for method, path in ROUTES:
        e = err(api.request(method, path), 401, 1005)
        assert "Authorization" in e["details"], (method, path)


def test_unknown_path_and_wrong_method(api):
    e = err(api.get("/v1/nothing-here"), 404, 1014)
    assert "/v1/nothing-here" in e["details"]
    err(api.get("/"), 404, 1014)
    err(api.get("/v1/users/a/b/c"), 404, 1014)
    r = api.delete("/v1/health")
    e = err(r, 405, 1014)
    assert r.headers["Allow"] == "GET"
    r = api.get("/v1/account")
    assert err(r, 405, 1014) and r.headers["Allow"] == "POST"
    r = api.patch("/v1/users/bob")
    assert err(r, 405, 1014) and r.headers["Allow"] == "GET, PUT, DELETE"
    # a trailing slash is the same route; %00 never matches
    assert api.get("/v1/health/", apikey=True).status_code in (200, 500, 503)
    err(api.get("/v1/health%00", apikey=True), 404, 1014)


def test_bad_authorization_headers(api, stack):
    for hdr in ("Bearer", "Bearer ", "Bearer a.b.c", "Bearer " + "x" * 5000, "Token abc",
                "Basic YWRtaW46c2VjcmV0", "Apikey wrong-key-123456"):
        err(api.get("/v1/health", headers={"Authorization": hdr}), 401, 1005)
    # a token signed with another key
    forged = api.admin_token().rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    err(api.get("/v1/health", headers={"Authorization": "Bearer " + forged}), 401, 1005)
    # the API key only opens the monitoring nodes
    e = err(api.get("/v1/users/admin", apikey=True), 401, 1005)
    assert "API key" in e["details"]
    assert api.get("/v1/health", apikey=True).status_code == 200


@pytest.mark.parametrize("body,details", [
    (b"{", "decode json"),
    (b'{"a":1,"a":2}', "duplicate"),
    (b"[1,2]", "JSON object"),
    (b'"text"', "JSON object"),
    (b"42", "JSON object"),
    (b"\xff\xfe{}", "decode json"),
    (b'{"a": "\\ud800"}', "decode json"),
    # what the webapp's fast parser (common/jsonbuf.c) sees first, then hands to jansson
    (b"[" * 2049 + b"]" * 2049, "decode json"),             # deeper than jansson allows
    (b'{"a":' + b"[" * 3000, "decode json"),
    (b'{"a":"x\x00y"}', "decode json"),                       # raw control characters
    (b'{"a":"x\ny"}', "decode json"),
    (b'{"a":"\xc3\x28"}', "decode json"),                    # invalid UTF-8 in a string
    (b'{"a":"\\x41"}', "decode json"),                       # no such escape
    (b'{"a":1} x', "decode json"),                            # trailing garbage
    (b'{"a":[1,2,]}', "decode json"),
    (b"{'a':1}", "decode json"),
    (b'{"a":tru}', "decode json"),
    (b'{"a":01}', "decode json"),
    (b'{"a":1e999}', "decode json"),                          # out of a double's range
    (b'{"a":99999999999999999999}', "decode json"),           # out of int64
    (b'{"a":1,"b":{"c":2,"c":3}}', "duplicate"),              # nested duplicate
    (b'{"\\u0061":1,"a":2}', "duplicate"),                   # the same key, escaped
])
def test_malformed_bodies(api, body, details):
    admin = api.as_token(api.admin_token())
    e = err(admin.post("/v1/users", data=body, headers={"Content-Type": "application/json"}),
            400, 1025)
    assert details in e["details"]


def test_body_over_the_limit(api):
    admin = api.as_token(api.admin_token())
    big = json.dumps({"username": "x" * (1024 * 1024 + 10)})
    e = err(admin.post("/v1/users", data=big), 413, 1009)
    assert "1048576" in e["details"]


def test_keep_alive_and_request_id(api, stack):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", stack.web_port, context=ctx, timeout=10)
    ids = []
    for _ in range(3):
        conn.request("GET", "/v1/health", headers={"Authorization": "Apikey " + stack.api_key})
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 200 and body["health"]["gateway_status"]
        assert r.getheader("Content-Type") == "application/json"
        ids.append(r.getheader("X-Request-Id"))
    sock = conn.sock
    assert sock is not None  # still the same open connection
    conn.close()
    assert len(set(ids)) == 3
    # the request id follows the request into the coreapp's log
    assert stack.log_contains("coreapp", "rid=%s event=command_received cmd=health" % ids[-1])


def test_health_shape(api):
    r = api.get("/v1/health", apikey=True)
    assert r.status_code == 200
    assert r.json()["health"] == {"gateway_status": r.json()["health"]["gateway_status"]}
    assert r.json()["health"]["gateway_status"] in ("unregistered", "connecting", "connected",
                                                    "disconnected")
    user = api.as_token(api.admin_token())
    assert user.get("/v1/health").json()["health"] == r.json()["health"]
