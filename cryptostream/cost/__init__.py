"""``cryptostream cost``: the monthly AWS cost of the deployed pipeline from published prices."""

from cryptostream.cost.model import CostReport, LineItem, ServiceCost, estimate
from cryptostream.cost.prices import PriceBook, PriceBookError, load_price_book
from cryptostream.cost.workload import Assumptions, Workload, WorkloadError

__all__ = [
    "Assumptions",
    "CostReport",
    "LineItem",
    "PriceBook",
    "PriceBookError",
    "ServiceCost",
    "Workload",
    "WorkloadError",
    "estimate",
    "load_price_book",
]
