"""Seconds on screen from a reviewed sample: prediction-powered inference (PPI++) over a stratified random sample.

What the project says of every sampled frame (the model's verdicts, corrected by whatever review has been
done) is a prediction of which brands are on screen there. Frames a reviewer looked at and settled count
exactly; a reviewer answers a random sample of the rest. Each stratum's total is lambda times the prediction's
total plus its size times its mean (answer - lambda * prediction) on the sample (Angelopoulos, Duchi & Zrnic,
"PPI++", 2023, with a stratified sample and the finite-population correction): unbiased whatever the detector's
errors, and exact where a stratum was answered completely. Lambda is power-tuned per brand (the within-stratum
regression slope of the answers on the predictions, clipped to [0, 1]): a weak detector gets little weight, so it
never widens the interval past the classical one from the answers alone (lambda 0), and a strong one is used in
full (lambda 1, plain PPI). `ppi_mean` with `finite=False` is the reference implementation's formula
(`ppi_py.ppi_mean_ci`), which the tests hold it to.

A brand's interval comes from its own differences: where they are rare the spread seen understates them (a normal
interval on a rare event), so its floor is the brand's spread with two unit differences and two agreements added
(Agresti-Coull's); a stratum without answers keeps the prediction with that spread; and the interval is Student's
t at the sample's degrees of freedom, not the normal's. On the dev clips' stored projects (100 samples of 30
frames; docs/benchmarks.md) the 95% intervals held the total in 94-100% and each brand in 97-98% of samples, no
wider than the classical interval from the same answers.

Strata are the prediction's confidence (no candidate, unlikely, unsure, likely, all reviewed) crossed with
the frame's leading brand; frames are allotted to strata by Neyman allocation with a prior guess of each
stratum's spread, at least two per stratum (a variance needs two), and answered in an interleaved order, so
that a sample answered only in part is still a random sample of each stratum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959964
ALL = "(all brands)"
# A prior guess of the spread of (answer - prediction) per frame in each confidence bin: misses hide where
# nothing was proposed, and unsure candidates are right about half of the time.
PRIOR_SPREAD = {"none": 0.3, "low": 0.4, "mid": 0.5, "high": 0.35, "reviewed": 0.15}
MIN_PER_STRATUM = 2
# Pseudo observations of the pooled spread in each stratum: a stratum whose few answers show no difference does
# not claim the prediction exact there.
PSEUDO_N = 2.0
PSEUDO_EVENTS = 2.0  # z^2/2 differences and agreements added (Agresti-Coull): a brand's own floor on its spread
OUTSIDE = "outside|-"  # frames not in the population the sample was drawn from


@dataclass(frozen=True, slots=True)
class FrameView:
    """What the project says of one sampled frame before the audit answers it."""

    index: int
    counted: frozenset[str]  # the brands the project counts there now (the prediction)
    lead: str | None = None  # the brand of its most likely candidate
    p: float | None = None  # the belief in its most likely pending candidate (None: nothing pending)
    decided: bool = False  # it holds candidates and every one is decided


def confidence_bin(v: FrameView) -> str:
    if v.lead is None:
        return "none"
    if v.p is None:
        return "reviewed" if v.decided else "none"
    return "low" if v.p < 0.35 else "high" if v.p >= 0.65 else "mid"


@dataclass(frozen=True, slots=True)
class Draw:
    strata: dict[str, list[int]]  # stratum -> every frame of the population in it
    frames: list[tuple[int, str]]  # the sample, in answering order


def stratify(views: Sequence[FrameView], *, n: int) -> dict[str, list[int]]:
    """Strata of the population (confidence bin x leading brand); brands too rare to be allotted two frames
    share their bin's stratum."""
    by: dict[str, list[int]] = {}
    for v in views:
        b = confidence_bin(v)
        by.setdefault(f"{b}|{v.lead or '-'}", []).append(v.index)
    population = max(1, len(views))
    floor = max(MIN_PER_STRATUM * 2, math.ceil(MIN_PER_STRATUM * population / max(1, n)))
    strata: dict[str, list[int]] = {}
    for key, frames in sorted(by.items()):
        bin_ = key.split("|")[0]
        strata.setdefault(key if len(frames) >= floor else f"{bin_}|other", []).extend(frames)
    # A bin's "other" stratum that is still too small joins the bin's largest stratum.
    for key in [k for k in strata if k.endswith("|other") and len(strata[k]) < MIN_PER_STRATUM * 2]:
        bin_ = key.split("|")[0]
        peers = [k for k in strata if k.startswith(bin_ + "|") and k != key]
        if peers:
            strata[max(peers, key=lambda k: len(strata[k]))].extend(strata.pop(key))
    return {k: sorted(v) for k, v in strata.items()}


