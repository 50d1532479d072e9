/**
 * Picture pixels and Cornerstone's world. Our pictures lie in the z = slice plane with square pixels
 * (the loader's metadata says so), so these hold before a picture has loaded. Picture (0, 0) is the
 * top-left corner of the top-left pixel. Where that corner lies in the world depends on the drawing
 * path: WebGL puts pixel 0's centre at the image position (the DICOM convention), Cornerstone's CPU
 * path puts its corner there (measured: half a pixel apart).
 */
import type { Types } from '@cornerstonejs/core';

import type { ScanDescriptor } from './contract';
import { parseImageId } from './loader';
import type { RenderPath } from './rendering';

/** World position of picture (0, 0), in pixels. */
let cornerOffset = -0.5;

export function usePictureConvention(path: RenderPath): void {
  cornerOffset = path === 'gpu' ? -0.5 : 0;
}

export function worldOf(scan: ScanDescriptor, imageId: string, x: number, y: number): Types.Point3 {
  const { plane, slice } = parseImageId(imageId);
  const spacing = scan.planes[plane].spacing ?? 1;
  return [(x + cornerOffset) * spacing, (y + cornerOffset) * spacing, slice];
}

export function pictureOf(scan: ScanDescriptor, imageId: string, world: Types.Point3): [number, number] {
  const spacing = scan.planes[parseImageId(imageId).plane].spacing ?? 1;
  return [world[0] / spacing - cornerOffset, world[1] / spacing - cornerOffset];
}
