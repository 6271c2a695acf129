"""fluence-optimizer: keeps VM fleets on the cheapest Fluence CPU Cloud offers that fit."""

__version__ = "0.1.0"
