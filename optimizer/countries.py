"""ISO 3166-1 alpha-2 country codes: the one place that says what a country code is.

Used by the configuration (`constraints.countries`) and every `--country` option, so a
typo such as `UK` is refused with a suggestion (`GB`) instead of matching nothing.
Lowercase is accepted and normalized to uppercase.
"""

from __future__ import annotations

# The 249 officially assigned codes (ISO 3166-1, as of 2024), as words.
_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_3166_ALPHA2 = frozenset(_CODES.split())

#: codes people write that ISO spells differently (exceptional reservations, old codes,
#: three-letter codes of the markets Fluence lists)
SUGGESTIONS: dict[str, str] = {
    "UK": "GB",
    "EL": "GR",
    "TP": "TL",
    "GBR": "GB",
    "USA": "US",
    "DEU": "DE",
    "GER": "DE",
    "FRA": "FR",
    "NLD": "NL",
    "POL": "PL",
    "CAN": "CA",
    "FIN": "FI",
    "SGP": "SG",
    "CHE": "CH",
    "SWE": "SE",
    "ESP": "ES",
    "ITA": "IT",
    "JPN": "JP",
}


def country_problem(value: str) -> str | None:
    """None when `value` (any case) is an ISO 3166-1 alpha-2 code, else why not, with a
    suggestion when one is known: `'UK' is not an ISO 3166-1 country code (use GB)`."""
    code = value.strip().upper()
    if code in ISO_3166_ALPHA2:
        return None
    hint = SUGGESTIONS.get(code)
    if hint:
        return f"{value!r} is not an ISO 3166-1 country code (use {hint})"
    if code == "EU":
        return f"{value!r} is not a country: list the countries (e.g. DE, FR, NL)"
    return f"{value!r} is not an ISO 3166-1 alpha-2 country code (like DE, GB, US)"


def normalize_country(value: str) -> str:
    """`'de'` → `'DE'`; ValueError (with a suggestion) for anything that is not a code."""
    problem = country_problem(value)
    if problem:
        raise ValueError(problem)
    return value.strip().upper()
