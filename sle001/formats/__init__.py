"""Date and time formats (FORMAT_MODULE_PATH): one date format throughout, the one the date
inputs take."""
