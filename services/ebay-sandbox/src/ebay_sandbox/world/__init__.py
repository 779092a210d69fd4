"""The simulated eBay world: sellers and everything that happens to their accounts over time."""
