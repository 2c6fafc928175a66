"""Flags on disk: the `bootstrap=` file and the last-known-good snapshot file.

Both use the body of `GET /v1/flags` (also the output of `rollout flags --json`):
`{"version": N, "flags": [{"key", "value", "rollout", "version", ...}, ...]}`, so
`curl http://rollout:8080/v1/flags > flags.json` makes a bootstrap file and a snapshot
file can be read by anything that reads the API. A bootstrap may also be a plain
`{"KEY": "value", ...}` object; its rows then belong to no rollout, so only the prefix
spelling (`enabled_for("LEARNING_", unit)`) can find them.

The snapshot file is written atomically (a temporary file in the same directory, fsync,
rename), so a reader, another worker process or a crash mid-write never sees half a file.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Union

from .sources import FlagRow, SourceError, TableSnapshot, snapshot_from_json

PathLike = Union[str, "os.PathLike[str]"]


def snapshot_from_document(doc: Any) -> TableSnapshot:
    """A `/v1/flags` body, or a plain `{"KEY": "value"}` object (version 0, no rollout)."""
    if isinstance(doc, dict) and isinstance(doc.get("flags"), list):
        if "version" not in doc:
            doc = {**doc, "version": 0}
        return snapshot_from_json(doc)
    if isinstance(doc, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        return TableSnapshot(0, {k: FlagRow(k, v, "", 0) for k, v in doc.items()})
    raise SourceError('expected the /v1/flags body {"version": N, "flags": [...]} or a {"KEY": "value"} object')


def read_snapshot_file(path: PathLike) -> TableSnapshot:
    """Parse a bootstrap or snapshot file; SourceError (or OSError) says why it is unusable."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SourceError(f"{path}: not JSON: {e}") from e
    try:
        return snapshot_from_document(doc)
    except SourceError as e:
        raise SourceError(f"{path}: {e}") from e


def document(snapshot: TableSnapshot, source: str) -> Dict[str, Any]:
    """The file's content: the `/v1/flags` body plus when and where it was read."""
    return {
        "version": snapshot.version,
        "flags": [
            {
                "key": r.key, "value": r.value, "rollout": r.rollout, "version": r.version,
                "updated_at": r.updated_at, "updated_by": r.updated_by, "reason": r.reason,
            }
            for _, r in sorted(snapshot.rows.items())
        ],
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "source": source,
    }


def write_snapshot_file(path: PathLike, snapshot: TableSnapshot, source: str) -> None:
    """Replace `path` atomically with `snapshot`. Safe with several processes writing it."""
    target = Path(path)
    data = json.dumps(document(snapshot, source), separators=(",", ":"), sort_keys=True).encode("utf-8")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

