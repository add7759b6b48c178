"""Capacity: what one replica sustains within the SLO, and what a fleet needs.

Example:
    >>> from infertel.capacity import simulated_capacity
    >>> from infertel.simulate import ReplicaModel
    >>> simulated_capacity(ReplicaModel(), lengths=[(500, 10)], duration_s=120.0).capacity_rps > 0
    True
"""

from __future__ import annotations

from infertel.capacity._measure import ReplicaCapacity, simulated_capacity, simulated_capacity_table

__all__ = ["ReplicaCapacity", "simulated_capacity", "simulated_capacity_table"]
