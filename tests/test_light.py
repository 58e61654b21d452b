"""Light processes: generators resumed by the callbacks of the events they yield."""

from __future__ import annotations

import simpy

from twin.sim.light import start, start_at


def test_light_and_simpy_processes_interleave_in_simpy_order():
    env = simpy.Environment()
    seen = []

    def walker(name, delays):
        seen.append((env.now, name, "start"))
        for d in delays:
            yield env.timeout(d)
            seen.append((env.now, name))

    def starter():
        yield env.timeout(1)
        start(walker("light", [1, 2]))  # runs its first step here, at once
        seen.append((env.now, "starter"))

    env.process(walker("simpy", [1.5, 1.5, 0]))
    env.process(starter())
    start_at(env, walker("later", [0.5]), delay=2.0)
    env.run()
    assert seen == [
        (0, "simpy", "start"),
        (1, "light", "start"),
        (1, "starter"),
        (1.5, "simpy"),
        (2.0, "later", "start"),  # scheduled at 0, before the light process's timeout (at 1)
        (2, "light"),
        (2.5, "later"),
        (3.0, "simpy"),
        (3.0, "simpy"),
        (4, "light"),
    ]


def test_an_event_already_processed_resumes_at_once():
    env = simpy.Environment()
    done = env.event()
    done.succeed()
    env.run()
    steps = []

    def gen():
        yield done  # processed: no callback would ever come
        steps.append(env.now)
        yield env.timeout(1)
        steps.append(env.now)

    start(gen())
    assert steps == [0]
    env.run()
    assert steps == [0, 1]
