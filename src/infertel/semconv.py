"""Every attribute name, metric name, unit and bucket boundary infertel emits.

Names follow the OpenTelemetry semantic conventions where they exist (``gen_ai.*``,
``hw.*``, ``system.*``, ``process.*``, ``error.type``, ``server.*``) and live under
``infertel.*`` otherwise. Call sites use these constants, never string literals.

Example:
    >>> from infertel import semconv
    >>> semconv.GEN_AI_REQUEST_MODEL
    'gen_ai.request.model'
"""

from __future__ import annotations

from typing import Final

# --- GenAI span and metric attributes (semantic conventions, gen-ai registry) ---------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from a provider-managed cache (included in ``gen_ai.usage.input_tokens``)."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens spent on reasoning (included in ``gen_ai.usage.output_tokens``)."""
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
"""The output modality the client asked for (``text``, ``json``, ``image``, ``speech``)."""
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""True on spans of streamed requests (set only then: unset means not streamed)."""
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from the start of the call to the first chunk of a streamed response (span attribute)."""
GEN_AI_TOKEN_MODALITY: Final = "gen_ai.token.modality"
"""Modality of the counted tokens on the ``gen_ai.client.inference.usage.*`` counters."""
GEN_AI_TOKEN_MODALITY_UNKNOWN: Final = "unknown"
"""``gen_ai.token.modality`` when the provider does not break usage down by modality."""
GEN_AI_FINISH_REASON_ERROR: Final = "error"
"""The finish reason of a generation that ended abnormally (an error, a cancelled or cut-off stream)."""
GEN_AI_FINISH_REASON_STOP: Final = "stop"
"""The finish reason of a generation that ended normally when the model reported none."""

# --- Exceptions (semantic-conventions-genai: gen_ai.client.operation.exception event) --------
GEN_AI_CLIENT_OPERATION_EXCEPTION: Final = "gen_ai.client.operation.exception"
"""Event name (a log record, severity WARN) of an exception that failed a GenAI operation."""
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# Values of gen_ai.token.type
GEN_AI_TOKEN_TYPE_INPUT: Final = "input"
GEN_AI_TOKEN_TYPE_OUTPUT: Final = "output"

# Well-known values of gen_ai.operation.name
GEN_AI_OPERATION_CHAT: Final = "chat"
GEN_AI_OPERATION_TEXT_COMPLETION: Final = "text_completion"
GEN_AI_OPERATION_EMBEDDINGS: Final = "embeddings"
GEN_AI_OPERATION_GENERATE_CONTENT: Final = "generate_content"

# --- General attributes ----------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_OTHER: Final = "_OTHER"
"""The ``error.type`` value the conventions reserve for an error with no better name."""
SERVICE_NAME: Final = "service.name"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
OTEL_METRIC_OVERFLOW: Final = "otel.metric.overflow"

# --- infertel attributes (no semantic convention exists) -------------------------------------
INFERTEL_STREAM_END_REASON: Final = "infertel.stream.end_reason"
"""How a stream ended: one of the ``STREAM_END_*`` values below."""
INFERTEL_STREAM_CHUNKS: Final = "infertel.stream.chunks"
INFERTEL_TIME_PER_OUTPUT_TOKEN: Final = "infertel.time_per_output_token"
INFERTEL_OUTPUT_TOKENS_PER_SECOND: Final = "infertel.output_tokens_per_second"
INFERTEL_VERSION: Final = "infertel.version"
"""Resource attribute carrying the infertel version."""

STREAM_END_EXHAUSTED: Final = "exhausted"
STREAM_END_CLOSED: Final = "closed"
STREAM_END_ABANDONED: Final = "abandoned"
STREAM_END_ERROR: Final = "error"
STREAM_END_CANCELLED: Final = "cancelled"
STREAM_END_CLIENT_DISCONNECTED: Final = "client_disconnected"
"""A server-side stream whose client went away before the response completed (also its ``error.type``)."""
STREAM_END_SHUTDOWN: Final = "shutdown"
"""The stream was still open when ``infertel.shutdown()`` ran (also at exit and on SIGTERM)."""

