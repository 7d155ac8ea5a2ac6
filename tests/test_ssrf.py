"""The SSRF table (tests/ssrf_cases.py): every case refused, with a reason, and not one
connection to the loopback canary.

Traffic: every name resolves to 127.0.0.1 and the proxy's connector sends whatever it lets
through to the canary on 127.0.0.1 (see tests/ssrf_cases.py); bench/ssrf.py prints the counts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from svp.media.egress import EgressProxy
from svp.media.urlguard import Policy
from tests.ssrf_cases import (
    Canary,
    Redirector,
    canary_resolver,
    cases,
    decide,
    loopback_connector,
    redirect_through_ytdlp,
    redirect_via_fetch,
    redirect_via_raw_client,
)

TABLE = cases()
# What a refusal says: the rule and the offending part, never a bare error.
CLEAR = re.compile(r"^(refused: |not a web link: |not a supported link: )\S.{10,}")


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[Canary, Redirector, EgressProxy]]:
    canary, redirector = Canary(), Redirector(TABLE)
    policy = Policy.from_entries([f"127.0.0.1:{redirector.port}"])
    connect = loopback_connector(redirector, canary)
    with EgressProxy(policy, canary_resolver, connect, timeout=5) as proxy:
        yield canary, redirector, proxy
    redirector.close()
    canary.close()


def test_the_table_covers_every_family():
    families = Counter(case.family for case in TABLE)
    assert set(families) >= {
        "IANA special-purpose",
        "IPv4 in IPv6",
        "decimal",
        "octal",
        "hex",
        "mixed",
        "overflow",
        "unicode digits and dots",
        "enclosed alphanumerics",
        "parser confusion",
        "malformed",
        "non-http schemes",
        "metadata",
    }
    assert len(TABLE) > 500


@pytest.mark.parametrize("first", [True, False], ids=["first link", "later hop"])
def test_every_case_is_refused_with_a_clear_reason(first):
    policy = Policy.from_entries(["127.0.0.1:9"])  # a loopback port none of the cases uses
    outcomes = [decide(case, policy, first=first) for case in TABLE]
    wrong = [(o.case.url, o.verdict, o.reason) for o in outcomes if o.verdict != "refused"]
    assert wrong == []
    unclear = [(o.case.url, o.reason) for o in outcomes if not CLEAR.match(o.reason)]
    assert unclear == []


def test_every_case_as_a_redirect_sent_raw_to_the_proxy_is_refused_there(harness):
    canary, redirector, proxy = harness
    before = canary.connections
    outcomes = [
        redirect_via_raw_client(i, case, redirector, canary, proxy) for i, case in enumerate(TABLE)
    ]
    assert canary.connections == before
    wrong = [(o.case.url, o.verdict, o.reason) for o in outcomes if o.verdict != "refused"]
    assert wrong == []
    unclear = [(o.case.url, o.reason) for o in outcomes if not CLEAR.match(o.reason)]
    assert unclear == []


def test_every_case_as_a_redirect_followed_by_svp_s_client_never_reaches_the_canary(harness):
    canary, redirector, proxy = harness
    before = canary.connections
    outcomes = [
        redirect_via_fetch(i, case, redirector, canary, proxy) for i, case in enumerate(TABLE)
    ]
    assert canary.connections == before
    verdicts = Counter(o.verdict for o in outcomes)
    # The client refuses what it cannot parse before asking the proxy; a Location it reads
    # as a path (`http:/host`, `\\\\host`) leads back to the admitted redirector: harmless.
    assert set(verdicts) <= {"refused", "refused by the client", "stayed on the admitted host"}
    unclear = [
        (o.case.url, o.reason)
        for o in outcomes
        if o.verdict.startswith("refused") and not CLEAR.match(o.reason)
    ]
    assert unclear == []


def test_the_canary_counts_what_the_policy_lets_through(harness):
    """The harness can fail: a public address passes the policy, and its connection lands on
    the canary (loopback) instead of the internet."""
    from svp.media.images import fetch

    canary, _, proxy = harness
    before = canary.connections
    assert fetch("http://93.184.216.34/", proxy.url, max_bytes=100, timeout=5).body == b"canary"
    assert canary.connections == before + 1


@pytest.mark.slow
def test_a_redirect_of_each_family_downloaded_by_yt_dlp_never_reaches_the_canary(harness, tmp_path):
    canary, redirector, _ = harness
    before = canary.connections
    sample = {}
    for index, case in enumerate(TABLE):
        sample.setdefault(case.family, []).append((index, case))
    chosen = [pairs[len(pairs) // 2] for pairs in sample.values()]  # bench/ssrf.py: all of them
    outcomes = [
        redirect_through_ytdlp(i, case, redirector, canary, tmp_path / str(i)) for i, case in chosen
    ]
    assert canary.connections == before
    wrong = [
        (o.case.url, o.verdict, o.reason)
        for o in outcomes
        if o.verdict not in ("refused", "refused by the client", "stayed on the admitted host")
    ]
    assert wrong == []
