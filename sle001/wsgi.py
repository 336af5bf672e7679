"""
WSGI config for sle001 project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sle001.settings")

application = get_wsgi_application()

from sle001.runtime import freeze_startup_objects  # noqa: E402 (after Django is set up)

freeze_startup_objects()
