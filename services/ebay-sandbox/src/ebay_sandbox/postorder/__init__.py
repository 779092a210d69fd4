"""Post-Order API v2: returns, cases and inquiries (``Authorization: IAF``)."""
