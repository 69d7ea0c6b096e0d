"""`cut prompts`: write verifiable-instruction prompts (IFEval format) from the generator."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("prompts", help="generate verifiable-instruction prompts (IFEval JSONL), seeded",
                       description="Combine topics and constraints into prompts a program can check. The train "
                                   "and eval splits use disjoint subjects, so they never share a prompt.")
    p.add_argument("-n", type=int, required=True, help="number of prompts")
    p.add_argument("--split", choices=["train", "eval"], default="train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--constraints", nargs="+", metavar="ID", help="IFEval instruction ids to draw from (default: all defaults)")
    p.add_argument("--max-constraints", type=int, default=1, help="constraints per prompt, at most")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from cut.errors import CutError
    from cut.paths import Output, refuse_clobber
    from cut.verifiable import generate_prompts, write_ifeval

    if args.n < 1:
        raise CutError(f"-n must be at least 1, got {args.n}")
    refuse_clobber([Output("-o", args.output)], [], force=args.force)

    prompts = generate_prompts(args.n, args.split, seed=args.seed, constraint_ids=args.constraints,
                               max_constraints=args.max_constraints)
    write_ifeval(args.output, prompts)
    print(f"wrote {len(prompts)} {args.split} prompts to {args.output}")
    return 0
