"""The deterministic consensus simulator (issue 4): N engine cores on a seeded virtual network.

- ``network``  ``SimNetwork``: the event heap, seeded delay/drop/duplicate, partitions;
- ``runner``   ``Simulation``: drives ``TendermintCore``s, byzantine and crashing validators,
               checks agreement, validity, no honest double-sign, liveness;
- ``poa``      ``PoaSimulation``: the same for ``PoaCore``s (slots, block gossip and sync,
               finality votes), chosen with ``--engine poa``;
- ``cli``      ``add_simulate_parser``: the ``chameleon simulate`` subcommand.

Imports ``consensus`` and ``runtime`` only.
"""
