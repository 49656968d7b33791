"""When a mark counts: the project's counting rule (issue 30).

Sponsorship measurement has no accredited standard, but the services state their rules, and an analyst sets one
per client: Sponsorship Research International counts a second when the name or 90% of the logo is legible and in
focus; Joyce Julius & Associates leaves out blurred or partly hidden marks and counts only a sponsor's dominant
image; the MRC's video viewability rule is 50% of the pixels for 2 continuous seconds; Nielsen's scorecard counts
impressions of at least 5 s. A rule is five bars and one switch:

- `min_visible`: the share of the mark's box that must be in view (in the frame and not hidden), 0-1;
- `min_sharpness`: the box's normalised sharpness (`analysis/sharpness.py`: the variance of the Laplacian over
  the variance of the grey levels, on the box at 64 px, squashed into 0-1; ~0.6 crisp, ~0.3 soft, <0.1 a blur);
- `min_size`: the box's area as a share of the frame's, 0-1;
- `min_exposure_s`: an exposure (a brand's appearance, gaps joined) shorter than this counts nothing;
- `join_gap_s`: appearances at most this far apart (beyond one sampling interval) are one exposure; the gap's
  seconds are never counted;
- `one_per_frame`: two copies of a brand on one frame count once (the dominant image); off, each copy that passes
  counts its interval.

Presets are named after their anchors ("strict": SRI/JJ&A's 90% visible and legible; "mrc": 50% for 2 continuous
seconds; "any": what LogoTag counted before rules, the default, so a project without a rule counts as it did).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from logotag_gui.core.base.errors import InputError

ANY, STRICT, MRC, CUSTOM, TRUTH = "any", "strict", "mrc", "custom", "truth"
# The one limit on seconds: a day of footage. A rule past it is a typo, not a client's rule.
MAX_SECONDS = 86_400.0


class RuleError(InputError):
    """A counting rule with a value out of range: the message names the field, its range and the value."""


@dataclass(frozen=True, slots=True)
class CountingRule:
    name: str = ANY
    min_visible: float = 0.0
    min_sharpness: float = 0.0
    min_size: float = 0.0
    min_exposure_s: float = 0.0
    join_gap_s: float = 1.0
    one_per_frame: bool = True

    def __post_init__(self) -> None:
        validate(self)

    @property
    def needs_pixels(self) -> bool:
        """Whether applying the rule needs the clip's frames (sharpness is measured on them)."""
        return self.min_sharpness > 0

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """The rule in one sentence, as the reports state it at the top."""
        bars = []
        if self.min_visible > 0:
            bars.append(f"at least {self.min_visible:.0%} of it is in view")
        if self.min_sharpness > 0:
            bars.append(f"its sharpness is at least {self.min_sharpness:g} (0-1)")
        if self.min_size > 0:
            bars.append(f"its box is at least {self.min_size:.2%} of the frame")
        what = "a mark counts where " + " and ".join(bars) if bars else "every mark counts"
        length = (f"; exposures shorter than {self.min_exposure_s:g} s count nothing" if self.min_exposure_s > 0
                  else "")
        copies = ("; two copies on one frame count once" if self.one_per_frame
                  else "; each copy on a frame counts")
        join = (f"appearances up to {self.join_gap_s:g} s apart are one exposure (the gap is not counted)"
                if self.join_gap_s > 0 else "an exposure is continuous (on consecutive sampled frames)")
        return f"Counting rule '{self.name}': {what}{length}; {join}{copies}."


# What each field takes: (low, high, what it is). Bounds are inclusive.
FIELDS: dict[str, tuple[float, float, str]] = {
    "min_visible": (0.0, 1.0, "the share of the mark in view"),
    "min_sharpness": (0.0, 1.0, "the normalised sharpness inside the box"),
    "min_size": (0.0, 1.0, "the box's share of the frame"),
    "min_exposure_s": (0.0, MAX_SECONDS, "the shortest exposure that counts, in seconds"),
    "join_gap_s": (0.0, MAX_SECONDS, "the gap that joins two appearances, in seconds"),
}