def allocate(strata: Mapping[str, Sequence[int]], n: int) -> dict[str, int]:
    """Frames per stratum: Neyman allocation (size x prior spread), at least two where a stratum has them."""
    weight = {k: len(v) * PRIOR_SPREAD[k.split("|")[0]] for k, v in strata.items()}
    total = sum(weight.values()) or 1.0
    n = min(n, sum(len(v) for v in strata.values()))
    share = {k: min(len(strata[k]), max(min(MIN_PER_STRATUM, len(strata[k])), round(n * w / total)))
             for k, w in weight.items()}
    while sum(share.values()) > n:  # take back from the largest allotments first
        k = max((k for k in share if share[k] > min(MIN_PER_STRATUM, len(strata[k]))), key=lambda k: share[k],
                default=None)
        if k is None:
            break
        share[k] -= 1
    while sum(share.values()) < n:
        k = max((k for k in share if share[k] < len(strata[k])), key=lambda k: weight[k] / (share[k] + 1))
        share[k] += 1
    return share


def draw(views: Sequence[FrameView], *, n: int, seed: int) -> Draw:
    """A seeded stratified random sample of `n` frames (fewer where the clip has fewer), in answering order."""
    strata = stratify(views, n=n)
    share = allocate(strata, n)
    rng = np.random.default_rng(seed)
    ranked: list[tuple[float, float, int, str]] = []
    for key in sorted(strata):
        picked = rng.permutation(strata[key])[: share[key]]
        for rank, f in enumerate(picked):
            # Interleaved: the k-th frame of every stratum comes before the (k+1)-th of any, in proportion.
            ranked.append(((rank + 0.5) / share[key], float(rng.random()), int(f), key))
    ranked.sort()
    return Draw(strata, [(f, key) for _, _, f, key in ranked])


def extend(views_strata: Mapping[str, Sequence[int]], taken: Iterable[int], *, more: int, seed: int,
           exclude: Iterable[int] = ()) -> list[tuple[int, str]]:
    """`more` frames added to a sample (same strata, same allocation), from the frames not in it yet; never one of
    `exclude` (frames a reviewer settled since the sample was drawn: an answer there counts for nothing)."""
    have, out_of_bounds = set(taken), set(exclude)
    left = {k: [f for f in v if f not in have and f not in out_of_bounds] for k, v in views_strata.items()}
    size = sum(len(v) for v in views_strata.values())
    target = allocate(views_strata, min(size, len(have) + more))
    counts = {k: sum(1 for f in v if f in have) for k, v in views_strata.items()}
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float, int, str]] = []
    for key in sorted(left):
        extra = max(0, min(len(left[key]), target[key] - counts[key]))
        for rank, f in enumerate(rng.permutation(left[key])[:extra]):
            out.append(((rank + 0.5) / max(1, extra), float(rng.random()), int(f), key))
    out.sort()
    return [(f, key) for _, _, f, key in out][:more]


@dataclass(frozen=True, slots=True)
class Estimate:
    """One brand's (or all brands') seconds on screen: exact where review settled the frames, estimated from the
    prediction and the answered sample for the rest."""

    brand: str
    seconds: float
    se: float  # standard error, seconds (0 where every frame is settled or answered)
    predicted_s: float  # what the prediction alone says of the frames not settled (plus the settled seconds)
    answered: int  # sampled frames answered among those not settled
    population: int  # sampled frames of the clip
    exact: bool  # every frame settled or answered: the figure is exact
    strata_unanswered: int = 0  # strata of the sample with no answer yet: their correction is missing
    settled_s: float = 0.0  # seconds on frames a reviewer looked at and settled (exact)
    lam: float = 1.0  # how much of the prediction the estimate leans on (power tuning: 0 ignores it, 1 is plain PPI)
    differences: int = 0  # answered frames where the answer and the prediction disagree for this brand
    few_answers: bool = False  # too few answers touch this brand for an interval of its own: say so

    @property
    def half_width(self) -> float:
        return Z95 * self.se

    @property
    def low(self) -> float:
        return max(self.settled_s, self.seconds - self.half_width)

    @property
    def high(self) -> float:
        return self.seconds + self.half_width

    def format(self) -> str:
        if self.exact or self.se == 0:
            return f"{self.seconds:.1f} s"
        return f"{self.seconds:.1f} ± {self.half_width:.1f} s"


