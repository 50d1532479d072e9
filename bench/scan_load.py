"""Load-and-render time of a 300-slice 512 x 512 CT series: ``open_scan`` + ``render`` vs SimpleITK.

The series is built from one real CT slice (pydicom's ``693_J2KI.dcm``, decoded once and written
uncompressed 300 times with new positions and instance numbers) in a temporary folder that is
removed afterwards. Both sides read the same files, cold in this process, best of ``--repeat``:

* ours: ``open_scan(folder)`` (parse, sort, decode, rescale to HU) then ``render`` of the axial,
  coronal and sagittal middle slices;
* SimpleITK: ``ImageSeriesReader`` with GDCM's file order (parse, sort, decode, rescale) then
  ``GetArrayViewFromImage`` and the same three middle slices.

Prints one table row per side and the ratio ours / SimpleITK (goal: at most 1.2).

Usage::

    python bench/scan_load.py [--slices 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medrega_core.intake import View, open_scan, render  # noqa: E402

SOURCE = "693_J2KI.dcm"


def build_series(folder: Path, slices: int) -> None:
    """Write ``slices`` uncompressed copies of the real slice, 1.25 mm apart, in shuffled name order."""
    template = pydicom.dcmread(get_testdata_file(SOURCE))
    pixels = template.pixel_array
    template.PixelData = pixels.tobytes()
    template.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    template.SeriesInstanceUID = generate_uid()
    origin = np.array(template.ImagePositionPatient, float)
    order = np.random.default_rng(0).permutation(slices)
    for n in range(slices):
        ds = copy.copy(template)
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [float(origin[0]), float(origin[1]), float(origin[2] + 1.25 * n)]
        ds.save_as(folder / f"im{order[n]:04d}.dcm", enforce_file_format=True)


def ours(folder: Path) -> tuple[int, ...]:
    scan = open_scan([folder])
    for plane in ("axial", "coronal", "sagittal"):
        render(scan, View(plane=plane, window="soft_tissue"))
    return scan.voxels.shape[1:]


def simpleitk(folder: Path) -> tuple[int, ...]:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    volume = sitk.GetArrayViewFromImage(image)
    for cut in (volume[volume.shape[0] // 2], volume[:, volume.shape[1] // 2], volume[:, :, volume.shape[2] // 2]):
        np.ascontiguousarray(cut)
    return volume.shape


def best_of(function, folder: Path, repeat: int) -> tuple[float, tuple[int, ...]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        shape = function(folder)
        times.append(time.perf_counter() - start)
    return min(times), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="scan_load_"))
    try:
        build_series(folder, args.slices)
        simpleitk_s, simpleitk_shape = best_of(simpleitk, folder, args.repeat)
        ours_s, our_shape = best_of(ours, folder, args.repeat)
        if tuple(our_shape) != tuple(simpleitk_shape):
            raise SystemExit(f"shape mismatch: ours {our_shape}, SimpleITK {simpleitk_shape}")
        print(f"series: {args.slices} slices of 512x512 from {SOURCE}, best of {args.repeat}")
        print(f"{'reader':<34}{'seconds':>10}")
        print(f"{'medrega open_scan + 3 renders':<34}{ours_s:>10.3f}")
        print(f"{'SimpleITK ImageSeriesReader':<34}{simpleitk_s:>10.3f}")
        print(f"ratio ours / SimpleITK: {ours_s / simpleitk_s:.2f} (goal <= 1.2)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
