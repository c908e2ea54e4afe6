"""What rule residents do with the objects of a place: actions that fit both the activity and
the object ("making coffee at the espresso machine", never "eating at the bed"), and the state
each puts its object in while it lasts ("hissing with steam"), which others perceive.

An object fits an entry when the entry's word is a word of the object's name ("stall" fits
"fruit stall"). A place with no object that fits its activity gets an action without one
("tidying up"), so a town file may name its objects freely.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from scenarios.town.townmap import Place

#: (activity, or activity:kind of place; the object word; the action ({o}: the object's name);
#: the object's state while the action lasts, as in "the kitchen is <state>")
USES: tuple[tuple[str, str, str, str], ...] = (
    ("home", "bed", "making the bed", "being made"),
    ("home", "bed", "resting on the bed", "occupied"),
    ("home", "kitchen", "making tea in the kitchen", "steamy from the kettle"),
    ("home", "kitchen", "washing up in the kitchen", "full of suds"),
    ("home", "garden", "watering the garden", "freshly watered"),
    ("home", "balcony", "reading on the balcony", "occupied"),
    ("home", "studio", "sketching in the studio", "scattered with sketches"),
    ("home", "desk", "writing letters at the {o}", "covered in letters"),
    ("home", "sofa", "resting on the sofa", "occupied"),
    ("home", "workshop", "mending a chair in the workshop", "covered in sawdust"),
    ("eat", "kitchen", "cooking a meal in the kitchen", "sizzling with a pan on the stove"),
    ("eat", "kitchen", "eating at the kitchen table", "set for a meal"),
    ("eat", "table", "eating at the {o}", "taken by someone eating"),
    ("eat", "counter", "ordering a bite at the {o}", "busy with an order"),
    ("eat", "bar", "eating a bar meal at the {o}", "busy with diners"),
    ("eat", "staff room", "eating lunch in the {o}", "busy with lunch"),
    ("work:cafe", "counter", "serving customers at the {o}", "busy with orders"),
    ("work:cafe", "espresso", "making coffee at the {o}", "hissing with steam"),
    ("work:cafe", "oven", "baking scones in the {o}", "warm with baking"),
    ("work:cafe", "table", "clearing the {o}", "being wiped down"),
    ("work:shop", "stall", "stacking the {o}", "piled high"),
    ("work:shop", "till", "serving a customer at the {o}", "ringing up a sale"),
    ("work:shop", "shelves", "restocking the {o}", "being restocked"),
    ("work:shop", "counter", "serving at the {o}", "busy with a customer"),
    ("work:shop", "workbench", "repairing a bicycle at the {o}", "covered in parts"),
    ("work:office", "desk", "answering letters at the {o}", "stacked with papers"),
    ("work:office", "chamber", "setting out chairs in the {o}", "being set up for a meeting"),
    ("work:office", "sorting", "sorting the post at the {o}", "piled with letters"),
    ("work:office", "clinic", "seeing a patient in the {o}", "in use for a consultation"),
    ("work:school", "classroom", "teaching a lesson in the {o}", "full of pupils"),
    ("work:school", "staff room", "marking homework in the {o}", "piled with exercise books"),
    ("study:school", "classroom", "following a lesson in the {o}", "full of pupils"),
    ("study:school", "library", "working on an essay in the {o}", "quiet with study"),
    ("work:library", "desk", "helping a reader at the {o}", "in use"),
    ("work:library", "cart", "shelving books from the {o}", "being emptied"),
    ("work:library", "shelves", "tidying the {o}", "being tidied"),
    ("work:bar", "bar", "pulling pints at the {o}", "busy with orders"),
    ("work:bar", "cellar", "changing a barrel in the {o}", "open"),
    ("work:park", "bench", "sketching from the {o}", "occupied"),
    ("work:park", "pond", "painting the {o}", "being painted"),
    ("work:park", "flower", "weeding the {o}", "being weeded"),
    ("work:park", "greenhouse", "potting seedlings in the {o}", "warm and busy"),
    ("work:harbour", "boat", "mending nets on the {o}", "strewn with nets"),
    ("work:harbour", "pier", "unloading the catch on the {o}", "busy with crates"),
    ("leisure", "bench", "sitting on the {o}", "occupied"),
    ("leisure", "pond", "feeding the ducks at the {o}", "busy with ducks"),
    ("leisure", "bandstand", "listening to music at the {o}", "busy with a crowd"),
    ("leisure", "dartboard", "playing darts", "in a game"),
    ("leisure", "bar", "having a drink at the {o}", "busy with drinkers"),
    ("leisure", "table", "having a coffee at the {o}", "taken"),
    ("leisure", "desk", "reading at the {o}", "in use"),
    ("leisure", "shelves", "browsing the {o}", "being browsed"),
    ("leisure", "pier", "watching the boats from the {o}", "busy with walkers"),
    ("shop", "stall", "choosing fruit at the {o}", "busy with a customer"),
    ("shop", "till", "paying at the {o}", "ringing up a sale"),
    ("shop", "shelves", "browsing the {o}", "being browsed"),
    ("shop", "counter", "buying something at the {o}", "busy with a customer"),
    ("party", "table", "chatting with guests at the {o}", "crowded with guests"),
    ("party", "counter", "fetching drinks at the {o}", "crowded with glasses"),
    ("party", "bar", "raising a glass at the {o}", "crowded with glasses"),
)

#: Actions without an object, for a place with none that fits the activity.
PLAIN: dict[str, tuple[str, ...]] = {
    "work": ("working", "sorting things out"),
    "study": ("studying", "reading notes"),
    "eat": ("having a meal", "finishing a meal"),
    "home": ("tidying up", "resting"),
    "leisure": ("looking around", "enjoying the time off"),
    "shop": ("browsing", "looking for something"),
    "party": ("celebrating with the guests", "dancing with the guests"),
    "exercise": ("going for a run", "stretching"),
    "meeting": ("talking things over",),
    "other": ("spending some time here",),
}


def _fits(word: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(word)}", name.lower()) is not None


def uses(activity: str, kind: str, objects: Sequence[Place]
         ) -> list[tuple[str, Place | None, str | None]]:
    """The (action, object, state) a rule resident may do for `activity` at a place of `kind`
    with these objects: the entries for the activity at this kind of place if any fit an
    object, else those for the activity anywhere, else actions without an object."""
    return _uses(activity, kind, tuple(objects))


@lru_cache(maxsize=4096)
def _uses(activity: str, kind: str, objects: tuple[Place, ...]
          ) -> list[tuple[str, Place | None, str | None]]:
    for key in (f"{activity}:{kind}", activity):
        found = [(action.format(o=obj.name), obj, state)
                 for entry, word, action, state in USES if entry == key
                 for obj in objects if _fits(word, obj.name)]
        if found:
            return found
    return [(action, None, None) for action in PLAIN.get(activity, PLAIN["other"])]
