"""The SSRF table (tests/ssrf_cases.py): how each family of hostile links ends, and how many
connections reached the loopback canary.

Every case is tried as the link a job starts from and as a later hop (the URL guard's decision,
every name resolving to the canary's 127.0.0.1), then as the target of a redirect from an
admitted loopback server: followed by a raw client that sends the Location as it came to the
egress proxy, by svp's own HTTP client through it, and (with --ytdlp, some minutes) by real
yt-dlp through download(). Whatever the proxy lets through goes to the canary, never
elsewhere: a policy bug shows up in the last column.
Usage: python bench/ssrf.py [--ytdlp]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.media.egress import EgressProxy  # noqa: E402
from svp.media.urlguard import Policy  # noqa: E402
from tests.ssrf_cases import (  # noqa: E402
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

WAYS = ("first link", "later hop", "raw client", "svp client", "yt-dlp")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ytdlp", action="store_true", help="also download every redirect")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the proxy logs every refusal
    table = cases()
    canary, redirector = Canary(), Redirector(table)
    admitted = Policy.from_entries([f"127.0.0.1:{redirector.port}"])
    refused: dict[str, Counter] = defaultdict(Counter)
    verdicts: Counter = Counter()
    ways = WAYS if args.ytdlp else WAYS[:-1]
    scratch = Path(tempfile.mkdtemp(prefix="svp-ssrf-"))
    with EgressProxy(admitted, canary_resolver, loopback_connector(redirector, canary)) as proxy:
        for index, case in enumerate(table):
            outcomes = [
                decide(case, Policy.from_entries(["127.0.0.1:9"]), first=True),
                decide(case, Policy.from_entries(["127.0.0.1:9"]), first=False),
                redirect_via_raw_client(index, case, redirector, canary, proxy),
                redirect_via_fetch(index, case, redirector, canary, proxy),
            ]
            if args.ytdlp:
                outcomes.append(
                    redirect_through_ytdlp(index, case, redirector, canary, scratch / str(index))
                )
            refused[case.family]["cases"] += 1
            for way, outcome in zip(ways, outcomes, strict=True):
                harmless = outcome.verdict == "stayed on the admitted host"
                refused[case.family][way] += outcome.refused or harmless
                verdicts[(way, outcome.verdict)] += 1
    redirector.close()
    canary.close()

    print("cases refused, per family and way (a Location the client reads as a path, which")
    print("leads back to the admitted server, counts as refused: nothing else is reached)\n")
    print(f"{'family':<26}{'cases':>6}" + "".join(f"{w:>12}" for w in ways))
    totals: Counter = Counter()
    for family, counts in refused.items():
        totals.update(counts)
        cells = "".join(f"{counts[w]:>12}" for w in ways)
        print(f"{family:<26}{counts['cases']:>6}{cells}")
    print(f"{'all':<26}{totals['cases']:>6}" + "".join(f"{totals[w]:>12}" for w in ways))
    print("\nverdicts by way:")
    for (way, verdict), count in sorted(verdicts.items()):
        print(f"  {way:<12} {verdict:<32} {count}")
    print(f"\nconnections that reached the loopback canary: {canary.connections}")


if __name__ == "__main__":
    main()
