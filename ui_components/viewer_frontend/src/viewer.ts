/**
 * One Cornerstone3D stack viewport in the Gradio page: the scan as the server decoded it, windowed
 * in the browser, with OHIF's mouse and key bindings, the user's boxes, and the model's boxes.
 */
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  init as initCore,
  utilities,
  type StackViewport,
  type Types,
} from '@cornerstonejs/core';
import {
  Enums as ToolEnums,
  annotation as annotationApi,
  cancelActiveManipulations,
  init as initTools,
  utilities as toolUtilities,
  type Types as ToolTypes,
} from '@cornerstonejs/tools';

import { forgetScan, frameOfReferenceFor, imageIdFor, parseImageId, registerLoader, registerScan } from './loader';
import { Overlay } from './overlay';
import { ModelBoxTool, TOOLS, UserBoxTool, createToolGroup, selectTool } from './tools';
import type { BoxValue, GradioBridge, MeasurementValue, ModelBox, ScanDescriptor, ViewerState, ViewerValue, WindowValue } from './types';

const PLANES = ['axial', 'coronal', 'sagittal'];
/** A press that moves less than this (CSS px) is a click, not a drag. */
const CLICK_SLOP = 4;
/** Cine speed, frames per second. */
const CINE_FPS = 12;
/** Height limits of the picture's panel, CSS px. */
const STAGE_MIN_HEIGHT = 320;
const STAGE_MARGIN = 12;
/** Python hears about view and box changes this long after the last one. */
const CHANGE_DEBOUNCE_MS = 250;

let initialised = false;

function initialise(): void {
  if (initialised) return;
  initCore();
  initTools();
  registerLoader();
  initialised = true;
}

let instances = 0;

type Annotation = ToolTypes.Annotation;

export class Viewer {
  readonly root: HTMLElement;
  private readonly element: HTMLDivElement;
  private readonly overlay: Overlay;
  private readonly toolbar: HTMLElement;
  private readonly help: HTMLElement;
  private readonly bridge: GradioBridge;
  private readonly engine: RenderingEngine;
  private readonly viewportId: string;
  private readonly toolGroup: ToolTypes.IToolGroup;
  private value: ViewerValue = { scan: null, view: null, userBoxes: null, modelBoxes: [], selectedRegion: null, texts: {} };
  private scan: ScanDescriptor | null = null;
  private plane = 'axial';
  private step = 0;
  private tool = 'window';
  private viewSerial = -1;
  private boxesSerial = -1;
  private modelBoxesShown = '';
  private cineTimer: number | null = null;
  private changeTimer: number | null = null;
  private press: { x: number; y: number; moved: boolean; button: number } | null = null;
  private pending: Promise<void> = Promise.resolve();
  private selectedBox: string | null = null;
  /** True while the camera is the fitted one (not zoomed or panned by the user). */
  private fitted = true;
  private lastRendered: string | null = null;
  /** A new stack is being set: what the viewport shows is not yet what state() describes. */
  private switching = false;

