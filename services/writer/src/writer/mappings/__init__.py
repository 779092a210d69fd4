"""Pure mappings from each family's raw eBay objects to its table rows."""