# --- GenAI metrics (semantic conventions) ----------------------------------------------------
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"
GEN_AI_SERVER_REQUEST_DURATION: Final = "gen_ai.server.request.duration"
GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: Final = "gen_ai.server.time_to_first_token"
GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: Final = "gen_ai.server.time_per_output_token"

# Newer names (semantic-conventions-genai, development), emitted when OTEL_SEMCONV_STABILITY_OPT_IN
# lists ``gen_ai_latest_experimental`` (only these) or ``gen_ai_latest_experimental/dup`` (both).
GEN_AI_CLIENT_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.inference.time_per_output_chunk"
GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
"""Counter ({token}) by ``gen_ai.token.modality``."""
GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
"""Counter ({token}) by ``gen_ai.token.modality``."""
GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
"""Histogram ({token}): input tokens per operation (no modality)."""
GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
"""Histogram ({token}): output tokens per operation (no modality)."""
GEN_AI_CLIENT_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
"""Histogram (s): duration of an ``embeddings`` operation (instead of ``gen_ai.client.inference.duration``)."""
GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.embeddings.operation.input_tokens"
"""Histogram ({token}): input tokens per ``embeddings`` operation."""
OTEL_SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Environment variable (comma-separated) read by ``configure()``; see :data:`GEN_AI_LATEST_EXPERIMENTAL`."""
GEN_AI_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"
"""Opt-in value: the newer GenAI metric names only."""
GEN_AI_LATEST_EXPERIMENTAL_DUP: Final = "gen_ai_latest_experimental/dup"
"""Opt-in value: the newer and the older GenAI metric names side by side."""

# --- Units (UCUM) ----------------------------------------------------------------------------
UNIT_SECONDS: Final = "s"
UNIT_BYTES: Final = "By"
UNIT_RATIO: Final = "1"
UNIT_TOKENS: Final = "{token}"
UNIT_REQUESTS: Final = "{request}"
UNIT_WATTS: Final = "W"
UNIT_JOULES: Final = "J"
UNIT_CELSIUS: Final = "Cel"

# --- Recommended explicit bucket boundaries (semantic conventions) ---------------------------
# fmt: off
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
"""For gen_ai.client.operation.duration and gen_ai.server.request.duration."""
TOKEN_USAGE_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
"""For gen_ai.client.token.usage."""
TIME_TO_FIRST_TOKEN_BUCKETS: Final = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
"""For gen_ai.server.time_to_first_token."""
TIME_PER_OUTPUT_TOKEN_BUCKETS: Final = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)
"""For gen_ai.server.time_per_output_token."""
TIME_TO_FIRST_CHUNK_BUCKETS: Final = DURATION_BUCKETS
"""For gen_ai.client.operation.time_to_first_chunk (the semantic conventions reuse the duration buckets)."""
TIME_PER_OUTPUT_CHUNK_BUCKETS: Final = DURATION_BUCKETS
"""For gen_ai.client.operation.time_per_output_chunk (the semantic conventions reuse the duration buckets)."""

# --- Instrumentation scope -------------------------------------------------------------------
INSTRUMENTATION_SCOPE: Final = "infertel"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
"""Schema URL of every instrumentation scope infertel creates (tracers, meters, loggers)."""

# --- Instrumentation distributions (infertel-instrumentation-openai / -transformers) ---------
GEN_AI_PROVIDER_OPENAI: Final = "openai"
"""gen_ai.provider.name of the openai client instrumentation (semantic-convention value)."""
GEN_AI_PROVIDER_TRANSFORMERS: Final = "transformers"
"""gen_ai.provider.name of in-process Hugging Face transformers models (no convention value exists)."""
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
INFERTEL_MODEL_DEVICE: Final = "infertel.model.device"
"""Device the in-process model ran on, as torch writes it (``cpu``, ``cuda:0``, ``mps``)."""
INFERTEL_MODEL_DTYPE: Final = "infertel.model.dtype"
"""Parameter dtype of the in-process model, as torch writes it without the prefix (``float32``, ``bfloat16``)."""
INFERTEL_REQUEST_BATCH_SIZE: Final = "infertel.request.batch_size"
"""Number of prompts (input rows) in one generate call or pipeline call."""

# --- Resource metrics: hardware (GPU) semantic conventions -----------------------------------
HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"
"""Gauge, unit ``1``: fraction of time the GPU spent on a task (``hw.gpu.task``)."""
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"
"""Gauge, unit ``1``: fraction of the GPU memory used (used / limit)."""
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used."""
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
"""UpDownCounter, unit ``By``: size of the GPU memory."""
HW_GPU_IO: Final = "hw.gpu.io"
"""Counter, unit ``By``: bytes received and transmitted by the GPU (``network.io.direction``)."""
HW_POWER: Final = "hw.power"
"""Gauge, unit ``W``: instantaneous power drawn by the component."""
HW_ENERGY: Final = "hw.energy"
"""Counter, unit ``J``: energy consumed by the component."""
HW_TEMPERATURE: Final = "hw.temperature"
"""Gauge, unit ``Cel``: temperature of the component."""
HW_ERRORS: Final = "hw.errors"
"""Counter, unit ``{error}``: errors encountered by the component (``error.type``)."""
HW_STATUS: Final = "hw.status"
"""UpDownCounter, unit ``1``: 1 for the component's current ``hw.state``, 0 for the others."""

