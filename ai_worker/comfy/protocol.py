"""What ComfyUI says, read into typed values: pure functions over the server's JSON (no I/O).

Every shape here is taken from captures of a real ComfyUI 0.8.0 (docs/design.md, 'ComfyUI protocol'):

* POST /prompt: 200 ``{"prompt_id", "number", "node_errors"}``; 400 ``{"error": {type, message, details,
  extra_info}, "node_errors": {node_id: {"errors": [...], "dependent_outputs", "class_type"}}}``.
* WebSocket: ``{"type", "data"}`` text frames; completion is ``executing`` with ``node: null`` and our
  ``prompt_id``; the outcome is the ``execution_success`` / ``execution_error`` / ``execution_interrupted``
  message before it. A reconnecting socket can get an ``executing`` without ``prompt_id``.
* History entry: ``{"prompt", "outputs", "status": {"status_str", "completed", "messages": [[name, data]]}}``;
  an interrupt is ``status_str: "error"`` whose last message is ``execution_interrupted``.
* Outputs: VHS puts videos under ``gifs`` (with a ``workflow`` sidecar PNG named beside them); core
  ``SaveVideo`` under ``images`` with ``animated: [true]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ai_worker.core.errors import (
    ComfyUIError,
    ComfyUIExecutionError,
    ComfyUIInterruptedError,
    ComfyUIOutOfMemoryError,
    ComfyUIPermanentExecutionError,
    ComfyUIValidationError,
    InvalidOutputError,
)

MODEL_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
MODEL_INPUT_NAMES = frozenset(
    {"ckpt_name", "gemma_path", "ltxv_path", "text_encoder", "model_name", "upscale_model", "lora_name",
     "vae_name", "clip_name", "unet_name"}
)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".gif")
VIDEO_OUTPUT_CLASSES = frozenset({"VHS_VideoCombine", "SaveVideo"})

# The server reports a missing node type only as text in `error.message` (no structured field).
_MISSING_NODE = re.compile(r"node (\S+) does not exist")
_NODE_ID_DETAILS = re.compile(r"Node ID '#?([^']+)'")
# The OOM is only recognisable from text: ComfyUI passes torch's exception class name and message on.
_OOM_TYPE = re.compile(r"OutOfMemoryError", re.IGNORECASE)
_OOM_MESSAGE = re.compile(r"allocation on device|out of memory", re.IGNORECASE)

# Exception classes that say the code itself does not fit (a node pack built for another ComfyUI): the same
# call fails the same way on every retry, whatever the node.
_CODE_ERRORS = frozenset({"TypeError", "AttributeError", "ImportError", "ModuleNotFoundError", "NameError",
                          "NotImplementedError"})
_LOADER_CLASS = re.compile(r"Loader(Simple)?$|ModelLoader", re.IGNORECASE)
MESSAGE_LIMIT = 600
"""Characters of the server's exception message kept in ours (execution_error messages can exceed 12 kB)."""

Outcome = Literal["success", "error", "interrupted"]


# --- addresses and headers ----------------------------------------------------------------------------


def ws_url(base_url: str, client_id: str) -> str:
    """The WebSocket address for `base_url`: http -> ws, https -> wss, same host and path prefix."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"ComfyUI URL {base_url!r} must start with http:// or https://")
    return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", f"clientId={client_id}", ""))


def parse_auth_header(line: str | None) -> dict[str, str]:
    """`"Name: value"` (COMFYUI_AUTH_HEADER) as a one-entry header dict; empty when unset."""
    if not line:
        return {}
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"COMFYUI_AUTH_HEADER must look like 'Name: value', got {line!r}")
    return {name.strip(): value.strip()}


def prompt_body(graph: dict[str, Any], client_id: str, prompt_id: str) -> dict[str, Any]:
    """The exact JSON body of POST /prompt: the graph, our client id (so the events reach our socket) and our
    own prompt id (the server accepts it as is; knowing it before the POST leaves no moment in which a job
    runs on the server under an id nobody recorded)."""
    return {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}


def video_output_nodes(graph: dict[str, Any]) -> set[str]:
    """Node ids of the graph's video output nodes (VHS_VideoCombine, SaveVideo)."""
    return {node_id for node_id, node in graph.items()
            if isinstance(node, dict) and node.get("class_type") in VIDEO_OUTPUT_CLASSES}


