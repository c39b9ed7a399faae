"""The TLS parts of the rendered configuration (pure): TERMINATED_HTTPS binds,
X-SSL-* and X-Forwarded-Proto headers, HSTS, TLS servers and their checks, and
the refusals (an unresolved reference, a bad cipher string). The live tests in
tests/agent/test_tls_live.py run the same text on real HAProxy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hydria.core import graph as g
from hydria.render.haproxy import render
from hydria.render.values import UnrenderableValue

from .cases import AMPHORA, OPTIONS, hm, lb, listener, pool

D = "a" * 64 + ".pem"
S = "b" * 64 + ".pem"
CA = "c" * 64 + ".pem"
CRL = "d" * 64 + ".pem"
FILES = (
    ("cert", "ref-default", D),
    ("cert", "ref-sni", S),
    ("ca", "ref-ca", CA),
    ("crl", "ref-crl", CRL),
    ("cert", "ref-client", S),
)
TLS_OPTIONS = replace(OPTIONS, tls_dir="/amp/certs")


def https(**kw) -> g.Listener:
    base = dict(
        default_tls_container_ref="ref-default",
        sni_container_refs=("ref-sni",),
        tls_versions=("TLSv1.2", "TLSv1.3"),
        alpn_protocols=("h2", "http/1.1"),
        tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
    )
    return listener("listener-tls", "TERMINATED_HTTPS", 443, **(base | kw))


def text(balancer: g.LoadBalancer) -> str:
    return render(replace(balancer, tls_files=FILES), AMPHORA, TLS_OPTIONS, version=1)


def test_terminated_https_bind_and_headers():
    out = text(
        lb(
            listeners=[
                https(
                    client_authentication="MANDATORY",
                    client_ca_tls_container_ref="ref-ca",
                    client_crl_container_ref="ref-crl",
                    hsts_max_age=31536000,
                    hsts_preload=True,
                    insert_headers=(
                        ("X-Forwarded-Proto", "true"),
                        ("X-SSL-Client-DN", "true"),
                        ("X-SSL-Client-Verify", "True"),
                        ("X-SSL-Issuer", "false"),
                    ),
                )
            ],
            pools=[pool()],
        )
    )
    assert (
        f"    bind 203.0.113.10:443 ssl crt /amp/certs/{D} crt /amp/certs/{S} "
        f"ca-file /amp/certs/{CA} verify required crl-file /amp/certs/{CRL} "
        "ciphers ECDHE-ECDSA-AES128-GCM-SHA256 no-sslv3 no-tlsv10 no-tlsv11 "
        "alpn h2,http/1.1\n"
    ) in out
    assert "    mode http\n" in out
    assert "http-request set-header X-Forwarded-Proto https\n" in out
    assert "http-request set-header X-SSL-Client-DN %{+Q}[ssl_c_s_dn]\n" in out
    assert "http-request set-header X-SSL-Client-Verify %[ssl_c_verify]\n" in out
    assert "X-SSL-Issuer" not in out
    assert (
        'http-response set-header Strict-Transport-Security "max-age=31536000; preload;"\n'
    ) in out


def test_optional_and_none_client_auth():
    out = text(
        lb(
            listeners=[
                https(client_authentication="OPTIONAL", client_ca_tls_container_ref="ref-ca")
            ],
            pools=[pool()],
        )
    )
    assert f"ca-file /amp/certs/{CA} verify optional" in out and "crl-file" not in out
    out = text(lb(listeners=[https(client_ca_tls_container_ref="ref-ca")], pools=[pool()]))
    assert "ca-file" not in out


def test_sni_only_listener_takes_its_first_certificate_as_default():
    out = text(lb(listeners=[https(default_tls_container_ref=None)], pools=[pool()]))
    assert f"ssl crt /amp/certs/{S} ciphers" in out


def test_plain_http_keeps_x_forwarded_proto_http_and_no_ssl_headers():
    out = text(
        lb(listeners=[listener(insert_headers=(("X-Forwarded-Proto", "true"),))], pools=[pool()])
    )
    assert "X-Forwarded-Proto http\n" in out and " ssl " not in out


def test_tls_pool_servers_and_checks():
    tls_pool = pool(
        tls_enabled=True,
        tls_container_ref="ref-client",
        ca_tls_container_ref="ref-ca",
        crl_container_ref="ref-crl",
        tls_versions=("TLSv1.3",),
        alpn_protocols=("http/1.1",),
        health_monitor=hm("TLS-HELLO"),
    )
    out = text(lb(listeners=[listener()], pools=[tls_pool]))
    assert (
        f"weight 1 ssl crt /amp/certs/{S} ca-file /amp/certs/{CA} crl-file "
        f"/amp/certs/{CRL} verify required sni ssl_fc_sni no-sslv3 no-tlsv10 no-tlsv11 "
        "no-tlsv12 alpn http/1.1 check check-ssl inter 5s"
    ) in out
    assert "ssl-hello-chk" not in out
    https_hm = hm("HTTPS", http_method="GET", url_path="/", expected_codes="200")
    out = text(lb(listeners=[listener()], pools=[replace(tls_pool, health_monitor=https_hm)]))
    assert "check check-ssl inter" in out and "verify none" not in out
    # without a CA the member is not verified; a plain pool keeps Octavia's checks
    out = text(lb(listeners=[listener()], pools=[pool(tls_enabled=True)]))
    assert "ssl verify none sni ssl_fc_sni" in out
    out = text(lb(listeners=[listener()], pools=[pool(health_monitor=hm("TLS-HELLO"))]))
    assert "option ssl-hello-chk" in out and " ssl " not in out


@pytest.mark.parametrize(
    ("balancer", "match"),
    [
        (
            lb(listeners=[https(default_tls_container_ref="ref-unknown")], pools=[pool()]),
            "was not resolved",
        ),
        (lb(listeners=[https(tls_ciphers="AES128 ssl-engine")], pools=[pool()]), "cipher"),
        (lb(listeners=[https(tls_versions=("TLSv9",))], pools=[pool()]), "TLS versions"),
        (lb(listeners=[https(alpn_protocols=("spdy",))], pools=[pool()]), "ALPN"),
        (
            lb(listeners=[listener()], pools=[pool(tls_enabled=True, ca_tls_container_ref="x")]),
            "was not resolved",
        ),
    ],
)
def test_unsafe_or_unresolved_tls_values_are_refused(balancer, match):
    with pytest.raises(UnrenderableValue, match=match):
        text(balancer)


def test_a_file_name_that_is_not_a_digest_is_refused():
    bad = replace(
        lb(listeners=[https(sni_container_refs=())], pools=[pool()]),
        tls_files=(("cert", "ref-default", "../../etc/passwd"),),
    )
    with pytest.raises(UnrenderableValue, match="was not resolved"):
        render(bad, AMPHORA, TLS_OPTIONS, version=1)