HW_ID: Final = "hw.id"
HW_NAME: Final = "hw.name"
HW_MODEL: Final = "hw.model"
HW_VENDOR: Final = "hw.vendor"
HW_TYPE: Final = "hw.type"
HW_PARENT: Final = "hw.parent"
HW_STATE: Final = "hw.state"
HW_DRIVER_VERSION: Final = "hw.driver_version"
HW_GPU_TASK: Final = "hw.gpu.task"
NETWORK_IO_DIRECTION: Final = "network.io.direction"
PROCESS_PID: Final = "process.pid"

HW_TYPE_GPU: Final = "gpu"
HW_STATE_OK: Final = "ok"
HW_STATE_FAILED: Final = "failed"
HW_GPU_TASK_GENERAL: Final = "general"
HW_GPU_TASK_ENCODER: Final = "encoder"
HW_GPU_TASK_DECODER: Final = "decoder"
NETWORK_IO_DIRECTION_RECEIVE: Final = "receive"
NETWORK_IO_DIRECTION_TRANSMIT: Final = "transmit"
HW_ERROR_TYPE_CORRECTED: Final = "corrected"
HW_ERROR_TYPE_UNCORRECTED: Final = "uncorrected"
HW_VENDOR_NVIDIA: Final = "NVIDIA"

UNIT_ERRORS: Final = "{error}"

# --- Resource metrics: infertel GPU names (no semantic convention exists) --------------------
INFERTEL_GPU_PCI_BUS_ID: Final = "infertel.gpu.pci_bus_id"
"""PCI bus id of the GPU as NVML writes it (``00000000:3B:00.0``); ``hw.id`` is the GPU UUID."""
INFERTEL_GPU_PROCESS_MEMORY_USAGE: Final = "infertel.gpu.process.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used by one process (``process.pid``) on one GPU (``hw.id``).

