"""Clients of the eBay APIs over an injected ``httpx.AsyncClient``."""
