"""manage.py load_protocol: load a protocol amendment from JSON, or export a version as JSON.

The JSON has the shape of schedule.services.protocol_as_data(): export v1, edit it (version
number, windows, assessments), load it as v2. Participants keep the version they were scheduled
under; new participants get the highest active version.
"""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from schedule.models import Anchor, Period, ProtocolVersion, VisitKind
from schedule.services import protocol_as_data, protocol_load

VISIT_FIELDS = {"code": str, "name": str, "period": str, "anchor": str, "offset": int}
CHOICES = {"period": Period.values, "anchor": Anchor.values, "kind": VisitKind.values}


def _visit_problems(i: int, visit) -> list[str]:
    if not isinstance(visit, dict):
        return [f"Visit {i} is not an object."]
    where = f"Visit {i} ({visit.get('code', 'no code')})"
    problems = []
    for key, kind in VISIT_FIELDS.items():
        if not isinstance(visit.get(key), kind):
            problems.append(f"{where}: “{key}” is missing or not a {kind.__name__}.")
    for key in ("before", "after"):
        if not isinstance(visit.get(key), int) or visit[key] < 0:
            problems.append(f"{where}: “{key}” must be a whole number of days, 0 or more.")
    for key, allowed in CHOICES.items():
        if key in visit and visit[key] not in allowed:
            problems.append(f"{where}: “{key}” must be one of {', '.join(allowed)}.")
    assessments = visit.get("assessments")
    if not isinstance(assessments, list):
        return problems + [f"{where}: “assessments” must be a list."]
    return problems + _assessment_problems(where, assessments)


def _is_assessment_row(a) -> bool:
    return (
        isinstance(a, list)
        and len(a) == 4
        and isinstance(a[0], str)
        and isinstance(a[1], str)
        and isinstance(a[2], bool)
        and isinstance(a[3], dict)
    )


def _assessment_problems(where: str, assessments: list) -> list[str]:
    problems = []
    codes = [a[0] for a in assessments if isinstance(a, list) and a]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        problems.append(f"{where}: assessment codes used twice: {', '.join(map(str, twice))}.")
    for a in assessments:
        if not _is_assessment_row(a):
            problems.append(
                f"{where}: assessment {a!r} must be [code, name, is_safety, {{options}}]."
            )
    return problems


def shape_problems(data) -> list[str]:
    """What is missing or mistyped in a protocol file, before anything is written.

    protocol_load trusts its input's shape (it also loads the trusted v1 module), so a hand-edited
    file is checked here and every problem reported at once.
    """
    if not isinstance(data, dict):
        return ["The file must hold one JSON object with version, name and visits."]
    problems = []
    if not isinstance(data.get("version"), int) or isinstance(data.get("version"), bool):
        problems.append("“version” must be a whole number, e.g. 2.")
    if not isinstance(data.get("name"), str) or not data.get("name", "").strip():
        problems.append("“name” must be a non-empty text.")
    visits = data.get("visits")
    if not isinstance(visits, list) or not visits:
        return problems + ["“visits” must be a non-empty list."]
    for i, visit in enumerate(visits, start=1):
        problems += _visit_problems(i, visit)
    # That each special visit (APH, INF1, UNS, ET) exists exactly once is checked by
    # schedule.services.protocol_problems when the version is loaded.
    codes = [v.get("code") for v in visits if isinstance(v, dict)]
    duplicates = sorted({c for c in codes if codes.count(c) > 1 and isinstance(c, str)})
    if duplicates:
        problems.append(f"Visit codes used twice: {', '.join(duplicates)}.")
    return problems


class Command(BaseCommand):
    help = (
        "Load a protocol amendment (a new protocol version) from FILE.json, or print version N "
        "as JSON with --export N. Export v1, change the version number and what the amendment "
        "changes, then load the file. Refused: a version number already used, invalid JSON, "
        "overlapping or out-of-order windows."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="Protocol JSON file to load.")
        parser.add_argument(
            "--export", type=int, metavar="N", help="Print protocol version N as JSON."
        )

    def handle(self, *args, **options):
        if options.get("export") is not None:
            self.stdout.write(self.export(options["export"]))
        elif options.get("file"):
            protocol = self.load(options["file"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded protocol v{protocol.version} “{protocol.name}” with "
                    f"{protocol.visits.count()} visits. New participants are scheduled under it."
                )
            )
        else:
            raise CommandError("Give a JSON file to load, or --export N.")

    def export(self, version: int) -> str:
        protocol = ProtocolVersion.objects.filter(version=version).first()
        if protocol is None:
            raise CommandError(f"There is no protocol version {version}.")
        return json.dumps(protocol_as_data(protocol), indent=2, ensure_ascii=False)

    def load(self, path: str) -> ProtocolVersion:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise CommandError(f"Cannot read {path}: {e.strerror}.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CommandError(f"{path} is not valid JSON: {e}.") from None
        problems = shape_problems(data)
        if problems:
            raise CommandError(f"{path} is not a protocol: " + " ".join(problems))
        try:
            return protocol_load(data)
        except ValidationError as e:
            raise CommandError(
                f"Protocol v{data['version']} not loaded: " + " ".join(e.messages)
            ) from None
        except IntegrityError as e:
            raise CommandError(f"Protocol v{data['version']} not loaded: {e}") from None