The PIDs are the ones NVML reports, in the host's PID namespace.
"""
INFERTEL_PROCESS_GPU_MEMORY_USAGE: Final = "infertel.process.gpu.memory.usage"
"""UpDownCounter, unit ``By``: GPU memory used by this process on one GPU (``hw.id``)."""

# --- Resource metrics: system and process (semantic conventions: system, process, cpython) ---
SYSTEM_CPU_TIME: Final = "system.cpu.time"
"""Counter, unit ``s``: seconds the CPUs spent in each ``cpu.mode``."""
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
"""Gauge, unit ``1``: fraction of CPU time in each ``cpu.mode`` over the last interval."""
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
"""UpDownCounter, unit ``By``: memory by ``system.memory.state``."""
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
"""Gauge, unit ``1``: fraction of memory by ``system.memory.state``."""
SYSTEM_PAGING_USAGE: Final = "system.paging.usage"
"""UpDownCounter, unit ``By``: swap by ``system.paging.state``."""
SYSTEM_PAGING_UTILIZATION: Final = "system.paging.utilization"
"""Gauge, unit ``1``: fraction of swap by ``system.paging.state``."""
SYSTEM_DISK_IO: Final = "system.disk.io"
"""Counter, unit ``By``: disk bytes by ``system.device`` and ``disk.io.direction``."""
SYSTEM_DISK_OPERATIONS: Final = "system.disk.operations"
"""Counter, unit ``{operation}``: disk operations by ``system.device`` and ``disk.io.direction``."""
SYSTEM_DISK_IO_TIME: Final = "system.disk.io_time"
"""Counter, unit ``s``: time each ``system.device`` was busy."""
SYSTEM_DISK_OPERATION_TIME: Final = "system.disk.operation_time"
"""Counter, unit ``s``: summed duration of operations by ``system.device`` and ``disk.io.direction``."""
SYSTEM_NETWORK_IO: Final = "system.network.io"
"""Counter, unit ``By``: bytes by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_PACKET_COUNT: Final = "system.network.packet.count"
"""Counter, unit ``{packet}``: packets by ``system.device`` and ``network.io.direction``."""
SYSTEM_NETWORK_PACKET_DROPPED: Final = "system.network.packet.dropped"
"""Counter, unit ``{packet}``: dropped packets by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_ERRORS: Final = "system.network.errors"
"""Counter, unit ``{error}``: errors by ``network.interface.name`` and ``network.io.direction``."""
SYSTEM_NETWORK_CONNECTION_COUNT: Final = "system.network.connection.count"
"""UpDownCounter, unit ``{connection}``: sockets by ``network.transport`` and ``network.connection.state``."""
PROCESS_CPU_TIME: Final = "process.cpu.time"
"""Counter, unit ``s``: CPU seconds of this process by ``cpu.mode``."""
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
"""Gauge, unit ``1``: CPU of this process by ``cpu.mode``, as a fraction of all logical CPUs."""
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
"""UpDownCounter, unit ``By``: resident memory of this process."""
PROCESS_MEMORY_VIRTUAL: Final = "process.memory.virtual"
"""UpDownCounter, unit ``By``: virtual memory of this process."""
PROCESS_THREAD_COUNT: Final = "process.thread.count"
"""UpDownCounter, unit ``{thread}``: threads of this process."""
PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: Final = "process.unix.file_descriptor.count"
"""UpDownCounter, unit ``{file_descriptor}``: open file descriptors of this process (POSIX)."""
PROCESS_DISK_IO: Final = "process.disk.io"
"""Counter, unit ``By``: disk bytes of this process by ``disk.io.direction``."""
PROCESS_CONTEXT_SWITCHES: Final = "process.context_switches"
"""Counter, unit ``{context_switch}``: context switches by ``process.context_switch.type``."""
CPYTHON_GC_COLLECTIONS: Final = "cpython.gc.collections"
"""Counter, unit ``{collection}``: garbage collections by ``cpython.gc.generation``."""
CPYTHON_GC_COLLECTED_OBJECTS: Final = "cpython.gc.collected_objects"
"""Counter, unit ``{object}``: objects the garbage collector freed, by ``cpython.gc.generation``."""
CPYTHON_GC_UNCOLLECTABLE_OBJECTS: Final = "cpython.gc.uncollectable_objects"
"""Counter, unit ``{object}``: uncollectable objects found, by ``cpython.gc.generation``."""

CPU_MODE: Final = "cpu.mode"
CPU_LOGICAL_NUMBER: Final = "cpu.logical_number"
SYSTEM_MEMORY_STATE: Final = "system.memory.state"
SYSTEM_PAGING_STATE: Final = "system.paging.state"
SYSTEM_DEVICE: Final = "system.device"
DISK_IO_DIRECTION: Final = "disk.io.direction"
NETWORK_INTERFACE_NAME: Final = "network.interface.name"
NETWORK_CONNECTION_STATE: Final = "network.connection.state"
NETWORK_TRANSPORT: Final = "network.transport"
PROCESS_CONTEXT_SWITCH_TYPE: Final = "process.context_switch.type"
CPYTHON_GC_GENERATION: Final = "cpython.gc.generation"

DEPRECATED_SYSTEM_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "process.open_file_descriptor.count": (PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,),
    "system.network.connections": (SYSTEM_NETWORK_CONNECTION_COUNT,),
    "system.network.packets": (SYSTEM_NETWORK_PACKET_COUNT,),
    "system.network.dropped": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.network.dropped.packets": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.network.dropped_packets": (SYSTEM_NETWORK_PACKET_DROPPED,),
    "system.swap.usage": (SYSTEM_PAGING_USAGE,),
    "system.swap.utilization": (SYSTEM_PAGING_UTILIZATION,),
    "system.disk.time": (SYSTEM_DISK_OPERATION_TIME,),
    "system.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.memory": (PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL),
    "process.runtime.cpython.memory": (PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL),
    "process.runtime.cpu.time": (PROCESS_CPU_TIME,),
    "process.runtime.cpython.cpu_time": (PROCESS_CPU_TIME,),
    "process.runtime.cpu.utilization": (PROCESS_CPU_UTILIZATION,),
    "process.runtime.cpython.cpu.utilization": (PROCESS_CPU_UTILIZATION,),
    "process.runtime.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.cpython.thread_count": (PROCESS_THREAD_COUNT,),
    "process.runtime.context_switches": (PROCESS_CONTEXT_SWITCHES,),
    "process.runtime.cpython.context_switches": (PROCESS_CONTEXT_SWITCHES,),
    "process.runtime.gc_count": (CPYTHON_GC_COLLECTIONS,),
    "process.runtime.cpython.gc_count": (CPYTHON_GC_COLLECTIONS,),
}
"""Deprecated system/process metric names (those of ``opentelemetry-instrumentation-system-metrics``,
its ``config`` keys, and earlier semantic conventions) -> the current names that replace them.
Accepted in ``INFERTEL_RESOURCE_METRICS_LIST`` with a one-time ``FutureWarning``; never emitted."""

# --- Durable export (infertel-exporter-durable) ----------------------------------------------
INFERTEL_EXPORTER_SPOOL_DROPPED: Final = "infertel.exporter.spool.dropped"
"""Counter ({item}): spans, metric points or log records lost for good, by ``infertel.drop.reason``."""
INFERTEL_EXPORTER_SPOOL_SIZE: Final = "infertel.exporter.spool.size"
"""UpDownCounter (By): bytes the spool occupies on disk (and in memory when the disk failed)."""
INFERTEL_EXPORTER_SPOOL_BACKLOG: Final = "infertel.exporter.spool.backlog"
"""UpDownCounter ({item}): items accepted and not yet acknowledged by the collector."""
INFERTEL_EXPORTER_SPOOL_CORRUPT: Final = "infertel.exporter.spool.corrupt"
"""Counter ({record}): torn or corrupt spool records discarded while replaying."""
INFERTEL_EXPORTER_DELIVERED: Final = "infertel.exporter.delivered"
"""Counter ({item}): items the collector acknowledged."""
INFERTEL_SIGNAL: Final = "infertel.signal"
"""Attribute: ``traces``, ``metrics`` or ``logs``."""
INFERTEL_DROP_REASON: Final = "infertel.drop.reason"
"""Attribute: why items were dropped (``queue_full``, ``spool_bound``, ``too_large``, ``expired``,
``rejected``, ``memory_full``, ``encode_error``, ``shutdown``)."""

# --- Component status (infertel.status()) ---------------------------------------------------
INFERTEL_EXPORT_DROPPED: Final = "infertel.export.dropped"
"""Counter ({item}): items an exporter ``configure()`` installed lost for good (a store write that
failed, a spool bound), by ``infertel.component`` and ``infertel.signal``."""
INFERTEL_STORE_ERRORS: Final = "infertel.store.errors"
"""Counter ({error}): write transactions of the embedded store that failed, by ``infertel.signal``."""
INFERTEL_COMPONENT: Final = "infertel.component"
"""Attribute: the kind of component (``sqlite-store``, ``durable-otlp``), as ``infertel.status()`` names it."""
UNIT_ITEMS: Final = "{item}"
UNIT_RECORDS: Final = "{record}"
UNIT_OPERATIONS: Final = "{operation}"
UNIT_THREADS: Final = "{thread}"
UNIT_FILE_DESCRIPTORS: Final = "{file_descriptor}"
UNIT_PACKETS: Final = "{packet}"
UNIT_CONNECTIONS: Final = "{connection}"
UNIT_CONTEXT_SWITCHES: Final = "{context_switch}"
UNIT_COLLECTIONS: Final = "{collection}"
UNIT_OBJECTS: Final = "{object}"

# --- infertel demo ---------------------------------------------------------------------------
INFERTEL_DEMO_RUN_ID: Final = "infertel.demo.run_id"
"""Resource attribute of ``infertel demo`` telemetry: tells one run's spans from earlier runs in the store."""
INFERTEL_DEMO_CALL_STYLE: Final = "infertel.demo.call_style"
"""Span attribute of ``infertel demo`` calls: which API shape made the call (``async``, ``async_stream`` ...)."""

