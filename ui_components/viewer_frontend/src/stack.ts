/**
 * What the viewport shows: the scan's stack for a plane and time point, the slice or frame, the
 * window, the camera (fitted, zoomed, actual size) and cine.
 */
import { Enums, cache, type StackViewport, type Types } from '@cornerstonejs/core';
import { utilities as toolUtilities } from '@cornerstonejs/tools';

import type { ScanDescriptor, WindowValue } from './contract';
import { forgetScan, imageIdFor, registerScan } from './loader';
import { worldOf } from './picture';

/** Cine speed when the file gives no frame time, pictures per second. */
const DEFAULT_CINE_FPS = 12;

export class Stack {
  scan: ScanDescriptor | null = null;
  plane = 'axial';
  /** Time point of a 4-D volume (0 for other scans). */
  step = 0;
  /** True while the camera is the fitted one (not zoomed or panned by the user). */
  fitted = true;
  /** A new stack is being set: what the viewport shows is not yet what the state describes. */
  private switching = false;
  /** The picture last drawn. */
  lastRendered: string | null = null;
  private cineTimer: number | null = null;
  /** Pictures the server refused (a slice found damaged): settled, so the progress mark does not wait for them. */
  private readonly refused = new Set<string>();

  constructor(private readonly viewport: () => StackViewport, private readonly changed: () => void) {}

  open(scan: ScanDescriptor): void {
    this.close();
    registerScan(scan);
    this.scan = scan;
    this.plane = Object.keys(scan.planes)[0];
    this.step = 0;
  }

  /** A newer descriptor of the scan shown (its series has finished loading: presets, planes ready). */
  renew(scan: ScanDescriptor): void {
    registerScan(scan);
    this.scan = scan;
  }

  close(): void {
    this.stopCine();
    if (this.scan) {
      forgetScan(this.scan.key);
      cache.purgeCache();
    }
    this.scan = null;
    this.lastRendered = null;
    this.refused.clear();
    this.blank();
  }

  /** The viewport keeps its last picture until told otherwise: an empty viewer, or a picture that
   * cannot be shown, is blank. */
  blank(): void {
    const canvas = this.viewport().canvas;
    canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
  }

  /** `frames` scans scroll through frames; others through slices of one time step. */
  private stackIds(plane: string, step: number): string[] {
    const scan = this.scan!;
    if (scan.kind === 'frames') {
      return Array.from({ length: scan.steps }, (_, frame) => imageIdFor(scan.key, plane, frame, 0));
    }
    return Array.from({ length: scan.planes[plane].slices }, (_, slice) => imageIdFor(scan.key, plane, step, slice));
  }

  /** The view the server asks for; a new scan or plane is shown fitted. */
  async show(plane: string, slice: number, frame: number, window: WindowValue | null): Promise<void> {
    const scan = this.scan!;
    const viewport = this.viewport();
    const shownScan = viewport.getImageIds()[0]?.includes(`:${scan.key}/`) ?? false;
    const keepWindow = shownScan ? this.currentWindow() : null;
    const fit = !shownScan || plane !== this.plane;
    this.plane = plane in scan.planes ? plane : Object.keys(scan.planes)[0];
    this.step = scan.kind === 'frames' ? 0 : Math.min(Math.max(frame, 0), scan.steps - 1);
    const index = scan.kind === 'frames' ? frame : slice;
    await this.setStack(index, window ?? keepWindow ?? scan.defaultWindow, fit);
  }

  private async setStack(index: number, window: WindowValue | null, fit: boolean): Promise<void> {
    const viewport = this.viewport();
    const ids = this.stackIds(this.plane, this.step);
    const clamped = Math.min(Math.max(Math.round(index), 0), ids.length - 1);
    const camera = fit ? null : viewport.getCamera();
    this.lastRendered = null; // not drawn until the new stack's picture is
    this.switching = true;
    try {
      await viewport.setStack(ids, clamped);
    } finally {
      this.switching = false;
    }
    // Load the rest of the stack in the background, nearest slices first.
    toolUtilities.stackPrefetch.enable(viewport.element);
    if (camera) {
      viewport.setCamera(camera);
    } else {
      viewport.setProperties({ interpolationType: Enums.InterpolationType.LINEAR });
      viewport.resetCamera();
      this.fitted = true;
    }
    this.applyWindow(window);
    viewport.setProperties({ invert: Boolean(this.scan!.invert) });
    viewport.render();
    this.changed();
  }

