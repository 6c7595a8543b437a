"""The business clock: what "today" is for contract windows, terms and reminders.

Real time in production. In development and tests it is the vendor sandbox's movable clock
(settings.BUSINESS_CLOCK), so moving the sandbox forward moves the whole demo forward together.
"""

from datetime import datetime
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _clock(path: str):
    return import_string(path)


def now() -> datetime:
    return _clock(settings.BUSINESS_CLOCK)()
