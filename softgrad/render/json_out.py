"""JSON output: exactly a report's ``to_dict()``, ASCII-safe (every other character escaped, so it can be
written in any output encoding and no control character reaches a terminal raw)."""

from __future__ import annotations

import json
from typing import Any


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
