"""A web worker freezes what start-up left alive (sle001.runtime, called by wsgi.py): a full
garbage collection then walks only what requests created, not Django and every view."""

import gc

from sle001 import runtime


def test_start_up_objects_are_frozen_with_every_view_imported(client):
    gc.unfreeze()
    try:
        runtime.freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # Django, the URLconf, the views: far more than a handful
        response = client.get("/accounts/login/")  # the app still answers after the freeze
        assert response.status_code == 200
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
