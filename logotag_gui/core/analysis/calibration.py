"""Calibration from review: how well retrieval scores and model verdicts agree with the reviewers.

A reviewed candidate is a positive for the brand the model proposed when it was accepted as that
brand; a rejection or a relabel to another brand makes it a negative. Pending candidates are left
out. From these, per brand: precision and recall of `score >= t` for every threshold seen, the
suggested threshold (the lowest that reaches the target precision, else the best F1), and the
precision and recall of the verifier's "yes".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from logotag_gui.core.base.records import MANUAL, Candidate, ReviewState, VerdictState


@dataclass(slots=True)
class BrandCalibration:
    brand: str
    positives: int
    negatives: int
    suggested_threshold: float | None
    precision_at_threshold: float
    recall_at_threshold: float
    verdict_precision: float | None  # P(accepted | verifier said yes)
    verdict_recall: float | None  # P(verifier said yes | accepted)
    unparsable: int


def _label(c: Candidate) -> bool | None:
    if c.review.state is ReviewState.PENDING:
        return None
    return c.review.state is ReviewState.ACCEPTED and c.final_brand == c.brand


def _threshold(scored: list[tuple[float, bool]], target: float) -> tuple[float | None, float, float]:
    positives = sum(label for _, label in scored)
    if not positives:
        return None, 0.0, 0.0
    best_f1: tuple[float, float | None, float, float] = (-1.0, None, 0.0, 0.0)
    tp = fp = 0
    candidates = []
    for score, label in sorted(scored, key=lambda x: -x[0]):
        tp, fp = tp + label, fp + (not label)
        candidates.append((score, tp / (tp + fp), tp / positives))
    # Thresholds only where the score changes (ties must be taken together).
    final: dict[float, tuple[float, float]] = {}
    for score, precision, recall in candidates:
        final[score] = (precision, recall)
    reaching = [(s, p, r) for s, (p, r) in final.items() if p >= target]
    if reaching:
        s, p, r = min(reaching, key=lambda x: x[0])
        return s, p, r
    for s, (p, r) in final.items():
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1[0]:
            best_f1 = (f1, s, p, r)
    return best_f1[1], best_f1[2], best_f1[3]


def calibrate(candidates: Iterable[Candidate], *, target_precision: float = 0.9) -> list[BrandCalibration]:
    by_brand: dict[str, list[tuple[Candidate, bool]]] = {}
    for c in candidates:
        label = _label(c)
        if label is not None and c.method != MANUAL:
            by_brand.setdefault(c.brand, []).append((c, label))
    out = []
    for brand, items in sorted(by_brand.items()):
        threshold, p, r = _threshold([(c.score, label) for c, label in items], target_precision)
        verified = [(c, label) for c, label in items if c.verdict.state in (VerdictState.YES, VerdictState.NO,
                                                                             VerdictState.UNSURE)]
        said_yes = [label for c, label in verified if c.verdict.state is VerdictState.YES]
        positives_verified = [c for c, label in verified if label]
        out.append(BrandCalibration(
            brand=brand, positives=sum(label for _, label in items), negatives=sum(not label for _, label in items),
            suggested_threshold=threshold, precision_at_threshold=p, recall_at_threshold=r,
            verdict_precision=sum(said_yes) / len(said_yes) if said_yes else None,
            verdict_recall=(sum(c.verdict.state is VerdictState.YES for c in positives_verified)
                            / len(positives_verified) if positives_verified else None),
            unparsable=sum(c.verdict.state is VerdictState.UNPARSABLE for c, _ in items),
        ))
    return out


def format_calibration(rows: list[BrandCalibration], target: float) -> str:
    head = (f"{'brand':<20} {'acc':>5} {'rej':>5} {'threshold':>9} {'prec':>6} {'recall':>6} "
            f"{'yes-prec':>8} {'yes-rec':>7} {'unpars':>6}")

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.0%}"

    lines = [f"suggested thresholds: lowest retrieval score with precision >= {target:.0%} against reviewers "
             "(else best F1)", head, "-" * len(head)]
    for r in rows:
        t = "–" if r.suggested_threshold is None else f"{r.suggested_threshold:.3f}"
        lines.append(f"{r.brand:<20} {r.positives:>5} {r.negatives:>5} {t:>9} {pct(r.precision_at_threshold):>6} "
                     f"{pct(r.recall_at_threshold):>6} {pct(r.verdict_precision):>8} {pct(r.verdict_recall):>7} "
                     f"{r.unparsable:>6}")
    return "\n".join(lines)
