"""Create a protocol version's rows from its data.

Takes the model classes as arguments so the data migration can pass its historical models and
schedule.services.protocol_load the real ones: one loader, whoever calls it.
"""

# Assessment options added after the first migration; a migration's historical model may not
# have them yet (a later data migration sets them), so they are passed only when it does.
LATER_ASSESSMENT_OPTIONS = ("can_be_not_applicable", "holds_next_infusion", "lab_values")


def create_protocol(data: dict, protocol_model, visit_model, assessment_model):
    known = {f.name for f in assessment_model._meta.get_fields()}
    protocol = protocol_model.objects.create(
        version=data["version"],
        name=data["name"],
        notes=data.get("notes", ""),
        is_active=data.get("is_active", True),
    )
    for order, visit in enumerate(data["visits"], start=1):
        definition = visit_model.objects.create(
            protocol=protocol,
            order=order,
            code=visit["code"],
            name=visit["name"],
            period=visit["period"],
            kind=visit.get("kind", "standard"),
            anchor=visit["anchor"],
            target_offset=visit["offset"],
            window_before=visit["before"],
            window_after=visit["after"],
            min_days_after_previous=visit.get("min_days_after_previous"),
            missable=visit.get("missable", True),
        )
        assessment_model.objects.bulk_create(
            assessment_model(
                visit=definition,
                order=a_order,
                code=code,
                name=name,
                is_safety=safety,
                pre_dose=extra.get("pre_dose", False),
                max_age_hours=extra.get("max_age_hours"),
                due_hours_after_start=extra.get("due_hours_after_start"),
                condition=extra.get("condition", ""),
                **{k: extra.get(k, False) for k in LATER_ASSESSMENT_OPTIONS if k in known},
            )
            for a_order, (code, name, safety, extra) in enumerate(visit["assessments"], start=1)
        )
    return protocol
