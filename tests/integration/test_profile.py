"""Profile settings (spec/API.md §13.4-13.6): About text, profile photo and business
profile, with every documented limit, admin-only access and persistence across a
coreapp restart."""
import base64
import hashlib
import time

import pytest

from images import png
from test_users import STRONG, err

# The smallest well-formed JPEG (1x1, progressive), and a 2x3 PNG built below.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgB"
    "AQABPxA=")


PNG = png()
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
PHOTO_MAX = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def admin(stack):
    from conftest import Api
    api = Api(stack)
    return api.as_token(api.admin_token())


@pytest.fixture(scope="module")
def user(stack, admin):
    r = admin.post("/v1/users", json={"username": "profiler", "password": STRONG})
    assert r.status_code == 201, r.text
    from conftest import Api
    u = Api(stack)
    u.login("profiler", STRONG)
    return u


def ok_empty(r):
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"meta"}, body


def about(admin):
    r = admin.get("/v1/settings/profile/about")
    assert r.status_code == 200, r.text
    return r.json()["settings"]["profile"]["about"]["text"]


# ---- about ------------------------------------------------------------------------------

def test_about_default_set_and_read(admin):
    assert about(admin) == "Hey there! I am using WhatsApp."
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": "Open 9-5, Mon-Fri"}))
    assert about(admin) == "Open 9-5, Mon-Fri"
    # 139 characters is the limit, counted as characters, not bytes
    text = "\U0001F600" * 139
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": text}))
    assert about(admin) == text
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": "x"}))
    assert about(admin) == "x"


def test_about_refusals(admin):
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": "kept"}))
    e = err(admin.patch("/v1/settings/profile/about", json={"text": "y" * 140}), 400, 1009)
    assert "text" in e["details"] and "139" in e["details"]
    err(admin.patch("/v1/settings/profile/about", json={"text": "\U0001F600" * 140}), 400, 1009)
    err(admin.patch("/v1/settings/profile/about", json={"text": ""}), 400, 1009)
    e = err(admin.patch("/v1/settings/profile/about", json={}), 400, 1008)
    assert "text" in e["details"]
    err(admin.patch("/v1/settings/profile/about", json={"text": 42}), 400, 1009)
    err(admin.patch("/v1/settings/profile/about", json={"text": None}), 400, 1009)
    e = err(admin.patch("/v1/settings/profile/about", json={"text": "a", "colour": "red"}),
            400, 1009)
    assert "colour" in e["details"]
    err(admin.patch("/v1/settings/profile/about", data="{nope",
                    headers={"Content-Type": "application/json"}), 400, 1025)
    err(admin.patch("/v1/settings/profile/about", json=["text"]), 400, 1025)
    assert about(admin) == "kept"


def test_about_is_admin_only(admin, user, stack):
    err(user.get("/v1/settings/profile/about"), 403, 1005)
    err(user.patch("/v1/settings/profile/about", json={"text": "mine"}), 403, 1005)
    err(admin.get("/v1/settings/profile/about", apikey=True), 401, 1005)
    assert about(admin) != "mine"


# ---- photo ------------------------------------------------------------------------------

def test_photo_lifecycle(admin):
    admin.delete("/v1/settings/profile/photo")
    r = admin.get("/v1/settings/profile/photo")
    assert r.status_code == 404 and r.content == b""
    e = err(admin.get("/v1/settings/profile/photo?format=link"), 404, 1006)
    assert "photo" in e["details"]

    ok_empty(admin.post("/v1/settings/profile/photo", data=PNG,
                        headers={"Content-Type": "image/png"}))
    r = admin.get("/v1/settings/profile/photo")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png" and r.content == PNG
    r = admin.get("/v1/settings/profile/photo?format=link")
    assert r.status_code == 200, r.text
    link = r.json()["settings"]["profile"]["photo"]["link"]
    assert link == "/v1/settings/profile/photo?v=" + hashlib.sha256(PNG).hexdigest()[:16]
    r = admin.get(link)          # the link serves the photo
    assert r.status_code == 200 and r.content == PNG

    # a new photo replaces it, and the link changes with it
    ok_empty(admin.post("/v1/settings/profile/photo", data=JPEG,
                        headers={"Content-Type": "image/jpeg"}))
    r = admin.get("/v1/settings/profile/photo")
    assert r.headers["Content-Type"] == "image/jpeg" and r.content == JPEG
    link2 = admin.get("/v1/settings/profile/photo?format=link").json()["settings"]["profile"]["photo"]["link"]
    assert link2 != link

    ok_empty(admin.delete("/v1/settings/profile/photo"))
    r = admin.get("/v1/settings/profile/photo")
    assert r.status_code == 404 and r.content == b""
    ok_empty(admin.delete("/v1/settings/profile/photo"))   # nothing left: still fine


