"""The schema version this oldclip writes, apart from the steps that build it.

Opening a database that is up to date (every open but the first after an upgrade) needs only
these numbers: ``storage.migrations`` (the steps) and ``storage.pgschema`` (their PostgreSQL
form) are imported only when a step is due.  ``storage.migrations`` checks, when imported,
that it holds exactly ``CURRENT_VERSION`` steps, so a new step without its number here fails
the first database any test creates.
"""

from __future__ import annotations

CURRENT_VERSION = 15  # len(storage.migrations.MIGRATIONS)
# PostgreSQL starts at the schema the SQLite steps leave here; later steps run on both.
PG_BASELINE = 11
