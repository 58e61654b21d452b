"""Experiments: many runs of the model (replications; sweeps and capacity searches come with their issue).
This layer sits above ``twin.simulate``; nothing below it imports it."""