# --- POST /prompt answers -------------------------------------------------------------------------------


def _is_model_input(input_name: str, value: object) -> bool:
    return input_name in MODEL_INPUT_NAMES or (
        isinstance(value, str) and value.lower().endswith(MODEL_FILE_SUFFIXES)
    )


def validation_error(body: dict[str, Any], graph: dict[str, Any], *, server: str) -> ComfyUIValidationError:
    """A readable `ComfyUIValidationError` from a POST /prompt rejection (or a 200 with node_errors).

    The message names each bad node (id and class), the input and the problem; a model file the server
    lacks and a node type it does not know are listed in `missing_models` / `missing_nodes`.
    """
    problems: list[str] = []
    missing_models: list[str] = []
    missing_nodes: list[str] = []
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    if error.get("type") == "invalid_prompt":
        message = str(error.get("message", ""))
        match = _NODE_ID_DETAILS.search(str(error.get("details", "")))
        node_id = match.group(1) if match else None
        node = graph.get(node_id) if node_id else None
        class_type = node.get("class_type") if isinstance(node, dict) else None
        if class_type is None:
            found = _MISSING_NODE.search(message)
            class_type = found.group(1) if found else None
        if class_type is not None and "does not exist" in message:
            missing_nodes.append(str(class_type))
            problems.append(f"node {node_id or '?'} uses node type '{class_type}', which is not installed")
        else:
            problems.append(f"{message} {error.get('details', '')}".strip())
    node_errors = body.get("node_errors")
    for node_id, entry in (node_errors or {}).items() if isinstance(node_errors, dict) else ():
        class_type = entry.get("class_type", "?") if isinstance(entry, dict) else "?"
        inputs = graph.get(node_id, {}).get("inputs", {}) if isinstance(graph.get(node_id), dict) else {}
        for err in entry.get("errors", []) if isinstance(entry, dict) else []:
            extra = err.get("extra_info") or {}
            input_name = str(extra.get("input_name") or err.get("details") or "?")
            value = extra.get("received_value", inputs.get(input_name))
            kind = str(err.get("type", "error"))
            where = f"node {node_id} ({class_type}) input '{input_name}'"
            if kind == "value_not_in_list" and _is_model_input(input_name, value):
                missing_models.append(str(value))
                problems.append(f"{where}: model file '{value}' is not on the server")
            else:
                detail = err.get("details") or ""
                problems.append(f"{where}: {err.get('message', kind)} ({kind}{': ' + detail if detail else ''})")
    if not problems:
        problems.append(str(error.get("message") or "the server rejected the workflow"))
    text = f"ComfyUI at {server} rejected the workflow: " + "; ".join(problems)
    return ComfyUIValidationError(text, server=server, missing_models=missing_models, missing_nodes=missing_nodes)


def blocking_node_errors(node_errors: object, graph: dict[str, Any]) -> bool:
    """True when a 200 answer's node_errors touch one of our video output nodes (so no clip would come)."""
    if not isinstance(node_errors, dict) or not node_errors:
        return False
    outputs = video_output_nodes(graph)
    if not outputs:
        return True
    for node_id, entry in node_errors.items():
        dependents = set(entry.get("dependent_outputs", [])) if isinstance(entry, dict) else set()
        if node_id in outputs or dependents & outputs:
            return True
    return False


# --- execution outcome ----------------------------------------------------------------------------------


def is_out_of_memory(exception_type: str, message: str) -> bool:
    """Recognise a GPU OOM. The server gives only text here (torch's class name and message), so match it:
    ``torch.OutOfMemoryError`` / ``torch.cuda.OutOfMemoryError``, or "Allocation on device" / "out of memory"."""
    return bool(_OOM_TYPE.search(exception_type) or _OOM_MESSAGE.search(message))


