"""CUT training speed and memory against plain causal-LM training and the authors' formulation.

On the same model (SmolLM2-135M-Instruct, vocab 49,152, with cut's default LoRA) and the
same batches of real judgment records (CUT online round 1, 75% positive), this times one
training step — forward, loss, backward, AdamW step over the LoRA parameters — of:

- ``clm``      plain causal-LM training on every row the CUT batch holds (Align-P, Align-N,
               Misalign), labels = response tokens, transformers' own loss;
- ``cut``      ``CUTTrainer.compute_loss`` on the collated batch (what ``cut train`` runs);
- ``authors``  the authors' formulation (bench/authors_baseline.py): 2 rows per record with
               all-pad dummies for positives, full-vocabulary fp32 softmax;
- ``cut-nograd`` (with ``--nograd``) CUT with the extra dropout-free mask pass.

Timing runs in this process, interleaved: each round runs every variant over the same
batches, the order reversed every other round, so load from other processes hits all of
them; ratios are medians of per-round ratios. Peak memory of a step is measured per variant
in its own subprocess (see bench/README.md). Prints rich tables; asserts nothing.

    python bench/train_speed.py --threads 1     # the real model, ~10 min on 2 cores
    python bench/train_speed.py --tiny          # a tiny random Llama: checks the plumbing
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]  # tests.conftest (--tiny), authors_baseline
DATA = REPO.parent / "shared" / "data" / "cut-online" / "train-alpaca-sample-iter1.json"

import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from authors_baseline import authors_batch, authors_loss, authors_step  # noqa: E402

LABELS = {"clm": "causal LM", "cut": "CUT", "authors": "authors'", "cut-nograd": "CUT nograd"}
# glibc keeps freed heap memory and raises its mmap threshold as big blocks come and go;
# a fixed threshold sends every block ≥ 64 KiB to mmap, so RSS follows live tensors.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}


# --------------------------------------------------------------------------- data


def synthetic_records(n_pos: int, n_neg: int) -> list:
    """Stand-in records when the shared data is absent (varied lengths, 1 critique per negative)."""
    from cut.records import Record

    topics = ["rivers", "bread", "comets", "chess", "glaciers", "violins", "bees", "deserts"]
    out = []
    for i in range(n_pos + n_neg):
        topic = topics[i % len(topics)]
        response = " ".join(f"Fact {k} about {topic}: it is worth knowing and easy to explain." for k in range(4 + i % 9))
        judgment = None if i < n_pos else f"The response repeats 'worth knowing' and says nothing specific about {topic}."
        out.append(Record(f"Tell me about {topic} (item {i}).", response, judgment, id=f"syn-{i}"))
    return out


def bench_examples(tok, args, console) -> tuple[list[list], str]:
    """Fixed batches of tokenized examples, each with the same share of positives."""
    from cut.importers import load_records
    from cut.records import NEGATIVE, POSITIVE, classify_judgment
    from cut.sequences import SequenceSettings, build_examples
    from cut.templates import choose_template

    n_pos_b = round(args.positive_fraction * args.records_per_batch)
    n_neg_b = args.records_per_batch - n_pos_b
    want_pos, want_neg = n_pos_b * args.batches, n_neg_b * args.batches
    if DATA.is_file():
        records, source = load_records(DATA).records, DATA.name
    else:
        console.print(f"[yellow]{DATA} is absent: falling back to synthetic records[/yellow]")
        records, source = synthetic_records(4 * want_pos, 4 * want_neg), "synthetic"
    pos = [r for r in records if classify_judgment(r.judgment)[0] == POSITIVE][: 4 * want_pos + 4]
    neg = [r for r in records if classify_judgment(r.judgment)[0] == NEGATIVE][: 4 * want_neg + 4]
    settings = SequenceSettings(max_length=args.max_length, positive_ratio=None)
    examples, _ = build_examples(pos + neg, tok, choose_template("chat", tok), settings)
    P = [e for e in examples if not e.is_negative][:want_pos]
    N = [e for e in examples if e.is_negative][:want_neg]
    if len(P) < want_pos or len(N) < want_neg:
        raise SystemExit(f"not enough usable records for {args.batches} batches at max_length {args.max_length}")
    batches = [P[i * n_pos_b:(i + 1) * n_pos_b] + N[i * n_neg_b:(i + 1) * n_neg_b] for i in range(args.batches)]
    return batches, source


def clm_inputs(cut_batch: dict) -> dict:
    """The CUT rows as a causal-LM batch: labels = response tokens in place, -100 elsewhere."""
    ids, m = cut_batch["input_ids"], cut_batch["resp_mask"]  # (R, T), (R, L)
    rows = torch.arange(ids.shape[0])[:, None].expand_as(m)  # (R, L)
    labels = torch.full_like(ids, -100)  # (R, T)
    labels[rows[m], cut_batch["pred_pos"][m] + 1] = cut_batch["targets"][m]
    assert torch.equal(labels[labels != -100], ids[labels != -100]), "labels must be the rows' own tokens"
    return {"input_ids": ids, "attention_mask": cut_batch["attention_mask"], "labels": labels}


# --------------------------------------------------------------------------- steps


def load_policy(spec: str):
    from cut.models import LoraSettings, add_lora, load_model

    model, tok = load_model(spec)
    model = add_lora(model, LoraSettings())  # cut's default: r 16 / alpha 16 on gate/up/down
    return model.train(), tok


def cut_trainer(model, out_dir: str, **settings):
    from cut.trainer import CUTConfig, CUTTrainer

    config = CUTConfig(output_dir=out_dir, use_cpu=True, report_to="none", disable_tqdm=True, **settings)
    return CUTTrainer(model=model, args=config)


def _finish(loss, optimizer) -> float:
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def make_steps(model, tok, batches: list[list], variants: list[str], lam: float, out_dir: str) -> dict:
    """variant → step(i): one training step on batch i (each variant has its own AdamW)."""
    from cut.sequences import collate

    pad = tok.pad_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    steps = {}
    for v in variants:
        opt = torch.optim.AdamW(params, lr=1e-4)
        if v == "clm":
            data = [clm_inputs(collate(b, pad)) for b in batches]
            steps[v] = lambda i, d=data, o=opt: _finish(model(**d[i], use_cache=False).loss, o)
        elif v == "authors":
            data = [authors_batch(b, pad) for b in batches]
            steps[v] = lambda i, d=data, o=opt: authors_step(model, o, d[i], lam)
        else:
            trainer = cut_trainer(model, out_dir, cut_lambda=lam, mask_pass="nograd" if v == "cut-nograd" else "train")
            data = [collate(b, pad) for b in batches]
            steps[v] = lambda i, d=data, o=opt, t=trainer: _finish(t.compute_loss(model, d[i]), o)
    return steps


def loss_check(model, tok, batch: list, lam: float, out_dir: str) -> tuple[float, float]:
    """Same objective? CUT with normalization=authors vs the authors' loss, dropout off."""
    from cut.sequences import collate

    trainer = cut_trainer(model, out_dir, cut_lambda=lam, normalization="authors")
    model.eval()
    with torch.no_grad():
        ours = float(trainer.compute_loss(model, collate(batch, tok.pad_token_id)))
        ab = authors_batch(batch, tok.pad_token_id)
        logits = model(input_ids=ab["input_ids"], attention_mask=ab["attention_mask"], use_cache=False).logits
        theirs = float(authors_loss(logits, ab, lam)[0])
    model.train()
    return ours, theirs


