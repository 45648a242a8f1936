"""pytest side of the contract checker: the ``vendor`` fixture, and no swallowed violation goes unseen.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``). A test uses::

    def test_x(vendor):
        with respx.mock(base_url=API) as mock:
            vendor.route(mock, "pagerduty-rest", "GET", "/incidents", json=fixture("incidents.json"))
            ...

or the plain function ``tests.contracts.checker.contract_route``. Requests that break the contract
inside a respx side effect are recorded; if the plugin under test swallowed the exception and the
test passed anyway, the test fails at teardown with the violations. A test that expects a violation
takes it with ``vendor.take_violations()``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contracts.checker import RECORDED, Contract, ContractViolation, contract_route


class Vendors:
    """``vendor("ilert")`` is the contract; ``vendor.route(...)`` is :func:`contract_route`."""

    def __call__(self, name: str) -> Contract:
        return Contract.load(name)

    def route(self, mock: Any, contract: Contract | str, method: str, path: str, **kwargs: Any) -> Any:
        return contract_route(mock, contract, method, path, **kwargs)

    @property
    def violations(self) -> list[ContractViolation]:
        return list(RECORDED)

    def take_violations(self) -> list[ContractViolation]:
        """The violations recorded so far; the test will not fail on them at teardown."""
        taken = list(RECORDED)
        RECORDED.clear()
        return taken


@pytest.fixture
def vendor() -> Vendors:
    """The vendors' published contracts (tests/contracts): ``vendor("pagerduty-rest").check_request(...)``."""
    return Vendors()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item._contract_call_report = outcome.get_result()


@pytest.fixture(autouse=True)
def _contract_violations_fail_the_test(request):
    RECORDED.clear()
    yield
    found = list(RECORDED)
    RECORDED.clear()
    report = getattr(request.node, "_contract_call_report", None)
    if found and (report is None or report.passed):
        lines = "\n".join(f"  - {violation}" for violation in found)
        pytest.fail(f"the code under test sent requests the vendor's contract does not allow (swallowed):\n{lines}", pytrace=False)
