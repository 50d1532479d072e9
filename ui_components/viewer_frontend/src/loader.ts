/**
 * The `medrega:` image loader. The server's intake has decoded the scan; each request returns the
 * values of one picture (rescale applied, on the picture's own square-pixel grid) as raw little-endian
 * numbers. The browser only windows them, so what the user sees is what the model is sent.
 */
import { imageLoader, utilities, type Types } from '@cornerstonejs/core';

import type { ScanDescriptor } from './contract';

export const SCHEME = 'medrega';

const ARRAY_TYPES = {
  int16: Int16Array,
  uint16: Uint16Array,
  float32: Float32Array,
  uint8: Uint8Array,
  rgb8: Uint8Array,
} as const;
type Dtype = keyof typeof ARRAY_TYPES;

/** Scans the loader knows, by their secret key (set by the viewer when a scan opens). */
const scans = new Map<string, ScanDescriptor>();
/** The user's language: the server says in it why a picture cannot be made. */
let language = 'en';

/** The server could not make a picture (a slice found damaged while the series loads); the message says why. */
export class PictureRefused extends Error {}

export function useLanguage(lang: string): void {
  language = lang;
}

/** Known (again) by its key: a new scan, or a newer descriptor of it (its series has finished loading). */
export function registerScan(scan: ScanDescriptor): void {
  scans.set(scan.key, scan);
}

export function forgetScan(key: string): void {
  scans.delete(key);
}

export function imageIdFor(key: string, plane: string, step: number, slice: number): string {
  return `${SCHEME}:${key}/${plane}/${step}/${slice}`;
}

export function parseImageId(imageId: string): { key: string; plane: string; step: number; slice: number } {
  const [key, plane, step, slice] = imageId.slice(SCHEME.length + 1).split('/');
  return { key, plane, step: Number(step), slice: Number(slice) };
}

/** Each plane and time step is its own frame of reference, so boxes stay on the picture they were drawn on. */
export function frameOfReferenceFor(key: string, plane: string, step: number): string {
  return `${key}.${plane}.${step}`;
}

function addMetadata(imageId: string, scan: ScanDescriptor, width: number, height: number, colour: boolean): void {
  const { plane, step, slice } = parseImageId(imageId);
  const spacing = scan.planes[plane].spacing ?? undefined;
  const modules: Record<string, unknown> = {
    imagePlaneModule: {
      frameOfReferenceUID: frameOfReferenceFor(scan.key, plane, step),
      rows: height,
      columns: width,
      imageOrientationPatient: [1, 0, 0, 0, 1, 0],
      rowCosines: [1, 0, 0],
      columnCosines: [0, 1, 0],
      imagePositionPatient: [0, 0, slice],
      pixelSpacing: spacing === undefined ? undefined : [spacing, spacing],
      rowPixelSpacing: spacing,
      columnPixelSpacing: spacing,
      sliceThickness: 1,
    },
    imagePixelModule: {
      samplesPerPixel: colour ? 3 : 1,
      photometricInterpretation: colour ? 'RGB' : 'MONOCHROME2',
      rows: height,
      columns: width,
      bitsAllocated: 16,
      bitsStored: 16,
      highBit: 15,
      pixelRepresentation: 1,
    },
    // Without a series module the viewport stays black and says nothing (measured).
    generalSeriesModule: { modality: scan.modality || 'OT' },
    generalImageModule: { instanceNumber: slice + 1 },
  };
  for (const [type, value] of Object.entries(modules)) {
    utilities.genericMetadataProvider.add(imageId, { type, metadata: value });
  }
}

function makeImage(imageId: string, data: Types.PixelDataTypedArray, width: number, height: number,
                   colour: boolean, spacing: number | null): Types.IImage {
  const components = colour ? 3 : 1;
  const voxelManager = utilities.VoxelManager.createImageVoxelManager({
    width, height, numberOfComponents: components, scalarData: data, id: imageId,
  });
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return {
    imageId,
    intercept: 0,
    slope: 1,
    windowCenter: (min + max) / 2,
    windowWidth: Math.max(max - min, 1),
    voiLUTFunction: undefined,
    minPixelValue: min,
    maxPixelValue: max,
    rows: height,
    columns: width,
    height,
    width,
    color: colour,
    rgba: false,
    numberOfComponents: components,
    columnPixelSpacing: spacing ?? undefined,
    rowPixelSpacing: spacing ?? undefined,
    invert: false,
    getPixelData: () => voxelManager.getScalarData(),
    getCanvas: undefined,
    voxelManager,
    sizeInBytes: data.byteLength,
  } as unknown as Types.IImage;
}

function loadImage(imageId: string): { promise: Promise<Types.IImage>; cancelFn: () => void } {
  const controller = new AbortController();
  const promise = (async () => {
    const { key, plane, step, slice } = parseImageId(imageId);
    const scan = scans.get(key);
    if (!scan) throw new Error('scan closed');
    const url = `${scan.url}/${plane}/${step}/${slice}?lang=${encodeURIComponent(language)}`;
    const response = await fetch(url, { signal: controller.signal, cache: 'no-store' });
    if (response.status === 422) throw new PictureRefused(await response.text());
    if (!response.ok) throw new Error(`slice request failed (${response.status})`);
    const width = Number(response.headers.get('X-Width'));
    const height = Number(response.headers.get('X-Height'));
    const dtype = (response.headers.get('X-Dtype') || 'float32') as Dtype;
    const data = new ARRAY_TYPES[dtype](await response.arrayBuffer());
    const colour = dtype === 'rgb8';
    addMetadata(imageId, scan, width, height, colour);
    return makeImage(imageId, data, width, height, colour, scan.planes[plane].spacing);
  })();
  return { promise, cancelFn: () => controller.abort() };
}

let registered = false;

export function registerLoader(): void {
  if (registered) return;
  imageLoader.registerImageLoader(SCHEME, loadImage as unknown as Types.ImageLoaderFn);
  registered = true;
}

