"""The response cache: the successful model replies a run received, so it can be replayed.

Keyed by everything that can change a reply (the model string, its normalised endpoint
`api_base`, the sampling settings sent, the response format and the messages; see
`LLMSettings.reply_identity`) *and* by who asked it within which run (seed, agent, the agent's
call ordinal). Two agents sending the same prompt are still independent samples, while
re-running the same run against the same endpoint hits the cache for every call. The API key
is not part of the key, not even hashed: a key does not change what a model answers, and a
replay must work offline without the secret.

Only successful replies are stored, and the cache never answers with a failure: an outage, a
missing key or a server that has since recovered must not come back as cached fallbacks. What a
run's failures were is kept in its store (`llm_calls`), which is where a resume reads them.

By default each run directory has its own cache (`RUN_DIR/responses.sqlite`), so a run
directory can be replayed on its own and copied anywhere; `--cache FILE` shares one between
runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sim.llm.outcomes import Completion

CACHE_FILENAME = "responses.sqlite"


class CacheMiss(LookupError):
    """A replay-only run needed a reply that is not in the cache."""


def request_key(
    *,
    settings: dict[str, Any],
    messages: list[dict[str, Any]],
    response_format: dict[str, Any] | None,
    seed: int | None,
    agent: str,
    ordinal: str | int,
) -> str:
    """A stable hash of a request's content and its identity within a run.

    `settings` is `LLMSettings.reply_identity()`: model, normalised api_base and every sampling
    setting sent with the request.
    """
    payload = {
        "settings": settings,
        "messages": messages,
        "response_format": response_format,
        "seed": seed,
        "agent": agent,
        "ordinal": ordinal,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Get and put `Completion`s by request key; writes are durable at once.

    The file is opened on first use, so a run that asks no model (rule brains only) leaves none.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened (lazily) and used from the gateway's event-loop thread
            # (sim.llm.event_loop); the thread that made the cache only closes it, never at the
            # same time.
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, model TEXT, completion TEXT)"
            )
        return self._conn

    def get(self, key: str) -> Completion | None:
        """The stored reply, or None; a failure left by an older version is not an answer."""
        row = self._db.execute(
            "SELECT completion FROM responses WHERE key = ?", (key,)
        ).fetchone()
        completion = None if row is None else Completion(**json.loads(row[0]))
        if completion is None or completion.text is None:
            self.misses += 1
            return None
        self.hits += 1
        return completion

    def put(self, key: str, model: str, completion: Completion) -> None:
        if completion.text is None:
            raise ValueError("only successful replies are cached")
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, completion) VALUES (?, ?, ?)",
            (key, model, json.dumps(asdict(completion), sort_keys=True)),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close, leaving one self-contained file when no other process has the cache open."""
        if self._conn is None:
            return
        # a shared cache still in use elsewhere keeps its WAL until the others are done
        with contextlib.suppress(sqlite3.OperationalError):
            self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.close()
        self._conn = None
