"""The verdict compares the f-DP bound with the claim; the JSON carries the command line's fields."""

import json
import math

from dpviz.verify import records
from dpviz.verify.report import CONSISTENT, JSON_FIELDS, VIOLATION, VerifyReport, histogram

BASE = dict(
    kind="gradient",
    theoretical_epsilon=3.0,
    delta=1e-5,
    accountant="rdp",
    empirical_epsilon=1.0,
    empirical_epsilon_fdp=1.5,
    canaries=1000,
    included=510,
    guesses=100,
    correct=90,
    confidence=0.95,
    n=2000,
    steps=10,
    device="CPU",
)


def test_verdicts():
    assert VerifyReport(**BASE).verdict == CONSISTENT and VerifyReport(**BASE).ratio == 0.5
    above = VerifyReport(**{**BASE, "empirical_epsilon_fdp": 3.2})
    assert above.violation and above.verdict == VIOLATION and "VIOLATION" in above.sentence()
    infinite = VerifyReport(**{**BASE, "theoretical_epsilon": math.inf, "empirical_epsilon_fdp": 9.0})
    assert not infinite.violation and infinite.ratio is None and "infinite" in infinite.sentence()


def test_json_fields_and_round_trip(tmp_path):
    r = VerifyReport(**BASE, histogram=histogram([1.0, 2.0], [0.0]))
    data = json.loads(json.dumps(r.to_dict()))
    assert list(data)[: len(JSON_FIELDS)] == list(JSON_FIELDS)
    assert "jax-privacy" in data["method"]
    records.write(tmp_path, "verify-a", status="completed", report=data)
    assert records.report(records.read(tmp_path, "verify-a")) == r
    assert records.read(tmp_path, "verify-missing") is None
