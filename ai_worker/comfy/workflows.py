"""LTX-2 workflows in ComfyUI's API format: loading, checking and patching.

A workflow file is exactly what ``POST /prompt`` takes as ``prompt``: ``{node_id: {"class_type", "inputs",
"_meta"}}``. Each node says which of its inputs are parameters in ``_meta.parameters`` (input name ->
parameter name); ComfyUI ignores ``_meta`` apart from the title, so a file stays directly postable. One
parameter may feed several nodes (``frame_rate`` goes to the conditioning and to the video writer, so the
model is conditioned on the rate the clip is encoded at). String inputs with no sensible default hold a
``{{name}}`` placeholder, and a graph with one left unfilled is never sent.

Patching is strict on purpose: a parameter the workflow does not declare is an error, not a silent no-op,
because a distilled workflow has a fixed sigma schedule and CFG 1 and must not pretend to take ``steps`` or
``cfg``. Use `params_for` to keep only what a workflow takes.

The bundled graphs come in sets (`workflow_sets`; COMFYUI_WORKFLOW_SET picks one). The user's folder
(``COMFYUI_WORKFLOW_DIR``) is searched before the set's folder, so a user can replace a workflow by dropping a
file with the same name there.

Prompt text goes through `neutralise_prompt` when the set's text encoder parses ComfyUI's prompt syntax: on
ComfyUI 0.8.0 a ``(word)`` or ``(word:1.2)`` in a short prompt crashes the LTX-2 Gemma encoder
(``IndexError`` in ``comfy/sd1_clip.py``) and in a long one silently weights the wrong axis.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ai_worker.comfy.workflow_names import workflow_name_for
from ai_worker.comfy.workflow_sets import DEFAULT_WORKFLOW_SET, WorkflowSet, workflow_set
from ai_worker.core.errors import WorkflowError
from ai_worker.model.backend import ClipRequest, ModelVariant
from ai_worker.model.paths import safe_name
from config.settings import Settings

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MODEL_FILE_INPUTS: frozenset[str] = frozenset(
    {
        "ckpt_name",
        "gemma_path",
        "ltxv_path",
        "model_name",
        "text_encoder",
        "lora_name",
        "vae_name",
        "clip_name",
        "unet_name",
    }
)
"""Inputs that name a file under ComfyUI's models/ folder (checked by `doctor` against /object_info)."""

STANDARD_PARAMETERS: tuple[str, ...] = (
    "positive_prompt",
    "negative_prompt",
    "width",
    "height",
    "length",
    "frame_rate",
    "steps",
    "cfg",
    "noise_seed",
    "init_image",
    "strength",
    "checkpoint",
    "text_encoder",
    "filename_prefix",
    "upscale_model",
    "distilled_lora",
)
"""The parameter names `build_params` fills; a user's workflow should use these names."""

FILENAME_PREFIX_FOLDER = "wagglebot"
"""Subfolder of ComfyUI's output folder our clips are written to."""

ParamValue = str | int | float | bool


@dataclass(frozen=True)
class Workflow:
    """One loaded workflow: its file name, API-format graph and declared parameters."""

    name: str
    graph: dict[str, Any]
    parameters: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    source: Path | None = None

    def node_classes(self) -> set[str]:
        """Every node class the graph uses (the server must have them all)."""
        return {str(node["class_type"]) for node in self.graph.values()}

    def model_files(self) -> dict[str, set[str]]:
        """Model-file inputs (ckpt_name, gemma_path, ...) -> the literal file names the graph names."""
        found: dict[str, set[str]] = {}
        for _node_id, _class_type, input_name, value in self.model_file_inputs():
            found.setdefault(input_name, set()).add(value)
        return found

    def model_file_inputs(self) -> Iterator[tuple[str, str, str, str]]:
        """(node_id, class_type, input_name, file name) for every literal model-file input."""
        for node_id, node in self.graph.items():
            for input_name, value in node.get("inputs", {}).items():
                if input_name in MODEL_FILE_INPUTS and isinstance(value, str):
                    yield node_id, str(node["class_type"]), input_name, value


