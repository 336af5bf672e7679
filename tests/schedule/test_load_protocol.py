"""manage.py load_protocol: export a protocol version as JSON and load an amendment from JSON."""

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import CommandError, call_command

from schedule.models import ParticipantSchedule, ProtocolVersion, VisitDefinition
from tests.support import UTC


def export(version: int) -> dict:
    out = io.StringIO()
    call_command("load_protocol", "--export", str(version), stdout=out)
    return json.loads(out.getvalue())


def load(tmp_path, data, name="amendment.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    out = io.StringIO()
    call_command("load_protocol", str(path), stdout=out)
    return out.getvalue()


def amendment_of_v1(version=2) -> dict:
    data = export(1)
    data["version"] = version
    data["name"] = "SLE-001 schedule of assessments, amendment 1"
    m3 = next(v for v in data["visits"] if v["code"] == "M3")
    m3["before"] = m3["after"] = 10  # the amendment widens the Month 3 window
    return data


@time_machine.travel(dt.datetime(2026, 3, 2, 15, tzinfo=UTC), tick=False)
def test_round_trip_export_edit_load(protocol, make_consented, tmp_path):
    on_v1 = make_consented(dt.date(2026, 3, 1))
    v1_visits = list(on_v1.visits.values_list("definition_id", "target_date", "window_end"))

    message = load(tmp_path, amendment_of_v1())

    assert "Loaded protocol v2" in message
    v2 = ProtocolVersion.objects.get(version=2)
    assert v2.name == "SLE-001 schedule of assessments, amendment 1"
    m3 = v2.visits.get(code="M3")
    assert (m3.window_before, m3.window_after) == (10, 10)
    assert VisitDefinition.objects.get(protocol__version=1, code="M3").window_after == 7
    # Everything else survived the round trip unchanged.
    v2_data = export(2)
    v1_data = export(1)
    for visits in (v1_data["visits"], v2_data["visits"]):
        next(v for v in visits if v["code"] == "M3").update(before=None, after=None)
    assert v2_data["visits"] == v1_data["visits"]
    # The v1 participant stays on v1 with the same visits; a new one is scheduled under v2.
    assert ParticipantSchedule.objects.get(participant=on_v1).protocol.version == 1
    assert list(on_v1.visits.values_list("definition_id", "target_date", "window_end")) == v1_visits
    on_v2 = make_consented(dt.date(2026, 3, 2))
    assert on_v2.schedule.protocol == v2
    assert on_v2.visits.get(definition__code="SCR").definition.protocol == v2


def test_existing_version_is_refused(protocol, tmp_path):
    with pytest.raises(CommandError, match="Protocol version 1 already exists"):
        load(tmp_path, amendment_of_v1(version=1))
    assert ProtocolVersion.objects.count() == 1


def test_bad_json_is_refused(protocol, tmp_path):
    with pytest.raises(CommandError, match="amendment.json is not valid JSON"):
        load(tmp_path, '{"version": 2, "name": "v2", "visits": [')


def test_missing_fields_are_listed(protocol, tmp_path):
    data = amendment_of_v1()
    del data["visits"][0]["offset"]
    data["visits"][1]["anchor"] = "moon"
    with pytest.raises(CommandError) as excinfo:
        load(tmp_path, data)
    message = str(excinfo.value)
    assert "Visit 1 (SCR): “offset” is missing" in message
    assert "Visit 2 (APH): “anchor” must be one of" in message
    assert not ProtocolVersion.objects.filter(version=2).exists()


def test_overlapping_windows_are_refused_and_nothing_is_saved(protocol, tmp_path):
    data = amendment_of_v1()
    next(v for v in data["visits"] if v["code"] == "INF3")["before"] = 6

    with pytest.raises(CommandError, match="The windows of INF2 and INF3 overlap"):
        load(tmp_path, data)
    assert not ProtocolVersion.objects.filter(version=2).exists()
    assert not VisitDefinition.objects.filter(protocol__version=2).exists()


def test_export_of_unknown_version(protocol):
    with pytest.raises(CommandError, match="no protocol version 5"):
        export(5)


def test_missing_file(protocol, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_protocol", str(tmp_path / "nope.json"))


def test_a_second_first_infusion_visit_is_refused(protocol, tmp_path):
    data = amendment_of_v1()
    next(v for v in data["visits"] if v["code"] == "INF2")["kind"] = "first_infusion"

    with pytest.raises(CommandError, match="exactly one first-infusion visit .* has 2"):
        load(tmp_path, data)
    assert not ProtocolVersion.objects.filter(version=2).exists()
