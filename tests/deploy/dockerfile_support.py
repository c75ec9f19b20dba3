"""Reading deploy/Dockerfile and .dockerignore as Docker would, for the offline checks."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.packaging.product_support import REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest, continuation lines joined
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, None for the shell form."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1] if "CMD" in text else ""
        text = text.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The stage's ENV key=value pairs (values unquoted, ``$VAR`` left as written)."""
        out: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in instruction.args.split():
                key, _, value = pair.partition("=")
                out[key] = value.strip('"')
        return out


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile: comments dropped, continuations joined."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        text = " ".join(pending)
        pending = []
        keyword, _, args = text.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, f"{path}: the file ends inside a continued line"
    return out


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    found: list[Stage] = []
    for instruction in instructions(path):
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name))
        else:
            assert found, f"line {instruction.line}: {instruction.keyword} before any FROM"
            found[-1].instructions.append(instruction)
    return found


def ignore_patterns(path: Path = DOCKERIGNORE) -> list[tuple[bool, str]]:
    """(excluded?, pattern) per line of a .dockerignore, in order."""
    out: list[tuple[bool, str]] = []
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        out.append((not negated, line.lstrip("!").strip("/")))
    return out


def _matches(pattern: str, rel: str) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(fnmatch.fnmatchcase(p, tail) for p in parts) or _matches(tail, rel)
    # A pattern that names a folder takes everything under it, as Docker does.
    return any(
        fnmatch.fnmatchcase(p, pattern) and p.count("/") == pattern.count("/") for p in prefixes
    )


def in_context(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Whether the build context keeps ``rel`` (the last matching pattern decides)."""
    keep = True
    for excluded, pattern in patterns:
        if _matches(pattern, rel):
            keep = not excluded
    return keep


def context_files(root: Path = REPO_ROOT) -> list[str]:
    """The checkout's files (as git sees them: tracked, or untracked and not ignored) that
    the .dockerignore lets into the build context."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    patterns = ignore_patterns(root / ".dockerignore")
    return sorted(
        name
        for name in filter(None, listed.split("\0"))
        if (root / name).is_file() and in_context(name, patterns)
    )
