"""Trading API (XML over ``POST /ws/api.dll``)."""
