"""Stickerpacks (spec/API.md §15): full CRUD for third-party packs and their stickers,
and truthful refusals for WhatsApp's first-party namespace."""
import pytest

from test_users import STRONG, err

PACK = {"publisher": "Acme Stickers", "name": "Cats",
        "ios_app_store_link": "https://itunes.apple.com/app/id3133333",
        "android_app_store_link": "https://play.google.com/store/apps/details?id=com.acme.cats"}


@pytest.fixture(scope="module")
def user(stack):
    """A plain user's client: stickerpacks are for any user, not only the admin."""
    from conftest import Api
    admin = Api(stack)
    admin.admin_token()
    r = admin.post("/v1/users", json={"username": "stickerer", "password": STRONG})
    assert r.status_code == 201, r.text
    u = Api(stack)
    u.login("stickerer", STRONG)
    return u


def ok_empty(r):
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"meta"}, r.text


def create(user, body=PACK):
    r = user.post("/v1/stickerpacks", json=body)
    assert r.status_code == 201, r.text
    packs = r.json()["stickerpacks"]
    assert len(packs) == 1 and set(packs[0]) == {"id"}
    return packs[0]["id"]


def test_pack_crud(user):
    pid = create(user)
    r = user.get("/v1/stickerpacks")
    assert r.status_code == 200
    assert {"id": pid} in r.json()["stickerpacks"]
    r = user.get("/v1/stickerpacks/" + pid)
    assert r.status_code == 200
    assert r.json()["stickerpacks"] == [PACK]
    # third_party is the default namespace, and may be named
    assert user.get("/v1/stickerpacks/%s?namespace=third_party" % pid).json()["stickerpacks"] == [PACK]
    ok_empty(user.patch("/v1/stickerpacks/" + pid, json={"name": "Dogs"}))
    assert user.get("/v1/stickerpacks/" + pid).json()["stickerpacks"][0] == {**PACK, "name": "Dogs"}
    # links are optional at creation
    pid2 = create(user, {"publisher": "P", "name": "N"})
    assert user.get("/v1/stickerpacks/" + pid2).json()["stickerpacks"][0] == {
        "publisher": "P", "name": "N", "ios_app_store_link": "", "android_app_store_link": ""}
    ok_empty(user.delete("/v1/stickerpacks/" + pid))
    err(user.get("/v1/stickerpacks/" + pid), 404, 1006)
    err(user.delete("/v1/stickerpacks/" + pid), 404, 1006)
    err(user.patch("/v1/stickerpacks/" + pid, json={"name": "x"}), 404, 1006)
    ids = [p["id"] for p in user.get("/v1/stickerpacks").json()["stickerpacks"]]
    assert pid not in ids and pid2 in ids


def test_pack_refusals(user):
    cases = [
        ({"name": "N"}, 1008, "publisher"),
        ({"publisher": "P"}, 1008, "name"),
        ({"publisher": "", "name": "N"}, 1009, "publisher"),
        ({"publisher": "P" * 129, "name": "N"}, 1009, "publisher"),
        ({"publisher": "P", "name": 5}, 1009, "name"),
        ({"publisher": "P", "name": "N", "ios_app_store_link": "https://evil.example/app"}, 1009,
         "ios_app_store_link"),
        ({"publisher": "P", "name": "N", "android_app_store_link": "http://play.google.com/store/apps/details?id=x"},
         1009, "android_app_store_link"),
    ]
    for body, code, word in cases:
        e = err(user.post("/v1/stickerpacks", json=body), 400, code)
        assert word in e["details"], (body, e)
    pid = create(user)
    err(user.patch("/v1/stickerpacks/" + pid, json={}), 400, 1008)
    err(user.patch("/v1/stickerpacks/" + pid, json={"name": "N" * 129}), 400, 1009)
    assert user.get("/v1/stickerpacks/" + pid).json()["stickerpacks"] == [PACK]
    err(user.get("/v1/stickerpacks?namespace=mine"), 400, 1009)


