"""Octavia's own API conformance tests against Hydria, in one command.

Starts a real Keystone (``.venv-keystone``, as the ``keystone`` tests do) with
Hydria's ``load-balancer`` and ``network`` endpoints in its catalog, and
``hydria up --driver noop`` behind it (Octavia's policy, tokens checked by
keystonemiddleware). Then runs octavia-tempest-plugin's API tests
(``octavia_tempest_plugin.tests.api.v2``; no scenario tests) with tempest from
``.venv-tempest`` (``scripts/install --test`` makes it), configured as an
operator would for a cloud whose load balancers use one existing network:
``test_network_override`` names the network of Hydria's default VIP subnet
(not ``test_subnet_override``: the plugin reads that one's envelope as the
subnet and fails in ``resource_setup``), IPv6 tests off (Hydria serves no IPv6 VIP subnet by default),
``not_implemented_is_error = False`` (a 501 skips the feature, as on any
provider that is not the reference one), no compute validation.

With ``--barbican`` a real Barbican (``.venv-barbican``, as the ``barbican``
tests run it) joins the catalogue and Hydria reads TLS material from it
(``HYDRIA_SECRET_STORE=barbican``); tempest is told Barbican is there, so the
TERMINATED_HTTPS and TLS pool tests run instead of skipping. Without it they
skip ("require ... the barbican service").

Printed: passed / failed / skipped per test class, and totals in three
groups, because two features are other branches' work: L7 (the l7policy and
l7rule classes) and TLS (tests whose names are about TLS, HTTPS termination,
certificates or ALPN). Failures' tracebacks go to ``<workdir>/failures.txt``.

    bench/conformance [--workdir DIR] [--filter REGEX] [--concurrency N] [--barbican]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import httpx
from _harness import hydria_up

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import barbican  # noqa: E402
from tests.support.backends import free_port  # noqa: E402
from tests.support.keystone import Keystone, running_keystone  # noqa: E402

TEMPEST = ROOT / ".venv-tempest"
API_TESTS = "octavia_tempest_plugin/tests/api/v2"
L7 = re.compile(r"\.test_l7(policy|rule)\.")
TLS = re.compile(r"tls|terminated|cert|alpn|sni|cipher|reencrypt|crl", re.I)

CONF = """\
[DEFAULT]
log_file = {work}/tempest.log
use_stderr = false

[oslo_concurrency]
lock_path = {work}/locks

[auth]
use_dynamic_credentials = false
test_accounts_file = {work}/etc/accounts.yaml
create_isolated_networks = false
admin_domain_name = Default

[identity]
uri_v3 = {keystone}
auth_version = v3
region = RegionOne
v3_endpoint_type = public
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false

[service_available]
load_balancer = true
neutron = true
nova = true
glance = true
barbican = {barbican}
cinder = false
swift = false

[network]
project_networks_reachable = true

[network-feature-enabled]
port_security = false

[validation]
run_validation = false

[enforce_scope]
octavia = false

[load_balancer]
provider = amphora
region = RegionOne
RBAC_test_type = keystone_default_roles
enabled_provider_drivers = {providers}
test_with_noop = false
test_with_ipv6 = false
test_network_override = {network}
check_interval = 0.25
check_timeout = 60
build_interval = 0.25
build_timeout = 60
lb_build_interval = 0.25
lb_build_timeout = 120
log_user_roles = false
# names only: Hydria's compute_zone means nothing to the local drivers
availability_zone = conformance-az-1
availability_zone2 = conformance-az-2
availability_zone3 = conformance-az-3

