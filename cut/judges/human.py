"""The human judge: a person at the terminal judges one response at a time.

For each item it shows the instruction and the response in rich panels (and, for an IFEval
prompt, its constraints), then asks: ``a`` acceptable, ``c`` critique, ``s`` skip, ``u`` undo
the last verdict, ``q`` quit. A critique may run over several lines and ends with an empty
line; the excerpts it quotes ("like this") become spans of the response
(``cut.judges.quotes``). With the option ``revisions`` (``--judge-option revisions=true``, or
``judge_options: {revisions: true}`` in an online recipe) the person may then type the
response as it should have been (optional; an empty line skips), stored as the record's
``revision``. A quote that is not found is pointed out, and the person may keep
the critique as it is (the text trains, the quote just gives no span) or write it again.

Undo and quit are not verdicts: the judge raises ``UndoRequest`` / ``QuitRequest`` and the
collection loop (``cut collect --judge human``), which saves after every item, removes the
last record or stops; a rerun resumes where it stopped. End of input also means quit.

Lines are read with ``input_stream.readline()``, so a script or a test can drive the judge
through any text stream (``io.StringIO``).

Not in the paper: CUT (arXiv 2312.14591) uses Shepherd's human judgments offline and GPT-4's
online; this is the tool to write your own.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Sequence, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cut.errors import CutError
from cut.judges.base import JudgeItem, QuitRequest, UndoRequest, Verdict
from cut.judges.quotes import extract_quotes, locate, spans_from_quotes
from cut.progress import make_console

# key → the word that may be typed instead, in the order the prompt lists them.
CHOICES = {"a": "acceptable", "c": "critique", "s": "skip", "u": "undo", "q": "quit"}
_PROMPT_WORDS = ["acceptable", "critique", "skip", "undo last", "quit"]
_EXCERPT_CHARS = 60  # how much of a marked span to echo back


class HumanJudge:
    """A ``Judge`` that asks a person. ``clock`` (seconds, monotonic) is there for tests."""

    interactive = True  # the collection loop gives it one item at a time and saves after each
    chunk_size = 1

    def __init__(self, input_stream: TextIO | None = None, console: Console | None = None,
                 annotator: str | None = None, clock: Callable[[], float] = time.monotonic,
                 revisions: bool = False):
        self.input = input_stream if input_stream is not None else sys.stdin
        self.console = console if console is not None else make_console(stderr=False, highlight=False)
        self.annotator = annotator or None
        self.name = f"human:{self.annotator}" if self.annotator else "human"
        self.clock = clock
        self.shown = 0  # items shown in this session, for the header
        self.revisions = revisions  # after a critique, ask for a corrected response (optional)

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item. Raises UndoRequest / QuitRequest when the person asks, in
        which case verdicts for earlier items of the same call are lost: the loop passes
        one item at a time (``chunk_size``)."""
        return [self._judge_one(item) for item in items]

    def _judge_one(self, item: JudgeItem) -> Verdict:
        start = self.clock()
        self.shown += 1
        self._show(item)
        verdict = self._ask(item.response)
        verdict.seconds = self.clock() - start
        return verdict

    # --- showing -------------------------------------------------------------------------

    def _show(self, item: JudgeItem) -> None:
        item_id = item.metadata.get("id")
        title = f"item {self.shown}" + (f" (id {item_id})" if item_id is not None else "")
        self.console.rule(Text(title), align="left")
        self.console.print(Panel(Text(item.instruction), title="instruction", title_align="left"))
        constraints = constraints_table(item.metadata)
        if constraints is not None:
            self.console.print(constraints)
        body = Text(item.response) if item.response else Text("(empty response)", style="dim")
        self.console.print(Panel(body, title="response", title_align="left"))

    def _say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""))

    # --- asking --------------------------------------------------------------------------

    def _ask(self, response: str) -> Verdict:
        while True:
            choice = self._choice()
            if choice == "a":
                return Verdict(judgment=None)
            if choice == "s":
                return Verdict(skipped=True)
            if choice == "u":
                raise UndoRequest()
            if choice == "q":
                raise QuitRequest()
            verdict = self._critique(response)
            if verdict is not None:
                return verdict
            self._say("empty critique: choose again", "yellow")

    def _choice(self) -> str:
        while True:
            prompt = Text()
            for word in _PROMPT_WORDS:
                prompt.append(f"[{word[0]}]", style="bold").append(f"{word[1:]}  ")
            self.console.print(prompt.append("> "), end="")
            raw = self._readline()
            if raw is None:
                raise QuitRequest()
            key = raw.strip().lower()
            for letter, word in CHOICES.items():
                if key in (letter, word):
                    return letter
            self._say(f"unknown choice {raw.strip()!r}: type a, c, s, u or q", "yellow")

    def _critique(self, response: str) -> Verdict | None:
        """Read a critique; None if it was empty. Loops while the person rewrites it."""
        while True:
            text = self._read_critique()
            if text is None:
                return None
            missing = [q for q in extract_quotes(text) if locate(q, response) is None]
            for quote in missing:
                self._say(f'"{quote}" not found in the response, kept in the text', "yellow")
            if missing and self._wants_rewrite():
                continue
            spans = spans_from_quotes(text, response)
            for start, end in spans:
                excerpt = response[start:end]
                shown = excerpt[:_EXCERPT_CHARS] + ("…" if len(excerpt) > _EXCERPT_CHARS else "")
                self._say(f"marked [{start}, {end}): {shown!r}", "green")
            revision = self._read_revision() if self.revisions else None
            return Verdict(judgment=text, spans=spans, revision=revision, raw=text)

    def _read_revision(self) -> str | None:
        self._say("revision (optional): the response as it should have been; end with an empty line "
                  "(an empty line alone: none)")
        return self._read_block(quit_when_empty=False)

    def _read_critique(self) -> str | None:
        self._say('critique: say what is wrong, quoting the parts you mean in "double quotes"; '
                  "end with an empty line")
        return self._read_block(quit_when_empty=True)

    def _read_block(self, quit_when_empty: bool) -> str | None:
        """Lines up to an empty one, joined; None if there were none."""
        lines: list[str] = []
        while True:
            line = self._readline()
            if line is None:  # end of input: keep what was written, the next read quits
                if not lines and quit_when_empty:
                    raise QuitRequest()
                break
            if not line.strip():
                break
            lines.append(line.rstrip("\r\n"))
        text = "\n".join(lines).strip()
        return text or None

    def _wants_rewrite(self) -> bool:
        while True:
            self.console.print(Text("[Enter] keep the critique as it is, [e] write it again > "), end="")
            raw = self._readline()
            key = "" if raw is None else raw.strip().lower()
            if key in ("", "k", "keep"):
                return False
            if key in ("e", "edit"):
                return True
            self._say(f"unknown choice {raw.strip()!r}: press Enter or type e", "yellow")

    def _readline(self) -> str | None:
        """The next line without its line ending, or None at end of input."""
        line = self.input.readline()
        if line == "":
            return None
        return line.rstrip("\r\n")


