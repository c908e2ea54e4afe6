"""The response cache: every model reply a run received, so it can be replayed exactly.

Keyed by what was asked (model, messages, sampling parameters, response format) *and* by who
asked it within which run (seed, agent, the agent's call ordinal). Two agents sending the same
prompt are still independent samples, while re-running the same run (a replay or a resume) hits
the cache for every call. Failed calls are cached too: a replay must reproduce a fallback as
faithfully as a reply. Fatal errors (`ModelUnreachable`) are never cached.

One SQLite file shared by all runs, in the user's cache directory by default
(`$SOCIETAS_CACHE_DIR`, else `$XDG_CACHE_HOME/societas`, else `~/.cache/societas`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sim.llm_client import Completion

CACHE_FILENAME = "responses.sqlite"


class CacheMiss(LookupError):
    """A replay-only run needed a reply that is not in the cache."""


def default_cache_path() -> Path:
    directory = os.environ.get("SOCIETAS_CACHE_DIR")
    if directory:
        return Path(directory) / CACHE_FILENAME
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "societas" / CACHE_FILENAME


def request_key(
    *,
    model: str,
    messages: list[dict[str, Any]],
    sampling: dict[str, Any],
    response_format: dict[str, Any] | None,
    seed: int | None,
    agent: str,
    ordinal: int,
) -> str:
    """A stable hash of a request's content and its identity within a run."""
    payload = {
        "model": model,
        "messages": messages,
        "sampling": sampling,
        "response_format": response_format,
        "seed": seed,
        "agent": agent,
        "ordinal": ordinal,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Get and put `Completion`s by request key; writes are durable at once."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The gateway reads and writes from its event loop's thread (sim.event_loop), never
        # at the same time as the thread that opened the cache, which only closes it.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            "key TEXT PRIMARY KEY, model TEXT, completion TEXT)"
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT completion FROM responses WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Completion(**json.loads(row[0]))

    def put(self, key: str, model: str, completion: Completion) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, completion) VALUES (?, ?, ?)",
            (key, model, json.dumps(asdict(completion), sort_keys=True)),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
