"""insert_headers checked as Octavia's listener controller checks them (pure)."""

from __future__ import annotations

import pytest

from hydria.core.errors import InvalidInput
from hydria.core.listener_options import check_insert_headers


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"X-Forwarded-For": "true"},
        {"X-Forwarded-Port": "false", "X-Forwarded-Proto": "x"},
        {"X-Forwarded-IP": "true", "X-Client-IP": "true", "X-Real-IP": "TRUE"},
        {"X-Forwarded-For": "v" * 255},
    ],
)
def test_accepted_on_http(headers: dict[str, str] | None) -> None:
    check_insert_headers(headers, "HTTP")


def test_ssl_headers_only_on_terminated_https() -> None:
    check_insert_headers({"X-SSL-Client-DN": "true", "X-Forwarded-For": "true"}, "TERMINATED_HTTPS")
    with pytest.raises(InvalidInput) as err:
        check_insert_headers(
            {"X-Forwarded-For": "true", "X-SSL-Client-DN": "true", "X-SSL-Issuer": "true"}, "HTTP"
        )
    assert err.value.message == (
        "['X-SSL-Client-DN', 'X-SSL-Issuer'] is not a valid option for HTTP protocol listener."
    )


@pytest.mark.parametrize("protocol", ["TCP", "HTTPS", "UDP", "PROXY"])
def test_no_headers_on_other_protocols(protocol: str) -> None:
    check_insert_headers({}, protocol)
    with pytest.raises(InvalidInput) as err:
        check_insert_headers({"X-Forwarded-For": "true"}, protocol)
    assert err.value.message == (
        f"insert-headers is not a valid option for a {protocol} protocol listener."
    )


def test_unknown_names_are_listed() -> None:
    with pytest.raises(InvalidInput) as err:
        check_insert_headers({"X-Forwarded-For": "true", "X-Colour": "blue"}, "HTTP")
    assert err.value.message == (
        "['X-Forwarded-For', 'X-Colour'] is not a valid option for insert_headers"
    )
    # names are case sensitive, as in Octavia
    with pytest.raises(InvalidInput):
        check_insert_headers({"x-forwarded-for": "true"}, "HTTP")


@pytest.mark.parametrize("value", [True, 1, None, "v" * 256])
def test_values_are_short_strings(value: object) -> None:
    with pytest.raises(InvalidInput, match="insert_headers"):
        check_insert_headers({"X-Forwarded-For": value}, "HTTP")