# --- infertel live statistics (span processors, infertel.stats()) ----------------------------
# Observable gauges published from the in-process sliding-window statistics; each carries the
# series attributes (gen_ai.request.model, gen_ai.operation.name, extra attributes, or
# otel.metric.overflow=true) plus STATS_WINDOW and, for distributions, STATS_QUANTILE.
INFERTEL_GEN_AI_LATENCY: Final = "infertel.gen_ai.latency"
"""Gauge (s): latency quantile of the requests that ended in the window."""
INFERTEL_GEN_AI_TIME_TO_FIRST_TOKEN: Final = "infertel.gen_ai.time_to_first_token"
"""Gauge (s): time-to-first-token quantile (streams)."""
INFERTEL_GEN_AI_TIME_PER_OUTPUT_TOKEN: Final = "infertel.gen_ai.time_per_output_token"
"""Gauge (s): time-per-output-token quantile (streams)."""
INFERTEL_GEN_AI_DECODE_SPEED: Final = "infertel.gen_ai.decode_speed"
"""Gauge ({token}/s): quantile of each request's output tokens per second."""
INFERTEL_GEN_AI_OUTPUT_TOKENS_PER_SECOND: Final = "infertel.gen_ai.output_tokens_per_second"
"""Gauge ({token}/s): output tokens of all requests together per second over the window."""
INFERTEL_GEN_AI_INPUT_TOKENS_PER_SECOND: Final = "infertel.gen_ai.input_tokens_per_second"
"""Gauge ({token}/s): input tokens of all requests together per second over the window."""
INFERTEL_GEN_AI_REQUESTS_PER_SECOND: Final = "infertel.gen_ai.requests_per_second"
"""Gauge ({request}/s): requests ended per second over the window."""
INFERTEL_GEN_AI_ERROR_RATE: Final = "infertel.gen_ai.error_rate"
"""Gauge (1): failed / all requests over the window."""
INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE: Final = "infertel.gen_ai.error_rate_by_type"
"""Gauge (1): requests failed with one ``error.type`` / all requests over the window."""
INFERTEL_GEN_AI_IN_FLIGHT: Final = "infertel.gen_ai.in_flight"
"""Gauge ({request}): requests started and not ended (no window)."""
INFERTEL_TIME_IN_QUEUE: Final = "infertel.time_in_queue"
"""Span attribute (s): how long the request waited in the server's queue before its prefill (set it when known)."""
VLLM_TIME_IN_QUEUE: Final = "gen_ai.latency.time_in_queue"
"""Span attribute (s): vLLM's name for the same wait (its OpenTelemetry tracing); read by ``infertel.analysis``."""
INFERTEL_COST_USD: Final = "infertel.cost.usd"
"""Span attribute (USD): the request's token cost from the price table (``configure(prices=...)``)."""
INFERTEL_COST: Final = "infertel.cost"
"""Counter ({USD}): token cost of the requests priced, by ``gen_ai.request.model`` and ``gen_ai.operation.name``."""
INFERTEL_COST_UNIT: Final = "{USD}"
STATS_QUANTILE: Final = "quantile"
"""Gauge attribute: the quantile as a string, e.g. ``"0.99"``."""
STATS_WINDOW: Final = "window"
"""Gauge attribute: the window length, e.g. ``"60s"``."""
UNIT_TOKENS_PER_SECOND: Final = "{token}/s"
UNIT_REQUESTS_PER_SECOND: Final = "{request}/s"

