"""Norm convergence in strategy texts: TF-IDF similarity and clusters with telling words.

When a population converges on a norm, its strategy texts start to read alike: similarity
within a generation rises, and each generation resembles the one before. Clusters of texts
name the competing norms by their most distinctive words, and their shares over generations
show which one spreads. TF-IDF with cosine similarity is used because it is transparent (a
shared rare word counts more than a shared common one) and needs no model download.

Both scale linearly with the number of texts (a population of 10,000 writes 10,000 a
generation): similarities between generations are computed from each generation's sum of
vectors, never from a matrix of all pairs, and clusters from the distinct vectors weighted by
how many texts share them (`analysis.metrics.clustering`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.metrics.clustering import cluster_rows

if TYPE_CHECKING:  # scikit-learn is imported on first use: a second of every figure command
    from sklearn.feature_extraction.text import TfidfVectorizer

#: Generic English stop words, except those that carry a strategy's meaning ("never punish",
#: "give nothing", "less than", "their last donation").
KEPT_WORDS = frozenset({
    "give", "keep", "never", "nothing", "always", "less", "more", "last", "most", "everything",
    "anyone", "none", "no", "not", "all", "least", "few", "fill", "back",
})
#: Words of two or more letters: numbers are left out, so two texts that differ only in their
#: parameters ("I give 40%" / "I give 55%") count as the same norm. Amounts are measured by the
#: scenario's own metrics; the texts are read for their rules.
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
_DIGITS = re.compile(r"\d+")  # a run of digits: never part of a token (see TOKEN_PATTERN)


@cache
def stop_words() -> list[str]:
    """scikit-learn's English stop words, less `KEPT_WORDS`."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS - KEPT_WORDS)


