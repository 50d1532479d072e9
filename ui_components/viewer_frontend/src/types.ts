/** What the Python viewer component sends (its value) and what `state()` reports back. */

export interface WindowValue {
  center: number;
  width: number;
}

export interface PlaneInfo {
  width: number;
  height: number;
  slices: number;
  /** mm per picture pixel (square pixels), or null when the scan has no calibration. */
  spacing: number | null;
  orientation: Partial<Record<'left' | 'right' | 'top' | 'bottom', string>>;
  /** What the plane's pictures show, translated ("Sagittal" for a sagittal MR slice, "" for a photo). */
  label?: string;
}

export interface Preset {
  key: string;
  label: string;
  center: number;
  width: number;
}

export interface ScanDescriptor {
  /** Secret, per-scan token; part of every data URL. */
  key: string;
  /** Data URL prefix, relative to the page: `${url}/${plane}/${step}/${slice}`. */
  url: string;
  kind: 'image' | 'frames' | 'volume';
  modality: string;
  unit: string;
  colour: boolean;
  invert: boolean;
  planes: Record<string, PlaneInfo>;
  /** Frames of a cine (kind "frames") or time points of a 4-D volume; 1 otherwise. */
  steps: number;
  presets: Preset[];
  defaultWindow: WindowValue | null;
}

export interface ViewRequest {
  serial: number;
  plane: string;
  slice: number;
  frame: number;
  window: WindowValue | null;
}

export interface BoxValue {
  id?: string;
  label: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** A length (two points) or probe (one point) mark, in picture pixels; Python reads its value again. */
export interface MeasurementValue {
  kind: 'length' | 'probe';
  points: [number, number][];
}

export interface ModelBox extends BoxValue {
  region: number;
  tag: string;
  color: string;
  plane: string;
  slice: number;
  frame: number;
}

export interface ViewerValue {
  scan: ScanDescriptor | null;
  view: ViewRequest | null;
  /** Replaces the user's boxes on the shown picture when its serial changes (scripts, examples). */
  userBoxes: { serial: number; boxes: BoxValue[] } | null;
  modelBoxes: ModelBox[];
  selectedRegion: number | null;
  texts: Record<string, string>;
}

export interface ViewerState {
  plane: string;
  slice: number;
  numSlices: number;
  frame: number;
  numFrames: number;
  window: WindowValue | null;
  zoom: number;
  tool: string;
  boxes: BoxValue[];
  /** The id of the user's box a question is about: the last one drawn, proposed or clicked. */
  selectedBox: string | null;
  /** The length and probe marks on the picture shown. */
  measurements: MeasurementValue[];
  modelBoxes: ModelBox[];
  selectedRegion: number | null;
  picture: { width: number; height: number };
  imageRect: { left: number; top: number; width: number; height: number };
  scanKey: string | null;
  cine: boolean;
  /** Pictures of the shown stack already in the browser (prefetch progress). */
  loaded: number;
  /** The picture shown has been drawn (its values have arrived). */
  rendered: boolean;
}

/** What Gradio's gr.HTML gives `js_on_load`. */
export interface GradioBridge {
  trigger: (event: string, data?: unknown) => void;
  server: Record<string, (...args: unknown[]) => Promise<unknown>>;
}
