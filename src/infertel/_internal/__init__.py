"""Implementation details of infertel; nothing here is public API."""

from infertel._internal.freethreading import require_gil

# Before anything else of infertel loads: a free-threaded interpreter with the GIL disabled is refused.
require_gil()
