"""What a new amphora boots with: its ``AmphoraBoot`` document and certificate.

The compute driver hands the document to the amphora as its user data; the
controller keeps the certificate's end date on the amphora row. Pure but for
the CA, which signs the amphora's server certificate.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cryptography import x509

from hydria.drivers.certs.base import CertificateAuthority
from hydria.wire.agent_api import AmphoraBoot
from hydria.wire.heartbeat_keys import amphora_key

if TYPE_CHECKING:
    from hydria.controller.reconciler import ReconcilerOptions


def boot_document(
    options: ReconcilerOptions, ca: CertificateAuthority, amphora_id: str, ip: str
) -> tuple[AmphoraBoot, str]:
    """The amphora's boot document and its certificate (PEM), issued now."""
    cert, key = ca.issue_server_cert(amphora_id, ip, days=options.cert_days)
    boot = AmphoraBoot(
        amphora_id=amphora_id,
        lb_network_ip=ip,
        agent_port=options.agent_port,
        server_cert_pem=cert,
        server_key_pem=key,
        ca_cert_pem=ca.ca_cert_pem,
        heartbeat_key=(
            amphora_key(options.heartbeat_key, amphora_id).hex() if options.heartbeat_key else ""
        ),
        controller_addresses=options.controller_addresses,
        heartbeat_interval=options.heartbeat_interval,
        admin_log_targets=options.logs.admin_log_targets,
        log_protocol=options.logs.log_protocol,
        log_retry_count=options.logs.log_retry_count,
        disable_local_log_storage=options.logs.disable_local_log_storage,
        hostname=f"amphora-{amphora_id}",
        ssh_user=options.ssh_user if options.ssh_public_key else "",
        ssh_authorized_keys=options.ssh_public_key,
    )
    return boot, cert


def cert_expiry(cert_pem: str) -> dt.datetime:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return cert.not_valid_after_utc.replace(tzinfo=None)
