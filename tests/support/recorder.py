"""Record every API answer a test suite gets, to compare a refactor before and after.

Set ``HYDRIA_RECORD=/tmp/file.jsonl`` and the API tests' ``client`` appends one
JSON line per response: the test, method, path with query, status and body.
Ids, timestamps and addresses that differ from run to run are replaced by
tokens numbered in the order they first appear within a test, so two runs of
the same suite give the same file when the answers are byte-for-byte the same.
Compare with ``python -m tests.support.recorder before.jsonl after.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import httpx

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Test ids carry (maybe cut) random uuids in their parameters.
TEST_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f-]+")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
COMPUTE_ID = re.compile(r"local-[0-9a-f]{8}")
# Answers that differ from run to run whatever the code: process metrics.
UNSTABLE = ("GET /metrics",)


class Recorder:
    """An httpx response hook writing normalised answers for one test."""

    def __init__(self, path: str, test: str) -> None:
        self.path = path
        self.test = test
        self.tokens: dict[str, str] = {}

    def _token(self, match: re.Match[str]) -> str:
        return self.tokens.setdefault(match.group(0), f"<id{len(self.tokens)}>")

    def normalise(self, text: str) -> str:
        text = COMPUTE_ID.sub("<compute>", UUID.sub(self._token, text))
        return TIME.sub("<time>", text)

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        line = {
            "test": self.test,
            "request": self.normalise(f"{request.method} {request.url.raw_path.decode()}"),
            "status": response.status_code,
            "body": (
                "<unstable>"
                if request.url.path in [u.split()[1] for u in UNSTABLE]
                else self.normalise(response.text)
            ),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def hook_for(test: str) -> Recorder | None:
    path = os.environ.get("HYDRIA_RECORD")
    return Recorder(path, test) if path else None


def _load(path: str) -> dict[str, list[Any]]:
    by_test: dict[str, list[Any]] = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = json.loads(raw)
            by_test.setdefault(TEST_UUID.sub("<id>", line["test"]), []).append(
                (line["request"], line["status"], line["body"])
            )
    return by_test


def compare(before: str, after: str) -> int:
    """Print every test whose answers differ; return how many differ."""
    old, new = _load(before), _load(after)
    differ = 0
    for test in sorted(set(old) | set(new)):
        if old.get(test) != new.get(test):
            differ += 1
            print(f"DIFFERS {test}")
            for a, b in zip(old.get(test, []), new.get(test, []), strict=False):
                if a != b:
                    print(f"  before: {a}\n  after:  {b}")
                    break
    total = sum(len(v) for v in old.values())
    print(
        f"{len(old)} tests, {total} answers before; {len(new)} tests, "
        f"{sum(len(v) for v in new.values())} answers after; {differ} tests differ"
    )
    return differ


if __name__ == "__main__":
    sys.exit(1 if compare(sys.argv[1], sys.argv[2]) else 0)
