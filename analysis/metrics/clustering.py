"""Average-linkage clustering of strategy texts that stays fast for large populations.

A population of 10,000 rule agents writes 10,000 texts per generation, but only a handful of
different ones once numbers are ignored (TF-IDF skips them): a rule's mutated copies differ
only in their parameters. Clustering every text would cost memory and time quadratic in the
number of texts (a 30,000 × 30,000 distance matrix is 7 GB); clustering the distinct TF-IDF
vectors, each weighted by how many texts share it, gives exactly the same clusters, because
identical texts are at distance 0 and average linkage between two groups is the mean over all
pairs of their members, which weights carry (`average_linkage`).

Beyond `MAX_DISTINCT` distinct vectors (thousands of different LLM texts), the most frequent
`MAX_DISTINCT` are clustered and every other text joins the cluster it is most similar to on
average: linear in the number of texts, and said so by `Clusters.approximate`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

#: Most distinct vectors clustered exactly (a distance matrix of 2,000² is 32 MB).
MAX_DISTINCT = 2000


def distinct_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a sparse matrix: (index of each distinct row's first occurrence,
    in order of first occurrence; each row's distinct index; how many rows share each)."""
    matrix = sparse.csr_matrix(matrix)
    matrix.sort_indices()
    seen: dict[tuple, int] = {}
    first: list[int] = []
    inverse = np.empty(matrix.shape[0], dtype=int)
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        key = (matrix.indices[start:end].tobytes(), np.round(matrix.data[start:end], 12).tobytes())
        index = seen.setdefault(key, len(first))
        if index == len(first):
            first.append(i)
        inverse[i] = index
    counts = np.bincount(inverse, minlength=len(first))
    return np.asarray(first, dtype=int), inverse, counts


def average_linkage(vectors: np.ndarray, weights: np.ndarray) -> list[tuple[int, int, float]]:
    """The merges of weighted average-linkage clustering on cosine distance, as (kept, merged,
    distance); `vectors` are L2-normalised rows (or zero rows), each standing for `weights` of
    identical points.

    Nearest-neighbour chain (average linkage is reducible, so the chain finds the same
    dendrogram as merging the closest pair each time): O(m²) time and memory for m rows.
    """
    m = len(vectors)
    if m < 2:
        return []
    distance = 1.0 - vectors @ vectors.T
    np.clip(distance, 0.0, 2.0, out=distance)
    np.fill_diagonal(distance, np.inf)
    size = np.asarray(weights, dtype=float).copy()
    active = np.ones(m, dtype=bool)
    merges: list[tuple[int, int, float]] = []
    chain: list[int] = []
    while len(merges) < m - 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        b = int(np.argmin(distance[a]))
        if len(chain) > 1 and distance[a, chain[-2]] <= distance[a, b]:
            b = chain[-2]  # ties go back down the chain, so it always ends
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            merges.append((a, b, float(distance[a, b])))
            joined = (size[a] * distance[a] + size[b] * distance[b]) / (size[a] + size[b])
            distance[a, :] = joined
            distance[:, a] = joined
            distance[b, :] = np.inf
            distance[:, b] = np.inf
            distance[a, a] = np.inf
            size[a] += size[b]
            active[b] = False
        else:
            chain.append(b)
    return merges


def flat_clusters(m: int, merges: list[tuple[int, int, float]], *, k: int | None = None,
                  max_distance: float | None = None) -> np.ndarray:
    """Cluster of each of `m` rows after the merges closer than `max_distance`, or after all
    but the last k - 1 merges (merges are applied closest first)."""
    parent = list(range(m))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ordered = sorted(merges, key=lambda merge: merge[2])
    if k is not None:
        ordered = ordered[: max(m - k, 0)]
    else:
        ordered = [merge for merge in ordered if merge[2] < (max_distance or 0.0)]
    for a, b, _ in ordered:
        parent[root(b)] = root(a)
    roots = [root(i) for i in range(m)]
    numbering = {r: i for i, r in enumerate(dict.fromkeys(roots))}
    return np.array([numbering[r] for r in roots], dtype=int)


def cluster_rows(matrix: sparse.csr_matrix, weights: np.ndarray | None = None, *,
                 k: int | None, max_distance: float) -> tuple[np.ndarray, bool]:
    """Each row's raw cluster, each row standing for `weights` identical texts (default 1),
    clustering distinct rows weighted by their counts; and whether the result is approximate
    (more than `MAX_DISTINCT` distinct rows)."""
    first, inverse, _ = distinct_rows(matrix)
    weights = np.ones(matrix.shape[0]) if weights is None else np.asarray(weights, float)
    counts = np.bincount(inverse, weights=weights, minlength=len(first))
    vectors = matrix[first].toarray()
    m = len(first)
    approximate = m > MAX_DISTINCT
    core = np.arange(m)
    if approximate:  # the most frequent rows, ties by first appearance
        core = np.sort(np.argsort(-counts, kind="stable")[:MAX_DISTINCT])
    merges = average_linkage(vectors[core], counts[core])
    labels = flat_clusters(len(core), merges, k=k, max_distance=max_distance)
    distinct = np.full(m, -1, dtype=int)
    distinct[core] = labels
    if approximate:
        n_clusters = int(labels.max()) + 1
        sums = np.zeros((n_clusters, vectors.shape[1]))
        np.add.at(sums, labels, vectors[core] * counts[core, None])
        totals = np.bincount(labels, weights=counts[core], minlength=n_clusters)
        rest = np.flatnonzero(distinct < 0)
        mean_similarity = (vectors[rest] @ sums.T) / totals  # to each cluster, on average
        distinct[rest] = np.argmax(mean_similarity, axis=1)
    return distinct[inverse], approximate