def vectorizer() -> TfidfVectorizer:
    """The TF-IDF settings used throughout (sklearn defaults otherwise: smooth idf, l2 rows)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words=stop_words(), token_pattern=TOKEN_PATTERN)


def tfidf(texts: Sequence[str]) -> tuple[sparse.csr_matrix, list[str]]:
    """L2-normalised TF-IDF rows (sparse) and the vocabulary, as `vectorizer()` computes them
    on `texts`; no rows of words gives a 0-column matrix.

    Computed once per distinct text (numbers, which the tokens skip, read alike: a rule's
    mutated copies are one text), with the document frequencies of all texts, so a large
    population costs what its few distinct texts cost.
    """
    matrix, inverse, vocabulary = distinct_tfidf(texts)
    return sparse.csr_matrix(matrix[inverse]), vocabulary


def distinct_tfidf(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray, list[str]]:
    """`tfidf` of the distinct texts only: (their rows, each text's row, the vocabulary)."""
    raw = [str(text) for text in texts]
    normal = {text: _DIGITS.sub("0", text) for text in dict.fromkeys(raw)}
    index: dict[str, int] = {}
    inverse = np.array([index.setdefault(normal[text], len(index)) for text in raw], dtype=int)
    distinct = list(index)
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    model = vectorizer()
    counter = CountVectorizer(stop_words=model.stop_words, token_pattern=model.token_pattern)
    try:
        counts = sparse.csr_matrix(counter.fit_transform(distinct), dtype=float)
    except ValueError:  # nothing but stop words and numbers: no vocabulary
        return sparse.csr_matrix((len(distinct), 0)), inverse, []
    # sklearn's smooth idf over every text: ln((1 + n) / (1 + df)) + 1, then l2 rows
    weights = np.bincount(inverse, minlength=len(distinct)).astype(float)
    frequency = sparse.csr_matrix(weights) @ (counts > 0).astype(float)
    idf = np.log((1 + len(raw)) / (1 + frequency.toarray().ravel())) + 1
    matrix = normalize(counts.multiply(idf).tocsr(), norm="l2")
    return sparse.csr_matrix(matrix), inverse, list(counter.get_feature_names_out())


def strategies_in_force(strategies: pd.DataFrame, generation_scores: pd.DataFrame) -> pd.DataFrame:
    """Every agent's strategy text in every generation it lived (survivors keep theirs).

    Columns generation, agent_id, kind, text. The `strategies` table holds each text once, in
    the generation it was written; the population's norms in a generation also include the
    survivors' older texts. Without `generation_scores` (a run stopped in its first
    generation) the written texts are all there is.
    """
    texts = strategies[["agent_id", "text"]]
    if generation_scores.empty:
        frame = strategies.assign(kind="")
        return frame[["generation", "agent_id", "kind", "text"]].reset_index(drop=True)
    alive = generation_scores[["generation", "agent_id", "kind"]]
    frame = alive.merge(texts, on="agent_id", how="inner")
    frame = frame.astype({"generation": int}).sort_values(["generation", "agent_id"])
    return frame[["generation", "agent_id", "kind", "text"]].reset_index(drop=True)


def similarity_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean cosine similarity of TF-IDF vectors between and within generations.

    `frame` has columns generation and text. Entry (g, h) is the mean similarity over pairs of
    one text of g and one of h; on the diagonal only distinct texts' pairs (i < j) count, so a
    text is not compared with itself (NaN for a generation of one text). The IDF is fitted on
    all texts of `frame`.
    """
    generations = sorted(int(g) for g in frame["generation"].unique())
    matrix, _ = tfidf(frame["text"].tolist())
    where = frame["generation"].astype(int).to_numpy()
    # Per generation: n texts, the sum S of their vectors and the sum of their squared norms
    # (1 per text with words, 0 for one without). Mean similarity between generations g and h
    # is S_g·S_h / (n_g n_h); within g over distinct pairs, (S_g·S_g - squares) / (n(n - 1)).
    member = sparse.csr_matrix((np.ones(len(where)), (np.searchsorted(generations, where),
                                                       np.arange(len(where)))),
                               shape=(len(generations), len(where)))
    sums = (member @ matrix).toarray()
    counts = np.asarray(member.sum(axis=1)).ravel()
    squares = member @ np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    dots = sums @ sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        means = dots / np.outer(counts, counts)
        within = (np.diag(dots) - squares) / (counts * (counts - 1))
    means[np.diag_indices_from(means)] = np.where(counts > 1, within, np.nan)
    result = pd.DataFrame(means, index=generations, columns=generations)
    result.index.name = "generation"
    return result


def text_convergence(frame: pd.DataFrame) -> pd.DataFrame:
    """Per generation: texts, within (diagonal), to_previous and to_first generation similarity.

    Read from `similarity_matrix(frame)`; a converging population shows `within` rising and
    `to_previous` approaching `within`.
    """
    matrix = similarity_matrix(frame)
    generations = list(matrix.index)
    counts = frame.groupby(frame["generation"].astype(int)).size()
    first = generations[0] if generations else None
    rows = {
        g: {
            "texts": int(counts.get(g, 0)),
            "within": matrix.loc[g, g],
            "to_previous": matrix.loc[g, generations[i - 1]] if i > 0 else np.nan,
            "to_first": matrix.loc[g, first] if i > 0 else np.nan,
        }
        for i, g in enumerate(generations)
    }
    result = pd.DataFrame.from_dict(rows, orient="index",
                                    columns=["texts", "within", "to_previous", "to_first"])
    result.index.name = "generation"
    return result


@dataclass(frozen=True)
class Clusters:
    """Strategy texts grouped by TF-IDF similarity; cluster 0 is the largest.

    labels: the cluster of each text, in input order; words: each cluster's most telling words
    (most distinctive first); sizes: texts per cluster.
    """

    labels: np.ndarray
    words: list[list[str]]
    sizes: list[int]
    #: True when there were more distinct texts than are clustered exactly
    #: (`clustering.MAX_DISTINCT`): the rest joined the cluster they are closest to on average.
    approximate: bool = False

    @property
    def k(self) -> int:
        return len(self.sizes)

    def names(self, n_words: int = 3) -> list[str]:
        """Readable cluster names for legends: '1: punish, stingy, record'.

        A name whose first `n_words` words repeat another cluster's takes more of its words,
        so no two legend entries read the same.
        """
        names = []
        for i, words in enumerate(self.words):
            count = n_words
            while count < len(words) and any(
                words[:count] == other[:count] for j, other in enumerate(self.words) if j != i
            ):
                count += 1
            names.append(f"{i + 1}: {', '.join(words[:count]) or '(no words)'}")
        return names


def telling_words(matrix: np.ndarray | sparse.spmatrix, vocabulary: list[str],
                  members: np.ndarray, n_words: int = 5,
                  weights: np.ndarray | None = None) -> list[str]:
    """Words whose mean TF-IDF inside the cluster most exceeds their mean outside it.

    Words common to every strategy ("resources") score near 0 and drop out, so the words left
    are those that tell this cluster from the others. Ties go alphabetically. With `weights`,
    each row stands for that many texts.
    """
    weights = np.ones(matrix.shape[0]) if weights is None else np.asarray(weights, float)

    def mean(rows: np.ndarray) -> np.ndarray:
        if not rows.any():
            return np.zeros(matrix.shape[1])
        return np.asarray(weights[rows] @ matrix[rows]).ravel() / weights[rows].sum()

    score = mean(members) - mean(~members)
    order = sorted(range(len(vocabulary)), key=lambda j: (-round(score[j], 12), vocabulary[j]))
    return [vocabulary[j] for j in order[:n_words] if score[j] > 1e-12]


def strategy_clusters(
    texts: Sequence[str], k: int | None = None, *, min_similarity: float = 0.5,
    n_words: int = 5,
) -> Clusters:
    """Groups of similar strategy texts, numbered by size, with their telling words.

    Average-linkage agglomerative clustering on the cosine distance of TF-IDF vectors: with
    `k` None, clusters are merged while the mean similarity between their texts is at least
    `min_similarity`, so the number of norms is found, not chosen; with `k` there are `k`
    clusters (fewer when fewer texts differ: identical texts are never split). Deterministic
    (no random start), and near-duplicate texts such as a rule's mutated copies always share
    a cluster. Texts with the same TF-IDF vector are clustered
    once, weighted by their number (the same clusters, in linear time); beyond
    `clustering.MAX_DISTINCT` distinct vectors the rest join their closest cluster
    (`Clusters.approximate`).
    """
    matrix, inverse, vocabulary = distinct_tfidf(texts)
    n = len(inverse)
    if n == 0:
        return Clusters(np.zeros(0, dtype=int), [], [])
    weights = np.bincount(inverse, minlength=matrix.shape[0]).astype(float)
    approximate = False
    if n == 1 or not vocabulary or k == 1:
        distinct = np.zeros(matrix.shape[0], dtype=int)
    else:
        distinct, approximate = cluster_rows(matrix, weights, k=k,
                                             max_distance=1.0 - min_similarity)
    raw = distinct[inverse]
    # renumber by size (largest first), ties by first appearance, so names are stable
    sizes_raw = np.bincount(raw)
    first_seen = {int(c): i for i, c in reversed(list(enumerate(raw)))}
    present = sorted(first_seen, key=lambda c: (-sizes_raw[c], first_seen[c]))
    renumber = np.zeros(len(sizes_raw), dtype=int)
    renumber[present] = np.arange(len(present))
    labels = renumber[raw]
    words = [telling_words(matrix, vocabulary, renumber[distinct] == c, n_words, weights)
             for c in range(len(present))]
    sizes = [int((labels == c).sum()) for c in range(len(present))]
    return Clusters(labels, words, sizes, approximate)


def cluster_shares(generations: Sequence[int] | pd.Series, labels: np.ndarray) -> pd.DataFrame:
    """Share of each generation's texts in each cluster (rows: generation, columns: cluster)."""
    frame = pd.DataFrame({"generation": np.asarray(generations, dtype=int),
                          "cluster": np.asarray(labels, dtype=int)})
    counts = pd.crosstab(frame["generation"], frame["cluster"])
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns.name = "cluster"
    return shares
