"""Sell Fulfillment API: orders (api host) and payment disputes (apiz host)."""
