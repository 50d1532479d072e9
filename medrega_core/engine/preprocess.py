"""Image preprocessing exactly as MedRegA's inference transform, plus a content key for the cache."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from PIL import Image

from medrega_core.engine.picture import as_rgb_image

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "as_rgb_image", "image_key", "pixel_values"]

#: ImageNet statistics used by InternVL's ``build_transform`` (per RGB channel).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_key(image: Image.Image) -> str:
    """Content hash of an RGB image (size and pixels), used as the vision-feature cache key."""
    digest = hashlib.sha256(f"{image.width}x{image.height}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _bicubic_resize(image: Image.Image, size: int) -> Image.Image:
    """PIL bicubic resize of the whole picture to ``size`` x ``size``; a grey picture comes back as mode L.

    Pillow resamples each band independently with the same integer weights, so when the three
    bands are equal (every scan rendered in greyscale) resizing one band gives exactly the same
    levels at about a third of the cost.
    """
    if image.mode == "RGB":
        red, green, blue = image.split()
        if red.tobytes() == green.tobytes() == blue.tobytes():
            return red.resize((size, size), Image.Resampling.BICUBIC)
    return image.resize((size, size), Image.Resampling.BICUBIC)


def pixel_values(image: Image.Image, size: int) -> torch.Tensor:
    """Normalised pixels of one tile: bicubic resize to ``size`` x ``size`` (PIL), no crop or padding.

    Returns
    -------
    torch.Tensor
        ``(1, 3, size, size)`` float32, channels RGB, ``(value / 255 - mean) / std``.
    """
    levels = np.asarray(_bicubic_resize(image, size), dtype=np.float32)
    # (1 or 3, size, size); a single grey band broadcasts over the three channel statistics.
    bands = levels[None] if levels.ndim == 2 else np.ascontiguousarray(levels.transpose(2, 0, 1))
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(IMAGENET_STD, dtype=np.float32)[:, None, None]
    # Element-wise float32 numpy on the small result: the same IEEE operations as torch, without
    # torch's per-call overhead.
    return torch.from_numpy((bands / np.float32(255.0) - mean) / std).unsqueeze(0)