def validate(rule: CountingRule) -> None:
    """Raise RuleError naming the first bad field, its range and its value."""
    if not isinstance(rule.name, str) or not rule.name.strip() or len(rule.name) > 64:
        raise RuleError(f"Counting rule name {rule.name!r}: give a name of 1-64 characters (e.g. 'strict').")
    for name, (lo, hi, what) in FIELDS.items():
        value = getattr(rule, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RuleError(f"Counting rule '{rule.name}': {name} ({what}) is {value!r}, not a number; "
                            f"give a number from {lo:g} to {hi:g}.")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise RuleError(f"Counting rule '{rule.name}': {name} ({what}) is {value!r}, outside {lo:g}-{hi:g}.")
    if not isinstance(rule.one_per_frame, bool):
        raise RuleError(f"Counting rule '{rule.name}': one_per_frame is {rule.one_per_frame!r}; give true or false.")


PRESETS: dict[str, CountingRule] = {
    # What LogoTag counted before rules: every accepted box and presence, gaps up to 1 s joined.
    ANY: CountingRule(ANY),
    # SRI: the name or 90% of the logo legible and in focus; JJ&A: blurred or partly hidden marks left out, the
    # dominant image only. Legible: sharp enough (soft but readable is ~0.3) and at least 0.1% of the frame (about
    # 30x30 px of a 1280x720 frame: LogoTag's reading of "legible"), for at least one counted second.
    STRICT: CountingRule(STRICT, min_visible=0.9, min_sharpness=0.3, min_size=0.001, min_exposure_s=1.0),
    # MRC video viewability: 50% of the pixels for 2 continuous seconds (no gap joins).
    MRC: CountingRule(MRC, min_visible=0.5, min_exposure_s=2.0, join_gap_s=0.0),
}
DEFAULT = PRESETS[ANY]


def preset(name: str) -> CountingRule:
    try:
        return PRESETS[name]
    except KeyError:
        raise RuleError(f"No counting rule preset '{name}': use one of {', '.join(PRESETS)}, "
                        "or give custom values.") from None


def custom(base: str | CountingRule = ANY, **values: object) -> CountingRule:
    """A rule from a preset with some values changed (named "custom" where any value differs from the preset's)."""
    start = preset(base) if isinstance(base, str) else base
    unknown = set(values) - set(FIELDS) - {"one_per_frame", "name"}
    if unknown:
        raise RuleError(f"Unknown counting rule field(s) {', '.join(sorted(unknown))}: use "
                        f"{', '.join([*FIELDS, 'one_per_frame'])}.")
    changed = {k: v for k, v in values.items() if k != "name" and getattr(start, k) != v}
    name = values.get("name", CUSTOM if changed else start.name)
    return dataclasses.replace(start, name=name, **changed)  # type: ignore[arg-type]


def from_dict(data: Mapping[str, object]) -> CountingRule:
    """A rule from its stored or written form (`as_dict`); missing fields take the "any" rule's values."""
    values = dict(data)
    name = values.pop("name", CUSTOM)
    return custom(ANY, name=name, **values)


# ---- the truth files' rule ----------------------------------------------------------------------------------
# What the clip makers count as "on screen" in truth: ../shared/tools/make_pan_clip.py (which make_pan_bench.py
# runs) keeps a box when at least 60% of it is inside the frame; make_broadcast_clip.py too, and drops a box whose
# in-frame part the crossing player covers by more than half. A truth file written before makers stated their rule
# reads as this.
MAKERS_RULE: dict[str, float] = {"min_visible": 0.6}


def truth_rule(data: Mapping[str, object]) -> dict[str, float]:
    """The rule a truth file (gt.json) was made with: its "rule" ({"min_visible": ..., "max_hidden": ...}), or the
    makers' default where it states none."""
    rule = data.get("rule")
    if rule is None:
        return dict(MAKERS_RULE)
    if not isinstance(rule, Mapping):
        raise RuleError(f"A truth file's \"rule\" is {rule!r}: expected {{\"min_visible\": 0.6, \"max_hidden\": 0.5}}.")
    out: dict[str, float] = {}
    for key in ("min_visible", "max_hidden"):
        value = rule.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise RuleError(f"A truth file's rule.{key} is {value!r}: give a share from 0 to 1.")
        out[key] = float(value)
    return out


def rule_from_truth(data: Mapping[str, object]) -> CountingRule:
    """The counting rule an analyst sets to count as the truth was made: the mark's share in view as the truth's
    bar. A hidden share (`max_hidden`) is not measured by LogoTag (no occlusion model): the truth's own boxes
    already leave out what was hidden, and the reviewer (the oracle) rejects those."""
    rule = truth_rule(data)
    return CountingRule(TRUTH, min_visible=rule.get("min_visible", 0.0))


def read_truth_rule(path: str | Path) -> CountingRule:
    """`rule_from_truth` of a truth file on disk (simulate-review sets it as the project's rule)."""
    from logotag_gui.core.base.safe_json import read_json

    data = read_json(path, what="Ground truth", expected='{"fps": 25, "boxes": {...}, "rule": {"min_visible": 0.6}}',
                     max_bytes=500_000_000)
    if not isinstance(data, Mapping):
        raise RuleError(f"Ground truth '{path}' is not a JSON object: no rule to read.")
    return rule_from_truth(data)


def add_truth_rule(path: str | Path, rule: Mapping[str, float]) -> bool:
    """Write `rule` into the truth file at `path` as its "rule" (the clip makers' way to state, in a gt.json made
    before they did, what they counted as on screen), without touching the rest; False where it already held it."""
    import json

    from logotag_gui.core.base.safe_io import atomic_write_text

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RuleError(f"Ground truth '{path}' is not a JSON object: no place for a rule.")
    wanted = dict(rule)
    truth_rule({"rule": wanted})  # the same checks a reader makes
    if data.get("rule") == wanted:
        return False
    data["rule"] = wanted
    atomic_write_text(path, json.dumps(data))
    return True
