"""Going somewhere and waiting for someone: the `Walking` part of a `Resident`.

A walk takes the straight-line walking time; on the way the walker passes the places near its
path (`passing_radius`), perceives who is there and may stop to talk, and until it reaches
the next, whoever is there may stop it to talk. A resident who needs the object someone else
is using waits until they are done with it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from scenarios.town.resident import Resident

Steps = Generator[Any, Any, Any]
MINUTES_PER_DAY = 1440


class Walking:
    """Walking and waiting, for `Resident`."""

    def wait_for(self: Resident, other_id: str, end: int) -> Steps:
        """Wait, at the place, until the other has finished the action that uses the object
        one needs (or until `end`); nothing if they are done with it already."""
        other = self.model.by_name.get(other_id)
        mine = self.current.object_id if self.current is not None else None
        if other is None or mine is None or self.invitation is not None or \
                other.span is None or other.span[5] != mine:  # done with it already
            return
        until = min(end, other.action_end())
        if until <= self.now:
            return
        self.begin(self.current.activity, self.place,
                   f"waiting for {other.person.name} to finish {other.doing}",
                   self.current_source)
        yield from self.spend(until)
        if self.state == "act":
            self.resume_action()

    def action_end(self: Resident) -> int:
        """When the current action ends (now, when there is none)."""
        if self.current is None or self.state not in ("act", "talk"):
            return self.now
        day = self.now // MINUTES_PER_DAY
        return day * MINUTES_PER_DAY + self.current.start + self.current.minutes

    def walk(self: Resident, destination: str, day: int) -> Steps:
        """Walk there, passing the places near the way: at each the walker perceives who is
        there and may stop to talk (`passing_radius`; 0: a walk meets no one)."""
        town = self.model
        if self.invitation is not None:
            yield from self.join(resume=False)
        radius = town.config.architecture.passing_radius
        route = town.townmap.route(self.place, destination, radius)
        label = f"walking to {town.townmap.name_of(destination)}"
        self.state, self.current, self.seen = "walk", None, set()
        origin = self.place
        self.begin("walk", destination, label, "rule")
        self.place = origin
        elapsed = 0
        for minute, place in route:
            if minute > elapsed:
                yield from self.walk_on(minute - elapsed, destination, label)
                elapsed = minute
            self.place, self.seen, self.spot = place, set(), self.rolls(1)[0]
            self.learn_place(place, "passed" if place != destination else "visited")
            if place == destination:
                break
            self.passing = True  # until the next place: someone here may stop them to talk
            yield from self.perceive(day)
            if self.span is None or self.span[1] != "walk":  # they stopped to talk
                self.walk_again(destination, label)
        self.passing = False
        self.place = destination
        self.state = "busy"

    def walk_on(self: Resident, minutes: int, destination: str, label: str) -> Steps:
        """Walk on for `minutes`; near a place passed, someone there may stop the walker to
        talk, and the walk goes on afterwards for the minutes it had left."""
        left = minutes
        while left > 0:
            if self.invitation is not None:
                yield from self.join(resume=False)
                self.walk_again(destination, label)
            started = self.now
            self.interruptible = self.passing
            try:
                yield self.model.env.timeout(left)
                left = 0
            except simpy.Interrupt as interrupt:
                self.interruptible = False
                left -= self.now - started
                self.invitation = interrupt.cause
            finally:
                self.interruptible = False

    def walk_again(self: Resident, destination: str, label: str) -> None:
        """After a conversation on the way: walking again, from where they stopped."""
        place = self.place
        self.state = "walk"
        self.begin("walk", destination, label, "rule")
        self.place = place
