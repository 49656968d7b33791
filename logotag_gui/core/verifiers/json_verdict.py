"""Pull the strict-JSON verdict out of whatever a VLM wrote.

Models wrap JSON in code fences, prose, smart quotes or single quotes, or stop mid-object. We take
the first balanced object that parses and has the keys we asked for; anything else is UNPARSABLE
with the raw text kept, never silently a "no".

A hostile or broken server may answer anything: only the first MAX_PARSE_CHARS are looked at, an object
nested past MAX_DEPTH is refused before parsing (core/base/safe_json.py), the raw text a verdict keeps is
capped at MAX_RAW_CHARS with the cut marked, and any other failure to read an answer makes its verdict
UNSURE with the reason, never an exception that ends the run.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass

from logotag_gui.core.base import safe_json
from logotag_gui.core.base.records import Verdict, VerdictState

_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'",
                        "\u00ab": '"', "\u00bb": '"'})
_FENCE = re.compile(r"```(?:json)?", re.IGNORECASE)
MAX_RAW_CHARS = 64 * 1024  # the raw answer kept per verdict: enough for any honest one
MAX_PARSE_CHARS = 64 * 1024  # a verdict is a few hundred characters: the rest of a huge answer is not read
MAX_CUES_CHARS = 2000  # the visual cues kept as a verdict's rationale
MAX_DEPTH = 8  # the verdict is one flat object


def cap_text(text: str, limit: int = MAX_RAW_CHARS) -> str:
    """`text` up to `limit` characters, the cut marked with how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}[{len(text) - limit:,} more characters cut]"


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
        return safe_json.loads(span, max_depth=MAX_DEPTH)
    except safe_json.JsonTooDeep:
        return None  # neither parser may see it: both recurse per level
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
    cleaned = _FENCE.sub(" ", text[:MAX_PARSE_CHARS].translate(_SMART))
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
        return ParsedVerdict(verdict, confidence, cap_text(str(cues), MAX_CUES_CHARS) if cues is not None else "")
    return None


def _why_unparsable(text: str) -> str:
    if safe_json.nesting_depth(text[:MAX_PARSE_CHARS], limit=MAX_DEPTH) > MAX_DEPTH:
        return f" (it is nested more than {MAX_DEPTH} levels deep)"
    if len(text) > MAX_PARSE_CHARS:
        return f" (only its first {MAX_PARSE_CHARS:,} of {len(text):,} characters were read)"
    return ""


def verdict_from_text(text: str, *, threshold: float, method: str) -> Verdict:
    """A Verdict from raw model output: yes only at or above `threshold`, else UNSURE; never raises.

    The whole parse-and-judge is guarded: one answer that breaks the parser costs its candidate a verdict
    (UNSURE, the reason given), never the run.
    """
    try:
        return _judge(text, threshold=threshold, method=method)
    except Exception as exc:  # RecursionError, MemoryError's kin, a parser bug: this answer only
        reason = f"the model's answer could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        return Verdict(VerdictState.UNSURE, None, reason, cap_text(text if isinstance(text, str) else ""), method)


def _judge(text: str, *, threshold: float, method: str) -> Verdict:
    parsed = parse_verdict(text)
    raw = cap_text(text)
    if parsed is None:
        why = "model output is not the JSON asked for" + _why_unparsable(text)
        return Verdict(VerdictState.UNPARSABLE, None, why, raw, method)
    if parsed.verdict == "no":
        state = VerdictState.NO
    else:
        state = VerdictState.YES if parsed.confidence >= threshold else VerdictState.UNSURE
    return Verdict(state, parsed.confidence, parsed.visual_cues, raw, method)
