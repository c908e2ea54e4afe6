"""The memory stream: retrieval scores pinned to hand-computed values, reflection exactly at its
threshold with evidence that resolves, access refresh, determinism, persistence, inheritance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from sim.agent import SimAgent
from sim.brains import RuleBrain
from sim.memory import (
    MEMORY_TABLES,
    MemoryBank,
    MemoryConfig,
    NewMemory,
    decode_embedding,
)
from sim.memory.embeddings import HashingEmbedder
from sim.memory.inheritance import inherit
from sim.memory.reflection import maybe_reflect, reflect, remember
from sim.memory.retrieval import RetrievalWeights, min_max, score, top_k
from sim.memory.tasks import KeywordImportance, MemoryContext, MemoryRules
from sim.store import RunStore, snapshot
from sim.world import World


class TableEmbedder:
    """Fixed 2-d unit vectors per text, so cosines are known by hand."""

    name = "table-2d"
    dim = 2

    def __init__(self, table: dict[str, tuple[float, float]]) -> None:
        self.table = table

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.table[t] for t in texts], dtype=np.float32).reshape(-1, 2)


VECTORS = {
    "alpha": (1.0, 0.0),
    "beta": (0.0, 1.0),
    "gamma": (0.6, 0.8),
    "delta": (0.8, 0.6),
    "query": (1.0, 0.0),
}


def small_stream(decay: float = 0.5, hours_per_time_unit: float = 1.0) -> MemoryBank:
    """alpha@t0 imp 2, beta@t1 imp 8, gamma@t2 imp 5, delta@t3 imp 4 (ids 0..3)."""
    config = MemoryConfig(recency_decay=decay, hours_per_time_unit=hours_per_time_unit)
    bank = MemoryBank(TableEmbedder(VECTORS), config)
    for t, (text, importance) in enumerate([("alpha", 2), ("beta", 8), ("gamma", 5),
                                            ("delta", 4)]):
        bank.add("ann", text, kind="observation", importance=importance, now=float(t))
    return bank


# ----------------------------------------------------------------------------- retrieval


def test_retrieval_scores_match_hand_computation() -> None:
    bank = small_stream(decay=0.5)
    hits = bank.retrieve("ann", "query", now=3.0, k=4)
    by_text = {h.record.text: h for h in hits}
    # Hours since last access at t=3: alpha 3, beta 2, gamma 1, delta 0.
    # recency = 0.5**h = 0.125, 0.25, 0.5, 1; min-max over [0.125, 1] (range 0.875):
    #   alpha 0, beta 0.125/0.875 = 1/7, gamma 0.375/0.875 = 3/7, delta 1.
    # importance 2, 8, 5, 4; min-max over [2, 8] (range 6): 0, 1, 3/6 = 0.5, 2/6 = 1/3.
    # relevance = cos(record, query=(1,0)) = 1, 0, 0.6, 0.8; min-max over [0, 1]: unchanged.
    # total (all weights 1): alpha 0+0+1 = 1; beta 1/7+1+0 = 8/7;
    #   gamma 3/7+0.5+0.6 = 1.528571...; delta 1+1/3+0.8 = 2.133333...
    expected = {
        "alpha": (0.0, 0.0, 1.0, 1.0),
        "beta": (1 / 7, 1.0, 0.0, 8 / 7),
        "gamma": (3 / 7, 0.5, 0.6, 3 / 7 + 0.5 + 0.6),
        "delta": (1.0, 1 / 3, 0.8, 1 + 1 / 3 + 0.8),
    }
    for text, (rec, imp, rel, total) in expected.items():
        hit = by_text[text]
        assert hit.recency == pytest.approx(rec, abs=1e-12)
        assert hit.importance == pytest.approx(imp, abs=1e-12)
        assert hit.relevance == pytest.approx(rel, abs=1e-7)  # float32 cosine
        assert hit.score == pytest.approx(total, abs=1e-7)
    assert [h.record.text for h in hits] == ["delta", "gamma", "beta", "alpha"]
    assert [h.rank for h in hits] == [0, 1, 2, 3]


def test_weights_change_the_ranking_as_computed() -> None:
    config = MemoryConfig(recency_decay=0.5, recency_weight=0.0, importance_weight=2.0,
                          relevance_weight=1.0)
    bank = MemoryBank(TableEmbedder(VECTORS), config)
    for t, (text, importance) in enumerate([("alpha", 2), ("beta", 8), ("gamma", 5),
                                            ("delta", 4)]):
        bank.add("ann", text, kind="observation", importance=importance, now=float(t))
    hits = bank.retrieve("ann", "query", now=3.0, k=4)
    # 0*recency + 2*importance + relevance: alpha 0+1 = 1; beta 2+0 = 2; gamma 1+0.6 = 1.6;
    # delta 2/3+0.8 = 1.4667.
    assert [h.record.text for h in hits] == ["beta", "gamma", "delta", "alpha"]
    assert [h.score for h in hits] == pytest.approx([2.0, 1.6, 2 / 3 + 0.8, 1.0], abs=1e-7)


def test_paper_decay_with_a_time_unit_of_one_day() -> None:
    # One SimPy unit = 24 simulated hours; decay 0.995 per hour.
    bank = small_stream(decay=0.995, hours_per_time_unit=24.0)
    hits = {h.record.text: h for h in bank.retrieve("ann", None, now=3.0, k=4)}
    # recency = 0.995**(24*days): days 3, 2, 1, 0.
    raw = [0.995 ** 72, 0.995 ** 48, 0.995 ** 24, 1.0]
    low, high = raw[0], raw[-1]
    for text, value in zip(["alpha", "beta", "gamma", "delta"], raw, strict=True):
        assert hits[text].recency == pytest.approx((value - low) / (high - low), abs=1e-12)
        assert hits[text].relevance == 0.5  # no query: the component is flat


def test_retrieval_refreshes_access_time_and_changes_later_recency() -> None:
    bank = small_stream(decay=0.5)
    top = bank.retrieve("ann", "query", now=3.0, k=2)
    assert [h.record.text for h in top] == ["delta", "gamma"]
    assert bank.last_access(2) == 3.0 and bank.last_access(3) == 3.0
    assert bank.last_access(0) == 0.0 and bank.last_access(1) == 1.0
    hits = {h.record.text: h for h in bank.retrieve("ann", "query", now=5.0, k=4)}
    # Hours since access at t=5: alpha 5, beta 4, gamma 2 (refreshed at 3), delta 2.
    # recency 1/32, 1/16, 1/4, 1/4 -> min-max over [1/32, 1/4] (range 7/32): 0, 1/7, 1, 1.
    assert hits["alpha"].recency == pytest.approx(0.0)
    assert hits["beta"].recency == pytest.approx(1 / 7)
    assert hits["gamma"].recency == pytest.approx(1.0)
    assert hits["delta"].recency == pytest.approx(1.0)
    assert all(bank.last_access(i) == 5.0 for i in range(4))


def test_equal_scores_break_ties_by_id_and_flat_components_score_half() -> None:
    bank = MemoryBank(TableEmbedder(VECTORS), MemoryConfig())
    bank.add_many([NewMemory("bo", "alpha", "observation", 5)] * 3, now=0.0)
    hits = bank.retrieve("bo", "query", now=1.0, k=2)
    assert [h.record.memory_id for h in hits] == [0, 1]
    assert [h.score for h in hits] == [1.5, 1.5]  # every component flat: 0.5 each


def test_top_k_is_independent_of_storage_order() -> None:
    rng = np.random.default_rng(7)
    total = np.round(rng.random(500), 2)  # many exact ties
    ids = rng.permutation(500)
    chosen = top_k(total, ids, 25)
    expected = sorted(range(500), key=lambda i: (-total[i], ids[i]))[:25]
    assert chosen.tolist() == expected


def test_score_function_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(3)
    hours, importance, relevance = rng.random(50) * 100, rng.integers(1, 11, 50), rng.random(50)
    weights = RetrievalWeights(1.0, 0.5, 2.0, 0.99)
    s = score(hours, importance, relevance, weights)
    rec = [0.99 ** h for h in hours]
    norm = [min_max(np.array(x)) for x in (rec, importance, relevance)]
    for i in range(50):
        assert s.total[i] == pytest.approx(norm[0][i] + 0.5 * norm[1][i] + 2.0 * norm[2][i])


def test_kind_filter_and_empty_streams() -> None:
    bank = small_stream()
    bank.add("ann", "beta", kind="plan", importance=3, now=4.0)
    hits = bank.retrieve("ann", "query", now=4.0, k=10, kinds=["plan"])
    assert [h.record.kind for h in hits] == ["plan"]
    assert bank.retrieve("nobody", "query", now=0.0) == []


def test_invalid_records_are_refused() -> None:
    bank = small_stream()
    with pytest.raises(ValueError, match="importance"):
        bank.add("ann", "alpha", kind="observation", importance=11, now=0.0)
    with pytest.raises(ValueError, match="kind"):
        bank.add("ann", "alpha", kind="dream", importance=3, now=0.0)
    with pytest.raises(ValueError, match="evidence"):
        bank.add("ann", "alpha", kind="reflection", importance=3, now=0.0, evidence=[99])


# ----------------------------------------------------------------------------- reflection


class Policy:
    """Rule brains need a policy object; memory tasks answer from `MemoryRules` instead."""

    family = "memory-test"


def numbered_importance(text: str, kind: str) -> int:
    """Test rule: the importance is the number a text ends with ('met a1 7' -> 7)."""
    return int(text.rsplit(" ", 1)[-1])


def make_world(store: RunStore | None = None, *, threshold: float = 20, embedder=None):
    world = World(seed=0, store=store)
    config = MemoryConfig(reflection_threshold=threshold, focal_questions=2,
                          evidence_per_question=3)
    bank = MemoryBank(embedder or HashingEmbedder(), config, store)
    context = MemoryContext(config=config, rules=MemoryRules(importance=numbered_importance))
    agent = SimAgent(world, name="a0", brain=RuleBrain(Policy()))
    return world, bank, context, agent


EVENTS = ["a1 gave nothing to me 7", "a2 donated half to me 7", "a1 punished a3 5",
          "I refused a1 1", "a2 thanked me 6", "a1 betrayed a2 9", "a3 met a2 4"]


def live(world, bank, context, agent, events=EVENTS, log=None):
    """One event per time unit; reflect whenever the threshold is reached."""
    def process():
        for text in events:
            yield from remember(bank, agent, [text], context=context)
            written = yield from maybe_reflect(bank, agent, context=context)
            if log is not None:
                log.append((world.env.now, text, [r.memory_id for r in written]))
            yield world.env.timeout(1)
    world.process(process())
    world.run()


def test_reflection_is_written_exactly_when_the_threshold_is_reached() -> None:
    world, bank, context, agent = make_world(threshold=20)
    log: list = []
    live(world, bank, context, agent, log=log)
    # Counted importance: 7, 14, 19 (< 20: nothing), then 20 at "I refused a1 1": reflect.
    # After it: 6, 15, 19 (< 20): no second reflection.
    reflected = [text for _, text, written in log if written]
    assert reflected == ["I refused a1 1"]
    assert [len(written) for _, _, written in log[:3]] == [0, 0, 0]
    stream = bank.stream("a0")
    assert stream.importance_since_reflection == 6 + 9 + 4
    reflections = stream.of_kind("reflection")
    assert len(reflections) == 2  # one insight per focal question (rule brain)
    for record in reflections:
        assert record.created == 3.0 and record.evidence
        for evidence_id in record.evidence:
            assert evidence_id in bank
            assert bank.get(evidence_id).created <= record.created
    # Rule questions: subjects voted by importance among records with importance >= 5:
    # a1 (7+5) = 12, a2 7, a3 5 -> "a1" and "a2".
    assert [r.text.split("?")[0] for r in reflections] == ["What do I know about a1",
                                                          "What do I know about a2"]


def test_threshold_boundary_not_before() -> None:
    world, bank, context, agent = make_world(threshold=20)
    log: list = []
    live(world, bank, context, agent, events=["a1 a 10", "a1 b 9"], log=log)
    assert all(not written for _, _, written in log)  # 19 < 20
    assert bank.stream("a0").importance_since_reflection == 19


def test_reflection_rows_and_evidence_resolve_in_the_store(tmp_path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    world, bank, context, agent = make_world(store, threshold=20)
    live(world, bank, context, agent)
    store.commit()
    dangling = store.rows(
        "SELECT e.memory_id, e.evidence_id FROM memory_evidence e "
        "LEFT JOIN memories m ON m.memory_id = e.evidence_id WHERE m.memory_id IS NULL"
    )
    assert dangling == []
    kinds = store.rows("SELECT DISTINCT m.kind FROM memory_evidence e "
                       "JOIN memories m ON m.memory_id = e.memory_id")
    assert kinds == [("reflection",)]
    assert store.rows("SELECT owner, sim_time, importance FROM memory_reflections") == [
        ("a0", 3.0, 20.0)
    ]
    tasks = [t for (t,) in store.rows("SELECT task FROM decisions ORDER BY request_id")]
    assert tasks.count("rate_importance") == len(EVENTS)
    assert tasks.count("focal_questions") == 1 and tasks.count("write_insights") == 2
    store.close()


def test_reflect_with_no_memories_consumes_nothing_and_writes_nothing() -> None:
    world, bank, context, agent = make_world()
    out = []

    def process():
        out.append((yield from reflect(bank, agent, context=context)))

    world.process(process())
    world.run()
    assert out == [[]]
    assert not bank.stream("a0").reflecting


def test_keyword_importance_table() -> None:
    rate = KeywordImportance({"punished": 8, "gave nothing": 6}, default=2)
    assert rate("a1 Punished me") == 8
    assert rate("a1 gave nothing, then punished a2") == 8
    assert rate("a1 gave NOTHING") == 6
    assert rate("a sunny day") == 2


# ----------------------------------------------------------------------------- determinism


def run_to_store(path) -> RunStore:
    store = RunStore(path)
    world, bank, context, agent = make_world(store, threshold=20)
    live(world, bank, context, agent)
    bank.retrieve("a0", "who betrayed whom?", now=world.env.now)
    store.commit()
    return store


def memory_tables(path) -> dict:
    tables = snapshot(path)
    return {name: tables[name] for name in MEMORY_TABLES}


def test_same_inputs_give_identical_memory_tables(tmp_path) -> None:
    run_to_store(tmp_path / "a.sqlite").close()
    run_to_store(tmp_path / "b.sqlite").close()
    first, second = memory_tables(tmp_path / "a.sqlite"), memory_tables(tmp_path / "b.sqlite")
    assert first == second
    assert len(first["memories"]) == len(EVENTS) + 2 and first["memory_access"]


def test_reexecution_in_catch_up_mode_matches_the_stored_checkpoints(tmp_path) -> None:
    """The store resumes by re-executing and comparing digests: memory rows must agree."""
    run_to_store(tmp_path / "run.sqlite").close()
    store = RunStore(tmp_path / "run.sqlite")
    assert store.start_catch_up() >= 1
    world, bank, context, agent = make_world(store, threshold=20)
    live(world, bank, context, agent)
    bank.retrieve("a0", "who betrayed whom?", now=world.env.now)
    store.commit()  # raises ResumeDiverged if any memory row differed
    store.close()


def test_store_round_trip_rebuilds_the_streams(tmp_path) -> None:
    store = run_to_store(tmp_path / "run.sqlite")
    # The bank that wrote the store lives inside run_to_store; rebuild a reference by
    # running the same events again (deterministic), then compare it with the loaded one.
    world, original, context, agent = make_world(None, threshold=20)
    live(world, original, context, agent)
    original.retrieve("a0", "who betrayed whom?", now=world.env.now)
    loaded = MemoryBank.load(store, HashingEmbedder(), original.config)
    a, b = original.stream("a0"), loaded.stream("a0")
    assert a.records == b.records
    for record in a.records:
        assert np.array_equal(original.vector(record.memory_id), loaded.vector(record.memory_id))
        assert original.last_access(record.memory_id) == loaded.last_access(record.memory_id)
    assert a.importance_since_reflection == b.importance_since_reflection
    assert len(loaded) == len(original)
    first = original.retrieve("a0", "a2 thanked me", now=20.0, k=5)
    again = loaded.retrieve("a0", "a2 thanked me", now=20.0, k=5)
    assert first == again
    blob = store.rows("SELECT embedding FROM memories WHERE memory_id = 0")[0][0]
    assert np.array_equal(decode_embedding(blob), original.vector(0))
    store.close()


def test_loading_for_reading_needs_no_embedder(tmp_path) -> None:
    store = run_to_store(tmp_path / "run.sqlite")
    reader = MemoryBank.load(store)
    assert reader.embedder.name == "hashing-512" and reader.embedder.dim == 512
    reflections = reader.stream("a0").of_kind("reflection")
    assert reflections and all(e in reader for r in reflections for e in r.evidence)
    assert reader.retrieve("a0", reader.vector(0), now=9.0, k=1)[0].record.memory_id == 0
    with pytest.raises(RuntimeError, match="loaded for reading"):
        reader.retrieve("a0", "text needs the embedder", now=9.0)
    store.close()


def test_loading_with_another_embedder_is_refused(tmp_path) -> None:
    store = run_to_store(tmp_path / "run.sqlite")
    with pytest.raises(ValueError, match="embedded with"):
        MemoryBank.load(store, HashingEmbedder(dim=64))
    store.close()


# ----------------------------------------------------------------------------- inheritance


def parent_with_reflections(store: RunStore | None = None):
    world, bank, context, agent = make_world(store, threshold=20)
    live(world, bank, context, agent)
    return world, bank, context, agent


def run_inherit(world, bank, context, parents, policy, strategies=None):
    out = []

    def process():
        out.extend((yield from inherit(bank, "b0", parents, context=context,
                                       now=world.env.now, generation=1, policy=policy,
                                       strategies=strategies)))

    world.process(process())
    world.run()
    return out


def test_inherit_none_and_strategy() -> None:
    world, bank, context, agent = parent_with_reflections()
    assert run_inherit(world, bank, context, [agent], "none") == []
    [record] = run_inherit(world, bank, context, [agent], "strategy",
                           {"a0": "Give half to those who gave."})
    assert (record.owner, record.kind, record.origin) == ("b0", "inherited", "a0")
    assert record.text == "Give half to those who gave." and record.generation == 1
    assert record.importance == context.config.inherited_importance
    assert bank.stream("b0").importance_since_reflection == 0


def test_inherit_reflections_keeps_lineage_and_vectors(tmp_path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    world, bank, context, agent = parent_with_reflections(store)
    parents_best = bank.top_reflections("a0", context.config.inherit_top_k)
    inherited = run_inherit(world, bank, context, [agent], "reflections")
    assert [r.text for r in inherited] == [r.text for r in parents_best]
    for copy, source in zip(inherited, parents_best, strict=True):
        assert copy.evidence == (source.memory_id,) and copy.origin == "a0"
        assert copy.importance == source.importance
        assert np.array_equal(bank.vector(copy.memory_id), bank.vector(source.memory_id))
    store.commit()
    lineage = store.rows(
        "SELECT m.owner, m.origin, e.evidence_id, e.relation FROM memories m "
        "JOIN memory_evidence e ON e.memory_id = m.memory_id WHERE m.kind = 'inherited'"
    )
    assert lineage == [("b0", "a0", r.memory_id, "inherited_from") for r in parents_best]
    store.close()


def test_inherit_summary_asks_the_parents_brain() -> None:
    world, bank, context, agent = parent_with_reflections()
    [record] = run_inherit(world, bank, context, [agent], "summary")
    shown = bank.top_reflections("a0", context.config.inherit_top_k)
    assert record.text.startswith("What a0 learnt:")
    assert record.evidence == tuple(r.memory_id for r in shown)
    assert len(record.text) <= context.config.summary_max_chars


def test_unknown_policy_is_refused() -> None:
    world, bank, context, agent = parent_with_reflections()
    with pytest.raises(ValueError, match="policy"):
        run_inherit(world, bank, context, [agent], "telepathy")



# ----------------------------------------------------------------------------- presets


def test_released_code_preset_fills_what_is_unset_and_explicit_keys_win() -> None:
    paper = MemoryConfig()
    assert (paper.recency, paper.recency_weight, paper.importance_weight,
            paper.relevance_weight, paper.reflection_threshold) == ("hours", 1, 1, 1, 150)
    code = MemoryConfig(preset="released_code")
    assert code.recency == "access_rank_as_released"
    assert (code.recency_weight, code.relevance_weight, code.importance_weight) == (0.5, 3, 2)
    assert (code.reflection_threshold, code.evidence_per_question) == (250, 30)
    assert code.focal_records == "since_reflection"
    assert code.reflection_counts == ["observation", "action", "conversation"]
    assert code.retrieval_excludes == []
    assert MemoryConfig(preset="released_code", reflection_threshold=99).reflection_threshold == 99
    with pytest.raises(ValueError, match="dream"):
        MemoryConfig(retrieval_excludes=["dream"])


def test_access_rank_recency_by_hand() -> None:
    """alpha..delta last accessed at t = 0..3. As released, records sorted oldest access first
    get decay**1, decay**2, ...: with decay 0.5 alpha 0.5, beta 0.25, gamma 0.125, delta
    0.0625; min-max over [0.0625, 0.5]: alpha 1, beta 3/7, gamma 1/7, delta 0. The hours since
    access do not matter, only the order; 'access_rank' is the same with the order reversed."""
    for mode, expected in (
        ("access_rank_as_released", {"alpha": 1, "beta": 3 / 7, "gamma": 1 / 7, "delta": 0}),
        ("access_rank", {"alpha": 0, "beta": 1 / 7, "gamma": 3 / 7, "delta": 1}),
    ):
        for now in (3.0, 300.0):
            bank = small_stream(decay=0.5)
            bank.config = bank.config.model_copy(update={"recency": mode})
            hits = bank.retrieve("ann", None, now=now, k=4)
            assert {h.record.text: h.recency for h in hits} == pytest.approx(expected)


def test_released_code_counts_perceived_events_and_retrieves_conversations() -> None:
    """The code's reflection counter takes every perceived event (others' doings, its own
    actions, its chats), never plans or thoughts; its retrieval finds a chat's summary."""
    bank = MemoryBank(HashingEmbedder(), MemoryConfig(preset="released_code"))
    bank.add("ann", "we talked about the party", kind="conversation", importance=9, now=0.0)
    bank.add("ann", "I planned my day", kind="plan", importance=5, now=0.0)
    bank.add("ann", "Bob gave me bread", kind="observation", importance=3, now=0.0)
    bank.add("ann", "I baked bread", kind="action", importance=2, now=0.0)
    bank.add("ann", "For my planning: buy flour", kind="thought", importance=4, now=0.0)
    assert bank.stream("ann").importance_since_reflection == 9 + 3 + 2
    hits = bank.retrieve("ann", "party", now=1.0, k=10)
    assert "conversation" in {h.record.kind for h in hits}
    paper = MemoryBank(HashingEmbedder(), MemoryConfig())
    paper.add("ann", "we talked about the party", kind="conversation", importance=9, now=0.0)
    paper.add("ann", "For my planning: buy flour", kind="thought", importance=4, now=0.0)
    assert paper.stream("ann").importance_since_reflection == 9


