"""A site's time zone is one ZoneInfo per zone name for the whole process: zoneinfo keeps only 8
zones strongly, and a study with more zones than that read a zone file from disk again for
almost every row of a page or scan."""

import zoneinfo

from participants.models import Site, zone
from participants.times import zone_of

NAMES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
]


def test_every_site_row_of_a_zone_shares_one_zoneinfo_even_with_more_than_eight_zones():
    first = {name: Site(code="X", time_zone=name).tz for name in NAMES}
    zoneinfo.ZoneInfo.clear_cache()  # what a busy process's LRU of 8 amounts to
    again = {name: Site(code="Y", time_zone=name).tz for name in NAMES}
    assert all(again[name] is first[name] for name in NAMES)
    assert all(zone_of(name) is first[name] for name in NAMES)  # names shown in the admin too
    assert zone("Europe/Berlin").key == "Europe/Berlin"
