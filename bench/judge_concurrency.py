"""How much concurrent judging buys over one request at a time.

Starts the local chat-completions test server (tests/chat_server.py) in a child process with
a fixed latency per request, then judges the same items twice in this one process: with concurrency 1 and with
concurrency N, each with a fresh, empty cache, and prints a table of wall time, throughput
and speed-up. With 100 ms latency the sequential run takes at least items × 0.1 s; the goal
is a speed-up of at least 10× at concurrency 32.

    python bench/judge_concurrency.py                # 200 items, 100 ms, concurrency 32
    python bench/judge_concurrency.py --items 50 --latency 0.05 --concurrency 8

No network beyond 127.0.0.1; no API key is read (the server is local, so the judge sends
the dummy key "EMPTY").
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.chat_server

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cut.judges.base import JudgeItem  # noqa: E402
from cut.judges.openai_judge import OpenAIJudge, OpenAIJudgeConfig  # noqa: E402
from tests.chat_server import ChatServer  # noqa: E402


def reply(messages: list[dict]) -> str:
    # Half the items get a critique with a quote, so parsing and span location are timed too.
    user = messages[-1]["content"]
    return 'The response says "number 1" without explaining it.' if "odd" in user else "perfect"


def make_items(n: int) -> list[JudgeItem]:
    return [JudgeItem(f"Describe item {i} ({'odd' if i % 2 else 'even'}).",
                      f"This is item number {i}.") for i in range(n)]


class ServerProcess:
    """ChatServer in a child process: a real judge server does not share the client's GIL, and
    in one process the server's request handling would be timed as judge overhead."""

    def __init__(self, latency: float):
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child, latency), daemon=True)

    def __enter__(self) -> "ServerProcess":
        self._process.start()
        self.base_url = self._conn.recv()
        return self

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)

    def call(self, command: str):
        self._conn.send(command)
        return self._conn.recv()


def _serve(conn, latency: float) -> None:
    with ChatServer(reply=reply, delay=latency) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "reset":
                server.reset()
            conn.send((server.requests, server.max_in_flight))


def run(server: ServerProcess, items: list[JudgeItem], concurrency: int) -> dict:
    server.call("reset")
    with tempfile.TemporaryDirectory() as cache_dir:
        config = OpenAIJudgeConfig(model="bench-judge", base_url=server.base_url,
                                   api_key_env="CUT_BENCH_UNSET_KEY", concurrency=concurrency,
                                   cache_dir=cache_dir, max_retries=0)
        judge = OpenAIJudge(config, progress=True)
        start, cpu_start = time.perf_counter(), time.process_time()
        verdicts = judge.judge(items)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    requests, max_in_flight = server.call("stats")
    return {"concurrency": concurrency, "requests": requests, "failures": sum(v.failed for v in verdicts),
            "max_in_flight": max_in_flight, "wall": wall, "cpu": cpu}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1, help="server seconds per request")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)

    console = Console(width=max(Console().width, 110))  # the table's 8 columns, even in a pipe
    import openai  # noqa: F401  (imported before timing, so neither run pays for the import)

    items = make_items(args.items)
    with ServerProcess(args.latency) as server:
        rows = [run(server, items, 1), run(server, items, args.concurrency)]

    table = Table(title=f"judging {args.items} items, {args.latency * 1000:.0f} ms per request (local server)")
    # "client CPU s" is the judge process's own CPU time: when it nears the wall time, the
    # client (the openai SDK's per-request work) is the bottleneck, not the server's latency.
    for column in ("mode", "requests", "failed", "max in flight", "wall s", "client CPU s", "items/s", "speed-up"):
        table.add_column(column, justify="left" if column == "mode" else "right", no_wrap=column == "mode")
    sequential = rows[0]["wall"]
    for row in rows:
        table.add_row(f"concurrency {row['concurrency']}", str(row["requests"]), str(row["failures"]),
                      str(row["max_in_flight"]), f"{row['wall']:.2f}", f"{row['cpu']:.2f}",
                      f"{args.items / row['wall']:.1f}",
                      f"{sequential / row['wall']:.1f}x")
    console.print(table)


if __name__ == "__main__":
    main()
