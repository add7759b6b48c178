"""The inference instrumentation: ``observe``, ``inference``, ``current_inference``."""

from __future__ import annotations

from infertel._internal.instrument.block import InferenceBlock, inference
from infertel._internal.instrument.context import current_inference
from infertel._internal.instrument.invocation import Inference
from infertel._internal.instrument.observe import observe

__all__ = ["Inference", "InferenceBlock", "current_inference", "inference", "observe"]
