"""Turn messy model replies into numbers, choices, JSON objects and clean text.

LLM agents range from frontier models that follow a JSON format to 135M-parameter models that
reason aloud, wrap answers in Markdown, or echo the prompt. Tasks should not each reinvent the
tolerant parsing this needs, and they must never guess: a reply that cannot be read with
confidence raises `ParseError`, whose message is shown to the model in a repair re-prompt, so
every message says what was wrong *and* what a usable reply looks like.

Everything here is a pure function over strings using only `re` and `json`; nothing is ever
evaluated. The guiding rule for ambiguous replies is "models reason first and answer last": when
a reply marks several answers, the last one wins; when it merely mentions several numbers or
options without marking one, it is rejected rather than guessed.

One module per kind of answer, since each has its own pitfalls: `json_objects` (objects in
fences or prose, with small slips repaired), `numbers` (markers, percentages, ranges, number
words), `choices` (options, negations, prompt echoes) and `free_text` (strategies and
reflections stripped of preambles, labels and quotes). `_common` holds what they share:
dropping `<think>` blocks, unifying look-alike characters, word patterns.
"""

from sim.llm.parsing.choices import DEFAULT_CHOICE_MARKERS, parse_choice
from sim.llm.parsing.free_text import clean_free_text
from sim.llm.parsing.json_objects import find_json_object, keyed_value, strip_code_fences
from sim.llm.parsing.numbers import DEFAULT_NUMBER_MARKERS, number_in_text, parse_number

__all__ = [
    "DEFAULT_CHOICE_MARKERS",
    "DEFAULT_NUMBER_MARKERS",
    "clean_free_text",
    "find_json_object",
    "keyed_value",
    "number_in_text",
    "parse_choice",
    "parse_number",
    "strip_code_fences",
]
