"""GET / PATCH / DELETE /v1/settings/application (spec/API.md §13.1).

Every field of the documented table: its default, values it takes, values it
refuses with 1009 (details naming the key) while nothing changes; unknown
keys; nested merges; rules between fields; reset; persistence across a
coreapp restart and changes made directly in the database (as another
coreapp would) reaching the running coreapp.
"""
import copy
import json
import time

import pytest

PATH = "/v1/settings/application"

DEFAULTS = {
    "webhooks": {"url": "", "max_concurrent_requests": 6,
                 "message": {"sent": True, "delivered": True, "read": True}},
    "sent_status": False,
    "callback_persist": True,
    "callback_backoff_delay_ms": 3000,
    "max_callback_backoff_delay_ms": 900000,
    "media": {"auto_download": ["image", "video", "voice", "sticker", "audio", "document"]},
    "pass_through": False,
    "heartbeat_interval": 5,
    "unhealthy_interval": 30,
    "garbagecollector_enable": {"messages": True, "media": False},
    "db_garbagecollector_enable": True,
    "notify_user_change_number": True,
    "show_security_notifications": False,
    "axolotl_context_striping_disabled": False,
    "skip_referral_media_download": False,
    "webhook_payload_conversation_pricingmodel_disabled": False,
    "on_call_pager": "",
    "verbose_logging": False,
    "log_level": "info",
    "wa_id": "",
}

BOOLEANS = [
    "webhooks.message.sent", "webhooks.message.delivered", "webhooks.message.read",
    "sent_status", "callback_persist", "garbagecollector_enable.messages",
    "garbagecollector_enable.media", "db_garbagecollector_enable", "notify_user_change_number",
    "show_security_notifications", "axolotl_context_striping_disabled",
    "skip_referral_media_download", "webhook_payload_conversation_pricingmodel_disabled",
    "verbose_logging",
]
NOT_BOOLEANS = ["true", 1, 0, None, [], {}]

# (path, [(value sent, value GET shows)], [refused values])
FIELDS = [(p, [(True, True), (False, False)], NOT_BOOLEANS) for p in BOOLEANS] + [
    ("webhooks.url",
     [("https://example.com/hook", "https://example.com/hook"),
      ("https://user:pw@hooks.example.com:8443/a/b?c=d", "https://user:pw@hooks.example.com:8443/a/b?c=d"),
      ("https://127.0.0.1:9/x", "https://127.0.0.1:9/x"), ("", "")],
     ["http://example.com/hook", "ftp://example.com/", "example.com/hook", "https://",
      "not a url", "https://exa mple.com/", "https://x/" + "a" * 2100, 5, None, True, ["https://a"]]),
    ("webhooks.max_concurrent_requests",
     [(6, 6), (12, 12), (18, 18), (24, 24)],
     [0, 1, 7, 25, 48, -6, "12", 12.0, None, True]),
    ("callback_backoff_delay_ms",
     [(1, 1), (1500, 1500), ("2500", 2500), (86400000, 86400000)],
     [0, -1, "0", "-5", "12a", "", " 100", 1.5, 86400001, None, True, [100]]),
    ("max_callback_backoff_delay_ms",
     [(3000, 3000), ("600000", 600000), (86400000, 86400000)],
     [0, -1, 86400001, "x", 2.5, None, False]),
    ("media.auto_download",
     [([], []), (["image"], ["image"]), (["audio", "audio", "voice"], ["audio", "voice"]),
      (["audio", "document", "voice", "video", "image", "sticker"],
       ["audio", "document", "voice", "video", "image", "sticker"])],
     ["image", ["gif"], ["image", 3], [None], {}, None, True]),
    ("pass_through", [(False, False)], [True, "false", 0, None]),
    ("heartbeat_interval", [(1, 1), (10, 10), (29, 29)], [0, -1, 3601, "5", 2.5, None]),
    ("unhealthy_interval", [(6, 6), (3600, 3600), (86400, 86400)],
     [0, -3, 86401, "30", 1.5, None]),
    ("on_call_pager",
     [("16315551234", "16315551234"), ("16315558032-1530825318", "16315558032-1530825318"),
      ("", "")],
     ["+16315551234", "abc", "123", "1631555-", "-1631555", "1-2-3", 16315551234, None]),
    ("log_level", [("debug", "debug"), ("warn", "warn"), ("error", "error"), ("info", "info")],
     ["verbose", "INFO!", "", 3, None]),
]


