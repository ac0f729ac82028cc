"""The stack starts and answers the monitoring endpoint."""


def test_health_with_api_key(api):
    r = api.get("/v1/health", apikey=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "meta" in body and "health" in body, body
