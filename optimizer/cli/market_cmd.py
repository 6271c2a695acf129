"""CLI commands: `market offers|configurations|countries|hardware|datacenters|images`.

Thin: parse options, call the client, render a table or JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from optimizer.cli.render import JSON_OPTION_HELP, print_json, print_table
from optimizer.countries import country_problem
from optimizer.errors import ConfigError, NoMatchingOffers

if TYPE_CHECKING:
    from optimizer.cli.context import AppContext
    from optimizer.fluence.models import Constraints, Hardware, Offer

market = typer.Typer(
    name="market",
    help="Look at the Fluence marketplace: offers, configurations, countries, hardware.",
    no_args_is_help=True,
)

STORAGE_TYPES = {"hdd": "HDD", "ssd": "SSD", "nvme": "NVMe"}


def build_constraints(  # noqa: C901 — one check per CLI option, each error naming its option
    configuration: str | None = None,
    countries: list[str] | None = None,
    max_price: str | None = None,
    cpu_manufacturer: str | None = None,
    storage_type: str | None = None,
) -> Constraints:
    """CLI filter options → offer constraints. Raise ConfigError (exit 2) naming the option
    for a value that cannot be right."""
    from optimizer.fluence.models import (
        CONFIGURATION_RE,
        Constraints,
        CpuSpec,
        DatacenterFilter,
        Hardware,
        StorageSpec,
    )
    from optimizer.money import parse_usd

    c = Constraints()
    if configuration:
        if not CONFIGURATION_RE.match(configuration):
            raise ConfigError(
                f"--configuration: {configuration!r} is not a configuration slug "
                "(like cpu-2-ram-4gb-storage-25gb or cpu-shared-2vcpu-2gb; "
                "see `market configurations`)"
            )
        c.basic_configuration = configuration
    if countries:
        for x in countries:
            if problem := country_problem(x):
                raise ConfigError(f"--country: {problem}")
        c.datacenter = DatacenterFilter(countries=sorted({x.strip().upper() for x in countries}))
    if max_price is not None:
        try:
            price = parse_usd(max_price)
        except ValueError:
            raise ConfigError(f"--max-price: {max_price!r} is not an amount in USD") from None
        if price <= 0:
            raise ConfigError("--max-price: must be greater than 0")
        c.max_total_price_per_epoch_usd = price
    hw = Hardware()
    if cpu_manufacturer:
        hw.cpu = [CpuSpec(manufacturer=cpu_manufacturer)]
    if storage_type:
        st = STORAGE_TYPES.get(storage_type.lower())
        if st is None:
            raise ConfigError(f"--storage-type: {storage_type!r} is not one of HDD, SSD, NVMe")
        hw.storage = [StorageSpec(type=st)]
    if hw.cpu or hw.storage:
        c.hardware = hw
    return c


def _cpu(offer: Offer) -> str:
    r = offer.resource("VCPU")
    if r is None:
        return ""
    m = r.metadata
    parts = [m.get("manufacturer"), m.get("brand"), m.get("architecture")]
    text = " ".join(str(p) for p in parts if p)
    return f"{text} gen {m['generation']}" if m.get("generation") else text


def _meta(offer: Offer, kind: str, *keys: str) -> str:
    r = offer.resource(kind)
    if r is None:
        return ""
    return "".join(str(r.metadata.get(k, "")) for k in keys)


def price_header(units: set[str]) -> str:
    """The price column's header: `USD/epoch` (v3), `USD/hour` (cloud), or `USD` when
    both kinds are listed (each price then says what it is per)."""
    if units <= {"epoch"}:
        return "USD/epoch"
    return "USD/hour" if units == {"hour"} else "USD"


def sort_offers(offers: list[Offer]) -> list[Offer]:
    """Cheapest first; ties broken by configuration, datacenter and offer key (stable)."""
    return sorted(
        offers, key=lambda o: (o.price, o.configuration.slug, o.datacenter.label, o.offer_key)
    )


@market.command("offers")
def offers_cmd(
    ctx: typer.Context,
    configuration: str | None = typer.Option(
        None, "--configuration", help="Basic configuration slug, e.g. cpu-2-ram-4gb-storage-25gb."
    ),
    country: list[str] | None = typer.Option(
        None,
        "--country",
        metavar="CC",
        help="ISO country code; repeat for several (--country DE --country FR).",
    ),
    max_price: str | None = typer.Option(
        None,
        "--max-price",
        help="Highest price per instance per 24 h epoch, in USD (e.g. 0.5); hourly prices "
        "are compared as 24 x the hourly price.",
    ),
    cpu_manufacturer: str | None = typer.Option(
        None, "--cpu-manufacturer", help="CPU manufacturer, e.g. AMD or Intel."
    ),
    storage_type: str | None = typer.Option(
        None, "--storage-type", help="Storage type: HDD, SSD or NVMe."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List offers matching the filters, cheapest first (price per instance: per 24 h
    epoch on marketplace-v3, per hour on the cloud generation)."""
    constraints = build_constraints(
        configuration, country, max_price, cpu_manufacturer, storage_type
    )
    app: AppContext = ctx.obj
    offers = sort_offers(app.client().list_offers(constraints))
    if as_json:
        print_json(offers)
    if not offers:  # the documented contract: no match is a failure (exit 1)
        raise NoMatchingOffers("no offers match these filters")
    if as_json:
        return
    from optimizer.fluence.models import PRICE_UNIT_LABELS

    units: set[str] = {o.unit for o in offers}
    print_table(
        [
            (price_header(units), "right"),
            "Configuration",
            "Datacenter",
            ("Tier", "right"),
            "CPU",
            "RAM",
            "Storage",
            ("Avail", "right"),
            "Offer key",
        ],
        (
            [
                o.price if len(units) == 1 else f"{o.price} {PRICE_UNIT_LABELS[o.unit]}",
                o.configuration.slug,
                o.datacenter.label,
                o.datacenter.tier,
                _cpu(o),
                _meta(o, "RAM", "type", "generation"),
                _meta(o, "STORAGE", "type"),
                o.capacity,
                o.offer_key,
            ]
            for o in offers
        ),
        empty="no offers match",
        optional=("Offer key", "RAM", "Storage", "Tier"),
    )
    typer.echo(f"{len(offers)} offer(s)", err=True)


