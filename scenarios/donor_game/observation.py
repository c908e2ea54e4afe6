"""A donation's observation as the store logs it, built from parts.

Every rule decision of a Donor Game is logged with its observation as JSON (`decisions`), and a
big population logs thousands a round. The observation holds the recipient's trace, whose acts
each appear in up to `trace_depth` later observations, so an act keeps its JSON (`Act.json`)
and an observation's JSON is put together from those and its scalars: the same text as
`sim.store.to_json(observation)` (tests hold it to that), at a fraction of the cost.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring
from typing import Any

from sim.store import to_json

__all__ = ["OBSERVATION_KEYS", "Act", "Trace", "observation_json"]

#: The keys of a donation's observation ("Donor Game observation" in docs/design.md), sorted
#: as its JSON has them.
OBSERVATION_KEYS = ("donor", "donor_resources", "game", "generation", "multiplier",
                    "partner_choice", "punishment", "punishment_multiplier", "recipient",
                    "recipient_resources", "round", "trace")
_KEY_SET = frozenset(OBSERVATION_KEYS)


class Act(dict):
    """One act as donor, as the recipients' traces show it (keys: donor, recipient, action,
    fraction, step, game, round; a punishment under plain traces also units and lost, set in
    the round it is played, before anything reads it): a dict like any other, which also keeps
    its JSON and (set by the game) the trace that starts with it."""

    __slots__ = ("_json", "trace")  # trace: (depth, the `Trace` it heads), set by the game

    @classmethod
    def played(cls, donor: str, recipient: str, action: str, fraction: float, step: int,
               game: int, round_index: int) -> Act:
        """The act as the game records it, its JSON and trace not made yet: both slots start
        as None, so reading them raises nothing (an unset slot raises AttributeError, and
        catching that for every act of a big population cost a few percent of a rule run)."""
        act = cls(donor=donor, recipient=recipient, action=action, fraction=fraction,
                  step=step, game=game, round=round_index)
        act._json = act.trace = None
        return act

    @property
    def json(self) -> str:
        """`to_json(self)`, encoded on first use (an act does not change once played)."""
        try:
            text = self._json
        except AttributeError:  # an act made without `played`
            text = None
        if text is None:
            text = self._json = _act_json(self)
        return text


def _act_json(act: dict[str, Any]) -> str:
    """`to_json(act)` for an act of the usual shape, put together directly."""
    if len(act) != 7:
        return to_json(act)
    try:
        action, donor, recipient = act["action"], act["donor"], act["recipient"]
        fraction, step, game, round_index = (act["fraction"], act["step"], act["game"],
                                             act["round"])
    except KeyError:
        return to_json(act)
    if not (type(action) is str and type(donor) is str and type(recipient) is str
            and type(fraction) is float and math.isfinite(fraction) and type(step) is int
            and type(game) is int and type(round_index) is int):
        return to_json(act)
    return (f'{{"action":{encode_basestring(action)},"donor":{encode_basestring(donor)},'
            f'"fraction":{fraction!r},"game":{game!r},'
            f'"recipient":{encode_basestring(recipient)},"round":{round_index!r},'
            f'"step":{step!r}}}')


class Trace(list):
    """A recipient's trace (a list of `Act`s, most recent first) that keeps its JSON. A trace
    is shared by every observation it appears in: nobody may change it."""

    __slots__ = ("_json",)

    @classmethod
    def of(cls, *acts: dict[str, Any]) -> Trace:
        """A trace of these acts (the game appends the acts behind them while it builds it),
        its JSON not made yet: the slot starts as None (see `Act.played`)."""
        trace = cls(acts)
        trace._json = None
        return trace

    @property
    def json(self) -> str:
        """`to_json(self)`, encoded on first use."""
        try:
            text = self._json
        except AttributeError:  # a trace made without `of`
            text = None
        if text is None:
            text = self._json = "[" + ",".join([act.json if type(act) is Act else to_json(act)
                                                for act in self]) + "]"
        return text


def observation_json(facts: dict[str, Any]) -> str:
    """`to_json(facts)` for a donation's observation; facts of another shape (keys added or
    missing, or a value of an unusual type) are encoded whole."""
    if facts.keys() != _KEY_SET:
        return to_json(facts)
    donor, recipient = facts["donor"], facts["recipient"]
    held, other, round_index = (facts["donor_resources"], facts["recipient_resources"],
                                facts["round"])
    if not (type(donor) is str and type(recipient) is str and type(round_index) is int
            and type(held) is float and type(other) is float
            and math.isfinite(held) and math.isfinite(other)):
        return to_json(facts)
    # the six scalars between "donor_resources" and "recipient" are the round's, not the
    # donor's: encoded once per distinct set
    rules = (facts["game"], facts["generation"], facts["multiplier"], facts["partner_choice"],
             facts["punishment"], facts["punishment_multiplier"])
    key = (*rules, *map(type, rules))  # 2 == 2.0 == True as keys, not as JSON
    middle = _MIDDLES.get(key)
    if middle is None:
        middle = _MIDDLES[key] = "".join(map("".join, zip(
            _MIDDLE_PREFIXES, map(_scalar_json, rules), strict=True)))
        if len(_MIDDLES) > 1024:  # a long run's many rounds: keep the cache small
            _MIDDLES.clear()
    trace = facts["trace"]
    trace = trace.json if type(trace) is Trace else to_json(trace)
    return (f'{{"donor":{encode_basestring(donor)},"donor_resources":{held!r}{middle},'
            f'"recipient":{encode_basestring(recipient)},"recipient_resources":{other!r},'
            f'"round":{round_index!r},"trace":{trace}}}')


_MIDDLE_PREFIXES = tuple(f",{to_json(key)}:" for key in OBSERVATION_KEYS[2:8])
_MIDDLES: dict[tuple, str] = {}


def _scalar_json(value: Any) -> str:
    """`to_json(value)` for an observation's scalars, without the encoder's set-up."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return to_json(value)