def nest(path, value):
    out = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def lookup(obj, path):
    for part in path.split("."):
        obj = obj[part]
    return obj


def settings(api):
    r = api.get(PATH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"settings", "meta"}, body
    return body["settings"]["application"]


def patch_ok(api, body):
    r = api.patch(PATH, json=body)
    assert r.status_code == 200, (body, r.text)
    assert set(r.json()) == {"meta"}, r.text


def refused(api, body, key_in_details):
    r = api.patch(PATH, json=body)
    assert r.status_code == 400, (body, r.text)
    err = r.json()["errors"][0]
    assert err["code"] == 1009, (body, r.text)
    assert key_in_details in err["details"], (body, err)
    return err["details"]


@pytest.fixture
def admin(api):
    api.admin_token()
    r = api.delete(PATH)
    assert r.status_code == 200, r.text
    yield api
    api.delete(PATH)


def test_defaults(admin):
    assert settings(admin) == DEFAULTS


def test_secret_is_write_only(admin):
    assert "secret" not in settings(admin)["webhooks"]
    patch_ok(admin, {"webhooks": {"secret": "s3cret"}})
    assert settings(admin) == DEFAULTS  # set, never shown
    patch_ok(admin, {"webhooks": {"secret": ""}})
    patch_ok(admin, {"webhooks": {"secret": "x" * 256}})
    for bad in ["x" * 257, 5, None, True]:
        refused(admin, {"webhooks": {"secret": bad}}, "webhooks.secret")


# Values set first, so that the rules between fields don't get in the way.
PRESETS = {
    "callback_backoff_delay_ms": {"max_callback_backoff_delay_ms": 86400000},
    "max_callback_backoff_delay_ms": {"callback_backoff_delay_ms": 1},
}


@pytest.mark.parametrize("path,good,bad", FIELDS, ids=[f[0] for f in FIELDS])
def test_field(admin, path, good, bad):
    if path in PRESETS:
        patch_ok(admin, PRESETS[path])
    baseline = settings(admin)
    for sent, shown in good:
        patch_ok(admin, nest(path, sent))
        got = settings(admin)
        want = copy.deepcopy(baseline)   # that field changed, and only that one
        parent = want
        for part in path.split(".")[:-1]:
            parent = parent[part]
        parent[path.split(".")[-1]] = shown
        assert got == want, (path, sent)
    for value in bad:
        refused(admin, nest(path, value), path)
        assert settings(admin) == got, (path, value)  # nothing changed


def test_unknown_keys_are_refused(admin):
    for body, key in [({"foo": 1}, "foo"),
                      ({"webhooks": {"uri": "https://a.example/"}}, "webhooks.uri"),
                      ({"webhooks": {"message": {"failed": True}}}, "webhooks.message.failed"),
                      ({"media": {"providers": []}}, "media.providers"),
                      ({"garbagecollector_enable": {"all": True}}, "garbagecollector_enable.all"),
                      ({"webhooks.url": "https://a.example/"}, "webhooks.url"),
                      ({"callback_persistence": True}, "callback_persistence"),
                      ({"": 1}, "unknown setting")]:
        details = refused(admin, body, key)
        assert "unknown setting" in details, details
    assert settings(admin) == DEFAULTS


