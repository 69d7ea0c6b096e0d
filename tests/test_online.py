"""The online loop on a tiny model through the CLI: every file of the run directory, resume
after SIGKILL in round 2's training, disjoint prompts, and loud errors for a bad state file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def online_args(model, run_dir, *extra):
    return [sys.executable, "-m", "cut", "train", "--online", "--quick", "--model", str(model), "--run-dir", str(run_dir),
            *extra, "rounds=2", "prompts_per_round=4", "samples_per_prompt=2", "max_new_tokens=12", "eval_limit=6",
            "eval_max_new_tokens=12", "train={per_device_train_batch_size: 1, num_train_epochs: 4, save_steps: 2, "
            "logging_steps: 1, max_length: 320, positive_ratio: null}"]


def run(args, timeout=600):
    return subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=timeout)


def record_keys(run_dir, r):
    return [json.loads(line)["id"] for line in (run_dir / f"round-{r}" / "records.jsonl").read_text().splitlines()]


def prompt_texts(run_dir, r):
    return [json.loads(line)["prompt"] for line in (run_dir / f"round-{r}" / "prompts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def full_run(tiny_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("online") / "full"
    r = run(online_args(tiny_model_dir, run_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    return run_dir


def test_run_directory_holds_every_file(full_run):
    for name in ("online_config.json", "state.json", "report.csv", "report.png", "round-0/metrics.json",
                 "round-0/eval.jsonl"):
        assert (full_run / name).exists(), name
    for r in (1, 2):
        for name in ("prompts.jsonl", "records.jsonl", "adapter/adapter_model.safetensors",
                     "adapter/detector_totals.json", "model/model.safetensors", "eval.jsonl", "metrics.json"):
            assert (full_run / f"round-{r}" / name).exists(), f"round-{r}/{name}"
        assert len(record_keys(full_run, r)) == 8  # 4 prompts × 2 samples
    state = json.loads((full_run / "state.json").read_text())
    assert state["done"][0] == "round-0/evaluate" and state["done"][-1] == "round-2/evaluate" and len(state["done"]) == 11
    metrics = json.loads((full_run / "round-2" / "metrics.json").read_text())
    assert metrics["eval"]["n_prompts"] == 6 and 0 <= metrics["train_acceptable"] <= 1
    saved = json.loads((full_run / "online_config.json").read_text())
    assert saved["rounds"] == 2 and saved["train"]["num_train_epochs"] == 4
    rows = (full_run / "report.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header + rounds 0..2
    # training prompts never repeat across rounds and never come from the held-out set
    p1, p2 = prompt_texts(full_run, 1), prompt_texts(full_run, 2)
    heldout = {json.loads(line)["prompt"] for line in (full_run / "round-0" / "eval.jsonl").read_text().splitlines()}
    assert not set(p1) & set(p2) and not (set(p1) | set(p2)) & heldout


def test_profile_and_per_type_view(full_run):
    """Each round's profile holds every step's seconds and peak memory, training its tokens/s
    beside the floor; cut report shows the per-type table and the profile; the truncated
    fractions are in the metrics."""
    profile = json.loads((full_run / "round-1" / "profile.json").read_text())
    assert set(profile) == {"prompts", "collect", "train", "carry", "evaluate"}
    assert all(p["seconds"] >= 0 and p["peak_rss_mb"] > 0 for p in profile.values())
    train = profile["train"]
    assert train["train_tokens"] > 0 and train["tokens_per_s_per_core"] > 0 and 0 <= train["padding_frac"] < 1
    assert train["floor_tokens_per_s_per_core"] > 0
    metrics = json.loads((full_run / "round-1" / "metrics.json").read_text())
    assert 0 <= metrics["train_truncated"] <= 1 and 0 <= metrics["eval"]["truncated"] <= 1
    assert metrics["train_revisions"] >= 0
    per_type = (full_run / "report-per-type.csv").read_text().splitlines()
    assert per_type[0] == "run,type,n,0,1,2" and len(per_type) > 1
    r = run([sys.executable, "-m", "cut", "report", str(full_run), "-o", str(full_run.parent / "rep")])
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout + r.stderr
    assert "held-out strict pass rate per constraint type" in out and "time and peak memory per step" in out


@pytest.mark.parametrize("carry", ["merge", "adapter"])
def test_each_round_writes_the_offline_command_of_its_training(tmp_path, monkeypatch, carry):
    """`round-r/adapter/train_command.txt`, run as it is, builds the config round r trains with."""
    import shlex

    import cut.offline
    from cut.cli import main
    from cut.config import build_config, config_to_dict
    from cut.online import OnlineConfig, step_train

    class Built(Exception):
        pass

    def capture(config):
        raise Built(config)

    monkeypatch.setattr(cut.offline, "train_offline", capture)
    config = build_config(OnlineConfig, "online-quick", {"run_dir": str(tmp_path / "run"), "carry": carry, "seed": 5})
    with pytest.raises(Built) as trained:
        step_train(config, tmp_path / "run", 2)
    line = (tmp_path / "run" / "round-2" / "adapter" / "train_command.txt").read_text().strip()
    assert line.startswith("cut train --config cpu-default --model ") and "seed=7" in line.split()  # seed + round
    with pytest.raises(Built) as built:
        main(shlex.split(line)[1:])
    assert config_to_dict(built.value.args[0]) == config_to_dict(trained.value.args[0])


def test_rerun_of_a_finished_run_does_nothing(full_run, tiny_model_dir):
    before = (full_run / "state.json").read_text()
    r = run(online_args(tiny_model_dir, full_run))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (full_run / "state.json").read_text() == before


def test_sigkill_in_round_two_training_resumes(full_run, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(online_args(tiny_model_dir, run_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 300
    killed = False
    while time.time() < deadline and proc.poll() is None:
        state = run_dir / "state.json"
        if state.exists():
            try:
                done = json.loads(state.read_text())["done"]
            except (json.JSONDecodeError, KeyError):
                done = []
            if "round-2/collect" in done and any((run_dir / "round-2" / "adapter").glob("checkpoint-*")):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed, "the run finished before round 2's training could be interrupted"
    assert "round-2/train" not in json.loads((run_dir / "state.json").read_text())["done"]
    r = run(online_args(tiny_model_dir, run_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    for rr in (1, 2):
        keys = record_keys(run_dir, rr)
        assert len(keys) == len(set(keys)) == len(record_keys(full_run, rr))
        assert prompt_texts(run_dir, rr) == prompt_texts(full_run, rr)
    assert sorted(p.name for p in run_dir.glob("round-*")) == ["round-0", "round-1", "round-2"]
    trained = json.loads((run_dir / "round-2" / "adapter" / "train_history.json").read_text())
    assert [h["step"] for h in trained if "loss" in h] == list(range(1, len([h for h in trained if "loss" in h]) + 1))


def test_corrupt_or_missing_state_is_an_error(full_run, tiny_model_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(full_run, broken, ignore=shutil.ignore_patterns("model", "adapter"))
    (broken / "state.json").write_text("{not json")
    r = run(online_args(tiny_model_dir, broken))
    assert r.returncode == 2 and "state.json is corrupt" in r.stderr
    (broken / "state.json").unlink()
    r = run(online_args(tiny_model_dir, broken))
    assert r.returncode == 2 and "state.json is missing" in r.stderr
    # the last key=value wins, so the changed setting goes after online_args' own
    r = run(online_args(tiny_model_dir, full_run) + ["samples_per_prompt=3"])
    assert r.returncode == 2 and "different settings" in r.stderr


def test_a_finished_run_continues_with_more_rounds(full_run, tiny_model_dir, tmp_path):
    """A finished 1-round run given rounds=2 adds round 2, redoes nothing, and ends like the
    2-round run; its state file, written before the number of rounds left the fingerprint,
    still opens."""
    import shutil

    from cut.online import OnlineConfig, fingerprint

    shorter = tmp_path / "shorter"  # full_run as it stood after round 1, as an old 1-round run
    shutil.copytree(full_run, shorter, ignore=lambda d, names: ["round-2"] if d == str(full_run) else [])
    saved = {**json.loads((full_run / "online_config.json").read_text()), "rounds": 1}
    (shorter / "online_config.json").write_text(json.dumps(saved))
    state = json.loads((full_run / "state.json").read_text())
    done = [s for s in state["done"] if not s.startswith("round-2/")]
    times = {k: state["times"][k] for k in done}
    legacy = fingerprint(OnlineConfig(**saved), with_rounds=True)
    assert legacy != fingerprint(OnlineConfig(**saved))
    (shorter / "state.json").write_text(json.dumps({"fingerprint": legacy, "done": done, "times": times}))
    r = run(online_args(tiny_model_dir, shorter))  # rounds=2
    assert r.returncode == 0, r.stderr[-3000:]
    after = json.loads((shorter / "state.json").read_text())
    assert after["done"] == state["done"]
    assert {k: after["times"][k] for k in times} == times  # nothing rerun
    assert after["fingerprint"] == state["fingerprint"]
    assert prompt_texts(shorter, 2) == prompt_texts(full_run, 2)

    def samples(run_dir):  # the records, but for the path of the model that wrote them
        rows = [json.loads(line) for line in (run_dir / "round-2" / "records.jsonl").read_text().splitlines()]
        return [{**row, "metadata": {k: v for k, v in row["metadata"].items() if k != "generator"}} for row in rows]

    assert samples(shorter) == samples(full_run)
    assert len((shorter / "report.csv").read_text().splitlines()) == 1 + 3


def test_share_from_reuses_round0_and_round1_samples(full_run, tiny_model_dir, tmp_path):
    other = tmp_path / "sft"
    r = run(online_args(tiny_model_dir, other, "--method", "sft", "--share-from", str(full_run)))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("round-0/eval.jsonl", "round-1/prompts.jsonl", "round-1/records.jsonl"):
        assert (other / name).read_bytes() == (full_run / name).read_bytes(), name
    state = json.loads((other / "state.json").read_text())
    shared = json.loads((full_run / "state.json").read_text())["times"]
    assert state["times"]["round-1/collect"] == shared["round-1/collect"]  # copied, not rerun
    assert (other / "round-2" / "records.jsonl").exists()  # round 2 sampled by the sft policy
    # a run whose samples would differ is refused before anything is copied
    bad = run(online_args(tiny_model_dir, tmp_path / "bad", "--share-from", str(full_run)) + ["samples_per_prompt=3"])
    assert bad.returncode != 0 and "differs in samples_per_prompt" in bad.stderr
    assert not (tmp_path / "bad" / "round-0").exists()


def test_eval_decoder_is_checked_and_used(tiny_model_dir, tmp_path):
    """A bad eval_decoder fails at config time; a good one decodes the held-out answers (the
    metrics name it), and an empty one keeps the fingerprint of runs made before it existed."""
    from cut.errors import CutError
    from cut.online import OnlineConfig, fingerprint, step_evaluate

    with pytest.raises(CutError, match="eval_decoder: unknown setting 'k'"):
        OnlineConfig(eval_decoder={"k": 3})
    with pytest.raises(CutError, match="unknown decoder 'dael'"):
        OnlineConfig(eval_decoder={"decoder": "dael"})
    plain = OnlineConfig()
    assert fingerprint(plain) != fingerprint(OnlineConfig(eval_decoder={"decoder": "deal"}))
    import hashlib

    from cut.config import config_to_dict

    before = {k: v for k, v in config_to_dict(plain).items()
              if k not in ("run_dir", "share_from", "eval_decoder", "extra_samples")}
    assert fingerprint(plain, with_rounds=True) == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    prompts = tmp_path / "heldout.jsonl"
    prompts.write_text(json.dumps({"key": "a", "prompt": "Write about rain. Do not use any commas.",
                                   "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    config = OnlineConfig(model=str(tiny_model_dir), eval_prompts=str(prompts), eval_max_new_tokens=5,
                          eval_decoder={"decoder": "deal", "top_k": 2, "lookahead": 2})
    (tmp_path / "round-0").mkdir()
    step_evaluate(config, tmp_path, 0)
    metrics = json.loads((tmp_path / "round-0" / "metrics.json").read_text())
    assert metrics["eval"]["decoder"]["decoder"] == "deal" and metrics["eval"]["decoder"]["max_new_tokens"] == 5
    assert metrics["eval"]["n_prompts"] == 1


def test_extra_samples_go_to_prompts_whose_samples_were_all_rejected(tiny_model_dir, tmp_path):
    from cut.errors import CutError
    from cut.online import OnlineConfig, scarce_prompts, step_collect
    from cut.records import Record, write_jsonl

    # the decision reads only the first samples of each prompt
    def rec(key, sample, judgment):
        return Record("i", "r", judgment, metadata={"prompt_key": key, "sample": sample})
    write_jsonl(tmp_path / "r.jsonl", [rec("a", 0, "bad"), rec("a", 1, None), rec("b", 0, "bad"), rec("b", 1, "bad"),
                                       rec("b", 2, None), rec("c", 0, None)])
    assert scarce_prompts(tmp_path / "r.jsonl", 2) == {"b"}
    with pytest.raises(CutError, match="extra_samples must be at least 0"):
        OnlineConfig(extra_samples=-1)

    rd = tmp_path / "run" / "round-1"
    rd.mkdir(parents=True)
    lines = [{"key": k, "prompt": f"Write about {k}. Wrap your entire response in double quotation marks.",
              "instruction_id_list": ["startend:quotation"], "kwargs": [{}]} for k in ("p1", "p2")]
    (rd / "prompts.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = OnlineConfig(model=str(tiny_model_dir), samples_per_prompt=1, extra_samples=2, max_new_tokens=6,
                          gen_batch_size=4)
    step_collect(config, tmp_path / "run", 1)
    records = [json.loads(x) for x in (rd / "records.jsonl").read_text().splitlines()]
    first = {r["metadata"]["prompt_key"]: r["judgment"] is None for r in records if r["metadata"]["sample"] == 0}
    scarce = {k for k, ok in first.items() if not ok}
    assert scarce  # the tiny model does not quote its answers
    samples = sorted((r["metadata"]["prompt_key"], r["metadata"]["sample"]) for r in records)
    assert samples == sorted([(k, 0) for k in first] + [(k, s) for k in scarce for s in (1, 2)])
    before = (rd / "records.jsonl").read_bytes()
    step_collect(config, tmp_path / "run", 1)  # resumed: nothing more to do
    assert (rd / "records.jsonl").read_bytes() == before


def test_a_round_with_nothing_to_train_carries_the_policy_over(tmp_path, monkeypatch):
    """sft in a round without one acceptable sample: no adapter, no merge, and the next round
    (and the evaluation) uses the policy of the round before."""
    import cut.offline
    from cut.config import build_config
    from cut.errors import NothingToTrain
    from cut.online import OnlineConfig, policy_for, step_carry, step_train

    def empty(config):
        raise NothingToTrain("no training examples left after filtering")

    monkeypatch.setattr(cut.offline, "train_offline", empty)
    run_dir = tmp_path / "run"
    config = build_config(OnlineConfig, "online-quick", {"run_dir": str(run_dir), "model": "base-model"})
    (run_dir / "round-1" / "model").mkdir(parents=True)  # round 1 trained and merged
    step_train(config, run_dir, 2)
    assert (run_dir / "round-2" / "adapter" / "nothing_to_train.txt").read_text().startswith("no training examples")
    step_carry(config, run_dir, 2)  # nothing to merge
    assert not (run_dir / "round-2" / "model").exists()
    assert policy_for(run_dir, 2, config) == str(run_dir / "round-1" / "model")
    step_train(config, run_dir, 3)  # round 3 starts from round 1's model too
    assert "--model " + str(run_dir / "round-1" / "model") in (run_dir / "round-3" / "adapter" / "train_command.txt").read_text()
    assert policy_for(run_dir, 3, config) == policy_for(run_dir, 1, config) == str(run_dir / "round-1" / "model")
