"""Process-level settings of a running web worker."""

import gc


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (Django, the URLconf and the views it imports,
    templates loaded so far) out of the garbage collector's reach. They live as long as the
    process, yet a full collection walks them all: on a worklist request at 10k participants one
    took 60-150 ms, the page's slowest requests. Called once per process (wsgi.py, after the
    application is built; gunicorn imports it in each worker)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view now, before the freeze)
    gc.freeze()
