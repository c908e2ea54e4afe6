"""Tests for the Donor Game rule policies: hand-worked decisions, mutation, descriptions."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from scenarios.donor_game.strategies import (
    FAMILIES,
    AlwaysCooperate,
    AlwaysDefect,
    Donation,
    Generous,
    ImageScoring,
    RulePolicy,
    Standing,
    make_policy,
)

GIVE_NOTHING = Donation("donate", 0.0)


def act(donor: str, recipient: str, action: str, fraction: float, step: int) -> dict[str, Any]:
    return {
        "donor": donor,
        "recipient": recipient,
        "action": action,
        "fraction": fraction,
        "step": step,
    }


def obs(trace: list[dict[str, Any]], punishment: bool = False) -> dict[str, Any]:
    """A full observation as docs/design.md specifies, around the given trace of recipient r."""
    return {
        "generation": 0,
        "game": 0,
        "round": 3,
        "donor": "d",
        "recipient": "r",
        "donor_resources": 12.5,
        "multiplier": 2.0,
        "punishment": punishment,
        "punishment_multiplier": 2.0,
        "trace": trace,
    }


# Recurring traces for the recipient "r".
NEWCOMER: list[dict[str, Any]] = []
GAVE_HALF = [act("r", "a", "donate", 0.5, 2)]
GAVE_LITTLE = [act("r", "a", "donate", 0.1, 2)]
# r refused a, and a had refused b, who had given generously: a was in bad standing, so r's
# refusal was justified.
JUSTIFIED = [
    act("r", "a", "donate", 0.0, 5),
    act("a", "b", "donate", 0.0, 3),
    act("b", "c", "donate", 0.6, 1),
]
# r refused a, and a had given generously: unjustified.
UNJUSTIFIED = [act("r", "a", "donate", 0.0, 5), act("a", "b", "donate", 0.6, 3)]


# --- Donation -------------------------------------------------------------------------------


def test_donation_validates() -> None:
    with pytest.raises(ValueError):
        Donation("steal", 0.5)
    with pytest.raises(ValueError):
        Donation("donate", 1.5)
    with pytest.raises(ValueError):
        Donation("donate", float("nan"))


# --- always_cooperate / always_defect --------------------------------------------------------


@pytest.mark.parametrize("trace", [NEWCOMER, GAVE_HALF, GAVE_LITTLE, UNJUSTIFIED])
@pytest.mark.parametrize("punishment", [False, True])
def test_unconditional_policies_ignore_history(
    trace: list[dict[str, Any]], punishment: bool
) -> None:
    assert AlwaysCooperate().decide(obs(trace, punishment)) == Donation("donate", 0.5)
    assert AlwaysCooperate(give=0.8).decide(obs(trace, punishment)) == Donation("donate", 0.8)
    assert AlwaysDefect().decide(obs(trace, punishment)) == GIVE_NOTHING


# --- image_scoring --------------------------------------------------------------------------


def test_image_scoring_gives_to_good_image_and_newcomers() -> None:
    policy = ImageScoring(give=0.4, threshold=0.25)
    assert policy.decide(obs(GAVE_HALF)) == Donation("donate", 0.4)
    assert policy.decide(obs(NEWCOMER)) == Donation("donate", 0.4)
    # exactly at the threshold counts as giving
    assert policy.decide(obs([act("r", "a", "donate", 0.25, 2)])) == Donation("donate", 0.4)


def test_image_scoring_refuses_low_givers_and_punishers() -> None:
    policy = ImageScoring(give=0.4, threshold=0.25)
    assert policy.decide(obs(GAVE_LITTLE)) == GIVE_NOTHING
    # a punishment is not a gift, however large
    assert policy.decide(obs([act("r", "a", "punish", 0.9, 2)])) == GIVE_NOTHING


def test_image_scoring_looks_only_at_the_last_act() -> None:
    policy = ImageScoring()
    # a justified refusal still ruins the image: the known weakness of image scoring
    assert policy.decide(obs(JUSTIFIED)) == GIVE_NOTHING
    # an earlier refusal does not matter once the latest act is a gift
    trace = [act("r", "a", "donate", 0.5, 5), act("a", "b", "donate", 0.0, 3)]
    assert policy.decide(obs(trace)) == Donation("donate", 0.5)


def test_image_scoring_punishes_only_when_enabled_and_willing() -> None:
    punisher = ImageScoring(give=0.5, threshold=0.25, punish=0.2)
    assert punisher.decide(obs(GAVE_LITTLE, punishment=True)) == Donation("punish", 0.2)
    assert punisher.decide(obs(GAVE_LITTLE, punishment=False)) == GIVE_NOTHING
    # good images are helped even in the punishment variant
    assert punisher.decide(obs(GAVE_HALF, punishment=True)) == Donation("donate", 0.5)
    # punish = 0 means refuse even when punishment is available
    assert ImageScoring().decide(obs(GAVE_LITTLE, punishment=True)) == GIVE_NOTHING


# --- standing -------------------------------------------------------------------------------


def test_standing_gives_to_cooperators_and_newcomers() -> None:
    policy = Standing(give=0.3, cutoff=0.25)
    assert policy.decide(obs(NEWCOMER)) == Donation("donate", 0.3)
    assert policy.decide(obs(GAVE_HALF)) == Donation("donate", 0.3)
    # giving to a bad partner keeps good standing
    trace = [act("r", "a", "donate", 0.5, 5), act("a", "b", "donate", 0.0, 3)]
    assert policy.decide(obs(trace)) == Donation("donate", 0.3)


def test_standing_accepts_justified_refusal_where_image_scoring_does_not() -> None:
    assert ImageScoring().decide(obs(JUSTIFIED)) == GIVE_NOTHING
    assert Standing().decide(obs(JUSTIFIED)) == Donation("donate", 0.5)
    # the same holds for punishing a partner in bad standing
    punished = [act("r", "a", "punish", 0.3, 5), *JUSTIFIED[1:]]
    assert Standing().decide(obs(punished)) == Donation("donate", 0.5)


def test_standing_condemns_unjustified_refusal() -> None:
    assert Standing().decide(obs(UNJUSTIFIED)) == GIVE_NOTHING
    # a refusal with nothing visible behind it: the partner is assumed in good standing
    assert Standing().decide(obs([act("r", "a", "donate", 0.0, 5)])) == GIVE_NOTHING
    # a refusal of a newcomer-like partner given too little
    assert Standing().decide(obs(GAVE_LITTLE)) == GIVE_NOTHING


def test_standing_recursion_flips_with_depth() -> None:
    # r refused a; a refused b; b refused c; c's record ends (assumed good).
    # b: unjustified -> bad; a refused bad b -> good; r refused good a -> bad.
    chain = [
        act("r", "a", "donate", 0.0, 7),
        act("a", "b", "donate", 0.0, 5),
        act("b", "c", "donate", 0.0, 3),
    ]
    policy = Standing()
    assert not policy.good_standing(chain)
    assert policy.good_standing(chain[1:])
    assert not policy.good_standing(chain[2:])
    assert policy.good_standing([])
    assert policy.decide(obs(chain)) == GIVE_NOTHING


def test_standing_cutoff_defines_cooperation() -> None:
    trace = [act("r", "a", "donate", 0.3, 5), act("a", "b", "donate", 0.6, 3)]
    assert Standing(cutoff=0.25).decide(obs(trace)) == Donation("donate", 0.5)
    assert Standing(cutoff=0.4).decide(obs(trace)) == GIVE_NOTHING


def test_standing_punishes_only_when_enabled_and_willing() -> None:
    punisher = Standing(punish=0.15)
    assert punisher.decide(obs(UNJUSTIFIED, punishment=True)) == Donation("punish", 0.15)
    assert punisher.decide(obs(UNJUSTIFIED, punishment=False)) == GIVE_NOTHING
    assert punisher.decide(obs(JUSTIFIED, punishment=True)) == Donation("donate", 0.5)
    assert Standing().decide(obs(UNJUSTIFIED, punishment=True)) == GIVE_NOTHING


# --- generous -------------------------------------------------------------------------------


def test_generous_reciprocates_with_margin() -> None:
    policy = Generous(base=0.1, scale=1.0, newcomer=0.5)
    for trace, expected in [(GAVE_HALF, 0.6), (GAVE_LITTLE, 0.2)]:
        decision = policy.decide(obs(trace))
        assert decision.action == "donate"
        assert decision.fraction == pytest.approx(expected)
    assert policy.decide(obs(NEWCOMER)) == Donation("donate", 0.5)
    # a punisher counts as having given nothing
    assert policy.decide(obs([act("r", "a", "punish", 0.8, 2)])) == Donation("donate", 0.1)
    # only the last act matters
    assert policy.decide(obs(UNJUSTIFIED)) == Donation("donate", 0.1)


def test_generous_is_clipped_to_all_resources() -> None:
    policy = Generous(base=0.3, scale=2.0)
    assert policy.decide(obs([act("r", "a", "donate", 0.9, 2)])) == Donation("donate", 1.0)


def test_generous_never_punishes() -> None:
    policy = Generous(base=0.0, scale=1.0)
    assert policy.decide(obs(UNJUSTIFIED, punishment=True)) == GIVE_NOTHING


# --- shared behaviour: params, make_policy, mutate, describe --------------------------------

ALL = sorted(FAMILIES)


def test_families_registry() -> None:
    assert set(FAMILIES) == {
        "always_cooperate",
        "always_defect",
        "image_scoring",
        "standing",
        "generous",
    }
    for name, cls in FAMILIES.items():
        assert cls.family == name
        assert issubclass(cls, RulePolicy)


@pytest.mark.parametrize("family", ALL)
def test_params_round_trip_through_json(family: str) -> None:
    policy = make_policy(family)
    params = json.loads(json.dumps(policy.params()))
    assert make_policy(family, **params) == policy
    assert all(isinstance(v, float) for v in policy.params().values())


def test_make_policy_passes_params_and_coerces_ints() -> None:
    policy = make_policy("image_scoring", give=1, threshold=0.3)
    assert policy == ImageScoring(give=1.0, threshold=0.3, punish=0.0)
    assert isinstance(policy.params()["give"], float)


def test_make_policy_unknown_family_names_known_ones() -> None:
    with pytest.raises(ValueError, match="tit_for_tat") as info:
        make_policy("tit_for_tat")
    for name in FAMILIES:
        assert name in str(info.value)


def test_make_policy_rejects_bad_params() -> None:
    with pytest.raises(ValueError, match="threshold"):
        make_policy("standing", threshold=0.3)  # standing calls it cutoff
    with pytest.raises(ValueError, match="give"):
        make_policy("always_cooperate", give=1.5)
    with pytest.raises(ValueError):
        make_policy("generous", scale=-0.1)
    with pytest.raises(ValueError):
        make_policy("always_defect", give=0.5)


@pytest.mark.parametrize("family", ALL)
def test_mutation_keeps_family_and_range(family: str) -> None:
    policy = make_policy(family)
    rng = np.random.default_rng(1)
    for _ in range(200):
        policy = policy.mutate(rng, sd=0.5)
        assert type(policy) is FAMILIES[family]
        assert policy.family == family
        for name, value in policy.params().items():
            low, high = policy.bounds[name]
            assert low <= value <= high


@pytest.mark.parametrize("family", ALL)
def test_mutation_is_deterministic(family: str) -> None:
    a = make_policy(family).mutate(np.random.default_rng(1), sd=0.1)
    b = make_policy(family).mutate(np.random.default_rng(1), sd=0.1)
    assert a == b
    assert a.params() == b.params()


def test_mutation_changes_every_parameter() -> None:
    policy = Generous()
    child = policy.mutate(np.random.default_rng(1), sd=0.1)
    assert child is not policy
    for name, value in child.params().items():
        assert value != policy.params()[name]
    # the parent is unchanged (policies are immutable)
    assert policy == Generous()


def test_mutation_with_zero_sd_is_identity() -> None:
    policy = Standing(give=0.4, cutoff=0.3, punish=0.1)
    assert policy.mutate(np.random.default_rng(1), sd=0.0) == policy


def test_mutation_rejects_negative_sd() -> None:
    with pytest.raises(ValueError):
        ImageScoring().mutate(np.random.default_rng(1), sd=-0.1)


def test_parameterless_mutation_is_equal_copy_and_draws_nothing() -> None:
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    child = AlwaysDefect().mutate(rng, sd=0.3)
    assert child == AlwaysDefect()
    assert rng.bit_generator.state == before


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (AlwaysCooperate(give=0.35), ["35%"]),
        (ImageScoring(give=0.6, threshold=0.2), ["60%", "20%", "newcomer", "never pay to punish"]),
        (ImageScoring(give=0.6, threshold=0.2, punish=0.15), ["60%", "20%", "15%", "punish"]),
        (Standing(give=0.45, cutoff=0.3), ["45%", "30%", "good standing", "justified"]),
        (Standing(punish=0.12), ["50%", "25%", "12%"]),
        (Generous(base=0.15, scale=1.25, newcomer=0.4), ["15%", "1.25 times", "40%"]),
    ],
)
def test_describe_mentions_parameter_values(policy: RulePolicy, expected: list[str]) -> None:
    text = policy.describe()
    for fragment in expected:
        assert fragment in text


def test_describe_rounds_values() -> None:
    assert "33%" in AlwaysCooperate(give=1 / 3).describe()
    assert "1.23 times" in Generous(scale=1.23456).describe()


@pytest.mark.parametrize("family", ALL)
def test_describe_is_plain_first_person_text(family: str) -> None:
    text = make_policy(family).describe()
    assert text.startswith("I ")
    assert "\n" not in text
    assert "{" not in text
