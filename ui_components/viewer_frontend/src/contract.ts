// Generated from schema/contract.schema.json by scripts/contract-types.mjs (npm run build): do not edit.

/** A window: values at center - width/2 are black, at center + width/2 white. */
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
  /** Letters on the picture's edges (R, L, A, P, H, F, S, I), where known. */
  orientation: {
    left?: string;
    right?: string;
    top?: string;
    bottom?: string;
  };
  /** What the plane's pictures show, translated ("Sagittal" for a sagittal MR slice, "" for a photo). */
  label: string;
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
  kind: "image" | "frames" | "volume";
  modality: string;
  unit: string;
  colour: boolean;
  invert: boolean;
  planes: Record<string, PlaneInfo>;
  /** Frames of a cine (kind frames) or time points of a 4-D volume; 1 otherwise. */
  steps: number;
  /** Time between cine frames from the file (DICOM Frame Time or Cine Rate), or null when it gives none. */
  frameTimeMs: number | null;
  presets: Preset[];
  defaultWindow: WindowValue | null;
  /** True while the server still decodes slices of a series opened in the background: pictures of a plane cut across the slices wait for all of them. */
  loading: boolean;
}

export interface ViewRequest {
  serial: number;
  plane: string;
  slice: number;
  frame: number;
  window: WindowValue | null;
}

/** A box in picture pixels ((0, 0) is the top-left corner of the top-left pixel), on the picture shown. */
export interface Box {
  /** The viewer's id of a user box (in reports from the browser only). */
  id?: string;
  label: string;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/** One box of the model's latest answer, on the picture that answer was about. */
export interface ModelBox {
  label: string;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  region: number;
  tag: string;
  color: string;
  plane: string;
  slice: number;
  frame: number;
}

/** Replaces the user's boxes on the shown picture when its serial changes (scripts, examples). */
export interface UserBoxes {
  serial: number;
  boxes: Box[];
}

/** The value of the gr.HTML viewer component (Python -> browser). */
export interface ViewerValue {
  scan: ScanDescriptor | null;
  view: ViewRequest | null;
  userBoxes: UserBoxes | null;
  modelBoxes: ModelBox[];
  selectedRegion: number | null;
  texts: Record<string, string>;
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** medregaViewer.state(): what the browser shows; the viewer_change event's data (browser -> Python). */
export interface ViewerState {
  plane: string;
  slice: number;
  numSlices: number;
  frame: number;
  numFrames: number;
  window: WindowValue | null;
  zoom: number;
  tool: string;
  boxes: Box[];
  /** The id of the user's box a question is about: the last one drawn, proposed or clicked. */
  selectedBox: string | null;
  /** The length and probe marks on the picture shown. */
  measurements: Measurement[];
  modelBoxes: ModelBox[];
  selectedRegion: number | null;
  picture: {
    width: number;
    height: number;
  };
  imageRect: Rect;
  scanKey: string | null;
  cine: boolean;
  /** Pictures per second the cine plays at. */
  cineFps: number;
  /** Which Cornerstone path draws: WebGL on the GPU, or the CPU path where WebGL is software. */
  renderPath: "cpu" | "gpu";
  /** Pictures of the shown stack already in the browser or refused by the server (a slice found damaged): the prefetch progress. */
  loaded: number;
  /** The picture shown has been drawn (its values have arrived). */
  rendered: boolean;
}

/** The propose_box server function's argument: a click at picture point (x, y) on the view shown. */
export interface ProposeRequest {
  key: string;
  x: number;
  y: number;
  plane: string;
  slice: number;
  frame: number;
  window: WindowValue | null;
  lang: string;
}

/** What propose_box returns: a box, or a message in the user's language. */
export interface ProposeAnswer {
  box?: Box;
  error?: string;
}

/** The select_region event's data: the model's region the user clicked. */
export interface RegionSelection {
  region: number;
}

/** A length (two points) or probe (one point) mark in picture pixels; Python measures its value again. */
export interface Measurement {
  kind: "length" | "probe";
  /** One [x, y] point for a probe, two for a length. */
  points: number[][];
}
