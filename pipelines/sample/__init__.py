"""Realistic sample extracts, so the hub can be demonstrated and measured without real clients.

``generate_sector`` writes one quarter of episodes and assessments files for a
whole sector of made-up NGOs: many small ones and a few large ones, shaped like
the national figures in the product brief. Every value comes from the v1
contracts; ``--messy`` makes the files look like real exports (BOM, CRLF, odd
headers, extra columns, XLSX) without changing the data, and ``faulty`` plants
a few genuine contract violations for the demo. Nothing here is, or derives
from, data about a real person.
"""

from pipelines.sample.generate import NgoExtract, Sector, generate_sector

__all__ = ["NgoExtract", "Sector", "generate_sector"]
