"""The price book: every AWS price the cost model uses, read from ``tools/cost/prices.json``.

Each price carries the page it came from, the date it was read and whether a stored source confirmed
it, so the command can say which figures are firm and which are best-known estimates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).resolve().parent / "prices.json"


class PriceBookError(ValueError):
    """The price file is missing, malformed, or lacks what was asked for (one-line message)."""


@dataclass(frozen=True, slots=True)
class Price:
    """``usd`` dollars per ``per`` units of ``unit`` (e.g. $0.625 per 1,000,000 write request units)."""

    key: str
    usd: float
    per: float
    unit: str
    source: str
    taken: str
    verified: bool
    note: str = ""
    free_tier: str = ""

    def cost(self, quantity: float) -> float:
        """Monthly dollars for ``quantity`` units of ``unit``."""
        return quantity / self.per * self.usd


@dataclass(frozen=True, slots=True)
class RegionPrices:
    region: str
    name: str
    prices: dict[str, Price]

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PriceBookError(f"no price {key!r} for region {self.region}") from None


@dataclass(frozen=True, slots=True)
class PriceBook:
    taken: str
    rules: dict[str, float]
    regions: dict[str, RegionPrices]

    def region(self, region: str) -> RegionPrices:
        try:
            return self.regions[region]
        except KeyError:
            known = ", ".join(sorted(self.regions))
            raise PriceBookError(f"unknown region {region!r}; prices are known for: {known}") from None

    def rule(self, name: str) -> float:
        try:
            return self.rules[name]
        except KeyError:
            raise PriceBookError(f"price file lacks billing rule {name!r}") from None


def _price(region: str, key: str, raw: Any) -> Price:
    if not isinstance(raw, dict):
        raise PriceBookError(f"{region} {key}: expected an object")
    try:
        price = Price(
            key=key,
            usd=float(raw["usd"]),
            per=float(raw["per"]),
            unit=str(raw["unit"]),
            source=str(raw["source"]),
            taken=str(raw["taken"]),
            verified=bool(raw["verified"]),
            note=str(raw.get("note", "")),
            free_tier=str(raw.get("free_tier", "")),
        )
        date.fromisoformat(price.taken)
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceBookError(f"{region} {key}: bad price entry ({exc})") from None
    if price.usd < 0 or price.per <= 0 or not price.source:
        raise PriceBookError(f"{region} {key}: needs usd >= 0, per > 0 and a source")
    return price


def parse_price_book(document: Any) -> PriceBook:
    """Validate a decoded price document; every region must price the same keys."""
    try:
        rules = {name: float(rule["value"]) for name, rule in document["billing_rules"].items()}
        regions_raw = document["regions"]
        taken = str(document["taken"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PriceBookError(f"price file lacks taken/billing_rules/regions ({exc})") from None
    regions: dict[str, RegionPrices] = {}
    for region, body in regions_raw.items():
        prices = {key: _price(region, key, raw) for key, raw in body.get("prices", {}).items()}
        regions[region] = RegionPrices(region=region, name=str(body.get("name", region)), prices=prices)
    if not regions:
        raise PriceBookError("price file has no regions")
    key_sets = {region: set(r.prices) for region, r in regions.items()}
    reference = next(iter(key_sets.values()))
    for region, keys in key_sets.items():
        if keys != reference:
            missing = sorted(reference ^ keys)
            raise PriceBookError(f"region {region} prices a different set of items: {', '.join(missing)}")
    return PriceBook(taken=taken, rules=rules, regions=regions)


def load_price_book(path: Path | None = None) -> PriceBook:
    """The packaged price file, or ``path``."""
    try:
        text = (path or PRICES_PATH).read_text()
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        raise PriceBookError(f"cannot read price file: {exc}") from None
    return parse_price_book(document)
