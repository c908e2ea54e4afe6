"""Interviews: questions put to a finished run's agents, answered from what they remembered.

Park et al. (2023) judged their generative agents by interviewing them: each agent answered
questions from its summary and the memories retrieval found for the question. A scenario whose
agents keep memories offers the same by declaring an `Interviews` object (`sim.interviews`) on
its `ScenarioSpec` (`interviews="module:attribute"`): it says who can be asked, as of when, and
how an agent answers (a `Task` per question, through the gateway like every decision). The
engine does the rest, alike for every scenario:

- **Sessions.** One `interview_run` (one `societas interview`) is a *session*: a transaction of
  its own appended to the finished run's store, with a row in `interview_sessions` saying what
  was asked of whom, as of when, with which settings. The run's own rows are never touched,
  and a session that fails half-way (Ctrl-C, a provider down) leaves nothing behind.
- **Logged and keyed like every call.** Its decisions and model calls go into `decisions` and
  `llm_calls`, with request and call ids going on after the run's (and earlier sessions') last.
  In the response cache each agent's calls are counted afresh inside the session's own scope
  (`interview-N/`, `Gateway.begin_session`): a session never takes a reply the run or another
  session got, while asking the same session again after it failed half-way finds the replies
  it had already paid for.
- **Replayed.** `societas replay` re-executes the run, then every stored session in order, from
  the store alone (`replay_sessions`), and checks each one's checkpoint like a round's.
- **Refused in one line** (`UserError`, exit 2): a run still running or in use, a run that did
  not finish, a damaged store, a scenario without interviews, an unknown agent, a moment outside
  the run, a `--set` that is not a model setting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sim.config import RunConfig
from sim.errors import UserError
from sim.interviews import (  # what a scenario declares; importable from here as before
    Answer,
    InterviewAsk,
    InterviewRequest,
    Interviews,
    InterviewWorld,
    Question,
)
from sim.llm.cache import CACHE_FILENAME, ResponseCache
from sim.llm.gateway import Gateway, GatewayStats
from sim.registry import ScenarioSpec, get_scenario
from sim.runs.runlock import run_lock
from sim.store import STORE_FILENAME, RunStore, to_json
from sim.store_files import peek_meta, verify_store

if TYPE_CHECKING:
    from sim.llm.ratelimit import Limiter

#: One row per session; what replay needs to ask the same questions again.
SESSION_TABLE = "interview_sessions"
SESSION_COLUMNS = {
    "session": "INTEGER",  # 1, 2, ... in the order they were held
    "kind": "TEXT",  # 'questions' | 'battery'
    "sim_time": "REAL",  # the moment of the run the agents answer as of
    "agents": "TEXT",  # JSON list of agent ids, in the order asked
    "questions": "TEXT",  # JSON list of [text, category, key]
    "config": "TEXT",  # JSON: the run's config with the session's model settings
    "first_request_id": "INTEGER",
    "requests": "INTEGER",
    "first_call_id": "INTEGER",
}


@dataclass
class InterviewResult:
    run_dir: Path
    session: int
    at_text: str
    answers: list[Answer] = field(default_factory=list)
    stats: GatewayStats = field(default_factory=GatewayStats)


def interviews_of(scenario: ScenarioSpec) -> Interviews:
    """The scenario's declared interviews, or one line saying it has none."""
    declared = scenario.interviews
    if isinstance(declared, str):
        module_name, _, attribute = declared.partition(":")
        declared = getattr(__import__(module_name, fromlist=[attribute]), attribute)
    if declared is None:
        raise UserError(f"scenario {scenario.name!r} does not offer interviews (its agents "
                        "keep no memories to answer from)")
    if not isinstance(declared, Interviews):
        raise TypeError(f"{scenario.interviews} is not an Interviews")
    return declared