def constraints_table(metadata: dict[str, Any]) -> Table | None:
    """The IFEval constraints of an item (``instruction_id_list`` + ``kwargs``), or None."""
    ids = metadata.get("instruction_id_list")
    if not isinstance(ids, list) or not ids:
        return None
    kwargs = metadata.get("kwargs")
    kwargs = kwargs if isinstance(kwargs, list) and len(kwargs) == len(ids) else [{}] * len(ids)
    table = Table(title="constraints", title_justify="left", show_header=True)
    table.add_column("constraint")
    table.add_column("arguments")
    for instruction_id, args in zip(ids, kwargs):
        shown = ", ".join(f"{k}={v!r}" for k, v in (args or {}).items() if v is not None)
        table.add_row(Text(str(instruction_id)), Text(shown))
    return table


def from_spec(arg: str, **options: Any) -> HumanJudge:
    """``make_judge("human")`` or ``make_judge("human:alice")`` (the annotator's name is stored
    in each record's ``judge`` field). Options ``input_stream``, ``console`` and ``clock`` are
    passed on; options meant for other judges (concurrency, caching) are ignored."""
    name = arg.strip()
    if arg and not name:
        raise CutError("the human judge's annotator name is empty: use 'human' or 'human:NAME'")
    known = {k: options[k] for k in ("input_stream", "console", "clock", "revisions") if k in options}
    return HumanJudge(annotator=name or None, **known)
