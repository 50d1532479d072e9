"""Pictures as the model takes them: RGB PIL images (no torch, so the server backend can use it)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from medrega_core.engine.errors import N_, GenerationInputError


def as_rgb_image(image: Image.Image | np.ndarray) -> Image.Image:
    """An RGB PIL image from a PIL image (any mode) or an ``H x W x 3`` uint8 array (or ``H x W`` grey).

    Raises
    ------
    GenerationInputError
        For another array shape or dtype, or another object type.
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        grey = image.ndim == 2
        colour = image.ndim == 3 and image.shape[2] == 3
        if image.dtype != np.uint8 or not (grey or colour) or image.size == 0:
            raise GenerationInputError(
                N_("The image must be an H x W x 3 array of uint8 values; got shape {shape} and type {dtype}."),
                shape=tuple(image.shape),
                dtype=str(image.dtype),
            )
        picture = Image.fromarray(np.ascontiguousarray(image))  # a copy: Pillow maps no RGB arrays
        return picture if picture.mode == "RGB" else picture.convert("RGB")
    raise GenerationInputError(
        N_("The image must be a picture or an H x W x 3 array; got {kind}."), kind=type(image).__name__
    )