  applyWindow(window: WindowValue | null): void {
    if (!window || this.scan?.colour) return;
    // The server's window: values at centre - width/2 are black, at centre + width/2 white.
    this.viewport().setProperties({ voiRange: { lower: window.center - window.width / 2, upper: window.center + window.width / 2 } });
  }

  /**
   * Called as another picture of the same stack is about to show. Cornerstone's CPU path then sets the
   * viewport's reported window to that picture's own full range while it keeps drawing the user's; the
   * viewer would report (and a question would be rendered with) a window the user does not see. The
   * user's window, still the reported one at this moment, is set again once the picture is in place.
   */
  keepWindowOnNewPicture(): void {
    if (this.switching) return; // a new stack gets its window from setStack
    const window = this.currentWindow();
    queueMicrotask(() => this.applyWindow(window));
  }

  currentWindow(): WindowValue | null {
    const viewport = this.viewport();
    if (!this.scan || this.scan.colour || !viewport.getImageIds().length) return null;
    const range = viewport.getProperties().voiRange;
    if (!range) return null;
    return { center: (range.lower + range.upper) / 2, width: range.upper - range.lower };
  }

  count(): number {
    return this.scan ? this.viewport().getImageIds().length : 0;
  }

  currentIndex(): number {
    return this.count() ? this.viewport().getCurrentImageIdIndex() : 0;
  }

  currentImageId(): string | undefined {
    return this.count() ? this.viewport().getCurrentImageId() : undefined;
  }

  /** The shown picture's id once its values are in the browser (the camera is known only then). */
  drawnImageId(): string | undefined {
    const imageId = this.currentImageId();
    return imageId && !this.switching && cache.getImage(imageId) ? imageId : undefined;
  }

  /** Pictures of the shown stack already in the browser or refused by the server. */
  loaded(): number {
    return this.scan ? this.viewport().getImageIds().filter((id) => cache.getImage(id) || this.refused.has(id)).length : 0;
  }

  refuse(imageId: string): void {
    this.refused.add(imageId);
  }

  /** Move ``delta`` pictures through the stack (slices, or frames of a cine), clamped at the ends. */
  scrollBy(delta: number): void {
    this.scrollTo(this.currentIndex() + delta);
  }

  scrollTo(index: number): void {
    const count = this.count();
    if (!count) return;
    const clamped = Math.min(Math.max(index, 0), count - 1);
    if (clamped !== this.currentIndex()) void this.viewport().setImageIdIndex(clamped);
  }

  /** Show another plane of a volume at its middle slice, keeping the window. */
  async setPlane(plane: string): Promise<void> {
    const scan = this.scan;
    if (!scan || !(plane in scan.planes) || plane === this.plane) return;
    const window = this.currentWindow();
    this.plane = plane;
    await this.setStack(Math.floor(scan.planes[plane].slices / 2), window, true);
  }

  // ---- cine ----

  get playing(): boolean {
    return this.cineTimer !== null;
  }

  /** Pictures per second: the file's frame time, else a default. */
  cineFps(): number {
    const frameTime = this.scan?.frameTimeMs;
    return frameTime && frameTime > 0 ? 1000 / frameTime : DEFAULT_CINE_FPS;
  }

  private stepCount(): number {
    const scan = this.scan;
    if (!scan) return 1;
    return scan.kind === 'volume' && scan.steps > 1 ? scan.steps : this.count();
  }

