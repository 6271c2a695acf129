"""Every alert family raised anywhere in the code is in the catalogue (and so in the
alert-key reference), and the catalogue lists nothing the code no longer raises."""

from __future__ import annotations

import re
from pathlib import Path

from optimizer.alerts.catalog import ALERT_FAMILIES

SOURCE = Path(__file__).resolve().parents[2] / "optimizer"
# key="family:subject" or key=f"family:{subject}" in an Alert(...) construction
KEY = re.compile(r"""\bkey=f?["']([a-z_][a-z_.]*):""")


def raised_families() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCE.rglob("*.py"):
        for family in KEY.findall(path.read_text(encoding="utf-8")):
            found.setdefault(family, str(path.relative_to(SOURCE.parent)))
    return found


def test_every_raised_alert_family_is_catalogued() -> None:
    raised = raised_families()
    assert len(raised) >= 10, "the scan finds the alert rules"
    missing = {f: where for f, where in raised.items() if f not in ALERT_FAMILIES}
    assert not missing, f"alert families missing from optimizer/alerts/catalog.py: {missing}"


def test_the_catalogue_has_no_family_the_code_never_raises() -> None:
    stale = set(ALERT_FAMILIES) - set(raised_families())
    assert not stale, f"catalogued but never raised: {sorted(stale)}"


def test_the_alert_reference_lists_every_family() -> None:
    page = (SOURCE.parent / "docs" / "reference" / "alerts.md").read_text()
    for family in ALERT_FAMILIES:
        assert f"`{family}`" in page
