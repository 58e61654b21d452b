"""Workload: the traffic offered to the platform."""
