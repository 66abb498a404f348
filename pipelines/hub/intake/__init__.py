"""Hub intake: re-validate submissions, stage what passes, quarantine what does not, then promote.

Intake runs in three steps so that Dagster can put a blocking check between them:

1. :func:`validate_and_stage` re-validates every submission (the hub never
   trusts the sender) in batches, stages accepted rows in the vault and
   quarantines refused submissions with their report;
2. :func:`staged_violations` re-checks the staged rows with SQL generated from
   the same contracts, independently of Great Expectations;
3. :func:`promote` makes staged submissions current, supersedes the ones they
   replace and clears the inbox.

Modules, one step each: ``read`` (payloads into frames), ``validate`` (the
contract's rules and the identifier scan on a chunk), ``verdicts`` (the
decision on a submission and its record), ``stage`` (rows and verdicts into the
vault), ``pipeline`` (the chunked, two-core run of the three), ``quarantine``
(refused submissions and their reports), ``promote`` (the SQL re-check and
promotion).
"""

from pipelines.hub.intake.pipeline import validate_and_stage
from pipelines.hub.intake.promote import Promotion, promote, staged_violations
from pipelines.hub.intake.verdicts import Verdict, VerdictStatus

__all__ = [
    "Promotion",
    "Verdict",
    "VerdictStatus",
    "promote",
    "staged_violations",
    "validate_and_stage",
]
