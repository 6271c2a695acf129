"""A fleet's per-VM price cap in either unit (`max_price_per_epoch_usd`,
`max_price_per_hour_usd`): the planner's cap is the tighter one, and `check-config` says
what a cap given in the other API generation's unit amounts to."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optimizer.config import parse_config
from tests.config.check_cli import check_one_fleet


def _caps(**constraints: str) -> Decimal | None:
    fleet = {"name": "web", "instances": 1, "os_image": "https://i.example/u.img"}
    cfg = parse_config({"fleets": [{**fleet, "ssh_keys": ["ops"], "constraints": constraints}]})
    return cfg.fleets[0].constraints.price_cap_per_epoch


def test_the_tighter_cap_holds_in_the_planners_unit() -> None:
    assert _caps() is None
    assert _caps(max_price_per_epoch_usd="1.20") == Decimal("1.20")
    assert _caps(max_price_per_hour_usd="0.04") == Decimal("0.96")
    assert _caps(max_price_per_epoch_usd="1.20", max_price_per_hour_usd="0.04") == Decimal("0.96")
    assert _caps(max_price_per_epoch_usd="0.90", max_price_per_hour_usd="0.04") == Decimal("0.90")


def _check(tmp_path, capsys, generation: str, cap: str) -> tuple[int, str]:
    return check_one_fleet(tmp_path, capsys, generation, f"[fleets.constraints]\n{cap}")


@pytest.mark.parametrize(
    ("generation", "cap", "says"),
    [
        (
            "cloud",
            'max_price_per_epoch_usd = "1.20"',
            "note: fleets[0].constraints.max_price_per_epoch_usd 1.20 is per 24 h; cloud "
            "prices per hour, so it caps a VM (disk and IP included) at $0.05/h; "
            "max_price_per_hour_usd says that in the API's unit",
        ),
        (
            "marketplace-v3",
            'max_price_per_hour_usd = "0.05"',
            "note: fleets[0].constraints.max_price_per_hour_usd 0.05 is per hour; "
            "marketplace-v3 prices per epoch (24 h), so it caps a VM at $1.20/epoch; "
            "max_price_per_epoch_usd says that in the API's unit",
        ),
    ],
)
def test_check_config_explains_a_cap_in_the_other_generations_unit(
    tmp_path, capsys, generation: str, cap: str, says: str
) -> None:
    code, out = _check(tmp_path, capsys, generation, cap)
    assert code == 0 and out.startswith("ok: ")
    assert says in out


@pytest.mark.parametrize(
    ("generation", "cap"),
    [
        ("cloud", 'max_price_per_hour_usd = "0.05"'),
        ("marketplace-v3", 'max_price_per_epoch_usd = "1.20"'),
        ("auto", 'max_price_per_epoch_usd = "1.20"'),  # the unit is not known yet
    ],
)
def test_check_config_says_nothing_of_a_cap_in_the_apis_own_unit(
    tmp_path, capsys, generation: str, cap: str
) -> None:
    code, out = _check(tmp_path, capsys, generation, cap)
    assert code == 0 and out.startswith("ok: ") and "note:" not in out
