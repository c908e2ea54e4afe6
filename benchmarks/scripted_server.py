"""What the scripted server's TCP_NODELAY saves: a chain of dependent calls, Nagle on vs off.

Every call waits for the previous reply, as one wave of a run waits for the last, through the
engine's own client (`LLMClient` → litellm → HTTP) on one kept-alive connection, against a
zero-latency scripted server. With Nagle's algorithm on (how the server answered before), each
reply's body waits for the client's delayed ACK of its headers (about 40 ms). The last line is
the ratio of time per call with Nagle on / off (higher is what the fix saves).

    python benchmarks/scripted_server.py [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sim.llm.client import LLMClient
from sim.llm.settings import LLMSettings
from sim.testing.scripted_server import ScriptedLLMServer

MESSAGES = [{"role": "user", "content": "Say OK."}]


async def chain(client: LLMClient, calls: int) -> float:
    """Seconds per call of `calls` calls, each sent after the previous reply arrived."""
    await client.complete(MESSAGES)  # warm: connection, litellm's first-call setup
    started = time.perf_counter()
    for _ in range(calls):
        completion = await client.complete(MESSAGES)
        assert completion.text == "OK", completion.error
    return (time.perf_counter() - started) / calls


def per_call(calls: int, *, tcp_nodelay: bool) -> float:
    with ScriptedLLMServer(tcp_nodelay=tcp_nodelay) as server:
        client = LLMClient(LLMSettings(model="openai/scripted", api_base=server.url,
                                       timeout_s=10.0, max_retries=0))
        return asyncio.run(chain(client, calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    # alternate, twice each, and keep the best: a loaded machine only ever adds time
    nagle = min(per_call(args.calls, tcp_nodelay=False) for _ in range(2))
    nodelay = min(per_call(args.calls, tcp_nodelay=True) for _ in range(2))
    print(f"{args.calls} dependent calls at zero server latency, through litellm")
    print(f"before (Nagle on, delayed ACKs): {nagle * 1000:.1f} ms per call")
    print(f"after (TCP_NODELAY): {nodelay * 1000:.1f} ms per call")
    print(f"per_call_nagle_vs_nodelay {nagle / nodelay:.1f}")


if __name__ == "__main__":
    main()
