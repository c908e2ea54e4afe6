"""Response formats: how a task asks a model for a JSON object of a given shape.

One form serves every model: OpenAI's `json_schema` response format, which litellm forwards
unchanged to OpenAI-compatible servers and translates for providers that speak otherwise.
Servers with their own dialect get it translated on the way out (`sim.llm.local_model` does so for
llama-cpp-python, which turns the schema into a grammar, so even a 135M model answers in shape).

The schema is a request, not a guarantee: some providers ignore it, so replies still go through
the task's lenient parser, repair re-prompts and the counted fallback like any other. It is not
marked `strict`, because OpenAI's strict mode rejects schemas using keywords such as `maxLength`
that other servers honour.

Tasks do not write schemas by hand: they declare their reply as a pydantic model and
`sim.llm.reply_format.ReplyFormat` derives the schema from it, with the prompt's example and
the parser, so the three cannot disagree.
"""

from __future__ import annotations

from typing import Any

__all__ = ["json_object_format"]


def json_object_format(name: str, properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A response format for an object with exactly `properties`, all required, in order.

    Property order matters to grammar-constrained models, which write keys in schema order: put
    any free-text reasoning before the answer it should lead to.
    """
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }
