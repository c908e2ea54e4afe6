"""The LLM path: everything between a task's prompt and its parsed decision.

How the package reads, from the engine's side to the provider's:

- `gateway`: resolves one batch of pending decisions (rule brains inline, LLM brains
  concurrently), with repair re-prompts, fallbacks, budgets and the log of every call;
- `cache`: the response cache that lets a finished run be replayed offline;
- `client`: the only code that calls litellm (preflight, retries, backoff, probes), with
  `settings` (how to reach a model), `outcomes` (what a call comes back with), `failures`
  (what litellm's exceptions mean) and `breaker` (pausing for a failing provider);
- `ratelimit`: model-call limits shared by the runs of a sweep (requests/min, tokens/min,
  concurrent, a 429's pause), with `limiter_service` serving them to pool workers;
- `event_loop`: the run's asyncio loop in a thread of its own (so Jupyter works);
- `local_model`: `local/smollm2`, a model served on this machine;
- `reply_format`: a task's reply declared once as a pydantic model, giving the JSON schema
  (`response_formats`), the prompt's example, the validation and the repair message;
- `parsing`: reading replies tolerantly (JSON in prose, numbers, choices, free text);
- `redaction`: keeping API keys out of everything a run writes.

litellm itself is imported by the first model call, never by importing this package.
"""

from sim._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.llm.settings": ("REPLY_FIELDS", "TRANSPORT_FIELDS", "LLMSettings"),
    "sim.llm.outcomes": ("Completion", "ModelUnreachable", "ProviderDown"),
    "sim.llm.client": ("LLMClient",),
    "sim.llm.breaker": ("CircuitBreaker",),
    "sim.llm.ratelimit": ("LimiterCore", "LocalLimiter", "RateLimit", "parse_rate_limit"),
    "sim.llm.gateway": ("Budget", "BudgetExhausted", "Gateway", "GatewayStats"),
    "sim.llm.cache": ("CacheMiss", "ResponseCache"),
    "sim.llm.parsing": (
        "DEFAULT_CHOICE_MARKERS", "DEFAULT_NUMBER_MARKERS", "clean_free_text",
        "find_json_object", "number_in_text", "parse_choice", "parse_number",
        "strip_code_fences",
    ),
    "sim.llm.response_formats": ("json_object_format",),
    "sim.llm.reply_format": ("Reply", "ReplyFormat", "reply_model", "schema_only"),
    "sim.llm.redaction": ("scrub",),
})
