"""Light processes: generators that yield the seconds they wait, resumed from SimPy's event loop."""

from __future__ import annotations

import pytest
import simpy

from twin.sim.light import start, start_at


def test_light_and_simpy_processes_interleave_in_simpy_order():
    """A light process's wait takes the place a Timeout of the same delay would: same time, same order
    among events at that time."""
    env = simpy.Environment()
    seen = []

    def walker(name, delays):
        seen.append((env.now, name, "start"))
        for d in delays:
            yield d
            seen.append((env.now, name))

    def simpy_walker(name, delays):
        seen.append((env.now, name, "start"))
        for d in delays:
            yield env.timeout(d)
            seen.append((env.now, name))

    def starter():
        yield env.timeout(1)
        start(env, walker("light", [1, 2]))  # runs its first step here, at once
        seen.append((env.now, "starter"))

    env.process(simpy_walker("simpy", [1.5, 1.5, 0]))
    env.process(starter())
    start_at(env, walker("later", [0.5]), delay=2.0)
    env.run()
    assert seen == [
        (0, "simpy", "start"),
        (1, "light", "start"),
        (1, "starter"),
        (1.5, "simpy"),
        (2.0, "later", "start"),  # scheduled at 0, before the light process's wait (at 1)
        (2, "light"),
        (2.5, "later"),
        (3.0, "simpy"),
        (3.0, "simpy"),
        (4, "light"),
    ]


def test_a_light_process_and_a_timeout_process_give_the_same_schedule():
    """The same walks as light processes and as SimPy processes of Timeouts: identical event order."""

    def run(light: bool):
        env = simpy.Environment()
        seen = []

        def walk(name, delays):
            for d in delays:
                yield d if light else env.timeout(d)
                seen.append((env.now, name))

        for k in range(5):
            gen = walk(k, [0.5 * ((k * 7) % 3), 0, 1.25, 0.5 * (k % 2)])
            if light:
                start_at(env, gen, delay=0.25 * (k % 3))
            else:
                env.process(_after(env, 0.25 * (k % 3), gen))
        env.run()
        return seen

    def _after(env, delay, gen):
        yield env.timeout(delay)
        yield from gen

    assert run(light=True) == run(light=False)


def test_a_negative_wait_is_an_error():
    env = simpy.Environment()

    def bad():
        yield -1.0

    with pytest.raises(ValueError, match="negative"):
        start(env, bad())
