"""An amphora's VIP fields are written once, then only read at every change."""

from __future__ import annotations

from hydria.db import amphorae as amp_db
from hydria.db.engine import Database


def test_vip_ports_are_recorded_once_and_then_seen_as_recorded(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        amp = amp_db.new_spare(s, mgmt_start="127.43.0.10", mgmt_end="127.43.0.20")
        amp_id = amp.id
    with sqlite_db.read() as s:
        assert not amp_db.vip_ports_recorded(
            s, amp_id, vip_address="127.42.0.5", vip_port_id="port-1"
        )
    with sqlite_db.session() as s:
        amp_db.record_vip_ports(s, amp_id, vip_address="127.42.0.5", vip_port_id="port-1")
    with sqlite_db.read() as s:
        assert amp_db.vip_ports_recorded(s, amp_id, vip_address="127.42.0.5", vip_port_id="port-1")
        # a VIP or port that moved is a write again
        assert not amp_db.vip_ports_recorded(
            s, amp_id, vip_address="127.42.0.6", vip_port_id="port-1"
        )
        assert not amp_db.vip_ports_recorded(
            s, amp_id, vip_address="127.42.0.5", vip_port_id="port-2"
        )
