"""An LLM judge behind any OpenAI-compatible chat-completions endpoint.

OpenAI itself, or — through ``base_url`` — vLLM, Ollama, llama.cpp's server and the like. The
judge renders each (instruction, response) with a versioned prompt file (``cut.judges.prompt``;
the default follows the GPT-4 judging protocol of arXiv 2312.14591's online alignment: "perfect"
or a precise statement of the mistakes, plus quotes we ask for so critiques become spans). A
reply off that format ("perfectly bad: ...", a proxy's "Error: upstream request timeout") is
a failed verdict, like an empty or refused one (``cut.judges.prompt.parse_reply``).

Requests go through ``cut.judges.openai_client.ChatClient`` (concurrency, timeouts, which
errors are retried and which stop the run, token and cost accounting). An unusable reply (empty, cut off, refused) is a failed
verdict, never a critique. Successful replies go to an on-disk cache keyed by (settings,
messages, response) — a rerun sends nothing — and token counts and cost are summed and
shown as a table at the end.

The API key is read from the environment variable named by ``api_key_env`` and kept only in
the client: it is not part of the settings, the cache, the summary or any message (error text
from the server is scrubbed of it). The endpoint: ``base_url``, else ``OPENAI_BASE_URL``, else
OpenAI (``cut.judges.openai_client``).

With ``revisions`` the judge is asked (prompt ``cut-revise-v1``) to follow its critique with
the response as it should have been; the text after its "Revision:" line becomes the
verdict's ``revision`` (none when the reply has no such line).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Sequence

from cut.errors import reject_unknown
from cut.judges.base import JudgeItem, Verdict
from cut.judges.cache import JudgeCache
from cut.judges.openai_client import (
    OPENAI_URL,
    ChatClient,
    ChatReply,
    OpenAIJudgeConfig,
)
from cut.judges.prompt import REVISE_PROMPT, load_prompt, parse_reply, render_messages
from cut.progress import console, progress_bar


class OpenAIJudge:
    """``cut.judges.base.Judge`` over an OpenAI-compatible endpoint; see the module docstring."""

    def __init__(self, config: OpenAIJudgeConfig, progress: bool = True):
        self.config = config
        self.name = f"openai:{config.model}"
        self.progress = progress
        self.prompt = load_prompt(config.prompt or (REVISE_PROMPT if config.revisions else None))
        self.client = ChatClient(config, self.name)
        self.cache = JudgeCache(config.cache_dir) if config.cache_dir else None
        self._stats = dict(items=0, cache_hits=0, failures=0, wall_seconds=0.0)

    def settings(self) -> dict[str, Any]:
        """What determines a reply, hence the cache key. No secrets, no transport knobs."""
        c = self.config
        return {"model": c.model, "base_url": (c.base_url or OPENAI_URL).rstrip("/"),
                "temperature": c.temperature, "max_tokens": c.max_tokens,
                "prompt": f"{self.prompt.name}@{self.prompt.version}"}

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order. Raises CutError only for run-wide errors (401/403/404)."""
        start = time.monotonic()
        try:
            return self._judge_all(list(items))
        finally:
            self._stats["items"] += len(items)
            self._stats["wall_seconds"] += time.monotonic() - start
            if self.progress:
                console.print(summary_table(self.name, self.summary()))

    def summary(self) -> dict[str, Any]:
        """Totals over every ``judge`` call: items, requests sent (retries included), retries,
        cache hits, failures, prompt/completion tokens, cost in USD, wall seconds."""
        totals = {**self._stats, **self.client.stats}
        return {k: totals[k] for k in ("items", "requests", "retries", "cache_hits", "failures",
                                       "prompt_tokens", "completion_tokens", "cost", "wall_seconds")}

    def _judge_all(self, items: list[JudgeItem]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        pending: dict[str, tuple[list[dict], list[int]]] = {}  # key → (messages, item indices)
        for i, item in enumerate(items):
            messages = render_messages(self.prompt, item.instruction, item.response)
            key = JudgeCache.make_key(self.settings(), messages, item.response)
            hit = self._from_cache(key, item.response)
            if hit is not None:
                verdicts[i] = hit
            elif key in pending:
                pending[key][1].append(i)  # same question twice in one batch: ask once
            else:
                pending[key] = (messages, [i])
        self._stats["cache_hits"] += sum(v is not None for v in verdicts)
        keys = list(pending)
        with progress_bar(self.progress, f"judging ({self.name})", len(items)) as bar:
            bar.advance(sum(v is not None for v in verdicts))
            replies = self.client.send([pending[k][0] for k in keys],
                                       on_reply=lambda j, _: bar.advance(len(pending[keys[j]][1])))
        for key, reply in zip(keys, replies):
            first, *rest = pending[key][1]
            verdict = verdicts[first] = self._verdict(key, reply, items[first].response)
            for i in rest:  # copies that cost nothing
                verdicts[i] = replace(verdict, cost=0.0, prompt_tokens=0, completion_tokens=0, cached=True)
        self._stats["failures"] += sum(v.failed for v in verdicts)
        return verdicts  # type: ignore[return-value]

    def _verdict(self, key: str, reply: ChatReply, response: str) -> Verdict:
        """A reply parsed into a verdict (usable ones are cached)."""
        if reply.failed:
            return Verdict(error=reply.error, seconds=reply.seconds)
        verdict = (Verdict(raw=reply.text, error=f"judge refused: {reply.refusal}") if reply.refusal
                   else parse_reply(reply.text, response, reply.finish_reason, self.config.revisions))
        verdict.cost, verdict.seconds = reply.cost, reply.seconds
        verdict.prompt_tokens, verdict.completion_tokens = reply.prompt_tokens, reply.completion_tokens
        if not verdict.failed and self.cache is not None:
            self.cache.put(key, {
                "raw": reply.text, "finish_reason": reply.finish_reason,
                "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens})
        return verdict

    def _from_cache(self, key: str, response: str) -> Verdict | None:
        entry = self.cache.get(key) if self.cache else None
        if entry is None:
            return None
        verdict = parse_reply(entry.get("raw"), response, entry.get("finish_reason"), self.config.revisions)
        if verdict.failed:  # parsing rules changed since: ask again
            return None
        verdict.cached = True
        return verdict



def summary_table(name: str, summary: dict[str, Any]):
    """A rich table of a judge's ``summary()``, one row per quantity."""
    from rich.table import Table

    table = Table(title=f"judge {name}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for label, key in (("items", "items"), ("requests sent", "requests"), ("retries", "retries"),
                       ("cache hits", "cache_hits"), ("failures", "failures"),
                       ("prompt tokens", "prompt_tokens"), ("completion tokens", "completion_tokens")):
        table.add_row(label, str(summary[key]))
    table.add_row("cost (USD)", f"{summary['cost']:.4f}")
    table.add_row("wall time (s)", f"{summary['wall_seconds']:.1f}")
    return table


def from_spec(arg: str, **options: Any) -> OpenAIJudge:
    """``make_judge("openai:gpt-4o-mini", base_url=..., concurrency=8)``: ``arg`` is the model;
    options are ``OpenAIJudgeConfig`` fields plus ``progress``. Unknown options are errors."""
    progress = options.pop("progress", True)
    reject_unknown(options, OpenAIJudgeConfig, "openai judge", exclude=("model",))
    return OpenAIJudge(OpenAIJudgeConfig(model=arg, **options), progress=progress)
