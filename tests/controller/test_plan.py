import pytest

from hydria.controller.plan import AmphoraPlan, AmphoraView, plan_amphorae

A = AmphoraView


@pytest.mark.parametrize(
    ("topology", "existing", "deleting", "expected"),
    [
        ("SINGLE", [], False, AmphoraPlan(("STANDALONE",), (), ())),
        ("SINGLE", [A("a", "STANDALONE")], False, AmphoraPlan((), ("a",), ())),
        ("SINGLE", [A("a", "STANDALONE", True)], False, AmphoraPlan(("STANDALONE",), (), ("a",))),
        (
            "SINGLE",
            [A("a", "STANDALONE"), A("b", "STANDALONE")],
            False,
            AmphoraPlan((), ("a",), ("b",)),
        ),
        ("SINGLE", [A("a", "STANDALONE")], True, AmphoraPlan((), (), ("a",))),
        ("SINGLE", [], True, AmphoraPlan((), (), ())),
        ("ACTIVE_STANDBY", [], False, AmphoraPlan(("MASTER", "BACKUP"), (), ())),
        (
            "ACTIVE_STANDBY",
            [A("m", "MASTER"), A("b", "BACKUP", True)],
            False,
            AmphoraPlan(("BACKUP",), ("m",), ("b",)),
        ),
        # an amphora of the wrong role (topology changed) is replaced
        ("SINGLE", [A("m", "MASTER")], False, AmphoraPlan(("STANDALONE",), (), ("m",))),
    ],
)
def test_plan_amphorae(topology, existing, deleting, expected):
    assert plan_amphorae(topology, existing, deleting=deleting) == expected
