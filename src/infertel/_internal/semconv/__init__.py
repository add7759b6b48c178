"""The constants of :mod:`infertel.semconv`, one module per subject (that public module re-exports them all).

- :mod:`.inference`: the names on an inference call's spans, events and metrics, their units and buckets;
- :mod:`.resources`: hardware (GPU), system and process metrics and their attributes;
- :mod:`.components`: what infertel's own components emit (durable export, status, demo, live statistics,
  autoscaling, remediation).
"""
