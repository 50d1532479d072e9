/**
 * Picture pixels and Cornerstone's world. Our pictures lie in the z = slice plane with square pixels
 * and pixel 0's centre at the origin (the loader's metadata says the same), so these hold before a
 * picture has loaded. Picture (0, 0) is the top-left corner of the top-left pixel.
 */
import type { Types } from '@cornerstonejs/core';

import type { ScanDescriptor } from './contract';
import { parseImageId } from './loader';

export function worldOf(scan: ScanDescriptor, imageId: string, x: number, y: number): Types.Point3 {
  const { plane, slice } = parseImageId(imageId);
  const spacing = scan.planes[plane].spacing ?? 1;
  return [(x - 0.5) * spacing, (y - 0.5) * spacing, slice];
}

export function pictureOf(scan: ScanDescriptor, imageId: string, world: Types.Point3): [number, number] {
  const spacing = scan.planes[parseImageId(imageId).plane].spacing ?? 1;
  return [world[0] / spacing + 0.5, world[1] / spacing + 0.5];
}
