"""Conservation on randomly generated valid scenarios (stations, routing loops, outages, senders that
retry or not): every offered recipient ends in exactly one state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin
from tests.helpers import network
from twin.scenario.schema import TERMINAL_STATES

services = st.one_of(
    st.builds(lambda m: {"dist": "exponential", "mean": f"{m}s"}, st.floats(0.05, 3)),
    st.builds(lambda v: {"dist": "constant", "value": f"{v}s"}, st.floats(0.05, 3)),
    st.builds(
        lambda m, s: {"dist": "lognormal", "median": f"{m}s", "sigma": s},
        st.floats(0.05, 2),
        st.floats(0, 1.5),
    ),
    st.builds(
        lambda pts: {"dist": "empirical", "points": [f"{p}s" for p in pts]},
        st.lists(st.floats(0.01, 3), min_size=1, max_size=5),
    ),
)


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 4))
    names = [f"s{i}" for i in range(n)]
    stations = {}
    for name in names:
        targets = draw(st.lists(st.sampled_from(names + list(TERMINAL_STATES)), unique=True, max_size=3))
        weights = [draw(st.floats(0.0, 1.0)) for _ in targets]
        scale = max(1.0, sum(weights))
        stations[name] = {
            "servers": draw(st.integers(1, 3)),
            "service": draw(services),
            "routing": {t: w / scale * 0.999 for t, w in zip(targets, weights, strict=True)},
        }
    sources = [
        {
            "name": f"src{i}",
            "enter": draw(st.sampled_from(names)),
            "rate": f"{draw(st.floats(0.01, 2))}/s",
            "recipients": {"dist": "constant", "value": draw(st.integers(1, 4))},
            "sender": {
                "retrying_share": draw(st.floats(0, 1)),
                "retry": draw(st.sampled_from(["F,10m,1m", "G,1h,30s,2", "H,1h,1m,1.5"])),
            },
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    horizon = draw(st.integers(60, 1800))
    drain = draw(st.sampled_from([0, 60, 600]))
    data = network(stations, sources, horizon=f"{horizon}s", drain=f"{drain}s")
    data["faults"] = [
        {
            "kind": "outage",
            "target": draw(st.sampled_from(names)),
            "at": f"{draw(st.integers(0, horizon - 1))}s",
            "duration": f"{draw(st.integers(1, 900))}s",
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    if draw(st.booleans()):
        data["faults"].append(
            {
                "kind": "random",
                "target": "s*",
                "mtbf": {"dist": "exponential", "mean": "5m"},
                "mttr": {"dist": "exponential", "mean": "1m"},
            }
        )
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), seed=st.integers(0, 2**31))
def test_every_offered_recipient_ends_in_exactly_one_state(data, seed):
    res = twin.simulate(twin.scenario_from_dict(data), seed=seed)
    rec = res.kpis["recipients"]
    assert res.kpis["conservation_ok"], res.kpis["conservation"]
    assert sum(v for k, v in rec.items() if k != "offered") == rec["offered"]
    assert rec["offered"] == len(res.ledger)
    led = res.ledger
    assert led["t_final"].isna().sum() == rec["pending"]
    done = led.dropna(subset=["t_final"])
    assert (done["t_final"] >= done["t_offered"]).all()
