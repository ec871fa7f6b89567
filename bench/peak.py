"""Run a command as ``python`` would, and tell its peak memory (started by
:func:`bench.run.run_process`).

    python -m bench.peak -m MODULE ARGS...        (or: -c CODE ARGS...)

Runs MODULE as ``__main__`` in this process, like ``python -m MODULE``; when
it ends (also by ``sys.exit`` or an exception) it writes ``PEAK_RSS <bytes>``
as the last line of stderr: the larger of this process's peak resident set
and that of the largest process it started and waited for. The parent cannot
tell this itself: a child's ``ru_maxrss`` starts from the peak of the process
that forked it (Linux keeps the old image's peak across ``exec``), so every
command started by a benchmark that holds 1 GiB would report at least 1 GiB.
"""

from __future__ import annotations

import resource
import runpy
import sys

MARK = "PEAK_RSS "


def main() -> None:
    kind, target, *rest = sys.argv[1:]
    try:
        if kind == "-m":
            sys.argv = [target, *rest]
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *rest]
            exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
    finally:
        from bench.worker import peak_rss

        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        sys.stderr.flush()
        print(f"{MARK}{max(peak_rss(), children)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
