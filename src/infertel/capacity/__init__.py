"""Capacity: what one replica sustains within the SLO, and what a fleet needs.

:func:`estimate_capacity` fits the SLO concurrency and throughput of one replica from measured
requests; :func:`simulated_capacity` measures it on the simulator (also per fleet size);
:func:`plan_capacity` turns a request-rate history into growth scenarios with replicas, GPU-hours,
cost and the risk of breaching the SLO (``infertel capacity-plan`` prints it).

Example:
    >>> from infertel.capacity import simulated_capacity
    >>> from infertel.simulate import ReplicaModel
    >>> simulated_capacity(ReplicaModel(), lengths=[(500, 10)], duration_s=120.0).capacity_rps > 0
    True
"""

from __future__ import annotations

from infertel.capacity._measure import ReplicaCapacity, simulated_capacity, simulated_capacity_table
from infertel.capacity._model import CapacityEstimate, estimate_capacity
from infertel.capacity._plan import CapacityPlan, Scenario, plan_capacity

__all__ = [
    "CapacityEstimate",
    "CapacityPlan",
    "ReplicaCapacity",
    "Scenario",
    "estimate_capacity",
    "plan_capacity",
    "simulated_capacity",
    "simulated_capacity_table",
]
