"""Where the time of one `oldclip check` goes, stage by stage (used by ``bench/index.py``).

The check runs in this process as the CLI runs it (``Library.open``, ``check_file``, close);
the functions that do each stage are wrapped, for the duration of the run, to add up their
wall and CPU time.  A stage nested in another (a search inside ``find_matches``) is taken out
of the outer one, so the stages add up to the total.  Start-up (imports before the library is
opened) is not in here: it is the difference with the subprocess's wall time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

# Stage name -> (class or module, attribute) of the function doing it, innermost stages last.
STAGES = {
    "open the saved indexes (and DB reads)": ("oldclip.indexset:IndexSet", "build"),
    "fingerprint the query": ("oldclip.library:Library", "fingerprint"),
    "match: refresh and provenance (DB)": ("oldclip.library:Library", "match"),
    "PDQ search": ("fingerprint.index:HashIndex", "candidates"),
    "ORB search": ("fingerprint.local_index:LocalIndex", "votes"),
    "sound search": ("fingerprint.audio_index:SoundIndex", "candidates"),
    "load candidates (DB)": ("oldclip.indexset:IndexSet", "load"),
    "verify PDQ": ("fingerprint.pdq:PdqSignal", "compare"),
    "verify ORB": ("fingerprint.local:LocalSignal", "compare"),
    # Within it, the two exact scans of the candidate's descriptors that pick picture pairs
    # (query upright and mirrored): the rest is matching the pairs and RANSAC.
    "verify ORB: descriptor votes": ("fingerprint.local_verify:", "_shortlist"),
    "verify sound": ("fingerprint.audio:Audio", "compare"),
}


def timed_check(database: Path, query: Path) -> tuple[dict[str, tuple[float, float]], tuple]:
    """({stage: (wall s, CPU s)}, (total wall s, total CPU s)) of one check of ``query``."""
    from oldclip.config import load_config
    from oldclip.library import Library

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    stack: list[str] = []  # stages running, outermost first

    def wrap(name: str, function):
        def timed(*args, **kwargs):
            stack.append(name)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                stack.pop()
                spent[name][0] += wall
                spent[name][1] += cpu
                if stack:  # not the outer stage's own time
                    spent[stack[-1]][0] -= wall
                    spent[stack[-1]][1] -= cpu

        return timed

    with ExitStack() as patches:
        for name, (where, attribute) in STAGES.items():
            patches.enter_context(_patched(_resolve(where), attribute, name, wrap))
        wall, cpu = time.perf_counter(), time.process_time()
        library = Library.open(load_config(None, database))
        try:
            result = library.check_file(query)
        finally:
            library.close()
        total = (time.perf_counter() - wall, time.process_time() - cpu)
    stages = {name: tuple(spent[name]) for name in STAGES if name in spent}
    stages["other"] = (
        total[0] - sum(w for w, _ in stages.values()),
        total[1] - sum(c for _, c in stages.values()),
    )
    if not result.matches:
        print("  (the in-process check found no match)")
    return stages, total


def _resolve(where: str):
    """The class ``module:Name`` names, or the module itself for ``module:``."""
    import importlib

    module, _, name = where.partition(":")
    module = importlib.import_module(module)
    return getattr(module, name) if name else module


@contextmanager
def _patched(owner, attribute: str, name: str, wrap):
    original = owner.__dict__[attribute]
    setattr(owner, attribute, wrap(name, original))
    try:
        yield
    finally:
        setattr(owner, attribute, original)
