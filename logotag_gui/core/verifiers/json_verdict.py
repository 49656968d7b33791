"""Pull the strict-JSON verdict out of whatever a VLM wrote.

Models wrap JSON in code fences, prose, smart quotes or single quotes, or stop mid-object. We take
the first balanced object that parses and has the keys we asked for; anything else is UNPARSABLE
with the raw text kept, never silently a "no".
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass

from logotag_gui.core.base.records import Verdict, VerdictState

_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'",
                        "\u00ab": '"', "\u00bb": '"'})
_FENCE = re.compile(r"```(?:json)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    verdict: str  # "yes" or "no"
    confidence: float
    visual_cues: str


def balanced_objects(text: str) -> list[str]:
    """Every top-level {...} span, respecting strings and escapes."""
    spans, depth, start, in_str, quote, escaped = [], 0, -1, False, "", False
    for i, ch in enumerate(text):
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                in_str = False
            continue
        if ch in "\"'" and depth > 0:
            # An apostrophe inside a bare word ("don't") is not a string delimiter.
            if ch == "'" and i > 0 and text[i - 1].isalnum():
                continue
            in_str, quote = True, ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start:i + 1])
    return spans


def _load(span: str) -> object:
    try:
        return json.loads(span)
    except json.JSONDecodeError:
        pass
    try:  # single-quoted dicts, True/False, trailing commas: Python literal syntax
        return ast.literal_eval(span)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _confidence(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%")
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    value = float(value)
    if 1.0 < value <= 100.0:  # a percentage
        value /= 100.0
    return value if 0.0 <= value <= 1.0 else None


def parse_verdict(text: str) -> ParsedVerdict | None:
    cleaned = _FENCE.sub(" ", text.translate(_SMART))
    for span in balanced_objects(cleaned):
        data = _load(span)
        if not isinstance(data, dict):
            continue
        data = {str(k).strip().lower(): v for k, v in data.items()}
        verdict = str(data.get("verdict", "")).strip().lower()
        if verdict not in ("yes", "no"):
            continue
        confidence = _confidence(data.get("confidence"))
        if confidence is None:
            continue
        cues = data.get("visual_cues", data.get("rationale", ""))
        return ParsedVerdict(verdict, confidence, str(cues) if cues is not None else "")
    return None


def verdict_from_text(text: str, *, threshold: float, method: str) -> Verdict:
    """A Verdict from raw model output: yes only at or above `threshold`, else UNSURE."""
    parsed = parse_verdict(text)
    if parsed is None:
        return Verdict(VerdictState.UNPARSABLE, None, "model output is not the JSON asked for", text, method)
    if parsed.verdict == "no":
        state = VerdictState.NO
    else:
        state = VerdictState.YES if parsed.confidence >= threshold else VerdictState.UNSURE
    return Verdict(state, parsed.confidence, parsed.visual_cues, text, method)
