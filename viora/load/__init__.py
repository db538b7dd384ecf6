"""``viora load``: the load tester (simulated users over the real protocol, or in process)."""
