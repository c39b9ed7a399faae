"""The TLS parts of HAProxy's configuration: TERMINATED_HTTPS binds, TLS to members.

Pure, like ``hydria.render.haproxy`` (which calls it). Certificates, CAs and CRLs
are files in the amphora's certificate folder (``RenderOptions.tls_dir``), named
by the SHA-256 of their content (``LoadBalancer.tls_files``, filled by the
controller after it read and checked them): a reference the controller did not
resolve, or a name that is not such a digest, is an ``UnrenderableValue``.

What each option means on the wire, as in Octavia's templates:

* bind: ``ssl crt <default> crt <sni>...``: HAProxy serves the certificate whose
  CN or DNS names match the client's SNI, the first one (the default
  certificate, else the first SNI one) when none matches or no SNI is sent;
  ``ca-file <ca> verify optional|required`` for client authentication OPTIONAL /
  MANDATORY, ``crl-file`` for revocation; ``ciphers``; ``no-<version>`` for each
  TLS version not asked for; ``alpn`` (h2 makes the frontend speak HTTP/2).
* headers: ``X-Forwarded-Proto: https`` and the ``X-SSL-Client-*`` headers the
  listener's ``insert_headers`` ask for; HSTS as a response header.
* servers of a ``tls_enabled`` pool: ``ssl`` with ``crt`` (Hydria's client
  certificate), ``ca-file`` and ``verify required`` (else ``verify none``),
  ``crl-file``, ``sni ssl_fc_sni`` (the client's SNI passed on), ``ciphers``,
  versions and ``alpn``. Health checks of such a pool run over the same TLS
  (``check-ssl``), so a member whose certificate does not verify goes down.
"""

from __future__ import annotations

import re
from typing import Final

from hydria.core import constants as c
from hydria.core import graph
from hydria.render import values as v
from hydria.render.values import UnrenderableValue

_FILE_RE: Final = re.compile(r"[0-9a-f]{64}\.pem")
_CIPHERS_RE: Final = re.compile(r"[A-Za-z0-9\-+!:@=_.]{1,2048}")
_VERSION_FLAGS: Final = {
    "SSLv3": "no-sslv3",
    "TLSv1": "no-tlsv10",
    "TLSv1.1": "no-tlsv11",
    "TLSv1.2": "no-tlsv12",
    "TLSv1.3": "no-tlsv13",
}
_ALPN: Final = frozenset({"h2", "http/1.1", "http/1.0"})
_CLIENT_AUTH: Final = {c.CLIENT_AUTH_OPTIONAL: "optional", c.CLIENT_AUTH_MANDATORY: "required"}

#: insert_headers of a TERMINATED_HTTPS listener, and the fetch each one sets.
SSL_HEADERS: Final = (
    ("X-SSL-Client-Verify", "%[ssl_c_verify]"),
    ("X-SSL-Client-Has-Cert", "%[ssl_c_used]"),
    ("X-SSL-Client-DN", "%{+Q}[ssl_c_s_dn]"),
    ("X-SSL-Client-CN", "%{+Q}[ssl_c_s_dn(cn)]"),
    ("X-SSL-Issuer", "%{+Q}[ssl_c_i_dn]"),
    ("X-SSL-Client-SHA1", "%{+Q}[ssl_c_sha1,hex]"),
    ("X-SSL-Client-Not-Before", "%{+Q}[ssl_c_notbefore]"),
    ("X-SSL-Client-Not-After", "%{+Q}[ssl_c_notafter]"),
)


def _path(
    lb: graph.LoadBalancer, kind: str, ref: str, options: graph.RenderOptions, what: str
) -> str:
    name = lb.tls_file(kind, ref)
    if name is None or not _FILE_RE.fullmatch(name):
        raise UnrenderableValue(f"{what}: TLS material {ref!r} was not resolved to a file")
    folder = v.word(options.tls_dir, "tls_dir").rstrip("/")
    return f"{folder}/{name}"


