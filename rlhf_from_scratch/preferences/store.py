"""The preference store: every label durable the moment it is acknowledged (SQLite, WAL).

One file holds the compared items and the comparisons between them:

    meta(key, value)                  what the store is for, e.g. the env id (checked on open)
    items(id, kind, payload)          a clip (compressed numpy arrays) or a text (JSON)
    comparisons(id, first, second, mu, source, grp, created)
                                      mu = 1: first better, 0: second better, 0.5: equal;
                                      grp ties the K choose 2 pairs of one ranking together

`add_comparison` commits before it returns, in WAL mode with synchronous=FULL: a process
killed right after it (SIGKILL, power loss) keeps the label. Export and import as JSONL move
labels between stores (a human's labels into a synthetic run, a run into a notebook).
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.utils.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY, first INTEGER NOT NULL REFERENCES items(id),
    second INTEGER NOT NULL REFERENCES items(id), mu REAL NOT NULL, source TEXT NOT NULL,
    grp INTEGER, created REAL NOT NULL
);
"""


def encode_segment(segment: Segment) -> bytes:
    buffer = io.BytesIO()
    extra = {} if segment.alive_steps is None else {"alive_steps": segment.alive_steps}
    np.savez_compressed(
        buffer,
        obs=segment.obs,
        actions=segment.actions,
        true_rewards=segment.true_rewards,
        **extra,
    )
    return buffer.getvalue()


def decode_segment(payload: bytes) -> Segment:
    with np.load(io.BytesIO(payload)) as data:
        alive = int(data["alive_steps"]) if "alive_steps" in data.files else None
        return Segment(data["obs"], data["actions"], data["true_rewards"], alive_steps=alive)


class PreferenceStore:
    """Open (or create) a store for one task; `task` must match what the file was made for."""

    def __init__(self, path: str | Path, task: str, timeout: float = 5.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'task'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('task', ?)", (task,))
            elif row[0] != task:
                raise ConfigError(
                    f"preference store '{self.path}' holds labels for '{row[0]}', not '{task}': "
                    "use another store (--preference-store) for this task"
                )
        except sqlite3.DatabaseError as error:
            if "locked" in str(error):
                raise ConfigError(
                    f"preference store '{self.path}' is locked by another process; wait for it "
                    "to finish or use another store"
                ) from None
            raise ConfigError(
                f"preference store '{self.path}' is not a readable SQLite file ({error}); it was "
                "left untouched: move it away to start a new store"
            ) from None
        self.task = task

    # ---- writing ---------------------------------------------------------------------------
    def add_item(self, kind: str, payload: bytes) -> int:
        return self.db.execute(
            "INSERT INTO items (kind, payload) VALUES (?, ?)", (kind, payload)
        ).lastrowid

    def add_comparison(
        self, first: int, second: int, mu: float, source: str, group: int | None = None
    ) -> int:
        """Record one label; committed (durable) when this returns."""
        if mu not in (0.0, 0.5, 1.0):
            raise ConfigError(f"a label mu must be 0, 0.5 or 1, got {mu}")
        return self.db.execute(
            "INSERT INTO comparisons (first, second, mu, source, grp, created) VALUES (?, ?, ?, ?, ?, ?)",
            (first, second, float(mu), source, group, time.time()),
        ).lastrowid

    def add_segment_pair(self, a: Segment, b: Segment, mu: float, source: str) -> int:
        """Both clips and their label in one transaction: all of it is there, or none."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            ia = self.add_item("segment", encode_segment(a))
            ib = self.add_item("segment", encode_segment(b))
            cid = self.add_comparison(ia, ib, mu, source)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return cid

    # ---- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM comparisons").fetchone()[0]

    def comparisons(self) -> list[tuple[int, int, int, float, str, int | None]]:
        """(id, first, second, mu, source, group) rows in the order they were labelled."""
        return self.db.execute(
            "SELECT id, first, second, mu, source, grp FROM comparisons ORDER BY id"
        ).fetchall()

    def item(self, item_id: int) -> tuple[str, bytes]:
        return self.db.execute(
            "SELECT kind, payload FROM items WHERE id = ?", (item_id,)
        ).fetchone()

    def segment_pairs(self, after: int = 0) -> list[tuple[int, Segment, Segment, float]]:
        """(comparison id, first clip, second clip, mu) for every clip comparison whose id is
        above `after` (0: all of them)."""
        rows = self.db.execute(
            "SELECT c.id, a.payload, b.payload, c.mu FROM comparisons c JOIN items a ON a.id = c.first "
            "JOIN items b ON b.id = c.second WHERE a.kind = 'segment' AND c.id > ? ORDER BY c.id",
            (after,),
        ).fetchall()
        return [(cid, decode_segment(pa), decode_segment(pb), mu) for cid, pa, pb, mu in rows]

    def text_comparisons(self) -> list[tuple[int, int | None, int, dict, int, dict, float]]:
        """(comparison id, group, first id, first text, second id, second text, mu) for every
        comparison of two texts; a text item's payload is JSON, e.g. {"prompt", "response"}."""
        rows = self.db.execute(
            "SELECT c.id, c.grp, a.id, a.payload, b.id, b.payload, c.mu FROM comparisons c "
            "JOIN items a ON a.id = c.first JOIN items b ON b.id = c.second "
            "WHERE a.kind = 'text' AND b.kind = 'text' ORDER BY c.id"
        ).fetchall()
        return [
            (cid, grp, ia, json.loads(pa), ib, json.loads(pb), mu)
            for cid, grp, ia, pa, ib, pb, mu in rows
        ]

    # ---- moving labels between stores ------------------------------------------------------
    def export_jsonl(self, path: str | Path) -> int:
        """One JSON object per comparison, items inline (binary payloads base64)."""
        n = 0
        with open(path, "w") as f:
            for cid, first, second, mu, source, group in self.comparisons():
                row: dict[str, Any] = {
                    "id": cid,
                    "mu": mu,
                    "source": source,
                    "group": group,
                    "task": self.task,
                }
                for name, item_id in (("first", first), ("second", second)):
                    kind, payload = self.item(item_id)
                    row[name] = {"kind": kind, "payload": base64.b64encode(payload).decode()}
                f.write(json.dumps(row) + "\n")
                n += 1
        return n

    def import_jsonl(self, path: str | Path) -> int:
        """Add the comparisons of an exported file (for the same task); returns how many."""
        n = 0
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                    if row["task"] != self.task:
                        raise ConfigError(
                            f"{path}:{line_no} is a label for '{row['task']}', not '{self.task}'"
                        )
                    self.db.execute("BEGIN IMMEDIATE")
                    ids = [
                        self.add_item(row[k]["kind"], base64.b64decode(row[k]["payload"]))
                        for k in ("first", "second")
                    ]
                    self.add_comparison(ids[0], ids[1], row["mu"], row["source"], row.get("group"))
                    self.db.execute("COMMIT")
                except (KeyError, ValueError) as error:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise ConfigError(
                        f"{path}:{line_no} is not an exported label ({error})"
                    ) from None
                n += 1
        return n

    def close(self) -> None:
        self.db.close()
