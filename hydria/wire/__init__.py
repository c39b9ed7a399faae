"""Wire formats shared by the controller side and the amphora agent.

The agent imports only ``hydria.core`` and this package.
"""
