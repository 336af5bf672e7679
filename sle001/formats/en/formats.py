# Dates as the date inputs take them (ISO 8601, YYYY-MM-DD), in the admin and every template that
# shows a date or time without a format of its own; times with the abbreviation of the zone in
# force (the site's on a clinical record's admin pages, participants.admin; else UTC). Input
# formats are left to Django's en_GB.
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
