"""eBay push notifications: the Commerce Notification API, Trading Platform Notifications, and
the sender that POSTs them when the simulated world changes (contracts: notifications/README)."""
