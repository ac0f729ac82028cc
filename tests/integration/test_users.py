"""Users, login, tokens and roles (spec/API.md §2, ENVELOPE.md §2)."""
import datetime
import os
import subprocess
import time

import pytest
import requests

from stack import Stack, free_ports

STRONG = "Str0ng!pass"


def err(r, status, code):
    """Assert the documented error envelope and return the error object."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["meta"]["api_status"] == "stable" and body["meta"]["version"]
    assert len(body["errors"]) == 1
    e = body["errors"][0]
    assert e["code"] == code, body
    assert isinstance(e["title"], str) and e["title"]
    return e


def test_first_login_requires_password_change(api):
    e = err(api.login_response("admin", "secret"), 401, 1024)
    assert e["title"] == "Password Change Required"
    assert e["details"] == "Password must be changed"


def test_first_login_rejects_weak_new_password(api):
    for weak in ("short1!A", "nouppercase1!", "NOLOWERCASE1!", "NoDigits!!", "NoSpecial11",
                 "Aa1!" + "x" * 61):
        if weak == "short1!A":
            continue  # 8 characters: long enough
        e = err(api.login_response("admin", "secret", new_password=weak), 400, 1009)
        assert "password" in e["details"].lower()
    err(api.login_response("admin", "secret", new_password=12345678), 400, 1009)


def test_login_changes_password_and_issues_7_day_token(api, stack):
    token = api.admin_token()
    assert token.count(".") == 2
    r = api.login_response("admin", stack.admin_password)
    assert r.status_code == 200
    user = r.json()["users"][0]
    expires = datetime.datetime.strptime(user["expires_after"], "%Y-%m-%d %H:%M:%S+00:00")
    delta = expires - datetime.datetime.utcnow()
    assert datetime.timedelta(days=6, hours=23) < delta <= datetime.timedelta(days=7, minutes=1)
    # the default password is gone
    err(api.login_response("admin", "secret"), 401, 1005)


def test_bad_credentials(api, stack):
    api.admin_token()
    r = api.login_response("admin", "Wrong!pass1")
    e = err(r, 401, 1005)
    assert "WWW-Authenticate" in r.headers and r.headers["WWW-Authenticate"].startswith("Basic")
    assert "incorrect" in e["details"].lower()
    err(api.login_response("nobody-here", "Wrong!pass1"), 401, 1005)
    # no header, a bearer header, garbage base64, no colon
    for hdr in (None, "Bearer abc", "Basic !!!notbase64", "Basic YWRtaW4="):
        h = {"Authorization": hdr} if hdr else {}
        err(api.post("/v1/users/login", headers=h), 401, 1005)
    err(api.post("/v1/users/login", data="{oops", headers={"Authorization": "Basic YTpi"}), 400, 1025)


def test_user_lifecycle_and_roles(api, stack):
    admin = api.as_token(api.admin_token())
    r = admin.post("/v1/users", json={"username": "alice", "password": STRONG})
    assert r.status_code == 201, r.text
    assert r.json()["users"] == [{"username": "alice"}]
    e = err(admin.post("/v1/users", json={"username": "alice", "password": STRONG}), 500, 1014)
    assert e["details"] == "Unable to create user. Already exist?"

    alice = api.as_token()
    alice.login("alice", STRONG)
    # a user may not create, delete or read others
    err(alice.post("/v1/users", json={"username": "mallory", "password": STRONG}), 403, 1005)
    err(alice.delete("/v1/users/admin"), 403, 1005)
    err(alice.get("/v1/users/admin"), 403, 1005)
    me = alice.get("/v1/users/alice")
    assert me.status_code == 200 and me.json()["users"] == [{"username": "alice", "ROLES": "ROLE_USER"}]
    adm = admin.get("/v1/users/admin")
    assert adm.json()["users"][0]["ROLES"] == "ROLE_ADMIN"
    err(admin.get("/v1/users/nosuchuser"), 404, 1006)
    # admin-only endpoints refuse a user token
    err(alice.get("/v1/settings/application"), 403, 1005)

    # a password change revokes older tokens
    r = alice.put("/v1/users/alice", json={"password": "N3w!password"})
    assert r.status_code == 200 and r.json()["users"] == [{"username": "alice"}]
    err(alice.get("/v1/users/alice"), 401, 1005)
    alice.login("alice", "N3w!password")
    assert alice.get("/v1/users/alice").status_code == 200
    err(admin.put("/v1/users/ghost", json={"password": STRONG}), 404, 1006)
    err(admin.put("/v1/users/alice", json={"password": "weak"}), 400, 1009)
    err(admin.put("/v1/users/alice", json={}), 400, 1008)

    # deletion ends the user's sessions; admin can't be deleted
    err(admin.delete("/v1/users/admin"), 403, 1005)
    r = admin.delete("/v1/users/alice")
    assert r.status_code == 200 and r.json()["users"] == [{"username": "alice"}]
    err(alice.get("/v1/users/alice"), 401, 1005)
    err(admin.delete("/v1/users/alice"), 404, 1006)
    err(api.login_response("alice", "N3w!password"), 401, 1005)


@pytest.mark.parametrize("body,code", [
    ({}, 1008),
    ({"username": "bob1"}, 1008),
    ({"password": STRONG}, 1008),
    ({"username": 5, "password": STRONG}, 1009),
    ({"username": "bob1", "password": ["x"]}, 1009),
    ({"username": "bob", "password": STRONG}, 1009),           # 3 characters
    ({"username": "b" * 33, "password": STRONG}, 1009),
    ({"username": "bob one", "password": STRONG}, 1009),
    ({"username": "bøb1", "password": STRONG}, 1009),          # unicode
    ({"username": "bob1", "password": "Sh0rt!"}, 1009),
    ({"username": "bob1", "password": "A1!" + "a" * 62}, 1009),  # 65 characters
    ({"username": "bob1", "password": None}, 1008),
])
def test_create_user_validation(api, body, code):
    admin = api.as_token(api.admin_token())
    e = err(admin.post("/v1/users", json=body), 400, code)
    assert "username" in e["details"] or "password" in e["details"].lower()


def test_logout_revokes_only_that_token(api):
    t1 = api.admin_token()
    t2 = api.admin_token()
    a1, a2 = api.as_token(t1), api.as_token(t2)
    r = a1.post("/v1/users/logout")
    assert r.status_code == 200 and r.json() == {"meta": r.json()["meta"]}
    err(a1.get("/v1/users/admin"), 401, 1005)
    assert a2.get("/v1/users/admin").status_code == 200


def test_failed_logins_are_slowed_down(api, stack):
    admin = api.as_token(api.admin_token())
    assert admin.post("/v1/users", json={"username": "slowpoke", "password": STRONG}).status_code == 201
    for _ in range(4):    # 3 free failures, then a 250 ms wait
        err(api.login_response("slowpoke", "Wrong!pass1"), 401, 1005)
    t0 = time.monotonic()
    err(api.login_response("slowpoke", "Wrong!pass1"), 401, 1005)
    assert time.monotonic() - t0 >= 0.45     # 500 ms now
    assert stack.log_contains("webapp", "event=login_throttled user=slowpoke delay_ms=500")
    # the right password still works (after its delay) and resets the count
    api.login("slowpoke", STRONG)
    t0 = time.monotonic()
    api.login("slowpoke", STRONG)
    assert time.monotonic() - t0 < 0.45


def test_second_webapp_shares_keys_and_revocations(api, stack):
    """Tokens from one webapp work on another; a logout on one is refused by both."""
    token = api.admin_token()
    port = free_ports(1)[0]
    env = {**os.environ, **stack.env, "WA_WEB_PORT": str(port)}
    log = open(os.path.join(stack.tmp, "webapp2.log"), "ab")
    p = subprocess.Popen([stack.binary("webapp")], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        url2 = "https://127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url2 + "/v1/health", verify=False, timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline and p.poll() is None
                time.sleep(0.1)
        h = {"Authorization": "Bearer " + token}
        r = requests.get(url2 + "/v1/users/admin", headers=h, verify=False, timeout=5)
        assert r.status_code == 200, r.text
        assert api.as_token(token).post("/v1/users/logout").status_code == 200
        deadline = time.monotonic() + 5
        while requests.get(url2 + "/v1/users/admin", headers=h, verify=False,
                           timeout=5).status_code != 401:
            assert time.monotonic() < deadline, "revocation did not reach the second webapp"
            time.sleep(0.05)
    finally:
        p.terminate()
        p.wait(10)
        log.close()


def test_token_expiry():
    st = Stack(extra_env={"WA_WEB_TOKEN_TTL_S": "2"})
    try:
        st.start_all()
        st.wait_ready()
        from conftest import Api
        api = Api(st)
        api.admin_token()
        assert api.get("/v1/users/admin").status_code == 200
        time.sleep(3.1)
        e = err(api.get("/v1/users/admin"), 401, 1005)
        assert "expired" in e["details"]
    finally:
        st.teardown()
