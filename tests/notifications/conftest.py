"""/healthz with its details: as the monitoring asks for them, with the bearer token."""

import pytest

HEALTHZ_TOKEN = "healthz-token-for-tests-only"


@pytest.fixture
def healthz(client, settings):
    """GET /healthz with "Authorization: Bearer <HEALTHZ_TOKEN>": the checks, not just ok."""
    settings.HEALTHZ_TOKEN = HEALTHZ_TOKEN
    return lambda: client.get("/healthz", headers={"authorization": f"Bearer {HEALTHZ_TOKEN}"})