def test_groups_must_be_objects(admin):
    for body, key in [({"webhooks": "https://a.example/"}, "webhooks"),
                      ({"webhooks": {"message": True}}, "webhooks.message"),
                      ({"media": ["image"]}, "media"),
                      ({"garbagecollector_enable": False}, "garbagecollector_enable")]:
        details = refused(admin, body, key)
        assert "must be an object" in details, details
    assert settings(admin) == DEFAULTS


def test_a_bad_key_changes_nothing(admin):
    refused(admin, {"webhooks": {"url": "https://good.example/hook",
                                 "max_concurrent_requests": 7},
                    "sent_status": True}, "webhooks.max_concurrent_requests")
    refused(admin, {"sent_status": True, "log_level": "debug", "nope": 1}, "nope")
    assert settings(admin) == DEFAULTS


def test_nested_objects_merge_key_by_key(admin):
    patch_ok(admin, {"webhooks": {"url": "https://a.example/hook"}})
    patch_ok(admin, {"webhooks": {"message": {"read": False}}})
    patch_ok(admin, {"webhooks": {"max_concurrent_requests": 12}, "garbagecollector_enable":
                     {"media": True}})
    got = settings(admin)
    assert got["webhooks"] == {"url": "https://a.example/hook", "max_concurrent_requests": 12,
                               "message": {"sent": True, "delivered": True, "read": False}}
    assert got["garbagecollector_enable"] == {"messages": True, "media": True}
    patch_ok(admin, {})  # an empty patch changes nothing
    assert settings(admin) == got


def test_rules_between_fields(admin):
    details = refused(admin, {"callback_backoff_delay_ms": 1000000},
                      "max_callback_backoff_delay_ms")
    assert "callback_backoff_delay_ms" in details
    refused(admin, {"max_callback_backoff_delay_ms": 2999}, "max_callback_backoff_delay_ms")
    refused(admin, {"unhealthy_interval": 5}, "unhealthy_interval")
    refused(admin, {"heartbeat_interval": 30}, "heartbeat_interval")
    assert settings(admin) == DEFAULTS
    # both sides in one patch
    patch_ok(admin, {"callback_backoff_delay_ms": 1000000,
                     "max_callback_backoff_delay_ms": 2000000,
                     "heartbeat_interval": 60, "unhealthy_interval": 120})
    got = settings(admin)
    assert (got["callback_backoff_delay_ms"], got["max_callback_backoff_delay_ms"],
            got["heartbeat_interval"], got["unhealthy_interval"]) == (1000000, 2000000, 60, 120)
    patch_ok(admin, {"max_callback_backoff_delay_ms": 1000000})  # equal is fine


def test_wa_id_is_read_only(admin):
    patch_ok(admin, {"wa_id": "16315551019"})   # what GET shows may be sent back
    assert settings(admin)["wa_id"] == DEFAULTS["wa_id"]
    refused(admin, {"wa_id": 16315551019}, "wa_id")
    patch_ok(admin, settings(admin))             # a whole GET body round-trips
    assert settings(admin) == DEFAULTS


def test_wa_id_is_the_registered_number(admin, stack):
    """wa_id comes from the registration (the account row), only once registered."""
    stack.psql("INSERT INTO account (cc, phone_number, wa_id, registered) "
                "VALUES ('1', '6315551019', '16315551019', false)")
    try:
        assert settings(admin)["wa_id"] == ""
        stack.psql("UPDATE account SET registered = true")
        assert settings(admin)["wa_id"] == "16315551019"
        patch_ok(admin, {"wa_id": "19999999999"})
        assert settings(admin)["wa_id"] == "16315551019"
    finally:
        stack.psql("DELETE FROM account")


