import pytest

from twin.units import UnitError, format_duration, format_size, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("7d", 604800),
        ("50ms", 0.05),
        ("1.5h", 5400),
        (12, 12),
        ("3", 3),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "nbytes"), [("4KB", 4096), ("10MB", 10 * 2**20), ("512B", 512), ("1GiB", 2**30)]
)
def test_sizes_use_binary_multiples(text, nbytes):
    assert parse_size(text) == nbytes


@pytest.mark.parametrize(
    ("text", "per_second"), [("2/s", 2), ("30/min", 0.5), ("1.4M/day", 1.4e6 / 86400), ("500/h", 500 / 3600)]
)
def test_rates(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("bad", ["5 parsecs", "h", "", True, None, "1.2.3s"])
def test_bad_durations_say_what_is_expected(bad):
    with pytest.raises(UnitError, match="expected a duration such as 90s"):
        parse_duration(bad)


def test_formatting_round_trips():
    for s in (0.05, 90, 900, 5400, 86400, 7 * 86400, 0.3):
        assert parse_duration(format_duration(s)) == pytest.approx(s)
    assert format_duration(7 * 86400) == "7d"
    assert format_duration(90) == "90s"
    for b in (512, 4096, 10 * 2**20, 1500):
        assert parse_size(format_size(b)) == b


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1d2h", 93600), ("1h30m", 5400), ("2m30s", 150), ("1d 2h 3m 4s", 93784), ("1w1d", 691200)],
)
def test_compound_durations_from_the_largest_unit_down(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["2h1d", "1h1h", "1d-2h", "1h 30", "m30s", "1m1min"])
def test_compound_durations_in_any_other_order_are_refused(bad):
    with pytest.raises(UnitError, match="expected a duration such as 90s, 15m, 2h, 7d or 1d2h"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_duration, float("inf")),
        (parse_duration, float("nan")),
        (parse_duration, "1e400s"),
        (parse_duration, 10**400),
        (parse_size, "1e400GB"),
        (parse_rate, "1e400/s"),
    ],
)
def test_numbers_that_cannot_be_simulated_are_refused(parse, value):
    with pytest.raises(UnitError, match="must be a finite number"):
        parse(value)


@pytest.mark.parametrize("x", [0.05, 0.3, 1234.5678, 1e-7, 0.1 * 3, 5400.0, 16.203703703703702, 2.5 * 1024])
def test_formatting_is_exact(x):
    # scenario.resolved.yaml must give back the very same floats: a replay is the same run
    from twin.units import format_rate

    assert parse_duration(format_duration(x)) == x
    assert parse_size(format_size(x)) == x
    assert parse_rate(format_rate(x)) == x
