"""Judge a response with the rule judge and read the critique and its spans.

    python examples/judge_and_inspect.py
"""

from cut.judges import JudgeItem, make_judge
from cut.verifiable import generate_prompts

prompt = generate_prompts(1, "eval", seed=3, constraint_ids=["punctuation:no_comma"])[0]
response = "Maps show roads, rivers, and towns, so travellers find their way."
judge = make_judge("rules")
[verdict] = judge.judge([JudgeItem(prompt.prompt, response, prompt.as_metadata())])
print("prompt:  ", prompt.prompt)
print("response:", response)
print("judgment:", verdict.judgment)
for start, end in verdict.spans or []:
    print(f"  span [{start}, {end}) = {response[start:end]!r}")