def test_stickers_crud(user):
    pid = create(user)
    base = "/v1/stickerpacks/%s/stickers" % pid
    assert user.get(base).json()["stickers"] == []
    r = user.post(base, json={"image_data_id": "media-1", "emojis": ["\U0001F431", "\U0001F600"]})
    assert r.status_code == 201, r.text
    assert r.json()["stickers"] == [{"index": "0"}]
    r = user.post(base, json={"image_data_id": "media-2"})
    assert r.json()["stickers"] == [{"index": "1"}]
    assert user.get(base).json()["stickers"] == [{"index": "0"}, {"index": "1"}]
    r = user.get(base + "/0")
    assert r.status_code == 200
    assert r.json()["stickers"] == [{"id": "media-1", "emojis": ["\U0001F431", "\U0001F600"],
                                     "image_data_id": "media-1"}]
    assert user.get(base + "/1").json()["stickers"][0]["emojis"] == []
    ok_empty(user.patch(base + "/1", json={"emojis": ["\U0001F436"]}))
    ok_empty(user.patch(base + "/1", json={"image_data_id": "media-3"}))
    assert user.get(base + "/1").json()["stickers"] == [
        {"id": "media-3", "emojis": ["\U0001F436"], "image_data_id": "media-3"}]
    ok_empty(user.delete(base + "/0"))
    err(user.get(base + "/0"), 404, 1006)
    # indexes are not reused
    assert user.post(base, json={"image_data_id": "media-4"}).json()["stickers"] == [{"index": "2"}]
    assert user.get(base).json()["stickers"] == [{"index": "1"}, {"index": "2"}]
    # deleting the pack deletes its stickers
    ok_empty(user.delete("/v1/stickerpacks/" + pid))
    err(user.get(base), 404, 1006)
    err(user.get(base + "/1"), 404, 1006)
    err(user.post(base, json={"image_data_id": "media-5"}), 404, 1006)


def test_sticker_refusals(user):
    pid = create(user)
    base = "/v1/stickerpacks/%s/stickers" % pid
    err(user.post(base, json={}), 400, 1008)
    err(user.post(base, json={"image_data_id": ""}), 400, 1009)
    err(user.post(base, json={"image_data_id": 12}), 400, 1009)
    err(user.post(base, json={"image_data_id": "m", "emojis": ["a", "b", "c", "d"]}), 400, 1009)
    err(user.post(base, json={"image_data_id": "m", "emojis": "\U0001F431"}), 400, 1009)
    err(user.post(base, json={"image_data_id": "m", "emojis": [1]}), 400, 1009)
    err(user.get(base + "/x"), 404, 1006)
    err(user.get(base + "/7"), 404, 1006)
    err(user.patch(base + "/7", json={"image_data_id": "m"}), 404, 1006)
    err(user.delete(base + "/7"), 404, 1006)
    assert user.post(base, json={"image_data_id": "m"}).status_code == 201
    err(user.patch(base + "/0", json={}), 400, 1008)
    for i in range(29):
        assert user.post(base, json={"image_data_id": "m%d" % i}).status_code == 201
    e = err(user.post(base, json={"image_data_id": "one-too-many"}), 400, 1009)
    assert "30" in e["details"]
    assert len(user.get(base).json()["stickers"]) == 30


def test_first_party_namespace(user):
    pid = create(user)
    r = user.get("/v1/stickerpacks?namespace=whatsapp")
    assert r.status_code == 200 and r.json()["stickerpacks"] == []
    e = err(user.get("/v1/stickerpacks/%s?namespace=whatsapp" % pid), 404, 1006)
    assert "first-party" in e["details"]
    err(user.get("/v1/stickerpacks/%s/stickers?namespace=whatsapp" % pid), 404, 1006)
    err(user.get("/v1/stickerpacks/%s/stickers/0?namespace=whatsapp" % pid), 404, 1006)
    for method, path, body in [("POST", "/v1/stickerpacks", PACK),
                               ("PATCH", "/v1/stickerpacks/" + pid, {"name": "x"}),
                               ("DELETE", "/v1/stickerpacks/" + pid, None),
                               ("POST", "/v1/stickerpacks/%s/stickers" % pid, {"image_data_id": "m"})]:
        e = err(user.request(method, path + "?namespace=whatsapp", json=body), 403, 1005)
        assert "first-party" in e["details"]
    # nothing changed
    assert user.get("/v1/stickerpacks/" + pid).json()["stickerpacks"] == [PACK]


def test_stickerpacks_need_a_token(api, stack):
    err(api.get("/v1/stickerpacks"), 401, 1005)
    err(api.get("/v1/stickerpacks", apikey=True), 401, 1005)