  constructor(host: HTMLElement, bridge: GradioBridge) {
    initialise();
    this.bridge = bridge;
    const id = `medrega-${++instances}`;
    this.viewportId = `${id}-viewport`;
    this.root = document.createElement('div');
    this.root.className = 'medrega-viewer';
    this.root.tabIndex = 0;
    this.toolbar = this.makeToolbar();
    this.element = document.createElement('div');
    this.element.className = 'medrega-viewport';
    this.element.addEventListener('contextmenu', (event) => event.preventDefault());
    const stage = document.createElement('div');
    stage.className = 'medrega-stage';
    stage.append(this.element);
    this.overlay = new Overlay(stage);
    this.help = document.createElement('div');
    this.help.className = 'medrega-help';
    this.help.hidden = true;
    stage.append(this.help);
    this.root.append(this.toolbar, stage);
    host.append(this.root);

    this.engine = new RenderingEngine(`${id}-engine`);
    this.engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] as Types.Point3 },
    });
    this.toolGroup = createToolGroup(`${id}-tools`, this.viewportId, this.engine.id);
    this.listen();
    new ResizeObserver(() => this.resize()).observe(this.element);
    window.addEventListener('resize', () => this.fitStage());
    // The panels above the viewer change height (a file list, a series line): follow them.
    new ResizeObserver(() => this.fitStage()).observe(document.body);
    this.fitStage();
  }

  /** The picture's panel reaches down to the bottom of the window: picture, tools and overlays in one screen. */
  private fitStage(): void {
    const stage = this.element.parentElement!;
    const top = stage.getBoundingClientRect().top + window.scrollY;
    stage.style.height = `${Math.max(STAGE_MIN_HEIGHT, window.innerHeight - top - STAGE_MARGIN)}px`;
  }

  private get viewport(): StackViewport {
    return this.engine.getViewport(this.viewportId) as StackViewport;
  }

  // ---- building the page parts ----

  private makeToolbar(): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'medrega-toolbar';
    for (const plane of PLANES) {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = `plane-${plane}`;
      button.dataset.plane = plane;
      button.hidden = true;
      button.addEventListener('click', () => { void this.setPlane(plane); this.root.focus({ preventScroll: true }); });
      bar.append(button);
    }
    for (const name of [...Object.keys(TOOLS), 'reset', 'cine', 'help']) {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = `tool-${name}`;
      button.dataset.tool = name;
      button.addEventListener('click', () => this.onToolbar(name));
      bar.append(button);
    }
    return bar;
  }

  private onToolbar(name: string): void {
    if (name === 'reset') this.reset();
    else if (name === 'cine') this.toggleCine();
    else if (name === 'help') this.help.hidden = !this.help.hidden;
    else this.setTool(name);
    this.root.focus({ preventScroll: true });
  }

  private relabel(): void {
    const t = this.value.texts;
    const planes = this.scan ? Object.keys(this.scan.planes) : [];
    for (const button of Array.from(this.toolbar.querySelectorAll<HTMLButtonElement>('button[data-plane]'))) {
      const plane = button.dataset.plane!;
      button.textContent = t[`plane.${plane}`] ?? plane;
      button.hidden = planes.length < 2 || !planes.includes(plane);
      button.classList.toggle('active', plane === this.plane);
    }
    for (const button of Array.from(this.toolbar.querySelectorAll<HTMLButtonElement>('button[data-tool]'))) {
      const name = button.dataset.tool!;
      button.textContent = t[`tool.${name}`] ?? name;
      button.title = t[`tool.${name}.hint`] ?? '';
      button.classList.toggle('active', name === this.tool || (name === 'cine' && this.cineTimer !== null));
      button.classList.toggle('pressed', name === 'help' && !this.help.hidden);
    }
    this.help.innerHTML = '';
    const title = document.createElement('strong');
    title.textContent = t['help.title'] ?? '';
    const list = document.createElement('ul');
    for (const key of Object.keys(t).filter((k) => k.startsWith('help.line.')).sort()) {
      const item = document.createElement('li');
      item.textContent = t[key];
      list.append(item);
    }
    this.help.append(title, list);
  }

  // ---- value from Python ----

  /** Apply a new value of the Gradio component (scan, requested view, boxes, texts). */
  update(value: ViewerValue | null): Promise<void> {
    // Serialised: a value arriving while a stack loads waits for it.
    this.pending = this.pending.then(() => this.apply(value ?? this.value)).catch((error) => {
      console.error('medrega viewer', error);
      this.overlay.message(this.value.texts['error.load'] ?? String(error));
    });
    return this.pending;
  }

  private async apply(value: ViewerValue): Promise<void> {
    this.value = value;
    this.relabel();
    this.fitStage();
    const scan = value.scan;
    if (!scan) {
      this.closeScan();
      return;
    }
    if (!this.scan || this.scan.key !== scan.key) await this.openScan(scan);
    this.relabel();
    if (value.view && value.view.serial !== this.viewSerial) {
      this.viewSerial = value.view.serial;
      await this.showView(value.view.plane, value.view.slice, value.view.frame, value.view.window);
    }
    if (value.userBoxes && value.userBoxes.serial !== this.boxesSerial) {
      this.boxesSerial = value.userBoxes.serial;
      this.replaceUserBoxes(value.userBoxes.boxes);
    }
    this.showModelBoxes();
    this.overlay.update(this.overlayFacts());
  }

  private closeScan(): void {
    this.stopCine();
    if (this.scan) {
      annotationApi.state.removeAllAnnotations();
      forgetScan(this.scan.key);
      cache.purgeCache();
    }
    this.scan = null;
    this.overlay.update(null);
  }

  private async openScan(scan: ScanDescriptor): Promise<void> {
    this.closeScan();
    registerScan(scan);
    this.scan = scan;
    this.plane = Object.keys(scan.planes)[0];
    this.step = 0;
    this.viewSerial = -1;
    this.boxesSerial = -1;
    this.modelBoxesShown = '';
  }

  // ---- stacks, slices, time ----

  /** `frames` scans scroll through frames; others through slices of one time step. */
  private stackIds(plane: string, step: number): string[] {
    const scan = this.scan!;
    if (scan.kind === 'frames') {
      return Array.from({ length: scan.steps }, (_, frame) => imageIdFor(scan.key, plane, frame, 0));
    }
    return Array.from({ length: scan.planes[plane].slices }, (_, slice) => imageIdFor(scan.key, plane, step, slice));
  }

  private async showView(plane: string, slice: number, frame: number, window: WindowValue | null): Promise<void> {
    const scan = this.scan!;
    const planeChanged = plane !== this.plane || !this.viewport.getImageIds().length;
    const keepWindow = this.currentWindow();
    this.plane = plane in scan.planes ? plane : Object.keys(scan.planes)[0];
    this.step = scan.kind === 'frames' ? 0 : Math.min(Math.max(frame, 0), scan.steps - 1);
    const index = scan.kind === 'frames' ? frame : slice;
    await this.setStack(index, window ?? keepWindow ?? scan.defaultWindow, planeChanged);
  }

  private async setStack(index: number, window: WindowValue | null, resetCamera: boolean): Promise<void> {
    const ids = this.stackIds(this.plane, this.step);
    const clamped = Math.min(Math.max(Math.round(index), 0), ids.length - 1);
    const camera = resetCamera ? null : this.viewport.getCamera();
    this.lastRendered = null; // not drawn until the new stack's picture is
    this.switching = true;
    try {
      await this.viewport.setStack(ids, clamped);
    } finally {
      this.switching = false;
    }
    // Load the rest of the stack in the background, nearest slices first.
    toolUtilities.stackPrefetch.enable(this.element);
    if (camera) this.viewport.setCamera(camera);
    else this.viewport.resetCamera();
    this.fitted ||= resetCamera;
    this.applyWindow(window);
    this.viewport.setProperties({ invert: Boolean(this.scan!.invert) });
    this.viewport.render();
    this.overlay.update(this.overlayFacts());
  }

  private applyWindow(window: WindowValue | null): void {
    if (!window || this.scan?.colour) return;
    // The server's window: values at centre - width/2 are black, at centre + width/2 white.
    this.viewport.setProperties({ voiRange: { lower: window.center - window.width / 2, upper: window.center + window.width / 2 } });
  }

  private currentWindow(): WindowValue | null {
    if (!this.scan || this.scan.colour || !this.viewport.getImageIds().length) return null;
    const range = this.viewport.getProperties().voiRange;
    if (!range) return null;
    return { center: (range.lower + range.upper) / 2, width: range.upper - range.lower };
  }

  private currentIndex(): number {
    return this.viewport.getImageIds().length ? this.viewport.getCurrentImageIdIndex() : 0;
  }

  /** Move ``delta`` pictures through the stack (slices, or frames of a cine), clamped at the ends. */
  scrollBy(delta: number): void {
    this.scrollTo(this.currentIndex() + delta);
  }

  scrollTo(index: number): void {
    const count = this.viewport.getImageIds().length;
    if (!count) return;
    const clamped = Math.min(Math.max(index, 0), count - 1);
    if (clamped !== this.currentIndex()) void this.viewport.setImageIdIndex(clamped);
  }

  private stepCount(): number {
    const scan = this.scan;
    if (!scan) return 1;
    return scan.kind === 'volume' && scan.steps > 1 ? scan.steps : this.viewport.getImageIds().length;
  }

  private async cineTick(): Promise<void> {
    const scan = this.scan;
    if (!scan) return;
    if (scan.kind === 'volume' && scan.steps > 1) {
      this.step = (this.step + 1) % scan.steps;
      await this.setStack(this.currentIndex(), this.currentWindow(), false);
    } else {
      const count = this.viewport.getImageIds().length;
      await this.viewport.setImageIdIndex((this.currentIndex() + 1) % count);
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
      }, 1000 / CINE_FPS);
    }
    this.relabel();
  }

  private stopCine(): void {
    if (this.cineTimer !== null) window.clearInterval(this.cineTimer);
    this.cineTimer = null;
  }

  /** Show another plane of a volume at its middle slice, keeping the window. */
  async setPlane(plane: string): Promise<void> {
    const scan = this.scan;
    if (!scan || !(plane in scan.planes) || plane === this.plane) return;
    this.pending = this.pending.then(async () => {
      const window = this.currentWindow();
      this.plane = plane;
      await this.setStack(Math.floor(scan.planes[plane].slices / 2), window, true);
      this.relabel();
    });
    return this.pending;
  }

  /**
   * Actual size: one picture pixel on one device pixel, drawn as it is (no interpolation), the
   * picture's corner on a whole pixel, so the canvas shows the very pixels the server renders.
   */
  actualSize(): void {
    const imageId = this.currentImageId();
    if (!imageId || !this.scan) return;
    this.viewport.setProperties({ interpolationType: Enums.InterpolationType.NEAREST });
    this.fitted = false;
    const rect = this.imageRect();
    const size = this.scan.planes[this.plane];
    const ratio = window.devicePixelRatio || 1;
    this.viewport.setZoom(this.viewport.getZoom() * size.width / (rect.width * ratio));
    for (let attempt = 0; attempt < 3; attempt++) {
      const corner = this.viewport.worldToCanvas(this.worldOf(imageId, 0, 0));
      const shift = [Math.round(corner[0] * ratio) / ratio - corner[0], Math.round(corner[1] * ratio) / ratio - corner[1]];
      if (Math.abs(shift[0]) < 1e-3 && Math.abs(shift[1]) < 1e-3) break;
      const spacing = size.spacing ?? 1;
      const pan = this.viewport.getPan();
      this.viewport.setPan([pan[0] + shift[0] * ratio * spacing, pan[1] + shift[1] * ratio * spacing] as Types.Point2);
    }
    this.viewport.render();
  }

  reset(): void {
    if (!this.scan || !this.viewport.getImageIds().length) return;
    this.viewport.setProperties({ interpolationType: Enums.InterpolationType.LINEAR });
    this.viewport.resetCamera();
    this.fitted = true;
    this.applyWindow(this.scan.defaultWindow);
    this.viewport.render();
  }

  setTool(name: string): void {
    selectTool(this.toolGroup, name);
    this.tool = name;
    this.relabel();
  }

  selectPreset(number: number): void {
    const preset = this.scan?.presets[number - 1];
    if (!preset) return;
    this.applyWindow({ center: preset.center, width: preset.width });
    this.viewport.render();
  }

  // ---- boxes ----

  private currentImageId(): string | undefined {
    return this.viewport.getImageIds().length ? this.viewport.getCurrentImageId() : undefined;
  }

  private annotationsOf(toolName: string, imageId?: string): Annotation[] {
    const all = annotationApi.state.getAllAnnotations() as Annotation[];
    return all.filter((a) => a.metadata?.toolName === toolName && (!imageId || a.metadata?.referencedImageId === imageId));
  }

  private boxOf(a: Annotation): BoxValue {
    const imageId = a.metadata!.referencedImageId!;
    const corners = (a.data.handles!.points as Types.Point3[]).map((p) => this.pictureOf(imageId, p));
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    return { id: a.annotationUID, label: (a.data as { label?: string }).label ?? '', x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) };
  }

  /** The length and probe marks on ``imageId``, in picture pixels. */
  private measurementsOn(imageId: string): MeasurementValue[] {
    return (['length', 'probe'] as const).flatMap((kind) => this.annotationsOf(TOOLS[kind], imageId).map((a) => ({
      kind, points: (a.data.handles!.points as Types.Point3[]).map((p) => this.pictureOf(imageId, p)) })));
  }

  /**
   * World point of picture point (x, y) on ``imageId``. Our pictures lie in the z = slice plane with
   * square pixels and pixel 0's centre at the origin (the loader's metadata says the same), so this
   * works before the picture has loaded.
   */
  private worldOf(imageId: string, x: number, y: number): Types.Point3 {
    const { plane, slice } = parseImageId(imageId);
    const spacing = this.scan!.planes[plane].spacing ?? 1;
    return [(x - 0.5) * spacing, (y - 0.5) * spacing, slice];
  }

  private pictureOf(imageId: string, world: Types.Point3): [number, number] {
    const spacing = this.scan!.planes[parseImageId(imageId).plane].spacing ?? 1;
    return [world[0] / spacing + 0.5, world[1] / spacing + 0.5];
  }

  private worldCorners(imageId: string, box: { x1: number; y1: number; x2: number; y2: number }): Types.Point3[] {
    const world = (x: number, y: number) => this.worldOf(imageId, x, y);
    return [world(box.x1, box.y1), world(box.x2, box.y1), world(box.x1, box.y2), world(box.x2, box.y2)];
  }

  private addBox(toolName: string, imageId: string, box: BoxValue, extra: Partial<Annotation> = {}): Annotation {
    const { plane, step } = parseImageId(imageId);
    const annotation = {
      annotationUID: utilities.uuidv4(),
      highlighted: false,
      invalidated: true,
      isLocked: false,
      isVisible: true,
      metadata: {
        toolName,
        referencedImageId: imageId,
        FrameOfReferenceUID: frameOfReferenceFor(this.scan!.key, plane, step),
        viewPlaneNormal: [0, 0, -1] as Types.Point3,
        viewUp: [0, -1, 0] as Types.Point3,
      },
      data: { handles: { points: this.worldCorners(imageId, box), activeHandleIndex: null }, label: box.label, cachedStats: {} },
      ...extra,
    } as unknown as Annotation;
    annotationApi.state.addAnnotation(annotation, this.element);
    return annotation;
  }

  private replaceUserBoxes(boxes: BoxValue[]): void {
    const imageId = this.currentImageId();
    if (!imageId) return;
    for (const a of this.annotationsOf(UserBoxTool.toolName, imageId)) annotationApi.state.removeAnnotation(a.annotationUID!);
    for (const box of boxes) this.addBox(UserBoxTool.toolName, imageId, box);
    this.viewport.render();
  }

  private showModelBoxes(): void {
    const scan = this.scan;
    if (!scan) return;
    const shown = JSON.stringify([this.value.modelBoxes, this.value.selectedRegion]);
    if (shown === this.modelBoxesShown) return;
    this.modelBoxesShown = shown;
    for (const a of this.annotationsOf(ModelBoxTool.toolName)) annotationApi.state.removeAnnotation(a.annotationUID!);
    for (const box of this.value.modelBoxes) {
      const imageId = scan.kind === 'frames' ? imageIdFor(scan.key, box.plane, box.frame, 0) : imageIdFor(scan.key, box.plane, box.frame, box.slice);
      const selected = box.region === this.value.selectedRegion;
      const tag = selected ? `${box.tag}*` : box.tag;
      const annotation = this.addBox(ModelBoxTool.toolName, imageId, { ...box, label: `[${tag}] ${box.label}`.trim() }, { isLocked: true });
      annotationApi.config.style.setAnnotationStyles(annotation.annotationUID!, {
        color: box.color, colorHighlighted: box.color, colorSelected: box.color, colorLocked: box.color, textBoxColor: box.color,
        lineWidth: selected ? '3' : '2',
      } as never);
    }
    this.viewport.render();
  }

  private imagePoint(event: MouseEvent): [number, number] | null {
    const imageId = this.currentImageId();
    if (!imageId) return null;
    const rect = this.element.getBoundingClientRect();
    const world = this.viewport.canvasToWorld([event.clientX - rect.left, event.clientY - rect.top] as Types.Point2);
    const [x, y] = this.pictureOf(imageId, world);
    const size = this.scan!.planes[this.plane];
    return x >= 0 && y >= 0 && x <= size.width && y <= size.height ? [x, y] : null;
  }

  private modelRegionAt(x: number, y: number): number | null {
    const imageId = this.currentImageId();
    let best: { region: number; area: number } | null = null;
    for (const box of this.value.modelBoxes) {
      const boxImage = this.scan!.kind === 'frames' ? imageIdFor(this.scan!.key, box.plane, box.frame, 0) : imageIdFor(this.scan!.key, box.plane, box.frame, box.slice);
      if (boxImage !== imageId || x < box.x1 || x > box.x2 || y < box.y1 || y > box.y2) continue;
      const area = (box.x2 - box.x1) * (box.y2 - box.y1);
      if (!best || area < best.area) best = { region: box.region, area };
    }
    return best?.region ?? null;
  }

  private userBoxAt(x: number, y: number): Annotation | null {
    const inside = this.annotationsOf(UserBoxTool.toolName, this.currentImageId()).filter((a) => {
      const b = this.boxOf(a);
      return x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2;
    });
    return inside.sort((a, b) => area(this.boxOf(a)) - area(this.boxOf(b)))[0] ?? null;
  }

  /** A click (press and release without a drag) on the picture. */
  private async onClick(event: MouseEvent): Promise<void> {
    const point = this.imagePoint(event);
    if (!point) return;
    const region = this.modelRegionAt(...point);
    if (region !== null) {
      this.bridge.trigger('select_region', { region });
      return;
    }
    const box = this.userBoxAt(...point);
    if (box) {
      annotationApi.selection.setAnnotationSelected(box.annotationUID!, true, false);
      this.selectedBox = box.annotationUID!;
      this.viewport.render();
      this.changed();
      return;
    }
    if (this.tool === 'box') await this.propose(...point);
  }

  /** Ask the server for a box around the clicked pixel (OpenCV on the windowed picture the model gets). */
  private async propose(x: number, y: number): Promise<void> {
    const imageId = this.currentImageId();
    if (!imageId || !this.scan) return;
    const state = this.state();
    const answer = await this.bridge.server.propose_box({ key: this.scan.key, x, y, plane: state.plane, slice: state.slice, frame: state.frame, window: state.window }) as { box?: BoxValue; error?: string };
    if (answer.error || !answer.box) {
      this.overlay.message(answer.error ?? '');
      return;
    }
    if (this.currentImageId() !== imageId) return; // the user moved on while the server worked
    this.selectedBox = this.addBox(UserBoxTool.toolName, imageId, answer.box).annotationUID!;
    this.viewport.render();
    this.changed();
  }

  private removeSelectedBoxes(): void {
    const selected = annotationApi.selection.getAnnotationsSelected() ?? [];
    let removed = false;
    for (const uid of selected) {
      const a = annotationApi.state.getAnnotation(uid);
      if (a?.metadata?.toolName === UserBoxTool.toolName) {
        annotationApi.state.removeAnnotation(uid);
        removed = true;
      }
    }
    if (removed) {
      this.viewport.render();
      this.changed();
    }
  }

  /** Double-click inside one of the user's boxes: type its name in place. */
  private rename(event: MouseEvent): void {
    const point = this.imagePoint(event);
    const box = point && this.userBoxAt(...point);
    if (!box) return;
    const input = document.createElement('input');
    input.className = 'medrega-rename';
    input.value = (box.data as { label?: string }).label ?? '';
    input.placeholder = this.value.texts['box.name'] ?? '';
    const stage = this.element.parentElement!.getBoundingClientRect();
    input.style.left = `${event.clientX - stage.left}px`;
    input.style.top = `${event.clientY - stage.top}px`;
    const finish = (save: boolean) => {
      if (!input.isConnected) return;
      if (save) {
        (box.data as { label?: string }).label = input.value.trim();
        this.viewport.render();
        this.changed();
      }
      input.remove();
      this.root.focus({ preventScroll: true });
    };
    input.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    this.element.parentElement!.append(input);
    input.focus();
    input.select();
  }

  // ---- events ----

  private listen(): void {
    const element = this.element;
    element.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => {
      this.overlay.update(this.overlayFacts());
      this.changed();
    });
    element.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
      this.lastRendered = this.currentImageId() ?? null;
      this.overlay.update(this.overlayFacts());
    });
    element.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, () => this.overlay.message(this.value.texts['error.load'] ?? ''));
    const reported = [UserBoxTool.toolName, TOOLS.length, TOOLS.probe];
    for (const name of [ToolEnums.Events.ANNOTATION_MODIFIED, ToolEnums.Events.ANNOTATION_REMOVED, ToolEnums.Events.ANNOTATION_COMPLETED]) {
      eventTarget.addEventListener(name, (event: Event) => {
        const a = (event as CustomEvent).detail?.annotation as Annotation | undefined;
        if (reported.includes(a?.metadata?.toolName ?? '')) this.changed();
      });
    }
    eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, (event: Event) => {
      const a = (event as CustomEvent).detail?.annotation as Annotation | undefined;
      if (a?.metadata?.toolName !== UserBoxTool.toolName) return;
      const box = this.boxOf(a);
      // A press without a drag leaves an empty box behind: a click, handled as one.
      if (box.x2 - box.x1 < 1 || box.y2 - box.y1 < 1) {
        annotationApi.state.removeAnnotation(a.annotationUID!);
      } else {
        this.selectedBox = a.annotationUID!;
        this.changed();
      }
    });

    element.addEventListener('mousedown', (event) => {
      this.root.focus({ preventScroll: true });
      if (event.button !== 0 || this.tool === 'pan') this.fitted = false; // pan or zoom
      this.press = { x: event.clientX, y: event.clientY, moved: false, button: event.button };
    });
    document.addEventListener('mousemove', (event) => {
      if (this.press && Math.hypot(event.clientX - this.press.x, event.clientY - this.press.y) > CLICK_SLOP) this.press.moved = true;
    });
    document.addEventListener('mouseup', (event) => {
      const press = this.press;
      this.press = null;
      if (!press || press.moved || press.button !== 0) return;
      // Let Cornerstone finish its own mouse-up first, then end any box it began on the press.
      window.setTimeout(() => {
        cancelActiveManipulations(element);
        void this.onClick(event);
      }, 0);
    });
    element.addEventListener('dblclick', (event) => this.rename(event));
    this.root.addEventListener('keydown', (event) => this.onKey(event));
  }

  private onKey(event: KeyboardEvent): void {
    if (!this.scan) return;
    const count = this.viewport.getImageIds().length;
    const page = Math.max(1, Math.round(count / 10));
    const actions: Record<string, () => void> = {
      ArrowUp: () => this.scrollBy(-1),
      ArrowLeft: () => this.scrollBy(-1),
      ArrowDown: () => this.scrollBy(1),
      ArrowRight: () => this.scrollBy(1),
      PageUp: () => this.scrollBy(-page),
      PageDown: () => this.scrollBy(page),
      Home: () => this.scrollTo(0),
      End: () => this.scrollTo(count - 1),
      ' ': () => this.toggleCine(),
      r: () => this.reset(),
      Delete: () => this.removeSelectedBoxes(),
      Backspace: () => this.removeSelectedBoxes(),
      Escape: () => { this.help.hidden = true; this.relabel(); },
    };
    const action = actions[event.key] ?? (/^[1-5]$/.test(event.key) ? () => this.selectPreset(Number(event.key)) : undefined);
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  }

  /** Tell Python (debounced) what is shown and which boxes are on it. */
  private changed(): void {
    if (this.changeTimer !== null) window.clearTimeout(this.changeTimer);
    this.changeTimer = window.setTimeout(() => {
      this.changeTimer = null;
      if (this.scan) this.bridge.trigger('viewer_change', this.state());
    }, CHANGE_DEBOUNCE_MS);
  }

  /** A new panel size refits a fitted picture; a picture the user zoomed or panned keeps its camera. */
  private resize(): void {
    this.engine.resize(true, !this.fitted);
    if (this.fitted && this.viewport.getImageIds().length) this.viewport.resetCamera();
    this.viewport.render();
    this.overlay.update(this.overlayFacts());
  }

  // ---- state ----

  /** The shown picture's id once its values are in the browser (the camera is known only then). */
  private drawnImageId(): string | undefined {
    const imageId = this.currentImageId();
    return imageId && !this.switching && cache.getImage(imageId) ? imageId : undefined;
  }

  private imageRect(): ViewerState['imageRect'] {
    const imageId = this.drawnImageId();
    if (!imageId || !this.scan) return { left: 0, top: 0, width: 0, height: 0 };
    const size = this.scan.planes[this.plane];
    const rect = this.element.getBoundingClientRect();
    const [a, b] = [[0, 0], [size.width, size.height]].map(([x, y]) => this.viewport.worldToCanvas(this.worldOf(imageId, x, y)));
    return { left: rect.left + Math.min(a[0], b[0]), top: rect.top + Math.min(a[1], b[1]), width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]) };
  }

  state(): ViewerState {
    const scan = this.scan;
    const index = this.currentIndex();
    const frames = scan?.kind === 'frames';
    const size = scan ? scan.planes[this.plane] : { width: 0, height: 0, slices: 0 };
    const imageId = this.currentImageId();
    const boxes = imageId ? this.annotationsOf(UserBoxTool.toolName, imageId).map((a) => this.boxOf(a)) : [];
    return {
      plane: this.plane,
      slice: frames ? 0 : index,
      numSlices: scan ? (frames ? 1 : size.slices) : 0,
      frame: frames ? index : this.step,
      numFrames: scan?.steps ?? 0,
      window: this.currentWindow(),
      zoom: scan && this.drawnImageId() ? this.viewport.getZoom() : 1,
      tool: this.tool,
      boxes,
      selectedBox: boxes.some((b) => b.id === this.selectedBox) ? this.selectedBox : boxes[boxes.length - 1]?.id ?? null,
      measurements: imageId ? this.measurementsOn(imageId) : [],
      modelBoxes: this.value.modelBoxes,
      selectedRegion: this.value.selectedRegion,
      picture: { width: size.width, height: size.height },
      imageRect: this.imageRect(),
      scanKey: scan?.key ?? null,
      cine: this.cineTimer !== null,
      loaded: this.viewport.getImageIds().filter((id) => cache.getImage(id)).length,
      rendered: Boolean(this.drawnImageId()) && this.lastRendered === imageId,
    };
  }

  private overlayFacts() {
    const scan = this.scan;
    if (!scan || !this.drawnImageId()) return null;
    const state = this.state();
    const info = scan.planes[this.plane];
    const t = this.value.texts;
    const lines: string[] = [];
    if (scan.kind === 'frames') lines.push(`${t['overlay.frame'] ?? 'Frame'} ${state.frame + 1}/${scan.steps}`);
    else if (info.slices > 1) lines.push(`${t['overlay.slice'] ?? 'Slice'} ${state.slice + 1}/${info.slices}`);
    if (scan.kind === 'volume' && scan.steps > 1) lines.push(`${t['overlay.time'] ?? 'Time'} ${state.frame + 1}/${scan.steps}`);
    const window = state.window;
    const rect = this.element.getBoundingClientRect();
    // Canvas pixels per world unit (mm when calibrated) along the picture's rows.
    const origin = this.viewport.worldToCanvas([0, 0, state.slice] as Types.Point3);
    const step = this.viewport.worldToCanvas([10, 0, state.slice] as Types.Point3);
    return {
      corner: lines,
      window: window ? `${t['overlay.window'] ?? 'W/L'} ${Math.round(window.width)}/${Math.round(window.center)}` : '',
      title: [scan.modality, info.label ?? t[`plane.${this.plane}`] ?? ''].filter(Boolean).join(' · '),
      zoom: `${t['overlay.zoom'] ?? 'Zoom'} ${state.zoom.toFixed(2)}×`,
      orientation: info.orientation,
      pixelsPerMm: info.spacing ? Math.hypot(step[0] - origin[0], step[1] - origin[1]) / 10 : null,
      width: rect.width,
    };
  }
}

function area(box: BoxValue): number {
  return (box.x2 - box.x1) * (box.y2 - box.y1);
}

/** Entry point for gr.HTML's `js_on_load`: one viewer in ``host``. */
export function mountViewer(host: HTMLElement, bridge: GradioBridge): Viewer {
  return new Viewer(host, bridge);
}