def test_photo_refusals(admin):
    ok_empty(admin.post("/v1/settings/profile/photo", data=PNG,
                        headers={"Content-Type": "image/png"}))
    cases = [
        (PNG, "image/jpeg", 1009, "jpeg"),                 # type and bytes disagree
        (JPEG, "image/png", 1009, "png"),
        (GIF, "image/gif", 1009, "Content-Type"),          # not an allowed type
        (PNG, "text/plain", 1009, "Content-Type"),
        (PNG, None, 1009, "Content-Type"),
        (b"\x89PNG\r\n\x1a\n", "image/png", 1009, "png"),  # signature only, no header
        (b"\xff\xd8\xff\xd9", "image/jpeg", 1009, "jpeg"),  # no frame
        (b"hello", "image/jpeg", 1009, "jpeg"),
    ]
    for data, ctype, code, word in cases:
        headers = {"Content-Type": ctype} if ctype else {"Content-Type": ""}
        e = err(admin.post("/v1/settings/profile/photo", data=data, headers=headers), 400, code)
        assert word.lower() in e["details"].lower(), (ctype, e)
    e = err(admin.post("/v1/settings/profile/photo", data=b"",
                       headers={"Content-Type": "image/png"}), 400, 1008)
    big = PNG + b"\x00" * (PHOTO_MAX + 1 - len(PNG))
    e = err(admin.post("/v1/settings/profile/photo", data=big,
                       headers={"Content-Type": "image/png"}), 413, 1009)
    assert str(PHOTO_MAX) in e["details"]
    # exactly at the limit is accepted (trailing bytes after IEND are the client's business)
    ok_empty(admin.post("/v1/settings/profile/photo", data=big[:PHOTO_MAX],
                        headers={"Content-Type": "image/png; charset=binary"}))
    r = admin.get("/v1/settings/profile/photo")
    assert len(r.content) == PHOTO_MAX and r.content[:len(PNG)] == PNG
    ok_empty(admin.post("/v1/settings/profile/photo", data=PNG,
                        headers={"Content-Type": "image/png"}))
    assert admin.get("/v1/settings/profile/photo").content == PNG


def test_photo_is_admin_only(admin, user):
    ok_empty(admin.post("/v1/settings/profile/photo", data=PNG,
                        headers={"Content-Type": "image/png"}))
    err(user.get("/v1/settings/profile/photo"), 403, 1005)
    err(user.get("/v1/settings/profile/photo?format=link"), 403, 1005)
    err(user.post("/v1/settings/profile/photo", data=JPEG,
                  headers={"Content-Type": "image/jpeg"}), 403, 1005)
    err(user.delete("/v1/settings/profile/photo"), 403, 1005)
    assert admin.get("/v1/settings/profile/photo").content == PNG


# ---- business profile -----------------------------------------------------------------------

def business(admin):
    r = admin.get("/v1/settings/business/profile")
    assert r.status_code == 200, r.text
    return r.json()["settings"]["business"]["profile"]


