from models.duration import fmt_duration


def test_durations_read_as_a_trader_writes_them():
    assert fmt_duration(0) == "0s"
    assert fmt_duration(56) == "56s"
    assert fmt_duration(60) == "1m00s"
    assert fmt_duration(151) == "2m31s"
    assert fmt_duration(3600) == "1h00m"
    assert fmt_duration(3600 + 4 * 60 + 59) == "1h04m"          # seconds dropped past an hour
    assert fmt_duration(50 * 3600 + 60) == "50h01m"
    assert fmt_duration(-5) == "0s"                               # a clock that stepped back: never negative
