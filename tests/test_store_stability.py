"""Refactoring how generations turn over left every store it did not mean to change as it was.

The digests below are of the stores written by the code before the engine had reproduction
schemes and a generations-of-rounds driver (Societas at cd078fd), for each converted
scenario's default run and variants that reach the other paths of a turnover, seed 3
(`tests/store_digests.py` prints them for any checkout). Default runs must stay byte-identical:
a change that alters one must be deliberate, and then updates its digest here, saying why
(as compact embeddings did: `COMPACT_EMBEDDINGS`).
"""

from __future__ import annotations

import pytest
from store_digests import CASES, store_digests

BEFORE = {
    "public-goods": {
        "agents": "34e65aad8820ab28", "checkpoints": "80ce24e843509c99",
        "contributions": "2ad4999ebbb3f4ea", "decisions": "1fa5778a3045c31b",
        "generation_scores": "7b2c93e2305167aa", "llm_calls": "4f53cda18c2baa0c",
        "metrics": "d86cc64dbe67addf", "punishments": "4f53cda18c2baa0c",
        "strategies": "1425816126b08720",
    },
    "public-goods-costly-proportional": {
        "agents": "2341a99fdd02d3ed", "checkpoints": "d8df95936515e090",
        "contributions": "14105ee07a3facf6", "decisions": "5b004465f421f5bc",
        "generation_scores": "5b21452c31d2e13f", "llm_calls": "4f53cda18c2baa0c",
        "metrics": "3ede67625e982d7f", "punishments": "7b0d0ddebb0199d8",
        "strategies": "2807038604b3cc38",
    },
    "public-goods-random": {
        "agents": "c2cc281abcdaa93e", "checkpoints": "4707af205e9146f1",
        "contributions": "33c4049f588947d5", "decisions": "10b56be4a5fa6353",
        "generation_scores": "bc4cbe8b3efa5aa1", "llm_calls": "4f53cda18c2baa0c",
        "metrics": "4c33d8de0887f172", "punishments": "4f53cda18c2baa0c",
        "strategies": "064ac4aeb83eb736",
    },
    "commons": {
        "agents": "286599ee9281a571", "catches": "03152bcf498d6bc5",
        "checkpoints": "10a045e0393c257f", "decisions": "c6630f501e472e9f",
        "generation_scores": "30ea5f7f375cfb11", "llm_calls": "4f53cda18c2baa0c",
        "memories": "88f945da7a09da39", "memory_access": "4f53cda18c2baa0c",
        "memory_evidence": "4f53cda18c2baa0c", "memory_reflections": "4f53cda18c2baa0c",
        "metrics": "fa145af1086ed272", "seasons": "4dd8e592fbc6c368",
        "strategies": "4f53cda18c2baa0c", "utterances": "8cd64f1ff78ff18e",
    },
    "commons-generations": {
        "agents": "9fc42edf23aa0603", "catches": "86d1f2ce32bd8ed1",
        "checkpoints": "c1bbaa2c8c2e2993", "decisions": "2178becfa76f576c",
        "generation_scores": "5df014a492a5d34e", "llm_calls": "4f53cda18c2baa0c",
        "memories": "e11b85060f2f0d72", "memory_access": "4f53cda18c2baa0c",
        "memory_evidence": "4f53cda18c2baa0c", "memory_reflections": "4f53cda18c2baa0c",
        "metrics": "3e8f0c24d20b42a8", "seasons": "a85df5578d60f71a",
        "strategies": "3b0d7a804070f67c", "utterances": "558d35920d6e4c16",
    },
    "donor-game": {
        "agent_rounds": "1f2bf5226560c4ef", "agents": "13d0100ac81c8181",
        "checkpoints": "f1ee7857973b544a", "decisions": "bfa2e4ec3c7b37a4",
        "donations": "da33f6e54bb7cf3a", "generation_scores": "b7df4cf83508cdfb",
        "llm_calls": "4f53cda18c2baa0c", "metrics": "c4f0b8e66b604e33",
        "strategies": "cdfd3da1143976dc",
    },
    "donor-game-random": {
        "agent_rounds": "d0448aa52212a84d", "agents": "2d4111ddbdf49b49",
        "checkpoints": "eb5938297d40c953", "decisions": "82fd63ee22658abb",
        "donations": "e951c15d9a5d1bc3", "generation_scores": "2dfd13198fa2b294",
        "llm_calls": "4f53cda18c2baa0c", "metrics": "d1118ac5b07f5a2e",
        "strategies": "bedbe12611c5fb56",
    },
}


#: Runs that keep memories store their embeddings as compact BLOBs since issue 24 (base64 text
#: before): those rows, and the checkpoint digests over them, differ from `BEFORE` in that
#: alone, which `test_only_the_embeddings_format_differs` shows by writing them as text.
COMPACT_EMBEDDINGS = {
    "commons": {"memories": "2601e78ad4a7ecb3", "checkpoints": "d3ab9491047b1182"},
    "commons-generations": {"memories": "aa78d816c375fc8c", "checkpoints": "55540eb98cb986e1"},
}


@pytest.mark.parametrize("case", list(BEFORE))
def test_the_store_is_as_before_the_engine_drove_generations(case: str) -> None:
    scenario, values = CASES[case]
    assert store_digests(scenario, **values) == BEFORE[case] | COMPACT_EMBEDDINGS.get(case, {})


@pytest.mark.parametrize("case", list(COMPACT_EMBEDDINGS))
def test_only_the_embeddings_format_differs(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embeddings written as base64 text, as before compact BLOBs: every digest as before."""
    import sim.memory.bank
    from sim.memory.records import encode_embedding_as_text

    monkeypatch.setattr(sim.memory.bank, "encode_embedding", encode_embedding_as_text)
    scenario, values = CASES[case]
    assert store_digests(scenario, **values) == BEFORE[case]