def model_files_of(current_inputs: object) -> list[str]:
    """The model files a failed node was given, from the execution_error's ``current_inputs`` (input name ->
    list of values; the server passes strings through as they are and reprs everything else)."""
    if not isinstance(current_inputs, dict):
        return []
    found: list[str] = []
    for input_name, values in current_inputs.items():
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and _is_model_input(str(input_name), value) and len(value) < 500:
                found.append(value)
    return found


def is_permanent(node_type: str, exception_type: str, current_inputs: object) -> bool:
    """An execution error that no retry on the same server can fix. Decided from the structured fields only:

    * the node is a loader (its class is a ``...Loader``/``...LoaderSimple``/``...ModelLoader``, or it was
      given a model file): whatever it raised (a missing or unreadable file, a bad safetensors header, a
      state-dict mismatch, a node pack that cannot build its model) happens again with the same file;
    * any node raising a code-level error (TypeError, AttributeError, ImportError, ...): a node pack that
      does not fit this ComfyUI, or a graph that does not fit the node.

    Out-of-memory is never permanent (a smaller rung may fit); callers check it first.
    """
    base = exception_type.rsplit(".", 1)[-1]
    if base in _CODE_ERRORS:
        return True
    return bool(_LOADER_CLASS.search(node_type)) or bool(model_files_of(current_inputs))


def execution_error(data: dict[str, Any], *, server: str, prompt_id: str) -> ComfyUIExecutionError:
    """The typed error for an `execution_error` message (or its history copy): out of memory, permanent (a
    loader or a node that cannot work on this server, see `is_permanent`), or an ordinary execution error."""
    node_id = data.get("node_id")
    node_type = str(data.get("node_type") or "")
    exc_type = str(data.get("exception_type") or "")
    exc_message = str(data.get("exception_message") or "").strip()
    if len(exc_message) > MESSAGE_LIMIT:
        exc_message = exc_message[:MESSAGE_LIMIT] + f"... ({len(exc_message)} characters)"
    where = f"ComfyUI at {server}: node {node_id} ({node_type or '?'})"
    cls: type[ComfyUIExecutionError]
    if is_out_of_memory(exc_type, exc_message):
        cls, text = ComfyUIOutOfMemoryError, f"{where} ran out of GPU memory: {exc_type}: {exc_message}"
    elif is_permanent(node_type, exc_type, data.get("current_inputs")):
        files = model_files_of(data.get("current_inputs"))
        what = f"cannot load {', '.join(files)}" if files else "cannot run on this server"
        cls = ComfyUIPermanentExecutionError
        text = (f"{where} {what}: {exc_type}: {exc_message} (this does not fix itself: check the file and the "
                "node pack with `wagglebot-video doctor`)")
    else:
        cls, text = ComfyUIExecutionError, f"{where} failed: {exc_type}: {exc_message}"
    return cls(text, server=server, prompt_id=prompt_id, node_id=None if node_id is None else str(node_id),
               node_type=node_type or None, exception_type=exc_type or None)


@dataclass(frozen=True)
class HistoryResult:
    """A finished prompt as history records it."""

    outcome: Outcome
    outputs: dict[str, Any]
    last_message: tuple[str, dict[str, Any]] | None


def parse_history(body: object, prompt_id: str) -> HistoryResult | None:
    """The entry for `prompt_id` in a GET /history/{id} answer, or None while it is queued/running/unknown."""
    if not isinstance(body, dict):
        return None
    entry = body.get(prompt_id)
    if not isinstance(entry, dict):
        return None
    raw_status = entry.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    messages = [m for m in status.get("messages", []) if isinstance(m, list) and len(m) == 2]
    last = (str(messages[-1][0]), dict(messages[-1][1])) if messages else None
    names = [str(m[0]) for m in messages]
    outcome: Outcome
    if "execution_interrupted" in names:
        outcome = "interrupted"
    elif status.get("status_str") == "success" or "execution_success" in names:
        outcome = "success"
    else:
        outcome = "error"
    raw_outputs = entry.get("outputs")
    outputs: dict[str, Any] = raw_outputs if isinstance(raw_outputs, dict) else {}
    return HistoryResult(outcome=outcome, outputs=outputs, last_message=last)


