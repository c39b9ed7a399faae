"""Pure parts of the amphora side: ``show proc`` parsing, the boot file, the
folder layout, and the certificates the controller CA issues."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from hydria.agent.haproxy import parse_show_proc, serves_nothing
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.wire.agent_api import AmphoraBoot, boot_from_json, boot_to_json
from hydria.wire.amphora_layout import AmphoraLayout

SHOW_PROC = """#<PID>          <type>          <reloads>       <uptime>        <version>
10788           master          3 [failed: 1]   0d00h10m21s     2.6.12-1+deb12u4
# workers
11513           worker          0               0d00h00m00s     2.6.12-1+deb12u4
# old workers
10815           worker          2               0d00h10m19s     2.6.12-1+deb12u4
# programs

"""


def test_show_proc_counts_only_current_workers():
    state = parse_show_proc(SHOW_PROC)
    assert state is not None
    assert (state.master_pid, state.reloads, state.failed, state.workers) == (10788, 3, 1, (11513,))


def test_show_proc_garbage_is_none():
    assert parse_show_proc("") is None
    assert parse_show_proc("Unknown command\n") is None


def test_a_configuration_of_global_and_defaults_alone_serves_nothing():
    golden = Path(__file__).parent.parent / "render" / "golden"
    assert serves_nothing((golden / "no_listeners.cfg").read_text())
    assert serves_nothing("# a comment\nglobal\n    maxconn 10\n\ndefaults named\n    mode tcp\n")
    assert not serves_nothing((golden / "listener_without_default_pool.cfg").read_text())
    for section in ("frontend f", "backend b", "listen l", "peers p", "resolvers r", "userlist"):
        assert not serves_nothing(f"global\n    maxconn 10\n{section}\n")
    assert not serves_nothing("global\nnot-a-section-word\n")


def test_boot_file_round_trip():
    boot = AmphoraBoot(
        amphora_id="a",
        lb_network_ip="127.43.0.10",
        agent_port=9443,
        server_cert_pem="C",
        server_key_pem="K",
        ca_cert_pem="CA",
        heartbeat_key="k",
        controller_addresses=("127.0.0.1:5555",),
        heartbeat_interval=0.5,
    )
    assert boot_from_json(boot_to_json(boot)) == boot


def test_socket_dir_stays_short_for_deep_folders(tmp_path: Path):
    assert AmphoraLayout(Path("/var/lib/hydria/a")).socket_dir == Path("/var/lib/hydria/a/run")
    deep = AmphoraLayout(tmp_path / ("x" * 80) / "a")
    assert len(str(deep.stats_socket)) < 108
    assert deep.socket_dir == AmphoraLayout(tmp_path / ("x" * 80) / "a").socket_dir
    assert deep.socket_dir != AmphoraLayout(tmp_path / ("x" * 80) / "b").socket_dir


def test_ca_issues_server_and_client_certs_and_reloads_from_disk(tmp_path: Path):
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    cert_pem, _key = ca.issue_server_cert("amp-1", "127.43.0.10")
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.43.0.10")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.issuer == x509.load_pem_x509_certificate(ca.ca_cert_pem.encode()).subject

    client_path, key_path = ca.client_cert_paths()
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    client = x509.load_pem_x509_certificate(client_path.read_bytes())
    eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    again = ControllerCA.load_or_create(tmp_path / "pki")
    assert again.ca_cert_pem == ca.ca_cert_pem
    assert again.client_cert_paths() == ca.client_cert_paths()


def test_refused_handshakes_are_named_by_what_went_wrong():
    import ssl

    from hydria.agent.refusals import REASONS, Refusals, refusal_reason

    def ssl_error(reason: str) -> ssl.SSLError:
        exc = ssl.SSLError(1, f"[SSL: {reason}]")
        exc.reason = reason
        return exc

    assert refusal_reason(ssl.SSLCertVerificationError(1, "unknown ca")) == "untrusted_certificate"
    assert refusal_reason(ssl_error("PEER_DID_NOT_RETURN_A_CERTIFICATE")) == "no_certificate"
    assert refusal_reason(ssl_error("HTTP_REQUEST")) == "not_tls"
    assert refusal_reason(ssl_error("WRONG_VERSION_NUMBER")) == "not_tls"
    assert refusal_reason(ssl_error("TLSV1_ALERT_UNKNOWN_CA")) == "peer_alert"
    assert refusal_reason(TimeoutError()) == "timeout"
    assert refusal_reason(ssl.SSLEOFError()) == "closed"
    assert refusal_reason(ConnectionResetError()) == "closed"
    assert refusal_reason(ssl_error("SOMETHING_NEW")) == "other"
    counts = Refusals()
    counts.count(TimeoutError())
    text = counts.exposition()
    assert 'hydria_agent_tls_refused_total{reason="timeout"} 1' in text
    assert all(f'reason="{r}"' in text for r in REASONS) and counts.total() == 1


def test_binds_any_address_needs_nonlocal_bind_in_both_families(tmp_path: Path) -> None:
    from hydria.agent.server import binds_any_address

    for family in ("ipv4", "ipv6"):
        (tmp_path / family).mkdir()
        (tmp_path / family / "ip_nonlocal_bind").write_text("1\n")
    assert binds_any_address(tmp_path)
    (tmp_path / "ipv6" / "ip_nonlocal_bind").write_text("0\n")
    assert not binds_any_address(tmp_path)
    (tmp_path / "ipv6" / "ip_nonlocal_bind").unlink()  # IPv6 off: no such file
    assert not binds_any_address(tmp_path)
