"""A deploy planned onto a cloud price point is pinned to its cluster and configuration."""

from __future__ import annotations

from planner_helpers import D, fleet, market, offer, plan


def test_a_deploy_onto_a_cloud_offer_names_its_cluster_and_configuration() -> None:
    m = market(offer("c", "1.00", cluster_id="cl-7", configuration_id="cfg-2"))
    [action] = plan(fleet(instances=1), [], m).actions
    assert action.kind == "deploy" and action.constraints is not None
    assert (action.constraints.cluster_id, action.constraints.configuration_id) == (
        "cl-7",
        "cfg-2",
    )
    assert action.constraints.max_total_price_per_epoch_usd == action.cap


def test_a_marketplace_offer_leaves_the_placement_empty() -> None:
    [action] = plan(fleet(instances=1), [], market(offer("v", "1.00"))).actions
    assert action.constraints is not None
    assert action.constraints.cluster_id is None and action.constraints.configuration_id is None
    assert action.expected_price == D("1.00")
