"""University in a box: a simulated population, its scenario file, replay and scoring.

- :mod:`hub.simulation.population`: people, positions and synthetic national IDs;
- :mod:`hub.simulation.faults`: the faults the simulator injects, each with its ground truth;
- :mod:`hub.simulation.simulator`: the population's life over simulated time, as native
  source events and expectations;
- :mod:`hub.simulation.scenario_file`: the JSON Lines scenario format;
- :mod:`hub.simulation.replay`: a scenario through the fakes, connectors, Kafka and hub;
- :mod:`hub.simulation.scoring`: tasks against expectations (precision, recall, …).
"""