[loadbalancer-feature-enabled]
not_implemented_is_error = false
log_offload_enabled = false
"""


def group_of(test_id: str) -> str:
    if L7.search(test_id):
        return "l7"
    method = test_id.rsplit(".", 1)[-1]
    # HTTPS and TLS-HELLO monitors check members; they need no TLS termination
    return "tls" if TLS.search(method) and ".test_healthmonitor." not in test_id else "core"


# Accounts made once, before the run (tempest's pre-provisioned credentials): with
# dynamic credentials tempest makes about a dozen users, projects and role assignments
# per test class, which on a loaded two-core machine costs more than the tests.
# Each class takes two admins (os_admin, lb_admin), two readers (observer, global
# observer) and three members (primary, lb_member, lb_member2), each member in a
# project of its own; one set per concurrent worker, plus one.
ACCOUNT_ROLES = ("admin", "admin", "reader", "reader", "member", "member", "member")


def make_accounts(ks: Keystone, sets: int) -> list[dict[str, object]]:
    admin = ks.admin()
    roles = {name: admin.identity.find_role(name) for name in set(ACCOUNT_ROLES)}
    accounts: list[dict[str, object]] = []
    for n in range(sets):
        for i, role in enumerate(ACCOUNT_ROLES):
            name = f"conformance-{n}-{i}-{role}"
            project = admin.identity.create_project(name=name, domain_id="default")
            user = admin.identity.create_user(
                name=name, password=ks.password, domain_id="default", default_project_id=project.id
            )
            admin.identity.assign_project_role_to_user(project, user, roles[role])
            accounts.append(
                {
                    "username": name,
                    "project_name": name,
                    "password": ks.password,
                    "domain_name": "Default",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                    "roles": [role],
                }
            )
    return accounts


def write_conf(work: Path, ks: Keystone, endpoint: str, sets: int, *, with_barbican: bool) -> Path:
    token_headers = {"X-Auth-Token": _admin_token(ks)}
    with httpx.Client(base_url=endpoint, headers=token_headers, timeout=30) as api:
        subnet = api.get("/v2.0/subnets").json()["subnets"][0]
        providers = api.get("/v2/lbaas/providers").json()["providers"]
    conf = work / "etc" / "tempest.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    (conf.parent / "accounts.yaml").write_text(json.dumps(make_accounts(ks, sets), indent=1))
    (work / "locks").mkdir(exist_ok=True)
    conf.write_text(
        CONF.format(
            work=work,
            keystone=ks.url,
            network=subnet["network_id"],
            barbican=str(with_barbican).lower(),
            providers=",".join(f"{p['name']}:{p['description']}" for p in providers),
        )
    )
    return conf


def _admin_token(ks: Keystone) -> str:
    return str(ks.admin().auth_token)


# octavia-tempest-plugin asks ``[service_available] barbican``, an option only
# barbican-tempest-plugin registers (unregistered, it reads as false). This
# plugin of a few lines, found through its entry point on PYTHONPATH, registers
# it, so .venv-tempest needs nothing more installed.
BARBICAN_OPT_PLUGIN = """\
from oslo_config import cfg
from tempest import config
from tempest.test_discover import plugins

OPTS = [cfg.BoolOpt("barbican", default=False, help="Barbican is in the catalogue")]


class Plugin(plugins.TempestPlugin):
    def load_tests(self):
        return None

    def register_opts(self, conf):
        config.register_opt_group(conf, config.service_available_group, OPTS)

    def get_opt_lists(self):
        return [("service_available", OPTS)]
"""


def barbican_opt_plugin(work: Path) -> Path:
    """A folder to put on PYTHONPATH: the module and its entry point."""
    folder = work / "plugin"
    (folder / "hydria_barbican_opt-0.dist-info").mkdir(parents=True, exist_ok=True)
    (folder / "hydria_barbican_opt.py").write_text(BARBICAN_OPT_PLUGIN)
    info = folder / "hydria_barbican_opt-0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hydria-barbican-opt\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[tempest.test_plugins]\nhydria-barbican-opt = hydria_barbican_opt:Plugin\n"
    )
    return folder


def run_tempest(
    work: Path,
    conf: Path,
    regex: str | None,
    exclude: str | None,
    concurrency: int,
    *,
    with_barbican: bool,
) -> Path:
    site = next((TEMPEST / "lib").glob("python3*/site-packages"))
    env = {
        **os.environ,
        "TEMPEST_CONFIG_DIR": str(conf.parent),
        "TEMPEST_CONFIG": conf.name,
        "OS_TEST_TIMEOUT": "600",
    }
    if with_barbican:
        env["PYTHONPATH"] = str(barbican_opt_plugin(work))
    for key in [k for k in env if k.startswith("OS_") and k != "OS_TEST_TIMEOUT"]:
        del env[key]
    stestr = [
        str(TEMPEST / "bin" / "stestr"),
        "--test-path",
        str(site / API_TESTS),
        "--top-dir",
        str(site),
    ]
    if not (work / ".stestr").exists():
        subprocess.run([*stestr, "init"], cwd=work, env=env, check=True, capture_output=True)
    cmd = [*stestr, "run", "--concurrency", str(concurrency), "--subunit"]
    if exclude:
        cmd += ["--exclude-regex", exclude]
    if regex:
        cmd.append(regex)
    out = work / "results.subunit"
    with out.open("wb") as sink:
        subprocess.run(cmd, cwd=work, env=env, stdout=sink, check=False)
    return out


PARSE = r"""
import json, sys
import subunit, testtools
rows = []
def keep(test):
    details = test.get("details") or {}
    text = "".join(d.as_text() for k, d in details.items() if k in ("traceback", "reason"))
    rows.append({"id": test["id"], "status": test["status"], "text": text[-3000:]})
