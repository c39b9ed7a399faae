"""Collection paging: the links a client follows walk the list it asked for."""

from __future__ import annotations

from tests.api.conftest import BASE

URL = f"{BASE}/loadbalancers"


def _walk(client, url):
    """Follow ``next`` links from ``url``; the names on each page."""
    pages = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([lb["name"] for lb in body["loadbalancers"]])
        url = next(
            (link["href"] for link in body["loadbalancers_links"] if link["rel"] == "next"), None
        )
        assert len(pages) < 10, pages
    return pages


def test_next_links_keep_the_sort_direction(client, api):
    for i in range(5):
        api.lb(name=f"lb{i}")
    assert _walk(client, f"{URL}?limit=2&sort_key=name&sort_dir=desc") == [
        ["lb4", "lb3"],
        ["lb2", "lb1"],
        ["lb0"],
    ]
    assert _walk(client, f"{URL}?limit=2&sort=name:desc") == [
        ["lb4", "lb3"],
        ["lb2", "lb1"],
        ["lb0"],
    ]


def test_next_and_previous_links_keep_filters_and_fields(client, api):
    for i in range(5):
        api.lb(name=f"lb{i}")
    query = "limit=2&name=lb1&name=lb2&name=lb3&fields=name"
    assert _walk(client, f"{URL}?{query}") == [["lb1", "lb2"], ["lb3"]]
    last = client.get(_next(client, f"{URL}?{query}")).json()
    assert last["loadbalancers"] == [{"name": "lb3"}]
    previous = [link["href"] for link in last["loadbalancers_links"] if link["rel"] == "previous"]
    back = client.get(previous[0]).json()["loadbalancers"]
    assert back == [{"name": "lb1"}, {"name": "lb2"}]


def _next(client, url):
    links = client.get(url).json()["loadbalancers_links"]
    return next(link["href"] for link in links if link["rel"] == "next")
