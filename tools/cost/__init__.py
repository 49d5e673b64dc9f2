"""``cryptostream cost``: the monthly AWS cost of the deployed pipeline from published prices."""

from tools.cost.model import CostReport, LineItem, ServiceCost, estimate
from tools.cost.prices import PriceBook, PriceBookError, load_price_book
from tools.cost.workload import Assumptions, Workload, WorkloadError

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
