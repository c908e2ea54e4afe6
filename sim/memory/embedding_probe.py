"""A small probe of whether an embedder understands rewording, for choosing one.

Eight memories and eight questions: each question means its memory but shares (almost) no
content word with it. `probe_hits(embedder)` counts the questions whose nearest memory is their
own. A lexical embedder finds few (matches are chance collisions); a sentence encoder most.
Measured here: hashing 2/8, MiniLM 7/8. Run it on any litellm embedding model before a long run.
"""

from __future__ import annotations

import numpy as np

from sim.memory.embeddings import Embedder

PROBE_DOCUMENTS = [
    "a0-7 gave nothing to me when I was the recipient",
    "I punished g1-a03 for refusing to share with others",
    "The bakery on the corner sells fresh bread every morning",
    "Maria is organising a birthday party at the cafe on Friday",
    "My resources doubled after a generous donation from a stranger",
    "The town council voted to build a new library next year",
    "I felt lonely walking home through the empty park at night",
    "Sam announced that he is running for mayor",
]
PROBE_QUERIES = [
    "who refused to donate to me?",
    "whom did I penalise for selfish behaviour?",
    "where can I buy a loaf?",
    "is there a celebration planned soon?",
    "did anyone help me become richer?",
    "what did local government decide about books?",
    "when did I feel isolated?",
    "who is standing in the election?",
]


def probe_hits(embedder: Embedder) -> int:
    """How many of the 8 reworded questions retrieve their own memory first."""
    documents, queries = embedder.embed(PROBE_DOCUMENTS), embedder.embed(PROBE_QUERIES)
    nearest = np.argmax(queries @ documents.T, axis=1)
    return int((nearest == np.arange(len(PROBE_QUERIES))).sum())
