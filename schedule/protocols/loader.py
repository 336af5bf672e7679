"""Create a protocol version's rows from its data.

Takes the model classes as arguments so the data migration can pass its historical models and
schedule.services.protocol_load the real ones: one loader, whoever calls it.
"""


def create_protocol(data: dict, protocol_model, visit_model, assessment_model):
    protocol = protocol_model.objects.create(
        version=data["version"], name=data["name"], notes=data.get("notes", "")
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
            )
            for a_order, (code, name, safety, extra) in enumerate(visit["assessments"], start=1)
        )
    return protocol
