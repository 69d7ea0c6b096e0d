"""A local Hugging Face model as the judge (spec ``hf:PATH``).

Two ways to ask it, chosen by ``template``:

- ``prompt`` (default): the same versioned judge prompt the OpenAI-compatible judge sends
  (``cut.judges.prompt``), rendered through the judge model's chat template, and the reply
  read by the same rules (``parse_reply``: "perfect" → acceptable; an empty, refused or cut
  off reply → failure). A tokenizer without a chat template gets the system and user text
  as plain text.
- ``cut-self``: the paper's self-judge format (arXiv 2312.14591 §4.2 trains the policy
  itself as a judge on collected GPT-4 judgments: instruction + response → a judgment, then
  "Yes." or "No." for whether the response is perfect). The paper does not print its
  template; ``SELF_PROMPT`` is our Alpaca-style wording of that description. A reply ending
  (or starting) with "Yes." is acceptable; "No." makes the rest of the reply the critique;
  a reply with neither, or "No." with nothing else, is a failure.

Generation is greedy and batched through ``cut.generation``. Replies are not cached: a
local judge costs no money and is deterministic, so a rerun simply asks again.
"""

from __future__ import annotations

import re
import time
from typing import Any, Sequence

from cut import generation
from cut.errors import CutError
from cut.generation import Completion, GenerationSettings
from cut.judges.base import JudgeItem, Verdict
from cut.judges.prompt import JudgePrompt, load_prompt, parse_prompt, parse_reply, render_messages
from cut.judges.quotes import spans_from_quotes

TEMPLATES = ("prompt", "cut-self")

SELF_PROMPT = parse_prompt("""name: cut-self
version: v1

[user]
Below is an instruction that describes a task, followed by a response to it. Write a judgment of the \
response that states precisely what is wrong with it, if anything. Then say whether the response is \
perfect: end with Yes. or No.

### Instruction:
{instruction}

### Response:
{response}

### Judgment:
""", "cut.judges.local.SELF_PROMPT")

_END_VERDICT = re.compile(r"(?:^|(?<=[\s.:;,!?\"'*()]))(yes|no)[.!]?[\s*\"']*$", re.IGNORECASE)
_START_VERDICT = re.compile(r"^[\s*\"'#>]*(yes|no)\b[.!,:;]?\s*", re.IGNORECASE)
_ECHOED_QUESTION = re.compile(r"(is the response perfect\??|perfect\?)\s*$", re.IGNORECASE)