def test_reset_restores_every_default(admin):
    patch_ok(admin, {"webhooks": {"url": "https://a.example/", "max_concurrent_requests": 24,
                                  "message": {"sent": False, "delivered": False,
                                              "read": False}, "secret": "k"},
                     "sent_status": True, "callback_persist": False,
                     "callback_backoff_delay_ms": 10, "max_callback_backoff_delay_ms": 20,
                     "media": {"auto_download": []}, "heartbeat_interval": 10,
                     "unhealthy_interval": 100,
                     "garbagecollector_enable": {"messages": False, "media": True},
                     "db_garbagecollector_enable": False, "notify_user_change_number": False,
                     "show_security_notifications": True,
                     "axolotl_context_striping_disabled": True,
                     "skip_referral_media_download": True,
                     "webhook_payload_conversation_pricingmodel_disabled": True,
                     "on_call_pager": "16315551234", "verbose_logging": True,
                     "log_level": "error"})
    changed = settings(admin)
    for key in DEFAULTS:
        if key not in ("wa_id", "pass_through"):   # pass_through can't be changed
            assert changed[key] != DEFAULTS[key], key
    r = admin.delete(PATH)
    assert r.status_code == 200 and set(r.json()) == {"meta"}, r.text
    assert settings(admin) == DEFAULTS


def test_non_admin_is_refused(admin):
    r = admin.as_token(None).get(PATH)
    assert r.status_code == 401, r.text
    r = admin.get(PATH, apikey=True)   # the API key only reaches health, stats and metrics
    assert r.status_code in (401, 403), r.text


def test_stored_in_postgresql_and_kept_across_restart(admin, stack):
    patch_ok(admin, {"webhooks": {"url": "https://a.example/x", "message": {"read": False}},
                     "callback_backoff_delay_ms": "1234"})
    # only what differs from the defaults is stored
    assert json.loads(stack.psql("SELECT overrides::text FROM app_settings")) == {
        "webhooks": {"url": "https://a.example/x", "message": {"read": False}},
        "callback_backoff_delay_ms": 1234}
    restart_coreapp(stack, admin)
    got = settings(admin)
    assert got["webhooks"]["url"] == "https://a.example/x"
    assert got["webhooks"]["message"] == {"sent": True, "delivered": True, "read": False}
    assert got["callback_backoff_delay_ms"] == 1234


def restart_coreapp(stack, api, env=None):
    stack.stop("coreapp")
    stack.start("coreapp", env=env)
    deadline = time.monotonic() + 15
    while api.get(PATH).status_code != 200:
        assert time.monotonic() < deadline, stack.logs_tail(["coreapp"])
        time.sleep(0.2)


def test_log_level_applies_at_once(admin, stack):
    restart_coreapp(stack, admin, env={"WA_LOG_LEVEL": "warn"})
    try:
        def debug_lines():
            return stack.log_text("coreapp").count("event=command_received cmd=settings.app.get")

        n = debug_lines()
        settings(admin)
        assert debug_lines() == n                   # warn: no debug lines
        patch_ok(admin, {"log_level": "debug"})
        settings(admin)
        assert debug_lines() == n + 1               # at once, no restart
        patch_ok(admin, {"log_level": "info"})
        settings(admin)
        assert debug_lines() == n + 1
        patch_ok(admin, {"verbose_logging": True})  # verbose means debug
        settings(admin)
        assert debug_lines() == n + 2
        admin.delete(PATH)
        settings(admin)
        assert debug_lines() == n + 2
    finally:
        restart_coreapp(stack, admin)


def test_changes_by_another_coreapp_arrive_by_notify(admin, stack):
    """Another coreapp writing the row (here: psql) updates this one's memory
    without a restart: visible in what the coreapp logs when it applies it."""
    n = stack.log_text("coreapp").count("event=settings_changed")
    stack.psql("""UPDATE app_settings SET overrides = '{"sent_status": true}'""")
    deadline = time.monotonic() + 5
    while stack.log_text("coreapp").count("event=settings_changed") == n:
        assert time.monotonic() < deadline, "NOTIFY not applied"
        time.sleep(0.05)
    assert settings(admin)["sent_status"] is True