def test_business_profile_partial_updates(admin):
    assert business(admin) == {"address": "", "description": "", "email": "", "vertical": "",
                               "websites": []}
    full = {"address": "1 Main St, Springfield", "description": "We fix bikes",
            "email": "hello@bikes.example", "vertical": "Professional Services",
            "websites": ["https://bikes.example", "http://bikes.example/shop"]}
    ok_empty(admin.post("/v1/settings/business/profile", json=full))
    assert business(admin) == full
    # partial: only the fields given change
    ok_empty(admin.post("/v1/settings/business/profile", json={"description": "We sell bikes"}))
    assert business(admin) == {**full, "description": "We sell bikes"}
    ok_empty(admin.post("/v1/settings/business/profile",
                        json={"vertical": "Beauty, Spa and Salon", "websites": []}))
    p = business(admin)
    assert p["vertical"] == "Beauty, Spa and Salon" and p["websites"] == []
    assert p["email"] == full["email"]
    # limits are inclusive and count characters
    ok_empty(admin.post("/v1/settings/business/profile",
                        json={"address": "\u00e9" * 256, "description": "d" * 256,
                              "email": "a" * 116 + "@example.com",
                              "websites": ["https://" + "w" * 248]}))
    p = business(admin)
    assert p["address"] == "\u00e9" * 256 and len(p["email"]) == 128
    assert p["websites"] == ["https://" + "w" * 248]
    # address, description and email may be cleared
    ok_empty(admin.post("/v1/settings/business/profile", json={"address": "", "email": ""}))
    p = business(admin)
    assert p["address"] == "" and p["email"] == ""


def test_business_profile_refusals(admin):
    ok_empty(admin.post("/v1/settings/business/profile",
                        json={"vertical": "Education", "address": "kept"}))
    bad = [
        ({"address": "a" * 257}, 1009, "address"),
        ({"description": "d" * 257}, 1009, "description"),
        ({"email": "not-an-email"}, 1009, "email"),
        ({"email": "two@@example.com"}, 1009, "email"),
        ({"email": "a b@example.com"}, 1009, "email"),
        ({"email": "a" * 117 + "@example.com"}, 1009, "email"),
        ({"vertical": "Bicycles"}, 1009, "vertical"),
        ({"vertical": "education"}, 1009, "vertical"),
        ({"vertical": ""}, 1009, "vertical"),             # can't be emptied once set
        ({"websites": ["https://a.example", "https://b.example", "https://c.example"]}, 1009,
         "websites"),
        ({"websites": ["ftp://files.example"]}, 1009, "websites[0]"),
        ({"websites": ["https://"]}, 1009, "websites[0]"),
        ({"websites": ["https://ok.example", "https://" + "w" * 249]}, 1009, "websites[1]"),
        ({"websites": ["https://a b.example"]}, 1009, "websites[0]"),
        ({"websites": "https://a.example"}, 1009, "websites"),
        ({"websites": [7]}, 1009, "websites[0]"),
        ({"address": 5}, 1009, "address"),
        ({"address": None}, 1009, "address"),
        ({"address": "x", "phone": "123"}, 1009, "phone"),
        ({}, 1008, "address"),
    ]
    for body, code, word in bad:
        e = err(admin.post("/v1/settings/business/profile", json=body), 400, code)
        assert word in e["details"], (body, e)
    err(admin.post("/v1/settings/business/profile", data="[1]",
                   headers={"Content-Type": "application/json"}), 400, 1025)
    p = business(admin)
    assert p["vertical"] == "Education" and p["address"] == "kept"


def test_business_profile_empty_vertical_is_a_no_op_when_unset(admin, stack):
    """A client posting back a fresh GET (vertical "") must not be refused."""
    import subprocess
    subprocess.run(["/usr/bin/psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(stack.pg_port),
                    "-U", "wa", "-d", "wa", "-c", "UPDATE business_profile SET vertical = ''"],
                   check=True, capture_output=True, timeout=30)
    ok_empty(admin.post("/v1/settings/business/profile", json=business(admin)))
    assert business(admin)["vertical"] == ""


def test_business_profile_is_admin_only(admin, user):
    err(user.get("/v1/settings/business/profile"), 403, 1005)
    err(user.post("/v1/settings/business/profile", json={"address": "x"}), 403, 1005)
    err(admin.get("/v1/settings/business/profile", apikey=True), 401, 1005)


def test_profile_survives_coreapp_restart(admin, stack):
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": "persisted"}))
    ok_empty(admin.post("/v1/settings/business/profile", json={"description": "persisted too"}))
    ok_empty(admin.post("/v1/settings/profile/photo", data=JPEG,
                        headers={"Content-Type": "image/jpeg"}))
    stack.restart("coreapp")
    deadline = time.monotonic() + 20
    while admin.get("/v1/health").status_code != 200:
        assert time.monotonic() < deadline, "coreapp did not come back"
        time.sleep(0.2)
    assert about(admin) == "persisted"
    assert business(admin)["description"] == "persisted too"
    assert admin.get("/v1/settings/profile/photo").content == JPEG
