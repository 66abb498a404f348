"""What a sample NGO would be registered for: the programmes it runs and the regions it works in.

The NGO register's programmes and regions are public facts and set each NGO's per-NGO key
sets (decision 017). For the sample sector they are read from the NGO's own episodes
extract: every programme it has an episode in, and every region with at least a tenth of its
episodes (a region it touches only now and then is not one it is funded for).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.standard.contract import load_contract

REGION_SHARE = 0.1
"""A region is one an NGO works in when it holds at least this share of its episodes."""


def registered_facts(episodes: Path) -> tuple[list[str], list[str]]:
    """(programmes, regions) to register the NGO of this episodes extract for."""
    from pipelines.validation.extract import read_extract

    frame = read_extract(episodes).frame
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    contract = load_contract("episodes")
    programmes = [
        p for p in contract.column("programme").accepted_values if p in set(frame["programme"])
    ]
    region = contract.column("region")
    shares = frame["region"].map(lambda r: region.aliases.get(r, r)).value_counts(normalize=True)
    regions = [r for r in region.accepted_values if shares.get(r, 0.0) >= REGION_SHARE]
    return programmes, regions
