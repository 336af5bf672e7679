"""Demo data: three sites, staff logins and about 30 participants in every status, dated around
today so the worklists always look live (visits due today, windows closing, overdue safety items).

Everything is built through the real services, so the demo holds only states the services allow.
The services refuse future dates and stamp records with timezone.now(), so each participant's
story is replayed in date order with past dates only: consent N days ago, screening a week later,
and so on up to yesterday. Whatever falls today or later is left scheduled.

Study ids and screening numbers are the only identifiers; there are no names.

One module per subject: stories (who the participants are), sites (sites and staff logins), replay
(a story through the services), summary (what the command prints), seed (the entry point).
An app of its own (above schedule and safety) so it records through every coordinator service.
"""
