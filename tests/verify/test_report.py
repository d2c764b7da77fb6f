"""The verdict compares the f-DP bound with the claim; the JSON carries the command line's fields."""

import json
import math

from dpviz.verify import records
from dpviz.verify.report import CONSISTENT, JSON_FIELDS, VIOLATION, histogram
from tests.conftest import verify_report


def claim(**changes):
    """The shared sample verification (tests/conftest.py), at a claim of 3 and an f-DP bound of 1.5."""
    return verify_report(**{"theoretical_epsilon": 3.0, "empirical_epsilon_fdp": 1.5, **changes})


def test_verdicts():
    assert claim().verdict == CONSISTENT and claim().ratio == 0.5
    above = claim(empirical_epsilon_fdp=3.2)
    assert above.violation and above.verdict == VIOLATION and "VIOLATION" in above.sentence()
    infinite = claim(theoretical_epsilon=math.inf, empirical_epsilon_fdp=9.0)
    assert not infinite.violation and infinite.ratio is None and "infinite" in infinite.sentence()


def test_json_fields_and_round_trip(tmp_path):
    r = claim(histogram=histogram([1.0, 2.0], [0.0]))
    data = json.loads(json.dumps(r.to_dict()))
    assert list(data)[: len(JSON_FIELDS)] == list(JSON_FIELDS)
    assert "jax-privacy" in data["method"]
    records.write(tmp_path, "verify-a", status="completed", report=data)
    assert records.report(records.read(tmp_path, "verify-a")) == r
    assert records.read(tmp_path, "verify-missing") is None