class LocalJudge:
    """``cut.judges.base.Judge`` backed by a local causal LM; see the module docstring."""

    def __init__(self, model, tokenizer, name: str = "hf:local", prompt: str | None = None,
                 template: str = "prompt", max_new_tokens: int = 512, batch_size: int = 8, progress: bool = True):
        if template not in TEMPLATES:
            raise CutError(f"hf judge: unknown template {template!r} (use {' or '.join(TEMPLATES)})")
        if template == "cut-self" and prompt is not None:
            raise CutError("hf judge: template 'cut-self' has its own prompt; leave the judge prompt unset")
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.template, self.progress = template, progress
        self.prompt: JudgePrompt = SELF_PROMPT if template == "cut-self" else load_prompt(prompt)
        self.settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0, batch_size=batch_size)
        self._chat = template == "prompt" and bool(getattr(tokenizer, "chat_template", None))
        self._stats = dict(items=0, failures=0, prompt_tokens=0, completion_tokens=0, wall_seconds=0.0)

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order; a bad reply is a failed verdict, never an exception."""
        started = time.monotonic()
        prompts = [self.render_ids(item.instruction, item.response) for item in items]
        limit = getattr(self.model.config, "max_position_embeddings", None)
        fits = [i for i, ids in enumerate(prompts) if not limit or len(ids) + self.settings.max_new_tokens <= limit]
        completions: dict[int, Completion] = {}
        if fits:
            out = generation.generate_ids(self.model, self.tokenizer, [prompts[i] for i in fits], self.settings,
                                          self._stop_ids(), progress=self.progress, description=f"judging ({self.name})")
            completions = {i: samples[0] for i, samples in zip(fits, out)}
        seconds = (time.monotonic() - started) / max(1, len(items))
        verdicts = []
        for i, item in enumerate(items):
            verdict = (self._read(completions[i], item.response) if i in completions else Verdict(
                error=f"judge prompt of {len(prompts[i])} tokens plus {self.settings.max_new_tokens} new tokens "
                      f"exceeds the judge model's context of {limit}"))
            verdict.prompt_tokens, verdict.seconds = len(prompts[i]), seconds
            verdicts.append(verdict)
        self._account(verdicts, time.monotonic() - started)
        return verdicts

    def render_ids(self, instruction: str, response: str) -> list[int]:
        """Token ids of the judge prompt for one item."""
        messages = render_messages(self.prompt, instruction, response)
        if self._chat:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        # No chat template (or cut-self): the messages as plain text, like the paper's Alpaca strings.
        text = "\n\n".join(m["content"] for m in messages) + "\n"
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def _stop_ids(self) -> list[int]:
        from cut.templates import Template

        return generation.stop_token_ids(Template("chat" if self._chat else "alpaca"), self.tokenizer)

    def _read(self, completion: Completion, response: str) -> Verdict:
        text = generation.decode(self.tokenizer, completion)
        finish = "stop" if completion.finished else "length"
        verdict = (parse_self_reply(text, response, finish) if self.template == "cut-self"
                   else parse_reply(text, response, finish))
        verdict.completion_tokens = len(completion.token_ids)
        return verdict

    def _account(self, verdicts: list[Verdict], seconds: float) -> None:
        self._stats["items"] += len(verdicts)
        self._stats["failures"] += sum(v.failed for v in verdicts)
        self._stats["prompt_tokens"] += sum(v.prompt_tokens for v in verdicts)
        self._stats["completion_tokens"] += sum(v.completion_tokens for v in verdicts)
        self._stats["wall_seconds"] += seconds

    def summary(self) -> dict[str, Any]:
        """Totals over every ``judge`` call: items, failures, prompt/completion tokens, wall seconds."""
        return dict(self._stats)


def parse_self_reply(text: str | None, response: str, finish_reason: str | None = None) -> Verdict:
    """Read a ``cut-self`` reply: "... Yes." → acceptable; "<critique> No." → the critique.

    The verdict word is looked for at the end of the reply, then at its start. Cut off,
    empty, no verdict word, or "No." without a critique → a failed verdict.
    """
    if finish_reason == "length":
        return Verdict(raw=text, error="judge reply was cut off at max_new_tokens")
    if text is None or not text.strip():
        return Verdict(raw=text, error="judge reply was empty")
    body = text.strip()
    match = _END_VERDICT.search(body)
    if match:
        word, body = match.group(1).lower(), body[:match.start()]
    else:
        match = _START_VERDICT.match(body)
        if not match:
            return Verdict(raw=text, error="no Yes./No. verdict in the self-judge reply")
        word, body = match.group(1).lower(), body[match.end():]
    if word == "yes":
        return Verdict(judgment=None, raw=text)
    critique = _ECHOED_QUESTION.sub("", body.strip()).strip()
    if not critique:
        return Verdict(raw=text, error="judge said No. without a judgment")
    return Verdict(judgment=critique, spans=spans_from_quotes(critique, response), raw=text)


def from_spec(arg: str, **options: Any) -> LocalJudge:
    """``make_judge("hf:PATH", template=..., max_new_tokens=..., batch_size=..., dtype=...)``.

    PATH is anything ``cut.models.load_model`` takes (directory, Hub id in the cache, .gguf,
    alias). Options: ``prompt``, ``template``, ``max_new_tokens``, ``batch_size``, ``dtype``,
    ``progress``; others (e.g. ``base_url``) are errors, since they mean nothing here.
    """
    from cut.models import LoadOptions, load_model

    if not arg:
        raise CutError("hf judge: a model is required, e.g. hf:smollm2-135m-instruct or hf:/path/to/model")
    known = {"prompt", "template", "max_new_tokens", "batch_size", "dtype", "progress"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise CutError(f"hf judge: option {unknown[0]!r} does not apply to a local model "
                       f"(known: {', '.join(sorted(known))})")
    dtype = options.pop("dtype", "float32")
    model, tokenizer = load_model(arg, LoadOptions(dtype=dtype))
    return LocalJudge(model, tokenizer, name=f"hf:{arg}", **options)