@market.command("configurations")
def configurations_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the basic configuration slugs (cpu-{cores}-ram-{ram}gb-storage-{disk}gb)."""
    slugs = ctx.obj.client().basic_configurations()
    if as_json:
        print_json(slugs)
        return
    print_table(["Configuration"], ([s] for s in slugs))


@market.command("countries")
def countries_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the countries that have offers (ISO codes)."""
    codes = ctx.obj.client().countries()
    if as_json:
        print_json(codes)
        return
    print_table(["Country"], ([c] for c in codes))


@market.command("hardware")
def hardware_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the CPU, memory and storage kinds on offer."""
    hw: Hardware = ctx.obj.client().hardware()
    if as_json:
        print_json(hw)
        return
    rows: list[list[object]] = []
    rows += [["CPU", c.manufacturer, c.architecture] for c in hw.cpu]
    rows += [["Memory", m.type, m.generation] for m in hw.memory]
    rows += [["Storage", s.type, ""] for s in hw.storage]
    print_table(["Kind", "Type / manufacturer", "Generation / architecture"], rows)


@market.command("datacenters")
def datacenters_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the datacenters (label COUNTRY-CITY-INDEX, tier, certifications)."""
    dcs = ctx.obj.client().datacenters()
    if as_json:
        print_json(dcs)
        return
    print_table(
        ["Datacenter", ("Tier", "right"), "Certifications", "Id"],
        ([d.label, d.tier, ", ".join(d.certifications), d.id] for d in dcs),
    )


@market.command("images")
def images_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the default OS images; use the URL as a fleet's os_image."""
    images = ctx.obj.client().default_images()
    if as_json:
        print_json(images)
        return
    print_table(
        ["Name", "Distribution", "User", "URL"],
        ([i.name, i.distribution, i.username, i.download_url] for i in images),
    )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(market)
