"""The transport to any OpenAI-compatible chat-completions endpoint, shared by the judges.

``ChatClient`` sends lists of chat messages and returns one ``ChatReply`` each: the API key
(from the environment variable named by ``api_key_env``, kept only in the client and scrubbed
from every error), bounded concurrency (an asyncio semaphore), a total timeout per request,
and retries that are ours, not the client library's, so we choose what is retried:
408/409/429/5xx, timeouts, dropped connections and unparseable bodies get capped exponential
backoff with jitter (a ``Retry-After`` header is honoured); other 4xx fail at once; 401/403/404
(bad key, no access, unknown model) stop the whole run with a ``CutError``, since every request
would fail the same way. Tokens and cost are summed per client. No prompts, parsing or cache:
those belong to the judges (``cut.judges.openai_judge``, ``cut.evaluation.pairwise``).

The endpoint is chosen as the official ``openai`` client chooses it: ``base_url`` when given,
else the environment's ``OPENAI_BASE_URL``, else api.openai.com; so a shell pointed at a local
server never sends prompts or the key to OpenAI. Every transport failure names that URL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from cut.errors import CutError

OPENAI_URL = "https://api.openai.com/v1"

# Approximate list prices in USD per 1,000 tokens (prompt, completion), standard tier, as
# published by OpenAI in 2025. Used only when no price is given; check current prices before
# trusting a cost total. Matched by the longest prefix, so dated names
# ("gpt-4o-mini-2024-07-18") find their family.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (0.00125, 0.010),
    "gpt-5-mini": (0.00025, 0.002),
    "gpt-5-nano": (0.00005, 0.0004),
    "gpt-4.1": (0.002, 0.008),
    "gpt-4.1-mini": (0.0004, 0.0016),
    "gpt-4.1-nano": (0.0001, 0.0004),
    "gpt-4o": (0.0025, 0.010),
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4-turbo": (0.010, 0.030),
    "gpt-4": (0.030, 0.060),
    "gpt-3.5-turbo": (0.0005, 0.0015),
    "o3": (0.002, 0.008),
    "o3-mini": (0.0011, 0.0044),
    "o4-mini": (0.0011, 0.0044),
}


@dataclass
class OpenAIJudgeConfig:
    model: str  # the model name the endpoint expects
    base_url: str | None = None  # None → OpenAI; e.g. http://127.0.0.1:8000/v1 for vLLM
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key, never the key
    prompt: str | None = None  # prompt file path or packaged name; None → cut-default-v1 (cut-revise-v1 with revisions)
    revisions: bool = False  # ask for a corrected response after the critique (stored as the record's revision)
    temperature: float = 0.0
    max_tokens: int = 512  # reply limit; a reply cut off here is a failure
    concurrency: int = 16  # requests in flight at once
    timeout: float = 60.0  # seconds per request (total, not per read)
    max_retries: int = 4  # extra attempts after the first, for retryable errors only
    backoff: float = 1.0  # base delay in seconds: backoff * 2**attempt, jittered, capped
    backoff_cap: float = 30.0  # longest single wait, also for a server's Retry-After
    cache_dir: str | None = None  # directory of the reply cache; None → no cache
    price_per_1k_prompt: float = 0.0  # USD; both 0 → KNOWN_PRICES for the model, if listed
    price_per_1k_completion: float = 0.0

    def __post_init__(self) -> None:
        # An explicit base_url wins over OPENAI_BASE_URL, which wins over OpenAI, as in the
        # official client; resolved once here, so cache keys and messages show the real URL.
        self.base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        if not self.model:
            raise CutError("openai judge: a model name is required (e.g. openai:gpt-4o-mini)")
        checks = [("concurrency", self.concurrency >= 1), ("timeout", self.timeout > 0),
                  ("max_retries", self.max_retries >= 0), ("backoff", self.backoff >= 0),
                  ("backoff_cap", self.backoff_cap >= 0),
                  ("max_tokens", self.max_tokens >= 1)]
        for name, ok in checks:
            if not ok:
                raise CutError(f"openai judge: {name}={getattr(self, name)!r} is out of range")

    @property
    def url(self) -> str:
        return self.base_url or OPENAI_URL

    def prices(self) -> tuple[float, float]:
        """(prompt, completion) USD per 1K tokens: the given ones, else the known table, else 0."""
        if self.price_per_1k_prompt or self.price_per_1k_completion:
            return self.price_per_1k_prompt, self.price_per_1k_completion
        return known_price(self.model) or (0.0, 0.0)


def known_price(model: str) -> tuple[float, float] | None:
    name = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" as routers spell it
    matches = [k for k in KNOWN_PRICES if name == k or name.startswith(k + "-")]
    return KNOWN_PRICES[max(matches, key=len)] if matches else None


def is_local_url(base_url: str | None) -> bool:
    """Loopback, private-network or ``localhost`` hosts: self-hosted servers that need no key."""
    host = urlsplit(base_url or "").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified


def resolve_api_key(config: OpenAIJudgeConfig) -> str:
    key = os.environ.get(config.api_key_env, "")
    if key:
        return key
    if is_local_url(config.base_url):
        return "EMPTY"  # vLLM, Ollama and llama.cpp accept any key unless started with one
    raise CutError(
        f"environment variable {config.api_key_env} is not set; it must hold the API key for "
        f"{config.url} (name another variable with api_key_env; for a server "
        f"without authentication set it to any value, e.g. EMPTY)")


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _NotRetried(Exception):
    """A 4xx that retrying cannot fix (e.g. 400, input too long): a failed verdict at once."""


class _Fatal(Exception):
    """An error every request would hit (bad key, unknown model): stop the run."""


@dataclass
class ChatReply:
    """What one chat request came to: the reply, or ``error`` when no usable answer arrived
    (retries exhausted, a 4xx that is not retried). ``choice`` is ``choices[0]`` as plain JSON
    (message, finish_reason, logprobs when asked), for callers that store the raw reply."""

    text: str | None = None
    finish_reason: str | None = None
    refusal: str | None = None
    choice: dict | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # USD, from the config's prices
    seconds: float = 0.0  # from the first attempt to the answer, retries included
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class ChatClient:
    """Sends lists of chat messages to an OpenAI-compatible endpoint: the key (from the
    environment, scrubbed from every error), bounded concurrency, retries and price/token
    accounting of the module docstring. No prompts, parsing or cache: judges build on it
    (``cut.judges.openai_judge.OpenAIJudge``, the pairwise evaluation judge in ``cut.evaluation.pairwise``)."""

    def __init__(self, config: OpenAIJudgeConfig, name: str):
        self.config = config
        self.name = name  # prefixes run-wide errors
        self._api_key = resolve_api_key(config)
        self.stats = dict(requests=0, retries=0, prompt_tokens=0, completion_tokens=0, cost=0.0)

    def send(self, message_lists: Sequence[list[dict]], extra: dict[str, Any] | None = None,
             on_reply: Callable[[int, ChatReply], None] | None = None) -> list[ChatReply]:
        """One reply per message list, in order. ``extra`` adds request fields (e.g.
        ``logprobs``); ``on_reply(index, reply)`` is called as each one arrives. Raises
        CutError only for run-wide errors (401/403/404)."""
        return _run_sync(self.send_async(list(message_lists), extra or {}, on_reply))

    async def send_async(self, message_lists: list[list[dict]], extra: dict[str, Any],
                         on_reply: Callable[[int, ChatReply], None] | None = None) -> list[ChatReply]:
        if not message_lists:
            return []
        import openai

        client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.config.url,
                                    max_retries=0, timeout=self.config.timeout)
        semaphore = asyncio.Semaphore(self.config.concurrency)

        async def one(i: int) -> tuple[int, ChatReply]:
            return i, await self._ask(client, semaphore, message_lists[i], extra)

        tasks = [asyncio.create_task(one(i)) for i in range(len(message_lists))]
        replies: list[ChatReply | None] = [None] * len(message_lists)
        try:
            for next_done in asyncio.as_completed(tasks):
                i, reply = await next_done
                replies[i] = reply
                if on_reply is not None:
                    on_reply(i, reply)
        except _Fatal as err:
            raise CutError(f"{self.name}: {self._scrub(str(err))}") from None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()
        return replies  # type: ignore[return-value]

    async def _ask(self, client, semaphore, messages: list[dict], extra: dict[str, Any]) -> ChatReply:
        """One item: attempts until an answer, a non-retryable error, or retries run out."""
        start = time.monotonic()
        last_error = ""
        for attempt in range(self.config.max_retries + 1):
            retry_after = None
            async with semaphore:
                try:
                    reply = await self._attempt(client, messages, extra)
                except _NotRetried as err:
                    return ChatReply(error=self._scrub(str(err)), seconds=time.monotonic() - start)
                except _Retryable as err:
                    last_error, retry_after = self._scrub(str(err)), err.retry_after
                else:
                    reply.seconds = time.monotonic() - start
                    return reply
            if attempt < self.config.max_retries:  # wait outside the semaphore
                self.stats["retries"] += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        attempts = self.config.max_retries + 1
        return ChatReply(error=f"gave up after {attempts} attempt(s): {last_error}",
                         seconds=time.monotonic() - start)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        c = self.config
        delay = min(c.backoff_cap, c.backoff * 2 ** attempt) * random.uniform(0.5, 1.0)
        return max(delay, min(retry_after, c.backoff_cap)) if retry_after else delay

    async def _attempt(self, client, messages: list[dict], extra: dict[str, Any]) -> ChatReply:
        """One request. A reply that arrived was paid for, usable or not: it is accounted."""
        completion = await self._request(client, messages, extra)
        try:
            choice = completion.choices[0]
            text, finish = choice.message.content, choice.finish_reason
            refusal = getattr(choice.message, "refusal", None)
        except (AttributeError, IndexError, TypeError):
            raise _Retryable(f"unusable response body: {str(completion)[:120]!r}") from None
        usage = getattr(completion, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        price_in, price_out = self.config.prices()
        cost = prompt_tokens / 1000 * price_in + completion_tokens / 1000 * price_out
        self.stats["prompt_tokens"] += prompt_tokens
        self.stats["completion_tokens"] += completion_tokens
        self.stats["cost"] += cost
        dump = getattr(choice, "model_dump", None)
        return ChatReply(text=text, finish_reason=finish, refusal=refusal,
                         choice=dump(mode="json") if callable(dump) else None,
                         prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)

    async def _request(self, client, messages: list[dict], extra: dict[str, Any]):
        """Send one request; map every transport outcome to a result, _Retryable or _Fatal."""
        import openai

        c = self.config
        # OpenAI's own API wants max_completion_tokens (reasoning models reject max_tokens);
        # compatible servers know max_tokens.
        limit = "max_completion_tokens" if urlsplit(c.url).hostname == "api.openai.com" else "max_tokens"
        self.stats["requests"] += 1
        try:
            completion = await asyncio.wait_for(client.chat.completions.create(
                model=c.model, messages=messages, temperature=c.temperature,
                timeout=c.timeout, **{limit: c.max_tokens}, **extra), c.timeout)
        except (asyncio.TimeoutError, openai.APITimeoutError):
            raise _Retryable(f"no answer within {c.timeout:g} s from {c.url}") from None
        except openai.APIConnectionError as err:
            raise _Retryable(f"connection failed to {c.url}: {err}") from None
        except openai.APIStatusError as err:
            raise _status_error(err, c.url) from None
        except ValueError as err:  # a 200 whose body is not JSON
            raise _Retryable(f"response body is not JSON (from {c.url}): {err}") from None
        if isinstance(completion, str):  # the client hands back non-JSON content types as text
            raise _Retryable(f"response body is not JSON (from {c.url}): {completion[:80]!r}")
        return completion

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _status_error(err, url: str) -> Exception:
    status = err.status_code
    message = f"HTTP {status} from {url}: {getattr(err, 'message', err)}"
    if status in (401, 403, 404):
        return _Fatal(message)
    if status in (408, 409, 429) or status >= 500:
        return _Retryable(message, _retry_after(err.response))
    return _NotRetried(message)


def _retry_after(response) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers[name]) * scale
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _run_sync(coro):
    """Run a coroutine from sync code, also when an event loop is already running (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
