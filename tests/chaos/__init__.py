"""The chaos suite (issue 9): the hub under a killed worker, a restarted broker, a
rebalance, poison and a flapping source, each compared with a clean run."""