# --- Autoscaling signal (infertel.autoscaling) -----------------------------------------------
# Observable gauges of the latest PredictiveAutoscaler decision, for KEDA's Prometheus scaler or
# an HPA external metric; each carries AUTOSCALING_REASON on the desired-replicas gauge only.
INFERTEL_AUTOSCALING_DESIRED_REPLICAS: Final = "infertel.autoscaling.desired_replicas"
"""Gauge ({replica}): the replica count the policy recommends now."""
INFERTEL_AUTOSCALING_CURRENT_REPLICAS: Final = "infertel.autoscaling.current_replicas"
"""Gauge ({replica}): replicas running or starting when the recommendation was made."""
INFERTEL_AUTOSCALING_FORECAST_RATE: Final = "infertel.autoscaling.forecast.requests_per_second"
"""Gauge ({request}/s): mean forecast request rate over the look-ahead (cold start + interval)."""
INFERTEL_AUTOSCALING_FORECAST_UPPER_RATE: Final = "infertel.autoscaling.forecast.requests_per_second.upper"
"""Gauge ({request}/s): the prediction interval's upper bound used for scale-up."""
INFERTEL_AUTOSCALING_CAPACITY: Final = "infertel.autoscaling.capacity.requests_per_second"
"""Gauge ({request}/s): measured sustainable request rate per replica at the SLO."""
INFERTEL_AUTOSCALING_TARGET_RUNNING: Final = "infertel.autoscaling.target_running"
"""Gauge ({request}): running requests per replica the policy holds."""
AUTOSCALING_REASON: Final = "infertel.autoscaling.reason"
"""Gauge attribute: what set the recommendation (forecast, load, rate, ttft, kv_cache, stabilization, cooldown,
queue)."""
UNIT_REPLICAS: Final = "{replica}"

