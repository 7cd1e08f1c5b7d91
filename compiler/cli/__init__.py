"""The `d2lc` command line; nothing else imports it."""