# --- loading ------------------------------------------------------------------------------------------


def _resolve(name: str, user_dir: Path | None, set_name: str) -> Path:
    if not name or Path(name).name != name or not name.endswith(".json"):
        raise WorkflowError(f"workflow name {name!r} must be a plain file name ending in .json")
    candidates: list[Path] = []
    if user_dir is not None:
        candidates.append(user_dir / name)
    try:
        candidates.append(workflow_set(set_name).folder / name)
    except KeyError as exc:
        raise WorkflowError(str(exc.args[0])) from None
    for path in candidates:
        if path.is_file():
            return path
    raise WorkflowError(f"workflow {name!r} not found (looked in {', '.join(str(p.parent) for p in candidates)})")


def _is_link(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and type(value[1]) is int


def parse_workflow(name: str, data: object, *, source: Path | None = None) -> Workflow:
    """Check an API-format graph and read its parameter declarations. Raises `WorkflowError`."""
    where = str(source) if source is not None else name
    if not isinstance(data, dict):
        raise WorkflowError(f"{where}: not an API-format workflow (expected a JSON object of nodes)")
    if "nodes" in data and "links" in data:
        raise WorkflowError(
            f"{where}: this is ComfyUI's UI format; export it with 'Export (API)' to get the API format"
        )
    if not data:
        raise WorkflowError(f"{where}: the workflow has no nodes")
    parameters: dict[str, list[tuple[str, str]]] = {}
    for node_id, node in data.items():
        if not isinstance(node, dict):
            raise WorkflowError(f"{where}: node {node_id!r} is not an object")
        class_type = node.get("class_type")
        if not isinstance(class_type, str) or not class_type:
            raise WorkflowError(f"{where}: node {node_id!r} has no class_type")
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            raise WorkflowError(f"{where}: node {node_id!r} ({class_type}): 'inputs' is not an object")
        for input_name, value in inputs.items():
            if isinstance(value, list):
                if not _is_link(value):
                    raise WorkflowError(
                        f"{where}: node {node_id!r} input {input_name!r}: a link must be [node_id, output_index]"
                    )
                if value[0] not in data:
                    raise WorkflowError(
                        f"{where}: node {node_id!r} input {input_name!r} links to missing node {value[0]!r}"
                    )
        declared = _declared_parameters(where, node_id, node, inputs)
        for input_name, param in declared.items():
            parameters.setdefault(param, []).append((node_id, input_name))
        for input_name, value in inputs.items():
            if isinstance(value, str) and input_name not in declared and PLACEHOLDER.search(value):
                raise WorkflowError(
                    f"{where}: node {node_id!r} input {input_name!r} holds placeholder {value!r} but is not "
                    "declared in _meta.parameters, so it could never be filled"
                )
    return Workflow(name=name, graph=data, parameters=parameters, source=source)


def _declared_parameters(where: str, node_id: str, node: dict[str, Any], inputs: dict[str, Any]) -> dict[str, str]:
    meta = node.get("_meta", {})
    if not isinstance(meta, dict):
        raise WorkflowError(f"{where}: node {node_id!r}: '_meta' is not an object")
    declared = meta.get("parameters", {})
    if not isinstance(declared, dict):
        raise WorkflowError(f"{where}: node {node_id!r}: _meta.parameters must map input name -> parameter name")
    for input_name, param in declared.items():
        if not isinstance(param, str) or not _PARAM_NAME.match(param):
            raise WorkflowError(f"{where}: node {node_id!r}: parameter name {param!r} is not an identifier")
        if input_name not in inputs:
            raise WorkflowError(
                f"{where}: node {node_id!r} declares parameter {param!r} for input {input_name!r}, "
                "which the node does not have"
            )
        if _is_link(inputs[input_name]):
            raise WorkflowError(
                f"{where}: node {node_id!r} declares parameter {param!r} for input {input_name!r}, which is a link"
            )
    return {str(k): str(v) for k, v in declared.items()}


def load_workflow(name: str, user_dir: Path | None = None, set_name: str = DEFAULT_WORKFLOW_SET) -> Workflow:
    """Load `name` from `user_dir` if it is there, else from the bundled set `set_name`. Raises `WorkflowError`."""
    path = _resolve(name, user_dir, set_name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError(f"{path}: cannot read workflow: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    workflow = parse_workflow(name, data, source=path)
    logger.debug("loaded workflow %s from %s (%d nodes)", name, path, len(workflow.graph))
    return workflow


# --- patching -----------------------------------------------------------------------------------------


def _check_value(param: str, value: object) -> ParamValue:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool):
        return value
    raise WorkflowError(f"parameter {param!r}: {type(value).__name__} is not a string, number or boolean")


def _set_params(workflow: Workflow, params: Mapping[str, object]) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    unknown = sorted(set(params) - set(workflow.parameters))
    if unknown:
        raise WorkflowError(
            f"workflow {workflow.name} does not take parameter(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(workflow.parameters))}"
        )
    graph = copy.deepcopy(workflow.graph)
    patched: set[tuple[str, str]] = set()
    for param, value in params.items():
        checked = _check_value(param, value)
        for node_id, input_name in workflow.parameters[param]:
            graph[node_id]["inputs"][input_name] = checked
            patched.add((node_id, input_name))
    return graph, patched


def unfilled_placeholders(graph: Mapping[str, Any], *, skip: set[tuple[str, str]] | None = None) -> list[str]:
    """``node_id.input: {{name}}`` for every placeholder still in the graph (inputs in `skip` excluded)."""
    left: list[str] = []
    for node_id, node in graph.items():
        for input_name, value in node.get("inputs", {}).items():
            if skip and (node_id, input_name) in skip:
                continue
            if isinstance(value, str) and PLACEHOLDER.search(value):
                left.append(f"{node_id}.{input_name}: {value}")
    return left


def patch_workflow(workflow: Workflow, params: Mapping[str, object]) -> dict[str, Any]:
    """A new graph with `params` set. Raises `WorkflowError` for an undeclared parameter or a placeholder left.

    Values set here are never searched for placeholders, so a prompt may contain ``{{`` safely.
    """
    graph, patched = _set_params(workflow, params)
    left = unfilled_placeholders(graph, skip=patched)
    if left:
        raise WorkflowError(f"workflow {workflow.name}: placeholder(s) not filled: {'; '.join(left)}")
    return graph


def apply_params(workflow: Workflow, params: Mapping[str, object]) -> Workflow:
    """Like `patch_workflow` but keeps placeholders and returns a `Workflow` (to inspect model files, say)."""
    graph, _ = _set_params(workflow, params)
    return replace(workflow, graph=graph)


def params_for(workflow: Workflow, params: Mapping[str, object]) -> dict[str, object]:
    """Only the parameters `workflow` declares."""
    return {key: value for key, value in params.items() if key in workflow.parameters}


# --- choosing and filling -----------------------------------------------------------------------------

def workflow_for_request(request: ClipRequest) -> str:
    """The workflow file that carries out `request`'s recipe."""
    return workflow_name_for(request.mode, request.model, two_stage=request.two_stage)


def checkpoint_for(model: ModelVariant, settings: Settings) -> str:
    """The checkpoint file a model variant runs on."""
    return settings.video_model_full if model == "full" else settings.video_model_distilled


def filename_prefix_for(request: ClipRequest) -> str:
    """``wagglebot/<clip name>``: where ComfyUI writes the clip, relative to its output folder."""
    return f"{FILENAME_PREFIX_FOLDER}/{safe_name(request.output_path.stem)}"


def build_params(request: ClipRequest, settings: Settings, *, init_image_name: str | None = None) -> dict[str, object]:
    """Every standard parameter for `request` (filter with `params_for` before patching a workflow).

    `init_image_name` is the name the server gave the uploaded image; image-to-video needs it.
    """
    if request.mode == "i2v" and not init_image_name:
        raise WorkflowError("image-to-video needs init_image_name (the uploaded image's name on the server)")
    params: dict[str, object] = {
        "positive_prompt": prompt_text_for(request.prompt, settings),
        "negative_prompt": prompt_text_for(request.negative_prompt, settings),
        "width": request.width,
        "height": request.height,
        "length": request.num_frames,
        "frame_rate": request.fps,
        "steps": request.steps,
        "cfg": request.cfg,
        "noise_seed": request.seed,
        "strength": request.strength,
        "checkpoint": checkpoint_for(request.model, settings),
        "text_encoder": text_encoder_for(settings),
        "filename_prefix": filename_prefix_for(request),
        "upscale_model": settings.comfyui_upscale_model,
        "distilled_lora": settings.comfyui_distilled_lora,
    }
    if init_image_name:
        params["init_image"] = init_image_name
    return params


def build_graph(request: ClipRequest, settings: Settings, *, init_image_name: str | None = None) -> dict[str, Any]:
    """The API graph the client submits for `request`: its recipe's workflow (the user's folder first), with
    every parameter that workflow declares filled in. Raises `WorkflowError`."""
    workflow = load_workflow(workflow_for_request(request), settings.comfyui_workflow_dir,
                             settings.comfyui_workflow_set)
    params = build_params(request, settings, init_image_name=init_image_name)
    return patch_workflow(workflow, params_for(workflow, params))


def model_params(model: ModelVariant, settings: Settings) -> dict[str, object]:
    """Only the model-file parameters, as `build_params` would set them (for `doctor`)."""
    return {
        "checkpoint": checkpoint_for(model, settings),
        "text_encoder": text_encoder_for(settings),
        "upscale_model": settings.comfyui_upscale_model,
        "distilled_lora": settings.comfyui_distilled_lora,
    }


def configured_set(settings: Settings) -> WorkflowSet:
    """The workflow set COMFYUI_WORKFLOW_SET names."""
    return workflow_set(settings.comfyui_workflow_set)


def text_encoder_for(settings: Settings) -> str:
    """COMFYUI_TEXT_ENCODER, or the configured set's text encoder file when it is unset."""
    return settings.comfyui_text_encoder or configured_set(settings).text_encoder.default


_EMBEDDING = re.compile(r"embedding:", re.IGNORECASE)


def neutralise_prompt(text: str) -> str:
    """`text` with ComfyUI's prompt syntax made literal, as core ComfyUI's tokenizer (``comfy/sd1_clip.py``,
    ``SDTokenizer.tokenize_with_weights``) reads it.

    * ``(`` and ``)`` open and close a weighted group (``(word)`` x1.1, ``(word:1.2)``); ``\\(`` and
      ``\\)`` are its escapes, turned back into plain parentheses before tokenizing. A backslash before any
      other character is kept literally, so escaping only the parentheses is enough, also after a user's own
      backslash (``a\\`` + ``\\(`` leaves a literal backslash and a literal parenthesis).
    * ``embedding:NAME`` after a space or a newline loads a textual-inversion file from the server's
      embeddings folder and drops the word from the prompt; a space before the colon keeps the word.
    * ``:`` outside parentheses, ``[`` ``]`` and ``{`` ``}`` mean nothing to this tokenizer.
    """
    escaped = text.replace("(", "\\(").replace(")", "\\)")
    return _EMBEDDING.sub(lambda match: match.group(0)[:-1] + " :", escaped)


def prompt_text_for(text: str, settings: Settings) -> str:
    """The prompt as the configured set's CLIPTextEncode must get it (escaped where its tokenizer parses)."""
    return neutralise_prompt(text) if configured_set(settings).escape_weight_syntax else text
