"""User-facing errors: the CLI prints these as one line and exits 2, without a traceback."""


class CutError(Exception):
    """A failure caused by the user's input or environment, with a message saying what to fix."""


class NothingToTrain(CutError):
    """The data gave no training example (all filtered): offline an error, in an online round
    a round that leaves the policy as it was."""


def reject_unknown(options, cls, what: str, noun: str = "option", exclude: tuple[str, ...] = ()) -> None:
    """Raise a CutError naming the first key of ``options`` that is not a field of dataclass
    ``cls`` (nor in ``exclude``): "{what}: unknown {noun} 'k' (known: a, b, ...)"."""
    from dataclasses import fields

    known = {f.name for f in fields(cls)} - set(exclude)
    unknown = sorted(set(options) - known)
    if unknown:
        raise CutError(f"{what}: unknown {noun} {unknown[0]!r} (known: {', '.join(sorted(known))})")