@dataclass(slots=True)
class ClipEstimate:
    interval_s: float
    brands: dict[str, Estimate] = field(default_factory=dict)
    total: Estimate | None = None
    # frames more to answer (with the sample's allocation) for the total's 95% half-width to reach the target
    more_frames: int | None = None
    target: float = 0.05
    settled_frames: int = 0  # sampled frames a reviewer looked at and settled

    @property
    def narrow_enough(self) -> bool:
        """The total's interval is as narrow as the analyst asked for (or the figure is exact)."""
        t = self.total
        return t is not None and (t.exact or t.se == 0 or t.half_width <= self.target * max(t.seconds, 1e-9))


ValueOf = Callable[[frozenset[str]], float]


def ppi_mean(y: np.ndarray, yhat: np.ndarray, yhat_population: np.ndarray, lam: float, *, finite: bool
             ) -> tuple[float, float]:
    """The prediction-powered mean of y and its standard error, with power-tuning weight `lam` (PPI++: Angelopoulos,
    Duchi & Zrnic 2023): lam * mean(yhat over the population) + mean(y - lam * yhat over the sample).

    `finite=False` is the reference implementation's (`ppi_py.ppi_mean_ci`): the population's predictions are a
    sample of their own (their spread counts), spreads with ddof 0. `finite=True` is a clip's: the population is
    every sampled frame not settled, each prediction known, so only the sample's differences vary, with the
    finite-population correction and ddof 1."""
    n, big_n = len(y), len(yhat_population)
    residual = y - lam * yhat
    mean = lam * float(yhat_population.mean()) + float(residual.mean())
    if not finite:
        var = (lam * yhat_population).var() / big_n + residual.var() / n
        return mean, math.sqrt(float(var))
    if n >= big_n or n < 2:
        return mean, 0.0
    return mean, math.sqrt(float(residual.var(ddof=1)) / n * (1 - n / big_n))


def t975(dof: float) -> float:
    """Student's t 97.5% quantile (the Cornish-Fisher expansion around the normal's: within 0.2% from 3 degrees
    of freedom on); the normal's where the degrees of freedom are unknown (0 or less)."""
    if dof <= 0:
        return Z95
    z = Z95
    return z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2) \
        + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * dof ** 3)


