"""Analysis: KPIs from a run, queueing theory to validate against, statistics over replications."""
