"""`cut generate` end to end on the tiny conftest model: files written, summaries, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cut.cli import main

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
       "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
IFEVAL = [{"key": "k1", "prompt": "Write about the ocean. Do not use any commas.",
           "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
          {"key": "k2", "prompt": "Write about fish in fewer than 5 words.",
           "instruction_id_list": ["length_constraints:number_words"],
           "kwargs": [{"relation": "less than", "num_words": 5}]}]


def _ifeval_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in IFEVAL))
    return path


def test_help_does_not_import_torch():
    code = ("import sys\nfrom cut.cli import main\ntry:\n    main(['generate', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('HEAVY' if {'torch', 'transformers'} & set(sys.modules) else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    assert "--lookahead" in out.stdout and out.stdout.strip().endswith("LIGHT")


def test_deal_on_verifiable_prompts_end_to_end(tiny_model_dir, tmp_path):
    out = tmp_path / "gen.jsonl"
    r = subprocess.run([sys.executable, "-m", "cut", "generate", "--model", str(tiny_model_dir), "--prompts",
                        str(_ifeval_file(tmp_path)), "--decoder", "deal", "--top-k", "2", "--lookahead", "2",
                        "--beam", "2", "--max-new-tokens", "6", "-o", str(out)],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["key"] for row in rows] == ["k1", "k2"]
    for row in rows:
        assert row["decoder"] == "deal" and row["settings"]["lookahead"] == 2 and row["settings"]["reward"] == "rules"
        assert row["model_tokens"] > 0 and 0.0 <= row["reward"] <= 1.0
        # one constraint per prompt: the rule reward of the chosen answer is exactly its strict result
        assert row["reward"] == float(row["prompt_strict"])
    assert "prompt-level strict" in r.stdout and "instruction-level strict" in r.stdout


def test_greedy_on_a_plain_text_file(tiny_model_dir, tmp_path, capsys):
    prompts = tmp_path / "plain.txt"
    prompts.write_text("Say hi.\nName a fish.\n")
    out = tmp_path / "g.jsonl"
    code = main(["generate", "--model", str(tiny_model_dir), "--prompts", str(prompts), "--max-new-tokens", "5",
                 "-o", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Say hi.", "Name a fish."]
    assert all(r["decoder"] == "greedy" and "reward" not in r and "prompt_strict" not in r for r in rows)
    assert "strict" not in capsys.readouterr().out  # plain prompts: no pass rates


def test_bad_reward_is_a_clear_error_before_the_model_loads(tmp_path, capsys):
    out = tmp_path / "never.jsonl"
    code = main(["generate", "--model", str(tmp_path / "no-such-model"), "--prompts", str(_ifeval_file(tmp_path)),
                 "--decoder", "deal", "--reward", "rules@lots", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "cut generate: error: reward term 'rules@lots'" in err and "Traceback" not in err
    assert not out.exists()
    plain = tmp_path / "plain.txt"
    plain.write_text("Say hi.\n")
    code = main(["generate", "--model", str(tmp_path / "no-such-model"), "--prompts", str(plain),
                 "--decoder", "best-of-n", "--reward", "keywords", "-o", str(out)])
    assert code == 2 and "needs required keywords" in capsys.readouterr().err


def test_evaluation_decodes_with_the_chosen_decoder(tiny_model_dir, tmp_path):
    from cut.decoders import DecoderConfig, decode_file
    from cut.evaluation.verifiable_run import evaluate_verifiable

    prompts = _ifeval_file(tmp_path)
    config = DecoderConfig(decoder="deal", top_k=3, lookahead=2, beam=2, max_new_tokens=99)
    result = evaluate_verifiable(str(tiny_model_dir), str(prompts), tmp_path / "eval.jsonl", max_new_tokens=6,
                                 decoder=config)
    assert result["decoder"]["decoder"] == "deal" and result["decoder"]["max_new_tokens"] == 6
    assert result["n_prompts"] == 2 and result["model_tokens"] > 0
    summary = decode_file(str(tiny_model_dir), str(prompts), str(tmp_path / "gen.jsonl"),
                          DecoderConfig(**{**config.__dict__, "max_new_tokens": 6}), progress=False)
    evaluated = [json.loads(line)["response"] for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    generated = [json.loads(line)["response"] for line in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert evaluated == generated and summary["verifiable"]["n_prompts"] == 2
    plain = evaluate_verifiable(str(tiny_model_dir), str(prompts), tmp_path / "g.jsonl", max_new_tokens=6)
    assert "decoder" not in plain  # the default path is unchanged: greedy, same keys as before


def test_decoder_flags_can_join_another_command():
    import argparse

    from cut.cli.generate import add_decoder_arguments, decoder_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-new-tokens", type=int, default=128)  # the command's own flags
    parser.add_argument("--seed", type=int, default=0)
    add_decoder_arguments(parser, exclude=("--max-new-tokens", "--seed"))
    config = decoder_config(parser.parse_args(["--decoder", "deal", "--block", "4", "--max-new-tokens", "64",
                                               "--reward", "rules@0.7+length:0-80@0.3"]))
    assert (config.decoder, config.block, config.max_new_tokens, config.top_k) == ("deal", 4, 64, 5)
    assert config.reward == "rules@0.7+length:0-80@0.3"


def test_eval_verifiable_takes_the_decoder_flags(tiny_model_dir, tmp_path):
    """`cut eval --verifiable --decoder beam --top-k 1 --beam 1` is greedy (k = 1, b = 1), so
    its answers equal the default path's; --decoder deal writes its settings into the summary."""
    prompts = _ifeval_file(tmp_path)

    def run_eval(out, *flags):
        r = subprocess.run([sys.executable, "-m", "cut", "eval", "--verifiable", str(prompts), "--model",
                            str(tiny_model_dir), "--max-new-tokens", "6", "-o", str(out), "--json", *flags],
                           capture_output=True, text=True, env=ENV, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        responses = [json.loads(line)["response"] for line in out.read_text().splitlines()]
        return json.loads(r.stdout), responses

    greedy, greedy_responses = run_eval(tmp_path / "greedy.jsonl")
    beam, beam_responses = run_eval(tmp_path / "beam.jsonl", "--decoder", "beam", "--top-k", "1", "--beam", "1")
    assert "decoder" not in greedy and beam["decoder"] == {"decoder": "beam", "max_new_tokens": 6, "top_k": 1,
                                                           "beam": 1, "length_penalty": 1.0}
    assert beam_responses == greedy_responses
    deal, _ = run_eval(tmp_path / "deal.jsonl", "--decoder", "deal", "--top-k", "2", "--lookahead", "2",
                       "--lam", "2")
    assert deal["decoder"]["lam"] == 2.0 and deal["decoder"]["reward"] == "rules" and deal["model_tokens"] > 0
    assert deal["n_prompts"] == 2
