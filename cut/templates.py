"""Plain and judged contexts, and the token that ends a target — the one home for prompts.

Two families (arXiv 2312.14591 §3.2 and the method notes in docs):
- ``alpaca``: the paper's strings, verbatim. The plain context asks for a response; the
  judged context additionally shows the judgment the response should match.
- ``chat``: the model's own chat template (not in the paper). The plain context is the
  instruction as the user turn plus the generation prompt, exactly as at inference; the
  judged context puts the judgment in the user turn after the instruction (``user``) or in a
  system message (``system``).

Generation, training and detection all render prompts through this module, so what the
model is trained on and what it is asked at inference cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from cut.errors import CutError

ALPACA_PLAIN = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
ALPACA_JUDGED = (
    "Below is an instruction that describes a task. Write a response to the instruction and "
    "the response should match the corresponding judgment.\n\n### Instruction:\n{instruction}"
    "\n\n### Judgment:\n{judgment}\n\n### Response:\n"
)
# Our wording for the chat variant (the paper has none).
CHAT_JUDGED_USER = "{instruction}\n\nWrite a response that matches this judgment of it: {judgment}"
CHAT_JUDGED_SYSTEM = (
    "Respond to the user's instruction. Your response must match the following judgment "
    "of it: {judgment}"
)

TEMPLATES = ("alpaca", "chat")
PLACEMENTS = ("user", "system")


@dataclass(frozen=True)
class Template:
    kind: str = "chat"  # alpaca | chat
    judgment_placement: str = "user"  # user | system (chat only)

    def __post_init__(self):
        if self.kind not in TEMPLATES:
            raise CutError(f"unknown template {self.kind!r}: use one of {', '.join(TEMPLATES)} (or auto)")
        if self.judgment_placement not in PLACEMENTS:
            raise CutError(f"unknown judgment placement {self.judgment_placement!r}: use user or system")


def choose_template(kind: str, tokenizer, judgment_placement: str = "user") -> Template:
    """``auto`` → chat when the tokenizer has a chat template, else the paper's Alpaca strings."""
    if kind == "auto":
        kind = "chat" if getattr(tokenizer, "chat_template", None) else "alpaca"
    if kind == "chat" and not getattr(tokenizer, "chat_template", None):
        raise CutError("template 'chat' needs a tokenizer with a chat template; use template=alpaca")
    return Template(kind, judgment_placement)


def plain_context(template: Template, tokenizer, instruction: str) -> str:
    if template.kind == "alpaca":
        return ALPACA_PLAIN.format(instruction=instruction)
    return _chat(tokenizer, [{"role": "user", "content": instruction}])


def judged_context(template: Template, tokenizer, instruction: str, judgment: str) -> str:
    if template.kind == "alpaca":
        return ALPACA_JUDGED.format(instruction=instruction, judgment=judgment)
    if template.judgment_placement == "system":
        messages = [{"role": "system", "content": CHAT_JUDGED_SYSTEM.format(judgment=judgment)},
                    {"role": "user", "content": instruction}]
    else:
        messages = [{"role": "user", "content": CHAT_JUDGED_USER.format(instruction=instruction, judgment=judgment)}]
    return _chat(tokenizer, messages)


def _chat(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def context_ids(template: Template, tokenizer, text: str) -> list[int]:
    """Token ids of a rendered context. Alpaca strings get the tokenizer's own special
    tokens (e.g. BOS); chat templates already contain theirs."""
    add_special = template.kind == "alpaca"
    return tokenizer(text, add_special_tokens=add_special)["input_ids"]


def end_of_target_ids(template: Template, tokenizer) -> list[int]:
    """Ids appended to every response: EOS for Alpaca, the end-of-turn marker for chat.

    For chat templates the marker is read off the template itself: render a conversation
    with a sentinel assistant message and take what follows the sentinel up to the line end
    (``<|im_end|>`` for ChatML, ``<|eot_id|>`` for Llama 3, ...).
    """
    if template.kind == "alpaca":
        if tokenizer.eos_token_id is None:
            raise CutError("the tokenizer has no EOS token; the Alpaca template needs one")
        return [tokenizer.eos_token_id]
    sentinel = "\u2063CUTSENTINEL\u2063"
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}, {"role": "assistant", "content": sentinel}], tokenize=False
    )
    tail = text.split(sentinel, 1)[1]
    marker = tail.split("\n", 1)[0].strip() or (tokenizer.eos_token or "")
    if not marker:
        raise CutError("could not find the chat template's end-of-turn marker")
    return tokenizer(marker, add_special_tokens=False)["input_ids"]


def response_ids(tokenizer, response: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of the response alone and each token's character range in it.

    The response is tokenised once and the same ids are appended to every context
    (never prompt+response jointly, whose boundary tokens could differ between contexts).
    """
    enc = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
    return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]
