"""What a trial's status means: the one table that resume, the sweep summary, results.csv, the report and
``nststudy sweep``'s exit code all read.

A run's ``result.json`` carries one of the finished statuses (written by ``nststudy.runs``); a sweep adds
``failed``, ``incomplete`` and ``pending`` from what its trial folder holds (``trials.trial_status``).

Finished statuses are findings: resume keeps them (when the trial's parameters are unchanged). The others
are rerun. Old records are read by their closest honest meaning (``from_result``):

- no ``status`` key, or ``"completed"``: ``complete`` (result.json was then written only by a finished run);
  a run whose ``stopped`` says ``"callback"`` is ``stopped`` whatever its ``status`` says.
- records written before ``worsened`` existed say ``complete`` even when the final loss is above the start;
  rerun such a study to have them told apart.
- any other value this table does not know: ``failed`` (rerun), with the value named in the reason, since
  nothing can be said about what it found.
"""

from __future__ import annotations

COMPLETE = "complete"
STOPPED = "stopped"
DIVERGED = "diverged"
STALLED = "stalled"
WORSENED = "worsened"
FAILED = "failed"
INCOMPLETE = "incomplete"
PENDING = "pending"

MEANING = {
    COMPLETE: "all steps ran, the records are written, and the loss finished below where it started",
    STOPPED: "the run's callback stopped it early: its records are complete but shorter than asked",
    DIVERGED: "the loss became NaN or infinite; the record ends at the last finite image",
    STALLED: "L-BFGS's line search never lowered the loss: the result is its start",
    WORSENED: "all steps ran but the final loss is above the initial loss (e.g. SGD at too large a step)",
    FAILED: "an exception, in the notebook or before it ran; failed.json holds the reason",
    INCOMPLETE: "the trial folder has neither result.json nor failed.json (killed mid-run)",
    PENDING: "no trial folder yet",
}
ORDER = tuple(MEANING)  # the order counts are listed in

FINISHED = (COMPLETE, STOPPED, DIVERGED, STALLED, WORSENED)  # findings: reused on resume
FLAGGED = (STOPPED, DIVERGED, STALLED, WORSENED)  # finished, but not as asked: worth a look
UNFINISHED = (FAILED, INCOMPLETE, PENDING)  # rerun on resume

EXIT_COMPLETE = 0  # every trial complete
EXIT_FAILED = 1  # some trial failed or did not finish
EXIT_FLAGGED = 3  # every trial finished, some flagged (the same code ``nststudy stylize`` gives such a run)

_LEGACY = {"completed": COMPLETE, "callback": STOPPED}  # values of ``stopped`` / older ``status``


def from_result(record: dict) -> tuple[str, str | None]:
    """The status a ``result.json`` record stands for, and a reason when it cannot be trusted as finished."""
    stopped = _LEGACY.get(record.get("stopped"), record.get("stopped"))
    value = record.get("status", stopped if stopped is not None else COMPLETE)
    value = _LEGACY.get(value, value)
    if value == COMPLETE and stopped == STOPPED:
        return STOPPED, None
    if value in FINISHED:
        return value, None
    return FAILED, f"result.json has status {value!r}, which is none of {', '.join(FINISHED)}"


def exit_code(statuses) -> int:
    """0 when every trial is complete, 3 when all finished but some are flagged, 1 when any did not finish."""
    statuses = list(statuses)
    if any(s not in FINISHED for s in statuses):
        return EXIT_FAILED
    return EXIT_FLAGGED if any(s in FLAGGED for s in statuses) else EXIT_COMPLETE


def counts(statuses) -> dict:
    """How many trials have each status, in table order, zeros left out."""
    statuses = list(statuses)
    return {s: statuses.count(s) for s in ORDER if s in statuses}


__all__ = ["COMPLETE", "STOPPED", "DIVERGED", "STALLED", "WORSENED", "FAILED", "INCOMPLETE", "PENDING",
           "MEANING", "FINISHED", "FLAGGED", "UNFINISHED", "from_result", "exit_code", "counts"]
