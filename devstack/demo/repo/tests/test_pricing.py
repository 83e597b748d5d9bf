from decimal import Decimal

import pytest

from shop.pricing import LineItem, line_total, order_total, qualifies_for_bulk


def test_small_orders_pay_full_price():
    assert line_total(LineItem("mug", Decimal("4.00"), 3)) == Decimal("12.00")


def test_large_orders_get_bulk_discount():
    assert line_total(LineItem("mug", Decimal("4.00"), 20)) == Decimal("72.00")


def test_ten_units_get_bulk_discount():
    # The shop promises "10 or more": exactly ten units are discounted too.
    assert line_total(LineItem("mug", Decimal("4.00"), 10)) == Decimal("36.00")


def test_line_total_rounds_to_the_cent():
    assert line_total(LineItem("pen", Decimal("0.333"), 3)) == Decimal("1.00")


def test_order_total_sums_lines():
    items = [LineItem("mug", Decimal("4.00"), 2), LineItem("pen", Decimal("1.50"), 4)]
    assert order_total(items) == Decimal("14.00")


def test_empty_order_costs_nothing():
    assert order_total([]) == Decimal("0.00")


def test_large_quantities_qualify_for_bulk():
    assert qualifies_for_bulk(25)
    assert not qualifies_for_bulk(1)


def test_negative_quantity_is_rejected():
    with pytest.raises(ValueError, match="quantity"):
        line_total(LineItem("mug", Decimal("4.00"), -1))
