"""Two options octavia-tempest-plugin reads and nobody registers (a tempest plugin).

- ``[service_available] barbican``: only barbican-tempest-plugin registers it;
  unregistered, it reads as false and the TLS tests skip.
- ``[load_balancer] test_IPv6_subnet_override``: the plugin registers
  ``test_ipv6_subnet_override`` and reads this spelling (oslo.config names are
  case-sensitive), so with ``test_with_ipv6`` on every class's setup failed with
  NoSuchOptError. Registered here unset; ``hydria_network_override`` reads the
  option the plugin registers.

bench/conformance puts this folder on tempest's PYTHONPATH; the entry point in
``hydria_conformance_opts-0.dist-info`` is how tempest finds it.
"""

from oslo_config import cfg
from tempest import config
from tempest.test_discover import plugins

SERVICE_OPTS = [cfg.BoolOpt("barbican", default=False, help="Barbican is in the catalogue")]
LB_OPTS = [
    cfg.StrOpt(
        "test_IPv6_subnet_override",
        default=None,
        help="The spelling octavia-tempest-plugin reads; leave unset (see module)",
    )
]


class Plugin(plugins.TempestPlugin):
    def load_tests(self):
        return None

    def register_opts(self, conf):
        config.register_opt_group(conf, config.service_available_group, SERVICE_OPTS)
        conf.register_opts(LB_OPTS, group="load_balancer")

    def get_opt_lists(self):
        return [("service_available", SERVICE_OPTS)]
