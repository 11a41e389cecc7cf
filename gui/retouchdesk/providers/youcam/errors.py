"""YouCam's error vocabulary: its codes as plain sentences, and what its API codes mean.

The HTTP status ladder itself is the shared one (``providers.http.STATUS_KINDS``); YouCam only
says where its body names the error (``error_code``) and which codes mean something the status
does not: per api-reference.md section 4.2, "no credits" and "unknown task" come as HTTP 400.
"""

from __future__ import annotations

from retouchdesk.providers.http import ErrorKind, Vocabulary

VENDOR = "YouCam"

#: Engine errors (task status "error"), from the seed's list, as the user reads them.
ENGINE_ERRORS: dict[str, str] = {
    "exceed_max_filesize": "The input file is larger than YouCam accepts for this task",
    "invalid_parameter": "YouCam refused one of the task's settings as invalid",
    "error_download_image": "YouCam could not read the uploaded photo; try again",
    "error_download_mask": "YouCam could not read the uploaded mask; try again",
    "error_decode_image": "YouCam could not decode the photo; save it as JPEG or PNG and retry",
    "error_decode_mask": "YouCam could not decode the mask; use a greyscale PNG mask",
    "error_nsfw_content_detected": "YouCam refused the photo because it detected adult content",
    "error_no_face": "YouCam found no face in the photo; use a photo with a clearly visible face",
    "error_pose": "YouCam could not detect the person's pose in the photo",
    "error_face_parsing": "YouCam could not analyse the face in the photo",
    "error_inference": "YouCam's AI failed on this photo; try again or use another photo",
    "exceed_nsfw_retry_limits": (
        "YouCam kept producing adult content and gave up; change the description"
    ),
    "error_upload": "YouCam could not store the result; try again",
    "error_multiple_people": "YouCam found several people in the photo; use a photo of one person",
    "error_no_shoulder": "YouCam needs the shoulders to be visible in the photo",
    "error_large_face_angle": (
        "The face is turned too far from the camera; use a more frontal photo"
    ),
    "unknown_internal_error": "YouCam had an internal error; try again later",
}
RETRYABLE_ENGINE_ERRORS = frozenset(
    {
        "error_download_image",
        "error_download_mask",
        "error_inference",
        "error_upload",
        "unknown_internal_error",
    }
)

#: HTTP 400/401 ``error_code`` values (v2; v1 answers use the same field when present).
API_ERRORS: dict[str, str] = {
    "InvalidParameters": "YouCam refused the task's settings",
    "InvalidStyleGroup": "YouCam does not know the chosen style group; pick the style again",
    "InvalidStyle": "YouCam does not know the chosen style; pick the style again",
    "InvalidTemplate": "YouCam does not know the chosen template; pick it again",
    "InvalidTaskId": "YouCam no longer knows this task (it was dropped or expired)",
    "InvalidFileId": "YouCam no longer knows the uploaded file (uploads are kept one day)",
    "CreditInsufficiency": "Your YouCam account has no credits left for this task",
    "InvalidApiKey": "YouCam refused the API key; check it in Settings",
    "InactiveApiKey": "The YouCam API key is not active; activate it on your account page",
    "ExpiredApiKey": "The YouCam API key has expired; create a new one on your account page",
    "InvalidAccessToken": "YouCam refused the access token",
    "InvalidClientId": "YouCam does not know the client id; check it in Settings",
    "InvalidIdToken": "YouCam refused the sign-in; check the secret key and the computer's clock",
}


def engine_error(code: str | None, detail: str = "") -> str:
    """The sentence for an engine error code (unknown codes are named, never hidden)."""
    if code and code in ENGINE_ERRORS:
        return ENGINE_ERRORS[code]
    if detail:
        return f"YouCam could not process the task: {detail}"
    return f"YouCam could not process the task ({code or 'no reason given'})"


#: The vocabulary the shared status-to-error table reads YouCam's refusals with.
VOCABULARY = Vocabulary(
    VENDOR,
    code_field="error_code",
    kinds={
        "CreditInsufficiency": ErrorKind.CREDITS,
        "InvalidTaskId": ErrorKind.LOST,
        "InvalidApiKey": ErrorKind.AUTH,
        "InactiveApiKey": ErrorKind.AUTH,
        "ExpiredApiKey": ErrorKind.AUTH,
        "InvalidAccessToken": ErrorKind.AUTH,
        "InvalidClientId": ErrorKind.AUTH,
        "InvalidIdToken": ErrorKind.AUTH,
    },
    sentences=API_ERRORS,
)
