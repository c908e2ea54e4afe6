"""Societas engine: worlds, agents, brains, the LLM gateway and the run store.

`sim._offline` runs first so that litellm, whenever it is imported later, is configured for
machines without internet.
"""

from sim import _offline  # noqa: F401  (must precede any litellm import)

__version__ = "0.1.0"
