"""Reading the campaign folder's JSON documents: one object, of the schema named, or one
error line naming the file and saying what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.errors import AnalysisInputError


def read_json(path: Path, schema: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AnalysisInputError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); repair or remove the file"
        ) from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise AnalysisInputError(f"{path}: unreadable ({exc}); repair or remove the file") from exc
    if not isinstance(data, dict):
        raise AnalysisInputError(f"{path}: expected a JSON object; repair or remove the file")
    if data.get("schema") != schema or data.get("schema_version") != 1:
        raise AnalysisInputError(
            f"{path}: schema {data.get('schema')!r} version {data.get('schema_version')!r} is "
            f"not {schema} version 1; use the fwenergy version that wrote it"
        )
    return data
