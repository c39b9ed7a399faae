"""Run at every tempest worker's start (this folder is on PYTHONPATH): see hydria_network_override."""

import hydria_network_override

hydria_network_override.install()