  /** The next picture of the cine: a 4-D volume's next time point, else the next picture of the stack. */
  private async cineTick(): Promise<void> {
    const scan = this.scan;
    if (!scan) return;
    if (scan.kind === 'volume' && scan.steps > 1) {
      this.step = (this.step + 1) % scan.steps;
      await this.setStack(this.currentIndex(), this.currentWindow(), false);
    } else {
      await this.viewport().setImageIdIndex((this.currentIndex() + 1) % this.count());
    }
  }

  toggleCine(): void {
    if (this.cineTimer !== null) {
      this.stopCine();
    } else if (this.scan && this.stepCount() > 1) {
      let busy = false;
      this.cineTimer = window.setInterval(() => {
        if (busy) return;
        busy = true;
        void this.cineTick().finally(() => { busy = false; });
      }, 1000 / this.cineFps());
    }
  }

  stopCine(): void {
    if (this.cineTimer !== null) window.clearInterval(this.cineTimer);
    this.cineTimer = null;
  }

  // ---- camera ----

  /** Where the picture lies on the page, CSS px. */
  imageRect(element: HTMLElement): { left: number; top: number; width: number; height: number } {
    const imageId = this.drawnImageId();
    if (!imageId || !this.scan) return { left: 0, top: 0, width: 0, height: 0 };
    const size = this.scan.planes[this.plane];
    const rect = element.getBoundingClientRect();
    const [a, b] = [[0, 0], [size.width, size.height]].map(([x, y]) => this.viewport().worldToCanvas(worldOf(this.scan!, imageId, x, y)));
    return { left: rect.left + Math.min(a[0], b[0]), top: rect.top + Math.min(a[1], b[1]), width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]) };
  }

  /**
   * Zoom with 1 for the fitted picture (the whole picture in the panel), whichever drawing path
   * draws it (Cornerstone's CPU path counts its zoom from one picture pixel per canvas pixel).
   */
  zoom(element: HTMLElement): number {
    if (!this.scan || !this.drawnImageId()) return 1;
    const size = this.scan.planes[this.plane];
    const panel = element.getBoundingClientRect();
    const fitted = Math.min(panel.width, panel.height * size.width / size.height);
    return fitted > 0 ? this.imageRect(element).width / fitted : 1;
  }

  /**
   * Actual size: one picture pixel on one device pixel, drawn as it is (no interpolation), the
   * picture's corner on a whole pixel, so the canvas shows the very pixels the server renders.
   */
  actualSize(element: HTMLElement): void {
    const imageId = this.currentImageId();
    const scan = this.scan;
    if (!imageId || !scan) return;
    const viewport = this.viewport();
    viewport.setProperties({ interpolationType: Enums.InterpolationType.NEAREST });
    this.fitted = false;
    const rect = this.imageRect(element);
    const size = scan.planes[this.plane];
    const ratio = window.devicePixelRatio || 1;
    viewport.setZoom(viewport.getZoom() * size.width / (rect.width * ratio));
    for (let attempt = 0; attempt < 3; attempt++) {
      const corner = viewport.worldToCanvas(worldOf(scan, imageId, 0, 0));
      const shift = [Math.round(corner[0] * ratio) / ratio - corner[0], Math.round(corner[1] * ratio) / ratio - corner[1]];
      if (Math.abs(shift[0]) < 1e-3 && Math.abs(shift[1]) < 1e-3) break;
      const spacing = size.spacing ?? 1;
      const pan = viewport.getPan();
      viewport.setPan([pan[0] + shift[0] * ratio * spacing, pan[1] + shift[1] * ratio * spacing] as Types.Point2);
    }
    viewport.render();
  }

  /** Fit the picture and restore the scan's window. */
  reset(): void {
    if (!this.count()) return;
    const viewport = this.viewport();
    viewport.setProperties({ interpolationType: Enums.InterpolationType.LINEAR });
    viewport.resetCamera();
    this.fitted = true;
    this.applyWindow(this.scan!.defaultWindow);
    viewport.render();
  }

  selectPreset(number: number): void {
    const preset = this.scan?.presets[number - 1];
    if (!preset) return;
    this.applyWindow({ center: preset.center, width: preset.width });
    this.viewport().render();
  }
}