def _common(
    ciphers: str | None, versions: tuple[str, ...], alpn: tuple[str, ...], what: str
) -> list[str]:
    opts: list[str] = []
    if ciphers:
        if not _CIPHERS_RE.fullmatch(ciphers):
            raise UnrenderableValue(f"{what}: tls_ciphers is not a cipher string")
        opts.append(f"ciphers {ciphers}")
    if versions:
        unknown = set(versions) - set(_VERSION_FLAGS)
        if unknown:
            raise UnrenderableValue(f"{what}: unknown TLS versions {sorted(unknown)}")
        opts.extend(flag for name, flag in _VERSION_FLAGS.items() if name not in versions)
    if alpn:
        if not set(alpn) <= _ALPN:
            raise UnrenderableValue(f"{what}: unknown ALPN protocols {list(alpn)}")
        opts.append("alpn " + ",".join(alpn))
    return opts


def bind_options(lst: graph.Listener, lb: graph.LoadBalancer, options: graph.RenderOptions) -> str:
    """What follows ``bind <vip>:<port>`` on a TERMINATED_HTTPS listener ("" otherwise)."""
    if lst.protocol != c.PROTOCOL_TERMINATED_HTTPS:
        return ""
    what = f"listener {lst.id}"
    refs = ([lst.default_tls_container_ref] if lst.default_tls_container_ref else []) + [
        ref for ref in lst.sni_container_refs if ref != lst.default_tls_container_ref
    ]
    if not refs:
        raise UnrenderableValue(f"{what}: a TERMINATED_HTTPS listener needs a certificate")
    opts = ["ssl"]
    for path in dict.fromkeys(_path(lb, "cert", ref, options, what) for ref in refs):
        opts.append(f"crt {path}")
    auth = _CLIENT_AUTH.get(lst.client_authentication)
    if lst.client_ca_tls_container_ref and auth:
        opts.append(
            f"ca-file {_path(lb, 'ca', lst.client_ca_tls_container_ref, options, what)}"
            f" verify {auth}"
        )
        if lst.client_crl_container_ref:
            opts.append(f"crl-file {_path(lb, 'crl', lst.client_crl_container_ref, options, what)}")
    opts.extend(_common(lst.tls_ciphers, lst.tls_versions, lst.alpn_protocols, what))
    return " " + " ".join(opts)


def request_headers(lst: graph.Listener, asked: dict[str, bool]) -> list[tuple[str, str]]:
    """The X-SSL-Client-* headers ``asked`` for (lower-case names), TERMINATED_HTTPS only."""
    if lst.protocol != c.PROTOCOL_TERMINATED_HTTPS:
        return []
    return [(name, fetch) for name, fetch in SSL_HEADERS if asked.get(name.lower(), False)]


def response_headers(lst: graph.Listener) -> tuple[tuple[str, str], ...]:
    """HSTS (``Strict-Transport-Security``) when ``hsts_max_age`` is set."""
    if lst.protocol != c.PROTOCOL_TERMINATED_HTTPS or lst.hsts_max_age is None:
        return ()
    value = f"max-age={v.integer(lst.hsts_max_age, f'listener {lst.id} hsts_max_age')};"
    if lst.hsts_include_subdomains:
        value += " includeSubDomains;"
    if lst.hsts_preload:
        value += " preload;"
    return (("Strict-Transport-Security", f'"{value}"'),)


def server_options(
    pool: graph.Pool, lb: graph.LoadBalancer, options: graph.RenderOptions
) -> tuple[str, ...]:
    """The ``server`` options of a ``tls_enabled`` pool (none otherwise)."""
    if not pool.tls_enabled:
        return ()
    what = f"pool {pool.id}"
    opts = ["ssl"]
    if pool.tls_container_ref:
        opts.append(f"crt {_path(lb, 'cert', pool.tls_container_ref, options, what)}")
    if pool.ca_tls_container_ref:
        opts.append(f"ca-file {_path(lb, 'ca', pool.ca_tls_container_ref, options, what)}")
        if pool.crl_container_ref:
            opts.append(f"crl-file {_path(lb, 'crl', pool.crl_container_ref, options, what)}")
        opts.append("verify required")
    else:
        opts.append("verify none")
    opts.append("sni ssl_fc_sni")
    opts.extend(_common(pool.tls_ciphers, pool.tls_versions, pool.alpn_protocols, what))
    return tuple(opts)
