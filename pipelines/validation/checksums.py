"""Check digits of New Zealand identifiers: NHI numbers (old and new formats) and IRD numbers.

A value that merely looks like an identifier is not refused unless its check
digit is right, so that client references such as ABC1234 that happen to have
the NHI shape are not mistaken for NHI numbers nine times in ten.
"""

from __future__ import annotations

import re

# NHI: the Ministry of Health "NHI validation routine" as carried into HISO 10046:2023
# Consumer Health Identity Standard (Te Whatu Ora,
# https://www.tewhatuora.govt.nz/publications/hiso-100462023-consumer-health-identity-standard/)
# and Health NZ's compliance test data
# (https://nhi-ig.hip.digital.health.nz/ComplianceTestingImportantInformation.html).
# Letters count 1-24 in an alphabet without I and O; the first six characters are weighted
# 7, 6, 5, 4, 3, 2. Old format AAANNNC: sum mod 11, a remainder of 0 is invalid, check digit =
# (11 - remainder) mod 10. New format AAANNAX: sum mod 23, check letter = the
# (23 - remainder)-th letter, so a remainder of 0 gives Y and Z is never a check letter. The
# 2019-2022 drafts used mod 24 (under which ZZZ00AX was valid); HISO 10046:2023 moved to mod
# 23 because 24 shares factors with the weights. Test numbers come from the Ministry's
# Z-prefixed test range: ZZZ0016, ZZZ0024, ZAC5361 (old), ZZZ00AC, ZVU27KE, ZBN77VL and
# ZYZ89XY (new) are valid; ZZZ0017, ZZZ0044, ZZZ00AA and ZZZ00AX are not. They agree with
# the open validators python-nhi 1.2 and the nhi Rust crate.
_NHI_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_NHI_OLD = re.compile(r"[A-HJ-NP-Z]{3}[0-9]{4}")
_NHI_NEW = re.compile(r"[A-HJ-NP-Z]{3}[0-9]{2}[A-HJ-NP-Z]{2}")


def _nhi_value(char: str) -> int:
    return int(char) if char.isdigit() else _NHI_ALPHABET.index(char) + 1


def nhi_is_valid(text: str) -> bool:
    """True for an old (AAANNNN) or new (AAANNAA) NHI number with the right check character."""
    nhi = text.upper()
    old, new = _NHI_OLD.fullmatch(nhi), _NHI_NEW.fullmatch(nhi)
    if not (old or new):
        return False
    total = sum(_nhi_value(c) * w for c, w in zip(nhi[:6], range(7, 1, -1), strict=True))
    if old:
        remainder = total % 11
        return remainder != 0 and (11 - remainder) % 10 == int(nhi[6])
    return _NHI_ALPHABET[23 - total % 23 - 1] == nhi[6]


# IRD: Inland Revenue, "IR number validation - modulus 11 check digit", in the RWT and NRWT
# certificate filing specification (2020,
# https://www.ird.govt.nz/-/media/project/ir/documents/income-tax/withholding-taxes/rwt-nrwt-withholding-tax-certificate/2020-rwt-and-nrwt-certificate-filing-specification.pdf;
# the same steps appear in its 2016 predecessor). Valid range 10,000,000-150,000,000; the
# base (check digit removed) is padded to 8 digits and weighted 3,2,7,6,5,4,3,2; check =
# 11 - (sum mod 11), or 0 when the remainder is 0; a result of 10 is recomputed with the
# secondary weights 7,4,3,2,5,2,7,6, and a second 10 is invalid. The specification's worked
# examples: 49091850, 35901981, 49098576 (needs the secondary weights) and 136410132 are
# valid; 136410133 (wrong check digit) and 9125568 (below the range) are not.
_IRD_TEXT = re.compile(r"[0-9]{8,9}|[0-9]{2,3}[- ][0-9]{3}[- ][0-9]{3}")
_IRD_WEIGHTS = ((3, 2, 7, 6, 5, 4, 3, 2), (7, 4, 3, 2, 5, 2, 7, 6))


def ird_is_valid(text: str) -> bool:
    """True for an in-range IRD number (8 or 9 digits, dashes or spaces optional) with a right check digit."""
    if not _IRD_TEXT.fullmatch(text):
        return False
    digits = text.replace("-", "").replace(" ", "")
    if not 10_000_000 <= int(digits) <= 150_000_000:
        return False
    base, check = digits[:-1].zfill(8), int(digits[-1])
    for weights in _IRD_WEIGHTS:
        remainder = sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 11
        expected = 0 if remainder == 0 else 11 - remainder
        if expected < 10:
            return expected == check
    return False
