"""What every layer of certdesk shares and no model holds: SQL helpers (the one place where SQLite
and PostgreSQL differ), problems, cell parsers and CSV neutralising."""
