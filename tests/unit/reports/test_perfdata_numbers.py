"""Numbers in perfdata and --list-rules: Nagios' perfdata grammar has no exponent ([-0-9.]), and a
threshold printed as 1.2096e+06 reads as a different number to an operator copying it to a config."""

from __future__ import annotations

import re

from zlmdb_inspect.core.fmt import plain
from zlmdb_inspect.health.timetofull import GROWING, TimeToFull, perfdata


def test_plain_never_writes_an_exponent():
    assert plain(14 * 86400.0) == "1209600"
    assert plain(172800) == "172800"
    assert plain(80.0) == "80"
    assert plain(0.5) == "0.5"
    assert plain(1e-07) == "0.0000001"
    assert plain(2.5e6 + 0.25) == "2500000.25"


def test_time_to_full_perfdata_thresholds_are_plain_numbers():
    line = perfdata(TimeToFull(state=GROWING, seconds=3600.0), 14 * 86400.0, 2 * 86400.0)
    assert line == "time_to_full_s=3600;1209600;172800;0;", line
    assert re.fullmatch(r"time_to_full_s=[-0-9.U]+;[-0-9.]+;[-0-9.]+;0;", line)