def test_focal_questions_from_records_since_the_last_reflection() -> None:
    """With focal_records = 'since_reflection' the second reflection's focal-question prompt
    holds only what happened after the first one; with 'recent' it holds older records too."""
    asked: dict[str, list[list[str]]] = {}
    for mode in ("since_reflection", "recent"):
        world = World(seed=0)
        config = MemoryConfig(reflection_threshold=14, focal_questions=1,
                              evidence_per_question=2, focal_records=mode)
        bank = MemoryBank(HashingEmbedder(), config)
        context = MemoryContext(config=config, rules=MemoryRules(importance=numbered_importance))
        agent = SimAgent(world, name="a0", brain=RuleBrain(Policy()))
        seen: list[list[str]] = []
        original = MemoryRules.focal_questions

        def spy(self, records, n, seen=seen, original=original):  # type: ignore[no-untyped-def]
            seen.append([r.text for r in records])
            return original(self, records, n)

        MemoryRules.focal_questions = spy  # type: ignore[method-assign]
        try:
            live(world, bank, context, agent)
        finally:
            MemoryRules.focal_questions = original  # type: ignore[method-assign]
        asked[mode] = seen
    since, recent = asked["since_reflection"], asked["recent"]
    assert len(since) >= 2 and len(recent) >= 2
    assert not set(since[0]) & {t for t in since[1] if t in EVENTS}  # nothing seen twice
    assert set(since[0]) & set(recent[1])  # 'recent' shows the older records again
