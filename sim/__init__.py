"""Societas engine: worlds, agents, brains, the LLM gateway, memory and the run store.

Everything a scenario or a notebook needs is importable from here (`from sim import World,
SimAgent, RuleBrain, Task, run_scenario`); the modules behind the names, for a reader finding
their way. The engine reads as layers, each importing only from those below it (checked by
`tests/test_layout.py`), and never imports `analysis`, which reads runs back:

    sim.cli      the `societas` command
    sim.sweeps   many runs at once
    sim.runs     one run, start to finish, and what is done with it afterwards
    core         world, agents, brains, tasks, store, ... with sim.llm, sim.memory, sim.evolution

The core, in the order a run meets it:

- `registry`: which scenarios exist (`ScenarioSpec`, `get_scenario`; third-party ones come
  through the `societas.scenarios` entry point group);
- `scenario_analysis`: what a scenario declares for analysis and reports (`ScenarioAnalysis`:
  its tables, headline series, strategy labels, report sections, figures, what
  `societas inspect` adds to an agent's view and its panels in `societas view`);
- `interviews`: what a scenario declares to offer interviews of a finished run (`Interviews`);
- `config`: a scenario's pydantic `RunConfig`, from TOML files and `--set key=value`;
- `world`: `World`, a `mesa.Model` whose clock is a SimPy environment, with the decision
  barrier that hands every pending decision (`decisions.DecisionRequest`) to the gateway at
  once;
- `lean_mesa`: Mesa imported without pandas and its spaces until something uses them;
- `population`, `rules`: slots, brain mixes, selection and lineage across generations, and the
  rule families a population draws its rule brains from;
- `evolution` (a package): reproduction schemes (truncation, Wright–Fisher, Moran,
  tournament), fitness mappings and mutation operators, each chosen by a config key and open
  to your own (`register_reproduction`, `register_fitness`, `register_mutation`);
- `generations`: `GenerationsOfRounds`, the generations-of-rounds loop written once, so a
  scenario writes only what a round does;
- `agent`, `brains`, `tasks`: `SimAgent` asks its brain (`RuleBrain` or `LLMBrain`) a `Task`,
  which carries the observation, the prompt, the reply parser and the fallback; a task that
  asks for JSON declares its reply once as a pydantic `Reply` (`sim.llm.reply_format`);
  `rule_answers`: rule brains' answers in bulk;
- `strategy_task`: `WriteStrategy`, the newcomer's strategy every evolutionary scenario asks
  for (its prompts stay the scenario's);
- `prompting`: prompt templates as plain files a user can override;
- `store` (with `store_values`, `store_files`): `RunStore`, one SQLite file per run, one
  transaction per round;
- `message_texts`: the paragraphs of logged prompts kept once, and `read_calls`, which reads a
  run's model calls back with their messages as sent;
- `errors`: the one-line `UserError`, and `ParseError` for a reply a task cannot use.

The subsystems and layers, as packages with their own map in their docstrings:

- `sim.llm`: the gateway, the litellm client, parsing of replies, the response cache, the
  rate limits runs share;
- `sim.memory`: the Generative Agents memory stream, reflection and inheritance;
- `sim.testing`: a scripted OpenAI-compatible server, for tests and runs without a model;
- `sim.runs`: `run_scenario`, `resume_run`, `replay_run`, `interview_run`, `export_run`, and
  the progress display, run lock and memory check around them;
- `sim.sweeps`: `sweep` (seeds × grid × models), each run plain data (`RunSpec`) carried out by
  an executor (in this process, a local process pool or a Ray cluster);
- `sim.cli`: the `societas` command; `report` and `inspect` are plugged in by `analysis`.

Importing `sim` is cheap: names load on first use (see `sim._exports` for why), and litellm only
with the first model call. `sim._offline` runs first so that litellm, whenever it is imported,
is configured for machines without internet; `sim._moved` keeps the module paths from before
the layers (`sim.runner`, ...) importable, with a deprecation warning.
"""

from sim import _moved, _offline  # noqa: F401  (_offline must precede any litellm import)
from sim._exports import lazy_exports

_moved.install()  # the module paths from before the layers still import, with a warning

__version__ = "0.1.0"

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.registry": ("ScenarioSpec", "UnknownScenario", "UsageEstimate", "approx_tokens",
                     "get_scenario", "scenario_names"),
    "sim.scenario_analysis": ("AgentSection", "HeadlineSeries", "ReportSection", "RunFigure",
                              "ScenarioAnalysis", "ViewPanel", "ViewTimeline"),
    "sim.config": ("ConfigError", "RunConfig", "load_config"),
    "sim.decisions": ("DecisionRequest",),
    "sim.world": ("World",),
    "sim.agent": ("SimAgent",),
    "sim.brains": ("Brain", "LLMBrain", "RuleBrain"),
    "sim.rules": ("RuleFamilies", "RulePolicy"),
    "sim.population": ("POPULATION_TABLES", "Member", "Population", "PopulationConfig", "Slot"),
    "sim.generations": ("GenerationScores", "GenerationsOfRounds", "generation_summary"),
    "sim.evolution": ("Pool", "ReproductionScheme", "newcomers_per_generation",
                      "register_fitness", "register_mutation", "register_reproduction",
                      "turnover_rule"),
    "sim.tasks": ("Task",),
    "sim.strategy_task": ("FALLBACK_STRATEGY", "StrategyReply", "WriteStrategy"),
    "sim.prompting": ("PromptLibrary", "quote_agent_text"),
    "sim.store": ("RunStore", "snapshot"),
    "sim.runs.runner": ("RunOptions", "RunResult", "resume_run", "run_scenario"),
    "sim.runs.replay": ("ReplayResult", "replay_run"),
    "sim.interviews": ("Answer", "InterviewAsk", "InterviewRequest", "InterviewWorld",
                       "Interviews", "Question"),
    "sim.runs.interview": ("InterviewResult", "interview_run"),
    "sim.sweeps.plan": ("SweepPlan", "plan_sweep", "run_sweep", "sweep"),
    "sim.sweeps.run_spec": ("RunOutcome", "RunSpec"),
    "sim.sweeps.executors": ("Executor", "InlineExecutor", "PoolExecutor"),
    "sim.sweeps.ray_executor": ("RayExecutor",),
    "sim.llm.ratelimit": ("RateLimit",),
    "sim.runs.export": ("export_run",),
    "sim.errors": ("ParseError", "UserError"),
    "sim.llm.settings": ("LLMSettings",),
    "sim.llm.gateway": ("Budget", "Gateway"),
    "sim.llm.reply_format": ("Reply", "ReplyFormat", "reply_model", "schema_only"),
})
