"""Sell Inventory API: inventory items and the offers that publish them."""