result = testtools.StreamToDict(keep)
result.startTestRun()
subunit.ByteStreamToStreamResult(open(sys.argv[1], "rb"), non_subunit_name="stdout").run(result)
result.stopTestRun()
json.dump(rows, sys.stdout)
"""


def summarize(work: Path, subunit: Path) -> int:
    res = subprocess.run(
        [str(TEMPEST / "bin" / "python"), "-c", PARSE, str(subunit)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(res.stdout)
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures = []
    for row in rows:
        test_id = re.sub(r"\[.*\]$", "", row["id"])
        status = {
            "success": "passed",
            "skip": "skipped",
            "fail": "failed",
            "xfail": "passed",
            "uxsuccess": "failed",
        }.get(row["status"])
        if status is None:
            continue
        if test_id.startswith(("setUpClass", "tearDownClass")):
            cls = test_id.split("(", 1)[1].rstrip(")")
            kind = test_id.split(" ", 1)[0]
            per_class[cls][f"{kind} {status}"] += 1
            if status != "passed":
                failures.append((row["id"], row["text"]))
            continue
        cls = test_id.rsplit(".", 1)[0]
        per_class[cls][status] += 1
        totals[group_of(test_id)][status] += 1
        if status == "failed":
            failures.append((row["id"], row["text"]))
    width = max((len(c) for c in per_class), default=10) - len(
        "octavia_tempest_plugin.tests.api.v2."
    )
    print(f"{'class':<{width}} {'passed':>6} {'failed':>6} {'skipped':>7}")
    for cls in sorted(per_class):
        counts = per_class[cls]
        extra = ", ".join(
            f"{k}"
            for k in counts
            if k.startswith(("setUp", "tearDown")) and not k.endswith("passed")
        )
        print(
            f"{cls.removeprefix('octavia_tempest_plugin.tests.api.v2.'):<{width}} "
            f"{counts['passed']:>6} {counts['failed']:>6} {counts['skipped']:>7}"
            f"{'  (' + extra + ')' if extra else ''}"
        )
    print()
    for group, label in (
        ("core", "core (LB, listener, pool, member, HM, amphora, flavor, AZ, provider)"),
        ("tls", "TLS (another branch)"),
        ("l7", "L7 (another branch)"),
    ):
        t = totals[group]
        print(f"{label}: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped")
    all_ = {s: sum(t[s] for t in totals.values()) for s in ("passed", "failed", "skipped")}
    print(f"all: {all_['passed']} passed, {all_['failed']} failed, {all_['skipped']} skipped")
    with (work / "failures.txt").open("w") as out:
        for test_id, text in failures:
            out.write(f"=== {test_id}\n{text}\n")
    print(f"failures' tracebacks: {work / 'failures.txt'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--filter", default=None, help="a regex of test ids (stestr's)")
    parser.add_argument("--exclude", default=None, help="a regex of test ids to leave out")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--barbican",
        action="store_true",
        help="a real Barbican in the catalogue: the TLS tests run instead of skipping",
    )
    parser.add_argument(
        "--octet",
        type=int,
        default=int(os.environ.get("HYDRIA_TEST_OCTET_BASE", "239")) % 250 + 1,
        help="the /24 of VIPs of this run (127.42.<octet>.0/24)",
    )
    args = parser.parse_args()
    if not (TEMPEST / "bin" / "stestr").exists():
        print(".venv-tempest is missing: run scripts/install --test", file=sys.stderr)
        return 2
    if args.barbican and not barbican.available():
        print(".venv-barbican is missing: run scripts/install --test", file=sys.stderr)
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hydria-conformance-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    for old in ("keystone", "barbican", "hydria", "etc", ".stestr"):  # from nothing
        shutil.rmtree(work / old, ignore_errors=True)
    port = free_port()
    with ExitStack() as stack:
        ks = stack.enter_context(running_keystone(work / "keystone", port))
        env = ks.hydria_env()
        if args.barbican:
            # in the catalogue before Hydria starts: it finds Barbican there
            stack.enter_context(barbican.running_barbican(work / "barbican", ks))
            env["HYDRIA_SECRET_STORE"] = "barbican"
        endpoint = stack.enter_context(
            hydria_up(args.octet, driver="noop", port=port, state=_state(work), **env)
        )
        conf = write_conf(work, ks, endpoint, args.concurrency + 1, with_barbican=args.barbican)
        subunit = run_tempest(
            work,
            conf,
            args.filter,
            args.exclude,
            args.concurrency,
            with_barbican=args.barbican,
        )
    return summarize(work, subunit)


def _state(work: Path) -> Path:
    state = work / "hydria"
    state.mkdir(exist_ok=True)
    return state


if __name__ == "__main__":
    sys.exit(main())
