"""The simulation core: random streams, ledger, probes and the engine that wires components."""
