"""The one exception tree of the video stage.

Third-party errors (httpx, websockets, ollama, PyAV, Pillow, subprocess) are translated into these
in one place each, with ``raise ... from exc``, so callers decide by type, never by message text::

    WaggleVideoError
    ├── InputError                      bad post file, scene, image or URL (names the input)
    │   ├── PostFileError               the post file: missing, not JSON, bad field (file, scene, field)
    │   └── ImageError                  an image that cannot be used (download, decode, safety)
    ├── MediaError                      FFmpeg and probing
    │   ├── FFmpegError                 FFmpeg exited non-zero (last stderr lines attached)
    │   │   ├── FFmpegTimeoutError      FFmpeg ran past its time limit and was killed
    │   │   └── FFmpegNotFoundError     the FFmpeg binary is missing or cannot be started (not the scene's fault)
    │   └── InvalidClipError            a clip that is missing, empty, truncated or not what was asked
    ├── GeneratorError                  a video backend could not make a clip
    │   ├── GeneratorUnavailableError   health check failed / no server to run on
    │   ├── ComfyUIError                anything said by or about a ComfyUI server
    │   │   ├── ComfyUINotSubmittedError POST /prompt never reached the server: nothing to re-attach, run it elsewhere
    │   │   ├── ComfyUIConnectionError  transport failed after the job was queued (reset, socket dropped): re-attach
    │   │   ├── ComfyUITimeoutError     the job ran past VIDEO_GEN_TIMEOUT (it has been cancelled)
    │   │   ├── ComfyUIValidationError  400 from POST /prompt: node, class, input, missing model/node
    │   │   ├── ComfyUIExecutionError   execution_error from the server (node, exception type, message)
    │   │   │   ├── ComfyUIOutOfMemoryError   the execution error is an out-of-memory
    │   │   │   └── ComfyUIPermanentExecutionError  a loader or node that cannot be built (missing or unreadable
    │   │   │                                model file, bad header, a node pack's TypeError): never fixes itself
    │   │   ├── ComfyUIInterruptedError the job was interrupted (by us or someone else)
    │   │   ├── PromptLostError         the prompt vanished from queue and history (server restarted)
    │   │   ├── InvalidOutputError      success reported, but no usable clip (0 bytes, bad name, unreadable)
    │   │   └── ComfyUIServerError      the server answered 5xx or something unreadable (it is up but failing)
    │   └── WorkflowError               a workflow file is malformed or a parameter does not fit it
    ├── LLMError                        Ollama could not answer
    │   ├── LLMConnectionError          refused / unreachable
    │   ├── LLMTimeoutError             no answer within OLLAMA_TIMEOUT
    │   └── LLMResponseError            HTTP error or an answer we cannot use
    ├── ConfigError                     a settings file (video_styles.json, workflows) is malformed
    └── OutputError                     the output folder cannot be written, or another run holds it
        └── RunLockedError              another run is writing the same post folder
"""

from __future__ import annotations


class WaggleVideoError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(WaggleVideoError):
    """Bad user input; the message names the input and what is wrong."""


class PostFileError(InputError):
    """A post file that cannot be used."""

    def __init__(self, path: object, problem: str, *, scene: int | None = None, field: str | None = None):
        self.path = path
        self.scene = scene
        self.field = field
        self.problem = problem
        where = str(path)
        if scene is not None:
            where += f", scene {scene}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class ImageError(InputError):
    """An image that cannot be downloaded, decoded or trusted."""


class ImagePathRefused(ImageError):
    """A local image path that leaves the post file's folder (the post file's loader already said so)."""


class MediaError(WaggleVideoError):
    """FFmpeg or probing failed."""


class FFmpegError(MediaError):
    """FFmpeg exited with an error; ``stderr_tail`` holds its last lines."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = ""):
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        text = message if not stderr_tail else f"{message}\n{stderr_tail}"
        super().__init__(text)


class FFmpegTimeoutError(FFmpegError):
    """FFmpeg ran past its time limit; the process was killed and reaped."""


class FFmpegNotFoundError(FFmpegError):
    """The FFmpeg binary is missing or cannot be started: every scene would fail the same way, and a re-run
    after the fix should try them again."""


class InvalidClipError(MediaError):
    """A clip that is missing, empty, unreadable, or not of the size/length asked for."""


class GeneratorError(WaggleVideoError):
    """A video backend could not make a clip."""


class GeneratorUnavailableError(GeneratorError):
    """No backend/server can take work right now."""


class WorkflowError(GeneratorError):
    """A workflow file is malformed, or a parameter does not fit the workflow."""


class ComfyUIError(GeneratorError):
    """Anything said by or about a ComfyUI server. ``server`` is its base URL."""

    def __init__(self, message: str, *, server: str | None = None, prompt_id: str | None = None):
        self.server = server
        self.prompt_id = prompt_id
        super().__init__(message)


class ComfyUIConnectionError(ComfyUIError):
    """The transport failed; the prompt (if any) may still be running and can be re-attached."""


class ComfyUINotSubmittedError(ComfyUIError):
    """POST /prompt could not even connect: the job was never queued, so there is nothing to re-attach to and
    another server (or this one, later) may take it. Deliberately not a `ComfyUIConnectionError`."""


class ComfyUITimeoutError(ComfyUIError):
    """The job ran past its time limit; it has been cancelled on the server."""


class ComfyUIValidationError(ComfyUIError):
    """POST /prompt answered 400: the workflow does not validate on that server. Never retried."""

    def __init__(
        self,
        message: str,
        *,
        server: str | None = None,
        missing_models: list[str] | None = None,
        missing_nodes: list[str] | None = None,
    ):
        self.missing_models = missing_models or []
        self.missing_nodes = missing_nodes or []
        super().__init__(message, server=server)


class ComfyUIExecutionError(ComfyUIError):
    """The server reported ``execution_error``."""

    def __init__(
        self,
        message: str,
        *,
        server: str | None = None,
        prompt_id: str | None = None,
        node_id: str | None = None,
        node_type: str | None = None,
        exception_type: str | None = None,
    ):
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type
        super().__init__(message, server=server, prompt_id=prompt_id)


class ComfyUIOutOfMemoryError(ComfyUIExecutionError):
    """The execution error was an out-of-memory on the server's GPU."""


class ComfyUIPermanentExecutionError(ComfyUIExecutionError):
    """An execution error that no retry can fix on that server: a loader that cannot read its model file, a
    node that cannot be constructed. Like a validation error: block that job kind on that server."""


class ComfyUIInterruptedError(ComfyUIError):
    """The job was interrupted before it finished."""


class PromptLostError(ComfyUIError):
    """The prompt is in neither queue nor history: the server restarted and the work is gone."""


class InvalidOutputError(ComfyUIError):
    """The server reported success but there is no usable clip."""


class LLMError(WaggleVideoError):
    """Ollama could not give a usable answer."""


class LLMConnectionError(LLMError):
    """Ollama is unreachable."""


class LLMTimeoutError(LLMError):
    """Ollama did not answer in time."""


class LLMResponseError(LLMError):
    """Ollama answered with an HTTP error or something we cannot use."""


class ConfigError(WaggleVideoError):
    """A configuration file is malformed; the message names the file and the problem."""


class ComfyUIServerError(ComfyUIError):
    """The server answered with a 5xx status or an unreadable body: it is up, but failing."""


class OutputError(WaggleVideoError):
    """The stage cannot write its output (manifest, clips); the message names the path."""


class RunLockedError(OutputError):
    """Another run holds the post's output folder."""
