"""How the town measures itself by interview (config key `interviews`), and the tables the
answers go to.

Park et al. (2023) counted who knew of the party by asking every agent at the end and checking
the answer against its memory, and measured the relationship network by asking every agent
whether it knew of each other one. The town does both while it runs: every resident is asked
about each seeded intention at the end of every day (`knowledge`), and about every other
resident at the start and at the end of the run (`acquaintance`). Interviews after a run
(`societas interview`) write `interviews`.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class InterviewSettings(BaseModel):
    """What the run asks its residents to measure them (every question is a decision through
    the gateway: rule brains answer from memory retrieval, models from their prompt)."""

    model_config = ConfigDict(extra="forbid")

    knowledge: bool = Field(
        True, description="At the end of every day ask each resident in town whether it knows "
        "of each seeded intention, and check the answer against its memory (table "
        "interview_knowledge; a call per resident and intention a day)."
    )
    acquaintance: bool = Field(
        True, description="At the start and the end of the run ask each resident whether it "
        "knows of each other resident (table interview_acquaintance): n * ceil((n - 1) / "
        "names_per_question) calls each time for n residents; switch it off for large towns."
    )
    names_per_question: int = Field(
        10, ge=1, le=100, description="Acquaintance: residents named in one question (1: one "
        "question per pair, as the paper asked)."
    )
    memories: int = Field(
        5, ge=1, le=30, description="Memories retrieved for each knowledge question and each "
        "question asked after the run."
    )
    memories_per_name: int = Field(
        3, ge=1, le=30, description="Acquaintance: memories retrieved for each name asked about."
    )
    questions: dict[str, str] = Field(
        default_factory=dict, description="Topic -> the knowledge question about it (default: "
        "'Have you heard of a <topic>?' for an event, 'Have you heard any news about the "
        "<keyword> or the <keyword>?' for an announcement)."
    )

    def acquaintance_calls(self, residents: int) -> int:
        """Questions of one acquaintance round in a town of `residents`."""
        if not self.acquaintance or residents < 2:
            return 0
        return residents * math.ceil((residents - 1) / self.names_per_question)


#: The town's interview tables (times as everywhere in the town: `day` 0-based, `minute` of
#: that day, `clock` = day * 1440 + minute).
INTERVIEW_TABLES: dict[str, dict[str, str]] = {
    # one row per resident in town, seeded intention and end of day
    "interview_knowledge": {
        "day": "INTEGER", "minute": "INTEGER", "clock": "INTEGER", "agent_id": "TEXT",
        "topic": "TEXT",
        "answer": "INTEGER",  # 1: said it knows
        "in_memory": "INTEGER",  # 1: a memory of it (or its summary) names it
        "knows": "INTEGER",  # said so and remembers it: the paper's count
        "hallucinated": "INTEGER",  # said so without any memory of it
        "unrecalled": "INTEGER",  # has a memory of it, said it does not know
        "keyword": "INTEGER",  # the keyword measure (table knowledge) knew by then
        "reply": "TEXT", "source": "TEXT",
        "evidence": "TEXT",  # JSON: ids of the memories that name it
    },
    # one row per ordered pair of residents in town, at the run's start and its end
    "interview_acquaintance": {
        "moment": "TEXT",  # 'start' | 'end'
        "day": "INTEGER", "minute": "INTEGER", "clock": "INTEGER", "agent_id": "TEXT",
        "other_id": "TEXT", "answer": "INTEGER", "in_memory": "INTEGER", "source": "TEXT",
    },
    # one row per answer of an interview after the run (`societas interview`)
    "interviews": {
        "session": "INTEGER", "day": "INTEGER", "minute": "INTEGER", "clock": "INTEGER",
        "agent_id": "TEXT", "category": "TEXT", "question_key": "TEXT", "question": "TEXT",
        "answer": "TEXT", "source": "TEXT",
        "memories": "TEXT",  # JSON: ids of the memories the answer was given from
        "summary_source": "TEXT",  # 'summaries' (the run's synthesised summary) | 'persona'
    },
}
