"""The fault table of issue 19, counted per command: how many rows of tests/test_faults.py
give a clear line, an unclear one, a traceback or silent damage (docs/fault-table.md).

    OMP_NUM_THREADS=1 .venv/bin/python bench/fault_table.py [--show]

Runs every row in process on a tiny random model (built once, in a temporary folder), like
the test does; ``--show`` also prints each row's outcome and reason.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from tests.conftest import build_tiny_model  # noqa: E402
from tests.test_faults import ROWS, Ctx, outcome, run_row  # noqa: E402

KINDS = ("clear", "unclear", "traceback", "silent")


class _Capture:
    """The part of pytest's capsys that run_row uses, for a run outside pytest."""

    def __init__(self):
        self.out, self.err = io.StringIO(), io.StringIO()
        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err

    def readouterr(self):
        out, err = self.out.getvalue(), self.err.getvalue()
        self.out.seek(0), self.out.truncate(), self.err.seek(0), self.err.truncate()
        return argparse.Namespace(out=out, err=err)

    def close(self):
        sys.stdout, sys.stderr = self._saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print every row's outcome")
    args = parser.parse_args()
    counts: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as root:
        model = build_tiny_model(Path(root) / "model")
        for i, row in enumerate(ROWS):
            work = Path(root) / f"row{i}"
            work.mkdir()
            mp, cap = pytest.MonkeyPatch(), None
            try:
                mp.chdir(work)
                with contextlib.ExitStack() as stack:
                    ctx = Ctx(work / "w", model, mp, stack)
                    ctx.tmp.mkdir()
                    cap = _Capture()
                    try:
                        result = run_row(row, ctx, cap)
                    finally:
                        cap.close()
                    kind, why = outcome(row, ctx, result)
            finally:
                mp.undo()
            counts.setdefault(row.command, Counter())[kind] += 1
            if args.show:
                print(f"{kind:<9} {row.id}: {why[:160]}", flush=True)
    print("| command | rows | " + " | ".join(KINDS) + " |")
    print("|---|---|" + "---|" * len(KINDS))
    total = Counter()
    for command in sorted(counts):
        c = counts[command]
        total.update(c)
        print(f"| {command} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in KINDS) + " |")
    print(f"| **all** | {sum(total.values())} | " + " | ".join(str(total[k]) for k in KINDS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
