"""Norm convergence in strategy texts: TF-IDF similarity and clusters with telling words.

When a population converges on a norm, its strategy texts start to read alike: similarity
within a generation rises, and each generation resembles the one before. Clusters of texts
name the competing norms by their most distinctive words, and their shares over generations
show which one spreads. TF-IDF with cosine similarity is used because it is transparent (a
shared rare word counts more than a shared common one) and needs no model download.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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


@cache
def stop_words() -> list[str]:
    """scikit-learn's English stop words, less `KEPT_WORDS`."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS - KEPT_WORDS)


def vectorizer() -> TfidfVectorizer:
    """The TF-IDF settings used throughout (sklearn defaults otherwise: smooth idf, l2 rows)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(stop_words=stop_words(), token_pattern=TOKEN_PATTERN)


def tfidf(texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """L2-normalised TF-IDF rows and the vocabulary; no rows of words gives a 0-column matrix."""
    model = vectorizer()
    try:
        matrix = model.fit_transform(list(texts)).toarray()
    except ValueError:  # nothing but stop words and numbers: no vocabulary
        return np.zeros((len(texts), 0)), []
    return matrix, list(model.get_feature_names_out())


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
    cosine = matrix @ matrix.T
    where = frame["generation"].astype(int).to_numpy()
    result = pd.DataFrame(np.nan, index=generations, columns=generations)
    for g in generations:
        rows = np.flatnonzero(where == g)
        for h in generations:
            cols = np.flatnonzero(where == h)
            block = cosine[np.ix_(rows, cols)]
            if g == h:
                upper = block[np.triu_indices(len(rows), k=1)]
                result.loc[g, h] = upper.mean() if upper.size else np.nan
            else:
                result.loc[g, h] = block.mean()
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


def telling_words(matrix: np.ndarray, vocabulary: list[str], members: np.ndarray,
                  n_words: int = 5) -> list[str]:
    """Words whose mean TF-IDF inside the cluster most exceeds their mean outside it.

    Words common to every strategy ("resources") score near 0 and drop out, so the words left
    are those that tell this cluster from the others. Ties go alphabetically.
    """
    inside = matrix[members].mean(axis=0)
    outside = matrix[~members].mean(axis=0) if (~members).any() else np.zeros_like(inside)
    score = inside - outside
    order = sorted(range(len(vocabulary)), key=lambda j: (-round(score[j], 12), vocabulary[j]))
    return [vocabulary[j] for j in order[:n_words] if score[j] > 1e-12]


def strategy_clusters(
    texts: Sequence[str], k: int | None = None, *, min_similarity: float = 0.5,
    n_words: int = 5,
) -> Clusters:
    """Groups of similar strategy texts, numbered by size, with their telling words.

    Average-linkage agglomerative clustering on the cosine distance of TF-IDF vectors: with
    `k` None, clusters are merged while the mean similarity between their texts is at least
    `min_similarity`, so the number of norms is found, not chosen; with `k` there are exactly
    `k` clusters. Deterministic (no random start), and near-duplicate texts such as a rule's
    mutated copies always share a cluster.
    """
    matrix, vocabulary = tfidf(texts)
    n = matrix.shape[0]
    if n == 0:
        return Clusters(np.zeros(0, dtype=int), [], [])
    if n == 1 or not vocabulary or k == 1:
        raw = np.zeros(n, dtype=int)
    else:
        options = ({"n_clusters": min(k, n)} if k is not None
                   else {"n_clusters": None, "distance_threshold": 1.0 - min_similarity})
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(metric="cosine", linkage="average", **options)
        raw = model.fit_predict(matrix)
    # renumber by size (largest first), ties by first appearance, so names are stable
    present = sorted(set(raw), key=lambda c: (-(raw == c).sum(), int(np.argmax(raw == c))))
    labels = np.array([present.index(c) for c in raw], dtype=int)
    words = [telling_words(matrix, vocabulary, labels == c, n_words) for c in range(len(present))]
    sizes = [int((labels == c).sum()) for c in range(len(present))]
    return Clusters(labels, words, sizes)


def cluster_shares(generations: Sequence[int] | pd.Series, labels: np.ndarray) -> pd.DataFrame:
    """Share of each generation's texts in each cluster (rows: generation, columns: cluster)."""
    frame = pd.DataFrame({"generation": np.asarray(generations, dtype=int),
                          "cluster": np.asarray(labels, dtype=int)})
    counts = pd.crosstab(frame["generation"], frame["cluster"])
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns.name = "cluster"
    return shares
