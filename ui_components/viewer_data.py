"""What the browser viewer reads: the picture values of one slice at a time, straight from memory.

Each open scan gets a secret token; ``GET /medrega-viewer/<token>/<plane>/<step>/<index>`` returns
the values of that picture (rescale applied, on the picture's square-pixel grid, exactly what
:func:`medrega_core.intake.render` windows) as raw little-endian numbers, with their size and type
in headers; a picture that cannot be made (a slice found damaged while a series loads) answers 422
with the reason in the language of ``?lang=``. The token is random, names nothing about the patient, and stops working when the scan
is closed or the session ends.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from medrega_core.errors import MedRegAError
from medrega_core.intake import PictureValues, Scan, ScanKind, View, picture_values

#: URL path of the slice route, relative to the app's root (the viewer builds its URLs from it).
URL_PREFIX = "medrega-viewer"
ROUTE = f"/{URL_PREFIX}/{{token}}/{{plane}}/{{step}}/{{index}}"


def encode_values(values: np.ndarray) -> tuple[bytes, str]:
    """The smallest exact little-endian encoding of a picture's values, and its type name."""
    if values.dtype == np.uint8 and values.ndim == 3:
        return values.tobytes(), "rgb8"
    if values.size and np.array_equal(values, np.rint(values)):
        low, high = float(values.min()), float(values.max())
        if -32768 <= low and high <= 32767:
            return values.astype("<i2").tobytes(), "int16"
        if 0 <= low and high <= 65535:
            return values.astype("<u2").tobytes(), "uint16"
    return values.astype("<f4").tobytes(), "float32"


def view_of(scan: Scan, plane: str, step: int, index: int) -> View:
    """The view a viewer picture stands for: a cine's frame ``step``, or slice ``index`` at time ``step``."""
    if scan.kind is ScanKind.FRAMES:
        return View(plane=plane, frame=step)
    return View(plane=plane, slice_index=index, timepoint=step)


class ScanRegistry:
    """The scans open in this process, by token. Sessions add theirs and remove it when done."""

    def __init__(self) -> None:
        self._scans: dict[str, Scan] = {}
        self._lock = threading.Lock()

    def add(self, scan: Scan) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._scans[token] = scan
        return token

    def remove(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._scans.pop(token, None)

    def get(self, token: str) -> Scan | None:
        with self._lock:
            return self._scans.get(token)

    def __len__(self) -> int:
        return len(self._scans)

    def picture(self, token: str, plane: str, step: int, index: int) -> PictureValues | None:
        """The values of one viewer picture (waiting for its slices while a series loads), or None for an
        unknown token. Raises ``MedRegAError`` for a view the scan lacks or a slice that cannot be decoded."""
        scan = self.get(token)
        return None if scan is None else picture_values(scan, view_of(scan, plane, step, index))

    def endpoint(self) -> Any:
        """The Starlette endpoint of :data:`ROUTE` reading from this registry."""
        def slice_values(request: Request) -> Response:
            params = request.path_params
            try:
                step, index = int(params["step"]), int(params["index"])
            except ValueError:
                return Response(status_code=404)
            try:
                picture = self.picture(params["token"], params["plane"], step, index)
            except MedRegAError as error:  # the viewer shows why (a damaged slice found while the series loads)
                return Response(error.localized(request.query_params.get("lang", "en")), status_code=422,
                                media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})
            if picture is None:
                return Response(status_code=404)
            body, dtype = encode_values(picture.values)
            height, width = picture.values.shape[:2]
            return Response(body, media_type="application/octet-stream", headers={
                "X-Width": str(width), "X-Height": str(height), "X-Dtype": dtype,
                "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return slice_values
