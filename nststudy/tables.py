"""A study record's tables: results.csv (and snapshots.csv) written and read back, the README's markdown table and
its links to the committed JPEGs under trials/. Pure text in and out, no figures."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

TRIALS = "trials"  # the folder of per-trial JPEGs, beside README.md
TRIAL_QUALITY = 90  # their JPEG quality: full-size results, grain visible


def results_csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def rows_from_csv(path) -> list[dict]:
    """A committed results.csv read back as report rows: numbers as numbers, empty cells as None."""
    def value(s):
        if s == "":
            return None
        for kind in (int, float):
            try:
                return kind(s)
            except ValueError:
                pass
        return s

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def trial_link(trial: str) -> str:
    """The README's relative link to a trial's JPEG (or, given ``<trial>/step_NNNNNN``, to a snapshot's). Trial
    ids hold ``+`` and ``=``: ``+`` is percent-encoded (some renderers read a literal ``+`` in a link as a
    space); GitHub decodes ``%2B`` back to the file name."""
    return f"{TRIALS}/{quote(trial + '.jpg', safe='=/')}"


def snapshot_key(row: dict) -> str:
    """``<trial>/step_NNNNNN``: a snapshot row's JPEG under trials/, without the suffix."""
    return f"{row['trial']}/step_{int(row['step']):06d}"


def markdown_table(rows: list[dict], links: dict | None = None) -> str:
    """The results table; with ``links`` ({trial id: href}) an image column first, linking each trial's JPEG."""
    if not rows:
        return ""
    skip = {"trial", "reason", "metric_reference", "initial_total"}  # in results.csv; flagged trials list theirs
    columns = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in skip
               and any(r.get(c) not in (None, 0, 0.0, "") for r in rows)]  # all-zero terms say nothing

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return "" if v is None else str(v)

    def image(r):
        return f"[jpg]({links[r['trial']]})" if r.get("trial") in links else ""

    links = links or {}
    lines = ["| " + " | ".join((["image"] if links else []) + columns) + " |",
             "|" + "---|" * (len(columns) + bool(links))]
    lines += ["| " + " | ".join(([image(r)] if links else []) + [fmt(r.get(c)) for c in columns]) + " |" for r in rows]
    return "\n".join(lines)


__all__ = ["TRIALS", "TRIAL_QUALITY", "results_csv", "rows_from_csv", "trial_link", "snapshot_key", "markdown_table"]
