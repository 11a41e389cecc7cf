"""The two ways a YouCam task fails: refused at the door, or failed by the engine later.

A refused request (:class:`Invalid`) is answered at once with an HTTP error and the vendor's
``error_code``; a task the engine cannot do (:class:`EngineError`) is accepted first and then
reported as ``status: error`` with one of the engine's error codes when it is polled.
"""

from __future__ import annotations

ENGINE_ERRORS = (
    "exceed_max_filesize", "invalid_parameter", "error_download_image", "error_download_mask",
    "error_decode_image", "error_decode_mask", "error_nsfw_content_detected", "error_no_face",
    "error_pose", "error_face_parsing", "error_inference", "exceed_nsfw_retry_limits",
    "error_upload", "error_multiple_people", "error_no_shoulder", "error_large_face_angle",
    "unknown_internal_error",
)  # fmt: skip


class Invalid(Exception):
    """A request the server refuses with 400 InvalidParameters (or another code and status)."""

    def __init__(
        self,
        message: str,
        code: str = "InvalidParameters",
        status: int = 400,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.headers = headers


class EngineError(Exception):
    """A task the engine took but could not do; ``code`` is one of :data:`ENGINE_ERRORS`."""

    def __init__(self, code: str) -> None:
        assert code in ENGINE_ERRORS
        super().__init__(code)
        self.code = code
