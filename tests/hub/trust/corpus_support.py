"""The labelled contact-details corpus, read by the quality test and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).with_name("contact_corpus.tsv")


@dataclass(frozen=True)
class Sample:
    contact: bool
    text: str


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        if label not in ("contact", "clean"):
            raise ValueError(f"{path.name}: unknown label {label!r} in {line!r}")
        samples.append(Sample(label == "contact", text))
    return samples
