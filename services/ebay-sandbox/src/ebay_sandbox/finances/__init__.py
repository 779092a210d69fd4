"""Sell Finances API (apiz host): transactions and payouts, signed for EU/UK sellers."""