# --- Deprecated names (no longer emitted; removed in the next minor release) -----------------
_DEPRECATED: Final = {
    "INFERTEL_STREAM": ("infertel.stream", "GEN_AI_REQUEST_STREAM"),
    "INFERTEL_TIME_TO_FIRST_TOKEN": ("infertel.time_to_first_token", "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK"),
}
"""Old constant -> (its value, the constant of the semantic-convention name that replaced it)."""


def __getattr__(name: str) -> str:
    """The deprecated constants, with a ``DeprecationWarning`` naming the replacement.

    Example:
        >>> import warnings
        >>> from infertel import semconv
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     semconv.INFERTEL_STREAM
        'infertel.stream'
    """
    found = _DEPRECATED.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value, replacement = found
    import warnings

    warnings.warn(
        f"infertel.semconv.{name} ({value!r}) is deprecated and no longer emitted; "
        f"use infertel.semconv.{replacement} ({globals()[replacement]!r})",
        DeprecationWarning,
        stacklevel=2,
    )
    return value

# --- alerting: remediation and scheduled actions (issue 14) -----------------------------------
INFERTEL_REMEDIATION_ACTION: Final = "infertel.remediation.action"
"""The name of a remediation or scheduled action (span attribute)."""
INFERTEL_REMEDIATION_TRIGGER: Final = "infertel.remediation.trigger"
"""What ran it: ``fire``, ``resolve`` or ``schedule``."""
INFERTEL_REMEDIATION_OUTCOME: Final = "infertel.remediation.outcome"
"""``ok``, ``failed``, ``timeout``, ``dry_run``, ``rate_limited`` or ``busy``."""
INFERTEL_REMEDIATION_DRY_RUN: Final = "infertel.remediation.dry_run"
"""Whether the action only said what it would do."""
INFERTEL_ALERT_NAME: Final = "infertel.alert.name"
"""The alert (rule) name a remediation ran for."""
INFERTEL_ALERT_FINGERPRINT: Final = "infertel.alert.fingerprint"
"""The alert instance's fingerprint (16 hex digits)."""