def raise_for_outcome(result: HistoryResult, *, server: str, prompt_id: str) -> None:
    """Raise the typed error for an unsuccessful history entry; return for a success."""
    if result.outcome == "success":
        return
    if result.outcome == "interrupted":
        node = result.last_message[1].get("node_id") if result.last_message else None
        raise ComfyUIInterruptedError(
            f"ComfyUI at {server}: prompt {prompt_id} was interrupted (at node {node})",
            server=server, prompt_id=prompt_id)
    if result.last_message and result.last_message[0] == "execution_error":
        raise execution_error(result.last_message[1], server=server, prompt_id=prompt_id)
    raise ComfyUIError(f"ComfyUI at {server}: prompt {prompt_id} failed without an error message",
                       server=server, prompt_id=prompt_id)


# --- queue ----------------------------------------------------------------------------------------------

QueueState = Literal["running", "pending", "absent"]


def queue_state(body: object, prompt_id: str) -> QueueState:
    """Where `prompt_id` is in a GET /queue answer (items are ``[number, prompt_id, graph, extra, outputs]``)."""
    if not isinstance(body, dict):
        return "absent"
    for key, state in (("queue_running", "running"), ("queue_pending", "pending")):
        for item in body.get(key, []) or []:
            if isinstance(item, list) and len(item) > 1 and item[1] == prompt_id:
                return state  # type: ignore[return-value]
    return "absent"


# --- outputs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputFile:
    """One file a node reported: where it is relative to the server's output (or temp) folder."""

    filename: str
    subfolder: str
    type: str

    @property
    def relative_path(self) -> PurePosixPath:
        return PurePosixPath(self.subfolder) / self.filename if self.subfolder else PurePosixPath(self.filename)

    def view_params(self) -> dict[str, str]:
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}


def _checked(entry: dict[str, Any], *, server: str, prompt_id: str) -> OutputFile:
    filename = str(entry.get("filename", ""))
    subfolder = str(entry.get("subfolder", "") or "")
    kind = str(entry.get("type", "output") or "output")
    for label, value in (("filename", filename), ("subfolder", subfolder)):
        parts = value.replace("\\", "/").split("/")
        if ".." in parts or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or "\x00" in value:
            raise InvalidOutputError(
                f"ComfyUI at {server} named an unsafe output {label} {value!r} (prompt {prompt_id}); refused",
                server=server, prompt_id=prompt_id)
    if not filename or "/" in filename or "\\" in filename:
        raise InvalidOutputError(
            f"ComfyUI at {server} named an unusable output file {filename!r} (prompt {prompt_id})",
            server=server, prompt_id=prompt_id)
    if kind not in ("output", "temp"):
        raise InvalidOutputError(f"ComfyUI at {server} reported output type {kind!r}; expected output or temp",
                                 server=server, prompt_id=prompt_id)
    return OutputFile(filename=filename, subfolder=subfolder, type=kind)


def video_outputs(outputs: dict[str, Any], *, server: str, prompt_id: str) -> list[OutputFile]:
    """The video files in a history `outputs` dict, in node order.

    VHS entries are under ``gifs``; their ``workflow`` sidecar PNG is a separate key and never a result.
    Core SaveVideo entries are under ``images`` with ``animated: [true]``; still images are skipped.
    Names with ``..`` or absolute paths raise `InvalidOutputError`.
    """
    found: list[OutputFile] = []
    for node_output in outputs.values():
        if not isinstance(node_output, dict):
            continue
        entries: list[Any] = list(node_output.get("gifs") or [])
        animated = node_output.get("animated") or []
        if any(bool(flag) for flag in animated):
            entries.extend(node_output.get("images") or [])
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            checked = _checked(entry, server=server, prompt_id=prompt_id)
            if checked.filename.lower().endswith(VIDEO_SUFFIXES):
                found.append(checked)
    return found
