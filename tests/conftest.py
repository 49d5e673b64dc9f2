"""Suite-wide settings."""

from __future__ import annotations

import os

from hypothesis import settings

# CI runs a fresh clone with no example database: derandomize there so a landing is never decided
# by a new random draw; locally, examples stay random (and are remembered) to keep finding bugs.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