def power_tuned_lambda(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The weight on the prediction that minimises the estimate's variance (within-stratum regression slope of the
    answers on the predictions), clipped to [0, 1] so that the estimate never leans on the model more than plain
    PPI nor less than ignoring it. Strata without spread in their predictions say nothing of it."""
    num = den = 0.0
    for y, yhat in pairs:
        if len(y) < 2:
            continue
        yc, hc = y - y.mean(), yhat - yhat.mean()
        num += float((yc * hc).sum())
        den += float((hc * hc).sum())
    if den <= 0:
        return 1.0
    return min(1.0, max(0.0, num / den))


def estimate(*, strata: Mapping[str, Sequence[int]], predicted: Mapping[int, frozenset[str]],
             answers: Mapping[int, frozenset[str]], interval_s: float, target: float = 0.05,
             settled: Mapping[int, frozenset[str]] | None = None, lam: float | None = None,
             brands: Iterable[str] = ()) -> ClipEstimate:
    """Per-brand and total seconds with standard errors.

    `settled`: frame -> the brands on screen there, for frames a reviewer looked at and settled (exact: they
    leave the population); `predicted`: frame -> brands the project counts there (every frame); `answers`:
    sampled frame -> brands the reviewer says are on screen. The rest of each stratum is estimated by PPI++
    (the prediction, weighted by a power-tuned lambda per brand, corrected by the mean difference on the
    stratum's answered frames), finite-population corrected. A stratum without answers keeps the prediction and
    a prior spread from the brand's own answers (never from the total's). `lam`: a fixed weight instead of the
    tuned one (0: the classical estimate from the answers alone, 1: plain PPI). `brands`: the project's brands,
    each given a figure even where nothing names it."""
    settled = settled or {}
    # Every brand of the project gets a figure: one that neither the prediction nor the answers name may still be on
    # screen where the sample did not look (its interval says how much).
    brands = sorted(set(brands) | {b for s in predicted.values() for b in s} | {b for s in answers.values() for b in s}
                    | {b for s in settled.values() for b in s})
    open_strata = {k: [f for f in v if f not in settled] for k, v in strata.items()}
    drawn = {f for v in strata.values() for f in v}
    # Frames the sample was not drawn from and nobody settled (a look undone, a frame that got pending boxes
    # since): a stratum of their own, without answers.
    outside = [f for f in predicted if f not in drawn and f not in settled]
    if outside:
        open_strata[OUTSIDE] = sorted(outside)
    open_strata = {k: v for k, v in open_strata.items() if v}
    answered_by = {k: [f for f in v if f in answers] for k, v in open_strata.items()}
    population = sum(len(v) for v in strata.values()) or len(predicted)
    out = ClipEstimate(interval_s=interval_s, target=target, settled_frames=len(settled))

    def one(name: str, value: ValueOf) -> Estimate:
        exact_part = sum(value(b) for b in settled.values())
        base = exact_part + sum(value(predicted.get(f, frozenset())) for v in open_strata.values() for f in v)
        pairs = {k: (np.array([value(answers[f]) for f in got], float),
                     np.array([value(predicted.get(f, frozenset())) for f in got], float))
                 for k, got in answered_by.items()}
        weight = power_tuned_lambda(list(pairs.values())) if lam is None else lam
        n_all = sum(len(y) for y, _ in pairs.values())
        differences = sum(int((y != yhat).sum()) for y, yhat in pairs.values())
        ss = dof = 0.0
        for y, yhat in pairs.values():
            if len(y) > 1:
                r = y - weight * yhat
                ss += float(((r - r.mean()) ** 2).sum())
                dof += len(y) - 1
        # One degree of freedom goes to lambda itself; where differences are rare the spread seen understates them
        # (a normal interval on a rare event), so the floor is the brand's own spread with PSEUDO_EVENTS unit
        # differences added among as many agreements (Agresti-Coull's z^2/2 each way), never the total's.
        floor = (ss + PSEUDO_EVENTS) / (n_all + 2 * PSEUDO_EVENTS)
        pooled = max(ss / max(1.0, dof - 1), floor)
        total, variance, unanswered = 0.0, 0.0, 0
        for key, frames in open_strata.items():
            y, yhat = pairs[key]
            yhat_pop = np.array([value(predicted.get(f, frozenset())) for f in frames], float)
            big_n = len(frames)
            if len(y) == 0:
                unanswered += 1
                total += float(yhat_pop.sum())
                variance += big_n ** 2 * pooled
                continue
            mean, _ = ppi_mean(y, yhat, yhat_pop, weight, finite=True)
            total += big_n * mean
            if len(y) >= big_n:
                continue  # answered in full: exact
            r = y - weight * yhat
            s2 = (float(((r - r.mean()) ** 2).sum()) + PSEUDO_N * pooled) / (len(y) - 1 + PSEUDO_N)
            variance += big_n ** 2 * (1 - len(y) / big_n) * s2 / len(y)
        # A small sample's interval is Student's t, not the normal's: the standard error is widened by t/z at the
        # sample's degrees of freedom (those left after each stratum's mean and lambda), so that every reader of
        # `se` (the project's totals too) gets the wider interval.
        variance *= (t975(dof - 1) / Z95) ** 2
        exact = all(len(answered_by[k]) >= len(v) for k, v in open_strata.items())
        few = not exact and (differences + sum(int((yhat > 0).sum() + (y > 0).sum()) for y, yhat in pairs.values())
                             ) < MIN_PER_STRATUM
        return Estimate(name, round(interval_s * (exact_part + total), 6), interval_s * math.sqrt(variance),
                        round(interval_s * base, 6), n_all, population, exact, unanswered,
                        round(interval_s * exact_part, 6), round(weight, 4), differences, few)

    def holds(brand: str) -> ValueOf:
        return lambda s: float(brand in s)

    for b in brands:
        out.brands[b] = one(b, holds(b))
    out.total = one(ALL, lambda s: float(len(s)))
    out.more_frames = more_frames(total=out.total, answered=len([f for f in answers if f not in settled]),
                                  open_frames=sum(len(v) for v in open_strata.values()), target=target)
    return out


def more_frames(*, total: Estimate, answered: int, open_frames: int, target: float) -> int | None:
    """Frames more to answer, allotted as the sample is, for the total's half-width to reach `target` of it: the
    variance falls as (1/n - 1/N) at the spread seen so far."""
    if total.seconds <= 0 or total.se == 0 or total.half_width <= target * total.seconds:
        return 0
    if answered < 1 or open_frames <= answered:
        return None
    goal = (target * total.seconds / Z95) ** 2
    scale = total.se ** 2 / (1 / answered - 1 / open_frames)  # N^2 s^2 in seconds^2
    if goal <= 0:
        return None
    needed = math.ceil(1 / (goal / scale + 1 / open_frames))
    return max(0, min(open_frames, needed) - answered)


def combine(clips: Sequence[ClipEstimate]) -> dict[str, tuple[float, float]]:
    """Project totals: (seconds, standard error) per brand and for all brands, the clips' samples independent."""
    out: dict[str, list[float]] = {}
    for clip in clips:
        for e in [*clip.brands.values(), *([clip.total] if clip.total else [])]:
            acc = out.setdefault(e.brand, [0.0, 0.0])
            acc[0] += e.seconds
            acc[1] += e.se ** 2
    return {b: (round(s, 6), math.sqrt(v)) for b, (s, v) in out.items()}