def interview_run(run_dir: str | Path, question: str | None = None, *,
                  agents: Sequence[str] | str = (), at: tuple[int, str] | None = None,
                  battery: bool = False, model: str | None = None,
                  overrides: Sequence[str] = (), limiter: Limiter | None = None
                  ) -> InterviewResult:
    """Interview a finished run's agents (all of them when `agents` is empty) as of the end of
    the run, or as of `at` = (day counted from 1, "HH:MM"): one `question`, or the scenario's
    believability battery. The answers are stored in the run (a session, see the module
    docstring) and returned. `model` and `overrides` change the model settings for this
    session only, as `societas run --model/--set` would."""
    run_dir = Path(run_dir)
    agents = [agents] if isinstance(agents, str) else list(agents)  # "mara": one, not 4 letters
    path = run_dir / STORE_FILENAME
    if not path.is_file():
        raise UserError(f"no run to interview in {run_dir} (missing {STORE_FILENAME})")
    if not battery and not (question or "").strip():
        raise UserError("ask a question, or --battery for the believability questions")
    with run_lock(run_dir):  # a run, resume or another session writing it: one line
        verify_store(path)
        status = peek_meta(path, "status")
        if status != "finished":
            raise UserError(f"{run_dir} is not a finished run (status: {status}); interview "
                            f"it once it has finished (societas resume {run_dir})")
        store = RunStore(path)
        try:
            store.append_after_last()
            scenario = get_scenario(store.get_meta("scenario") or "")
            hook = interviews_of(scenario)
            recorded = scenario.config_type.model_validate(
                json.loads(store.get_meta("config") or "{}"))
            config = hook.session_config(recorded, model=model, overrides=overrides)
            request = hook.resolve(store, config, InterviewAsk(
                question=question, agents=tuple(agents), at=at, battery=battery))
            session, first_request_id, first_call_id = _next_ids(store)  # refused: untouched
            cached = store.get_meta("cache_path")
            cache = ResponseCache(Path(cached) if cached else run_dir / CACHE_FILENAME)
            gateway = Gateway(cache=cache, max_repairs=config.max_repairs, seed=config.seed,
                              log_decisions=config.log_decisions, limiter=limiter)
            try:
                world = conduct_session(hook, store, config, request, gateway, session,
                                        first_request_id, first_call_id)
            except BaseException:
                store.rollback()  # nothing of a session that did not finish is kept
                raise
            finally:
                gateway.close()
                cache.close()
            return InterviewResult(run_dir, session, hook.moment_text(request.at),
                                   world.answers, gateway.stats)
        finally:
            store.close()


def conduct_session(hook: Interviews, store: RunStore, config: RunConfig,
                    request: InterviewRequest, gateway: Gateway, session: int,
                    first_request_id: int, first_call_id: int) -> InterviewWorld:
    """Ask a session's questions and commit its rows, with its session row, as one
    checkpoint (checked, not written, when the store is catching up: a replay)."""
    store.define_table(SESSION_TABLE, SESSION_COLUMNS)
    gateway.begin_session(f"interview-{session}", first_call_id=first_call_id)
    # a float, as the store gives it back to a replay: the same cells, the same digest
    world = InterviewWorld(config, store=store, gateway=gateway, at=float(request.at),
                           first_request_id=first_request_id, session=session)
    world.process(hook.conduct(world, request))
    world.run()
    store.insert(SESSION_TABLE, [{
        "session": session, "kind": request.kind, "sim_time": float(request.at),
        "agents": list(request.agents),
        "questions": [[q.text, q.category, q.key] for q in request.questions],
        "config": to_json(config.model_dump(mode="json")),
        "first_request_id": first_request_id, "requests": world.requests,
        "first_call_id": first_call_id}])
    store.commit()
    return world


def replay_sessions(scenario: ScenarioSpec, store: RunStore) -> tuple[int, GatewayStats]:
    """Re-execute every interview session a run's store holds, in order, from the store alone
    (after the run itself was re-executed); returns (sessions, their gateway's totals)."""
    tables = {name for (name,) in store.rows(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    stats = GatewayStats()
    if SESSION_TABLE not in tables:
        return 0, stats
    rows = store.rows("SELECT session, kind, sim_time, agents, questions, config, "
                      "first_request_id, first_call_id FROM interview_sessions "
                      "ORDER BY session")
    if not rows:
        return 0, stats
    hook = interviews_of(scenario)
    for session, kind, at, agents, questions, config_json, first_request, first_call in rows:
        config = scenario.config_type.model_validate(json.loads(config_json))
        request = InterviewRequest(tuple(json.loads(agents)),
                                   tuple(Question(*q) for q in json.loads(questions)),
                                   float(at), kind)
        gateway = Gateway(max_repairs=config.max_repairs, replay_only=True, seed=config.seed,
                          log_decisions=config.log_decisions)
        try:
            conduct_session(hook, store, config, request, gateway, session, first_request,
                            first_call)
        finally:
            gateway.close()
        stats.decisions.update(gateway.stats.decisions)
        stats.replayed_calls += gateway.stats.replayed_calls
    return len(rows), stats


def _next_ids(store: RunStore) -> tuple[int, int, int]:
    """(session number, first request id, first call id) of the next session: after
    everything the run and earlier sessions logged."""
    sessions, after_sessions = 0, None
    if store.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                  (SESSION_TABLE,)):
        (sessions, after_sessions), = store.rows(
            f"SELECT COUNT(*), MAX(first_request_id + requests) FROM {SESSION_TABLE}")
    (last_decision,), = store.rows("SELECT MAX(request_id) FROM decisions")
    (last_request, last_call), = store.rows("SELECT MAX(request_id), MAX(call_id) FROM llm_calls")
    firsts = [n + 1 for n in (last_decision, last_request) if n is not None]
    if after_sessions is not None:
        firsts.append(after_sessions)
    return sessions + 1, max(firsts, default=0), 0 if last_call is None else last_call + 1
