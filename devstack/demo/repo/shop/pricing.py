"""Order pricing: line totals with the bulk discount, and order totals.

Prices are Decimals so that totals are exact to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# "Buy 10 or more of an item and save 10%" (see the README).
BULK_MIN_QUANTITY = 10
BULK_DISCOUNT_RATE = Decimal("0.10")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineItem:
    sku: str
    unit_price: Decimal
    quantity: int


def qualifies_for_bulk(quantity: int) -> bool:
    """Whether a line of ``quantity`` units gets the bulk discount (shown on the cart page)."""
    return quantity > BULK_MIN_QUANTITY


def line_total(item: LineItem) -> Decimal:
    """The price of one line, bulk discount included, rounded to the cent."""
    if item.quantity < 0:
        raise ValueError(f"quantity must not be negative, got {item.quantity}")
    if item.unit_price < 0:
        raise ValueError(f"unit price must not be negative, got {item.unit_price}")
    total = item.unit_price * item.quantity
    if item.quantity > BULK_MIN_QUANTITY:
        total -= total * BULK_DISCOUNT_RATE
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def order_total(items: Iterable[LineItem]) -> Decimal:
    """The price of a whole order: the sum of its lines."""
    return sum((line_total(item) for item in items), Decimal("0.00"))
