"""A tiny shop: prices, discounts and order totals."""