# --------------------------------------------------------------------------- memory


def _status_mb(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) / 1024


def memory_child(args) -> None:
    """Subprocess: one warm-up step, then the peak RSS of one step above the RSS before it."""
    torch.set_num_threads(args.threads)
    model, tok = load_policy(args.model)
    batches, _ = bench_examples(tok, args, Console(stderr=True))
    with tempfile.TemporaryDirectory() as out_dir:
        step = make_steps(model, tok, batches, [args.memory_child], args.lam, out_dir)[args.memory_child]
        i = max(range(len(batches)), key=lambda k: sum(len(e.response_ids) + len(e.plain_ids) for e in batches[k]))
        start = time.perf_counter()
        step(i)  # optimizer state and one-time allocations are not part of a step's peak
        gc.collect()
        before = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset the kernel's peak-RSS mark
        step(i)
        peak = _status_mb("VmHWM")
    print(json.dumps({"variant": args.memory_child, "before_mb": before, "peak_mb": peak, "step_mb": peak - before,
                      "two_steps_s": time.perf_counter() - start}))


def measure_memory(args, variants: list[str], console) -> dict:
    forward = ["--model", args.model, "--max-length", str(args.max_length), "--batches", str(args.batches),
               "--records-per-batch", str(args.records_per_batch), "--threads", str(args.threads),
               "--positive-fraction", str(args.positive_fraction), "--lam", str(args.lam)]
    if not Path("/proc/self/clear_refs").exists():
        console.print("[yellow]peak memory needs Linux /proc (clear_refs, VmHWM): skipped[/yellow]")
        return {}
    env = {**os.environ, **MALLOC_ENV}
    out = {}
    for v in variants:
        with console.status(f"memory: {LABELS[v]} (own subprocess)"):
            proc = subprocess.run([sys.executable, __file__, "--memory-child", v, *forward], env=env,
                                  capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            console.print(f"[red]memory child {v} failed[/red]\n{proc.stderr[-2000:]}")
            continue
        out[v] = json.loads(lines[-1])
    return out


# --------------------------------------------------------------------------- timing


def time_interleaved(steps: dict, n_batches: int, rounds: int, warmup: int) -> dict:
    """{"wall"|"cpu": variant → seconds for all batches, one entry per round (ABC, CBA, ...)}.

    CPU time (this process, all threads) is kept beside wall time: on a shared machine it
    moves far less with other people's load, so it tells noise from real differences."""
    from cut.progress import make_progress

    variants = list(steps)
    times = {"wall": {v: [] for v in variants}, "cpu": {v: [] for v in variants}}
    with make_progress() as progress:
        task = progress.add_task("train steps", total=len(variants) * (warmup + rounds * n_batches), info="")
        for v in variants:
            for w in range(warmup):
                progress.update(task, info=f"warm-up {v}")
                steps[v](w % n_batches)
                progress.advance(task)
        for r in range(rounds):
            for v in variants if r % 2 == 0 else variants[::-1]:
                progress.update(task, info=f"round {r + 1} {v}")
                wall, cpu = time.perf_counter(), time.process_time()
                for i in range(n_batches):
                    steps[v](i)
                    progress.advance(task)
                times["wall"][v].append(time.perf_counter() - wall)
                times["cpu"][v].append(time.process_time() - cpu)
    return times


def paired_ratios(num: list[float], den: list[float]) -> list[float]:
    """Per-round ratios num[r] / den[r] (both variants ran in the same round)."""
    return [a / b for a, b in zip(num, den)]


def _fmt_ratios(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]"


# --------------------------------------------------------------------------- tables


def env_table(args, model, source: str, batches: list, cut_rows: int, tokens: int, load: tuple) -> Table:
    from importlib.metadata import version

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    t = Table(title="environment and workload")
    t.add_column("what")
    t.add_column("value")
    n_neg = sum(e.is_negative for e in batches[0])
    for k, v in [("torch / transformers / peft", f"{torch.__version__} / {version('transformers')} / {version('peft')}"),
                 ("cpu", f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}, {platform.machine()}"),
                 ("load average (start → end)", f"{load[0]:.2f} → {load[1]:.2f}"),
                 ("model", f"{args.model} (vocab {model.config.vocab_size:,}, fp32), LoRA trainable {trainable:,}"),
                 ("data", f"{source}, {args.batches} fixed batches, template chat, max_length {args.max_length}"),
                 ("batch", f"{len(batches[0])} records ({len(batches[0]) - n_neg} positive, {n_neg} negative) → "
                           f"CUT/CLM {cut_rows} rows, authors {2 * len(batches[0])} rows"),
                 ("timed", f"{args.warmup} warm-up step(s) per variant, then {args.rounds} interleaved rounds × "
                           f"{args.batches} steps; {tokens:,} real tokens over the {args.batches} batches")]:
        t.add_row(k, v)
    return t


def speed_table(times: dict, tokens: int, records: int, n_steps: int) -> Table:
    t = Table(title="one training step on the same batches (median over rounds)")
    for c in ("variant", "wall s/step", "CPU s/step", "tokens/s", "records/s", "vs causal LM", "CUT vs it"):
        t.add_column(c, justify="left" if c == "variant" else "right")
    wall, cpu = times["wall"], times["cpu"]
    for v, ts in wall.items():
        med = statistics.median(ts)
        vs_clm = escape(_fmt_ratios(paired_ratios(wall["clm"], ts))) if "clm" in wall else ""
        cut_vs = escape(_fmt_ratios(paired_ratios(ts, wall["cut"]))) if "cut" in wall and v != "cut" else ""
        t.add_row(LABELS[v], f"{med / n_steps:.2f}", f"{statistics.median(cpu[v]) / n_steps:.2f}",
                  f"{tokens / med:.0f}", f"{records / med:.3f}", vs_clm, cut_vs)
    t.caption = escape("causal LM: transformers' loss on the CUT rows; CUT: CUTTrainer.compute_loss; authors': "
                       "bench/authors_baseline.py. tokens/s and records/s use wall time and count the same "
                       "real (non-pad) tokens for every variant. Ratios (wall time, [min–max] over rounds) > 1: "
                       "the row is faster than causal LM, or CUT is faster than the row.")
    return t


def memory_table(mem: dict) -> Table:
    t = Table(title="peak memory of one training step (own subprocess, peak RSS − RSS before the step)")
    for c in ("variant", "RSS before MB", "peak RSS MB", "step peak MB", "vs causal LM"):
        t.add_column(c, justify="left" if c == "variant" else "right")
    base = mem.get("clm", {}).get("step_mb")
    for v, m in mem.items():
        ratio = f"{m['step_mb'] / base:.2f}" if base else ""
        t.add_row(LABELS[v], f"{m['before_mb']:.0f}", f"{m['peak_mb']:.0f}", f"{m['step_mb']:.0f}", ratio)
    return t


def goals_table(times: dict, mem: dict, vocab: int) -> Table:
    t = Table(title="goals (reported, not asserted)")
    for c in ("goal", "wall-time ratio", "CPU-time ratio", "target", "met (wall)"):
        t.add_column(c)
    wall, cpu = times["wall"], times["cpu"]
    if {"cut", "clm"} <= set(wall):
        _goal_row(t, "(a) CUT / causal-LM tokens/s", paired_ratios(wall["clm"], wall["cut"]),
                  paired_ratios(cpu["clm"], cpu["cut"]), 0.9, higher=True)
    if {"cut", "clm"} <= set(mem):
        ratio = mem["cut"]["step_mb"] / mem["clm"]["step_mb"]
        t.add_row(f"(b) CUT / causal-LM step memory (vocab {vocab:,})", f"{ratio:.2f} (memory)", "",
                  "≤ 1.3", "yes" if ratio <= 1.3 else "no")
    if {"cut", "authors"} <= set(wall):
        _goal_row(t, "(c) CUT / authors' speed", paired_ratios(wall["authors"], wall["cut"]),
                  paired_ratios(cpu["authors"], cpu["cut"]), 1.5, higher=True)
    return t


def _goal_row(t: Table, name: str, wall: list[float], cpu: list[float], bound: float, higher: bool) -> None:
    med = statistics.median(wall)
    met = med >= bound if higher else med <= bound
    t.add_row(name, escape(_fmt_ratios(wall)), escape(_fmt_ratios(cpu)), f"{'≥' if higher else '≤'} {bound}",
              "yes" if met else "no")


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct", help="alias, local dir or .gguf")
    p.add_argument("--tiny", action="store_true", help="a tiny random Llama instead (quick plumbing check)")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--records-per-batch", type=int, default=4)
    p.add_argument("--positive-fraction", type=float, default=0.75)
    p.add_argument("--batches", type=int, default=2, help="distinct fixed batches, each step uses one")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--lam", type=float, default=1.1, help="λ for CUT and the authors' flags")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--nograd", action="store_true", help="also time CUT with mask_pass=nograd")
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.memory_child:
        return memory_child(args)
    console = Console(width=max(Console().width, 120))
    torch.set_num_threads(args.threads)
    bench_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            from tests.conftest import build_tiny_model

            args.model = str(build_tiny_model(Path(tmp) / "tiny"))
        variants = ["clm", "cut", "authors"] + (["cut-nograd"] if args.nograd else [])
        load_start = os.getloadavg()[0]
        mem = {} if args.no_memory else measure_memory(args, variants, console)
        model, tok = load_policy(args.model)
        batches, source = bench_examples(tok, args, console)
        ours, theirs = loss_check(model, tok, batches[0], args.lam, tmp)
        steps = make_steps(model, tok, batches, variants, args.lam, tmp)
        times = time_interleaved(steps, len(batches), args.rounds, args.warmup)
    from cut.sequences import collate

    cut_batches = [collate(b, tok.pad_token_id) for b in batches]
    tokens = sum(int(b["attention_mask"].sum()) for b in cut_batches)
    records = sum(len(b) for b in batches)
    console.print(env_table(args, model, source, batches, cut_batches[0]["input_ids"].shape[0], tokens,
                            (load_start, os.getloadavg()[0])))
    console.print(f"loss check on batch 1 (dropout off): CUT normalization=authors {ours:.5f}, "
                  f"authors' formulation {theirs:.5f}, |Δ| {abs(ours - theirs):.2e}")
    console.print(speed_table(times, tokens, records, len(batches)))
    if mem:
        console.print(memory_table(mem))
    console.print(goals_table(times, mem, model.config.vocab_size))
    console.print(f"bench wall time {time.perf_counter() - bench_start:.0f} s")
    if args.json:
        from cut.records import write_json_atomic

        write_json_atomic(args.json, {"args": vars(args), "times_s": times, "tokens": tokens, "records": records,
                                      "memory": mem, "loss_check": [ours, theirs]})


if __name__ == "__main__":
    main()
