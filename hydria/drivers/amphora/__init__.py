"""The amphora seam: how the control plane talks to an amphora's agent.

The controller (pushing configurations, draining retired amphorae) and
housekeeping (rotating certificates) both use it, so it sits on the drivers'
floor below both rather than inside either.
"""
