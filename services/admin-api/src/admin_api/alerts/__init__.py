"""Notifications to people (docs/adr/0012-notifications.md)."""
