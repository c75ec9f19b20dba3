"""Benchmark of contact masking (hub/trust/masking.py): cost per chat message.

Usage::

    python loadtests/bench_masking.py [--repeat 200] [--small]

Runs :meth:`ContactMasker.mask` over the labelled corpus of tests/hub/trust
(contact_corpus.tsv: real-looking chat messages, half with contact details) ``--repeat``
times, and over long messages (4,000 characters, the chat limit: a job description full
of numbers, and one full of contact details), timing each call. Prints the corpus
figures (recall, precision, false positives) and a table of the cost per message: mean,
median, p99 and max, wall clock with the cyclic GC off (as timeit does), and the mean on
the thread's CPU clock, which leaves out time the process waited for a core. The issue's
budget is under 1 ms per message; the verdict line says whether it holds. ``--small``
(5 repeats) runs in a second for CI, which checks the figures, not the timing.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

from hub.trust.masking import ContactMasker
from tests.hub.trust.corpus_support import load_corpus

BUDGET_US = 1000.0

LONG_CLEAN = (
    "Kitchen refit at 42 Oak Avenue, Apt 5B, Springfield 62704: units 600 x 720 mm, "
    "worktop 3000 x 600 x 38, part no. 5304511738, budget $12,500, start 9.30 on the "
    "12th, done by 17.30 on the 16th. "
) * 20
LONG_CONTACT = (
    "call me on 07 911 123 456 or five five five one two three four, "
    "mail j o h n at gmail dot com, see www.example.com. "
) * 30


def _time_us(mask: ContactMasker, text: str) -> float:
    start = time.perf_counter_ns()
    mask.mask(text)
    return (time.perf_counter_ns() - start) / 1000


def _on_cpu_us(mask: ContactMasker, texts: list[str]) -> float:
    """Mean on-CPU µs per call (the thread's clock: time the process was descheduled on a
    busy machine left out)."""
    start = time.thread_time_ns()
    for text in texts:
        mask.mask(text)
    return (time.thread_time_ns() - start) / 1000 / len(texts)


def _row(name: str, samples: list[float], on_cpu: float) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name:<26}{len(samples):>7}{statistics.fmean(samples):>9.1f}"
        f"{statistics.median(samples):>9.1f}{p99:>9.1f}{ordered[-1]:>9.1f}{on_cpu:>9.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    repeat = 5 if args.small else args.repeat

    masker = ContactMasker()
    corpus = load_corpus()
    contact = [s for s in corpus if s.contact]
    clean = [s for s in corpus if not s.contact]
    caught = sum(1 for s in contact if masker.mask(s.text) is not None)
    false_hits = sum(1 for s in clean if masker.mask(s.text) is not None)
    recall = caught / len(contact)
    precision = caught / max(1, caught + false_hits)
    print(
        f"corpus: {len(corpus)} messages ({len(contact)} with contact details, {len(clean)} clean)"
    )
    print(
        f"recall {recall:.1%}  precision {precision:.1%}  "
        f"false positives {false_hits / len(clean):.1%} ({false_hits} of {len(clean)})"
    )

    gc.disable()
    try:
        corpus_us = [_time_us(masker, s.text) for _ in range(repeat) for s in corpus]
        long_clean_us = [_time_us(masker, LONG_CLEAN[:4000]) for _ in range(repeat)]
        long_contact_us = [_time_us(masker, LONG_CONTACT[:4000]) for _ in range(repeat)]
        cpu = [
            _on_cpu_us(masker, [s.text for s in corpus] * repeat),
            _on_cpu_us(masker, [LONG_CLEAN[:4000]] * repeat),
            _on_cpu_us(masker, [LONG_CONTACT[:4000]] * repeat),
        ]
    finally:
        gc.enable()
    header = ("calls", "mean", "median", "p99", "max", "on-CPU")
    print(f"\n{'cost per message (µs)':<26}{header[0]:>7}" + "".join(f"{h:>9}" for h in header[1:]))
    print(_row("corpus messages", corpus_us, cpu[0]))
    print(_row("4,000 chars, no contact", long_clean_us, cpu[1]))
    print(_row("4,000 chars, 120 details", long_contact_us, cpu[2]))
    p99 = sorted(corpus_us)[int(len(corpus_us) * 0.99)]
    verdict = "within" if p99 < BUDGET_US else "OVER"
    print(
        f"\nverdict: corpus p99 {p99:.1f} µs (on-CPU mean {cpu[0]:.1f} µs), {verdict} the"
        f" {BUDGET_US:.0f} µs budget"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
