"""Groups are not implemented (spec/API.md §8, Beta in older clients): every groups route
answers the documented "not available" error (500, code 1014, details naming the path)
rather than pretending, and a message to a group fails with 1012 "Group is unknown" (the
spec's rule for a group the business is the only member of: here no group can exist, so
every group is one). The failure is the network's, reported as a failed status with the
error, like every delivery problem."""
import json
import time

import pytest

from sandbox_client import Sandbox, register
from test_profile import JPEG

GROUP = "16315550100-1530825318"
ROUTES = [
    ("POST", "/v1/groups", {"json": {"subject": "Team"}}),
    ("GET", "/v1/groups", {}),
    ("GET", "/v1/groups/" + GROUP, {}),
    ("PUT", "/v1/groups/" + GROUP, {"json": {"subject": "New"}}),
    ("GET", "/v1/groups/%s/invite" % GROUP, {}),
    ("DELETE", "/v1/groups/%s/invite" % GROUP, {}),
    ("DELETE", "/v1/groups/%s/participants" % GROUP, {"json": {"wa_ids": ["16315551234"]}}),
    ("PATCH", "/v1/groups/%s/admins" % GROUP, {"json": {"wa_ids": ["16315551234"]}}),
    ("DELETE", "/v1/groups/%s/admins" % GROUP, {"json": {"wa_ids": ["16315551234"]}}),
    ("POST", "/v1/groups/%s/leave" % GROUP, {}),
    ("POST", "/v1/groups/%s/icon" % GROUP, {"data": JPEG,
                                            "headers": {"Content-Type": "image/jpeg"}}),
    ("GET", "/v1/groups/%s/icon" % GROUP, {}),
    ("DELETE", "/v1/groups/%s/icon" % GROUP, {}),
]


@pytest.fixture(scope="module")
def admin(stack):
    from conftest import Api
    api = Api(stack)
    return api.as_token(api.admin_token())


def test_every_groups_route_says_it_is_not_available(admin):
    assert len(ROUTES) == 13                  # spec/API.md §8's table
    for method, path, kw in ROUTES:
        r = admin.request(method, path, **kw)
        assert r.status_code == 500, (method, path, r.status_code, r.text)
        body = r.json()
        assert set(body) == {"errors", "meta"}, body
        assert [(e["code"], e["title"]) for e in body["errors"]] == [(1014, "Internal error")]
        assert body["errors"][0]["details"] == "%s is not available in this version" % \
            path.split("?")[0], body


def test_a_message_to_a_group_fails_with_1012(admin, stack):
    sb = Sandbox(stack)
    register(admin, sb, vname="Acme")
    r = admin.patch("/v1/settings/application",
                    json={"webhooks": {"url": "https://127.0.0.1:9/hook"}})  # stays queued
    assert r.status_code == 200, r.text
    r = admin.post("/v1/messages", json={"to": GROUP, "recipient_type": "group", "type": "text",
                                         "text": {"body": "Hello group"}})
    assert r.status_code == 201, r.text
    msg_id = r.json()["messages"][0]["id"]
    deadline = time.monotonic() + 15
    while stack.psql("SELECT status FROM messages WHERE id = '%s'" % msg_id) != "failed":
        assert time.monotonic() < deadline, "the group message did not fail"
        time.sleep(0.05)
    assert stack.psql("SELECT recipient_type, error_code, error_title FROM messages"
                       " WHERE id = '%s'" % msg_id) == "group|1012|Group is unknown"
    bodies = [json.loads(b) for b in stack.psql("SELECT body FROM wa_callbacks WHERE kind ="
                                                 " 'status_change' ORDER BY id").splitlines()]
    failed = [s for b in bodies for s in b["statuses"] if s["id"] == msg_id]
    assert len(failed) == 1 and failed[0]["status"] == "failed", failed
    assert failed[0]["recipient_id"] == GROUP
    assert [(e["code"], e["title"]) for e in failed[0]["errors"]] == [(1012, "Group is unknown")]
    # the network delivered nothing to anyone
    assert sb.stats()["messages"]["delivered"] == 0
