"""Octavia's own API conformance tests against Hydria, in one command.

Starts a real Keystone (``.venv-keystone``, as the ``keystone`` tests do) with
Hydria's ``load-balancer`` and ``network`` endpoints in its catalog, and
``hydria up --driver noop`` behind it (Octavia's policy, tokens checked by
keystonemiddleware). Then runs octavia-tempest-plugin's API tests
(``octavia_tempest_plugin.tests.api.v2``; no scenario tests) with tempest from
``.venv-tempest`` (``scripts/install --test`` makes it), configured as an
operator would for a cloud whose load balancers use one existing network:
``test_network_override`` names the network of Hydria's default VIP subnet,
``test_subnet_override`` that subnet and ``test_ipv6_subnet_override`` an IPv6
subnet the run adds to the same network (``hydria subnet create``; the noop
network driver takes one), with ``test_with_ipv6 = true``, the plugin's own
default: every class's load balancer then has an IPv6 VIP, and the IPv6 member
and load balancer tests run. ``--ipv4-only`` leaves the IPv6 subnet out and
the IPv6 tests off, so the same classes run on IPv4 VIPs. The plugin cannot
run that configuration as shipped: ``tempest_shim/`` (on tempest's
PYTHONPATH) registers an option it reads under another spelling and corrects
its ``test_network_override`` set-up, whose four faults
``tempest_shim/hydria_network_override.py`` lists; no test body changes.
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
certificates or ALPN), then the skips counted by their reason. Failures'
tracebacks go to ``<workdir>/failures.txt``.

    bench/conformance [--workdir DIR] [--filter REGEX] [--concurrency N] [--barbican]
                      [--ipv4-only] [--summarize-only]
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
ipv6 = {ipv6}

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
test_with_ipv6 = {ipv6}
test_network_override = {network}
test_subnet_override = {subnet}
test_ipv6_subnet_override = {subnet6}
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


def write_conf(
    work: Path, ks: Keystone, endpoint: str, sets: int, *, with_barbican: bool, ipv6: bool
) -> Path:
    token_headers = {"X-Auth-Token": _admin_token(ks)}
    with httpx.Client(base_url=endpoint, headers=token_headers, timeout=30) as api:
        subnets = api.get("/v2.0/subnets").json()["subnets"]
        providers = api.get("/v2/lbaas/providers").json()["providers"]
    subnet = next(s for s in subnets if s["ip_version"] == 4)
    subnet6 = next(
        (s for s in subnets if s["ip_version"] == 6 and s["network_id"] == subnet["network_id"]),
        None,
    )
    conf = work / "etc" / "tempest.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    (conf.parent / "accounts.yaml").write_text(json.dumps(make_accounts(ks, sets), indent=1))
    (work / "locks").mkdir(exist_ok=True)
    conf.write_text(
        CONF.format(
            work=work,
            keystone=ks.url,
            network=subnet["network_id"],
            subnet=subnet["id"],
            subnet6=subnet6["id"] if subnet6 else "",
            ipv6=str(ipv6 and subnet6 is not None).lower(),
            barbican=str(with_barbican).lower(),
            providers=",".join(f"{p['name']}:{p['description']}" for p in providers),
        )
    )
    return conf


def _admin_token(ks: Keystone) -> str:
    return str(ks.admin().auth_token)


# Put on tempest's PYTHONPATH: a tempest plugin registering two options the
# plugin reads and nobody registers, and the correction of its
# test_network_override set-up (its faults and what is corrected are in the
# folder's modules), so .venv-tempest needs nothing more installed.
SHIM = Path(__file__).resolve().parent / "tempest_shim"


def add_ipv6_subnet(state: Path, env: dict[str, str], octet: int) -> None:
    """An IPv6 subnet in the default VIP network, as an operator makes one."""
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "hydria"),
            "subnet",
            "create",
            "public-v6",
            "--cidr",
            f"fd00:42:{octet:x}::/64",
            "--network",
            "public",
            "--state-dir",
            str(state),
        ],
        env={**os.environ, **env, "HYDRIA_COMPUTE_DRIVER": "noop", "HYDRIA_NETWORK_DRIVER": "noop"},
        check=True,
        capture_output=True,
    )


def run_tempest(
    work: Path,
    conf: Path,
    regex: str | None,
    exclude: str | None,
    concurrency: int,
) -> Path:
    site = next((TEMPEST / "lib").glob("python3*/site-packages"))
    env = {
        **os.environ,
        "TEMPEST_CONFIG_DIR": str(conf.parent),
        "TEMPEST_CONFIG": conf.name,
        "OS_TEST_TIMEOUT": "600",
        "PYTHONPATH": str(SHIM),
    }
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


def skip_reason(text: str) -> str:
    """A skip's reason on one line, ids taken out so equal reasons count together."""
    line = " ".join(text.split())
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", line)[
        :200
    ]


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
    skip_reasons: dict[str, int] = defaultdict(int)
    class_faults: list[str] = []  # a class whose set-up failed ran none of its tests
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
            if status == "skipped":
                skip_reasons[f"(whole class) {skip_reason(row['text'])}"] += 1
            elif status != "passed":
                failures.append((row["id"], row["text"]))
                class_faults.append(f"{kind} {status}: {cls.rsplit('.', 1)[-1]}")
            continue
        cls = test_id.rsplit(".", 1)[0]
        per_class[cls][status] += 1
        totals[group_of(test_id)][status] += 1
        if status == "failed":
            failures.append((row["id"], row["text"]))
        if status == "skipped":
            skip_reasons[skip_reason(row["text"])] += 1
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
    for fault in class_faults:
        print(f"  and {fault} (its tests did not run; not counted above)")
    if skip_reasons:
        print("\nskipped, by reason:")
        for reason, count in sorted(skip_reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{count:>5}  {reason}")
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
        "--ipv4-only",
        dest="ipv6",
        action="store_false",
        help="no IPv6 subnet and test_with_ipv6 = false: every load balancer on an IPv4 VIP",
    )
    parser.add_argument(
        "--octet",
        type=int,
        default=int(os.environ.get("HYDRIA_TEST_OCTET_BASE", "239")) % 250 + 1,
        help="the /24 of VIPs of this run (127.42.<octet>.0/24)",
    )
    parser.add_argument(
        "--summarize-only",
        action="store_true",
        help="print the summary of the run already in --workdir, run nothing",
    )
    args = parser.parse_args()
    if args.summarize_only:
        if args.workdir is None:
            parser.error("--summarize-only needs --workdir")
        return summarize(args.workdir.resolve(), args.workdir.resolve() / "results.subunit")
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
        # one worker: every test class makes a user (os_not_member) whose first token
        # writes to Keystone's SQLite; two workers writing at once made a token a 500
        ks = stack.enter_context(running_keystone(work / "keystone", port, workers=1))
        env = ks.hydria_env()
        if args.barbican:
            # in the catalogue before Hydria starts: it finds Barbican there
            stack.enter_context(barbican.running_barbican(work / "barbican", ks))
            env["HYDRIA_SECRET_STORE"] = "barbican"
        endpoint = stack.enter_context(
            hydria_up(args.octet, driver="noop", port=port, state=_state(work), **env)
        )
        if args.ipv6:
            add_ipv6_subnet(_state(work), env, args.octet)
        conf = write_conf(
            work,
            ks,
            endpoint,
            args.concurrency + 1,
            with_barbican=args.barbican,
            ipv6=args.ipv6,
        )
        subunit = run_tempest(
            work,
            conf,
            args.filter,
            args.exclude,
            args.concurrency,
        )
    return summarize(work, subunit)


def _state(work: Path) -> Path:
    state = work / "hydria"
    state.mkdir(exist_ok=True)
    return state


if __name__ == "__main__":
    sys.exit(main())
