/**
 * One Cornerstone3D stack viewport in the Gradio page, put together from its parts: the stack shown
 * (stack.ts), the boxes (boxes.ts, boxTools.ts), the tool group (tools.ts), the tool bar
 * (toolbar.ts), the keys (keys.ts) and the bridge to Python (bridge.ts). The JSON it exchanges with
 * Python is typed by contract.ts, generated from schema/contract.schema.json.
 */
import {
  Enums,
  RenderingEngine,
  eventTarget,
  init as initCore,
  type StackViewport,
  type Types,
} from '@cornerstonejs/core';
import { Enums as ToolEnums, init as initTools, type Types as ToolTypes } from '@cornerstonejs/tools';

import { Boxes } from './boxes';
import { UserBoxTool } from './boxTools';
import { PythonBridge, type GradioBridge } from './bridge';
import type { Box, ViewerState, ViewerValue } from './contract';
import { bindKeys } from './keys';
import { PictureRefused, registerLoader, useLanguage } from './loader';
import { Overlay, type OverlayFacts } from './overlay';
import { usePictureConvention } from './picture';
import { chooseRenderPath, useRenderPath, type RenderPath } from './rendering';
import { Stack } from './stack';
import { addStyles } from './styles';
import { TOOLS, createToolGroup, selectTool, type ViewerTools } from './tools';
import { Toolbar } from './toolbar';

/** Height limits of the picture's panel, CSS px. */
const STAGE_MIN_HEIGHT = 320;
const STAGE_MARGIN = 12;

const EMPTY_VALUE: ViewerValue = { scan: null, view: null, userBoxes: null, modelBoxes: [], selectedRegion: null, texts: {} };

let renderPath: RenderPath | null = null;

function initialise(): RenderPath {
  if (renderPath) return renderPath;
  initCore();
  renderPath = chooseRenderPath();
  useRenderPath(renderPath);
  usePictureConvention(renderPath);
  initTools();
  registerLoader();
  addStyles();
  return renderPath;
}

let instances = 0;

type Annotation = ToolTypes.Annotation;

export class Viewer {
  readonly root: HTMLElement;
  private readonly element: HTMLDivElement;
  private readonly stage: HTMLDivElement;
  private readonly hint: HTMLDivElement;
  private readonly overlay: Overlay;
  private readonly toolbar: Toolbar;
  private readonly bridge: PythonBridge;
  private readonly engine: RenderingEngine;
  private readonly viewportId: string;
  private readonly tools: ViewerTools;
  private readonly stack: Stack;
  private readonly boxes: Boxes;
  private readonly renderPath: RenderPath;
  private value: ViewerValue = EMPTY_VALUE;
  private tool = 'window';
  private viewSerial = -1;
  private boxesSerial = -1;
  private pending: Promise<void> = Promise.resolve();

  constructor(host: HTMLElement, gradio: GradioBridge) {
    this.renderPath = initialise();
    this.bridge = new PythonBridge(gradio);
    const id = `medrega-${++instances}`;
    this.viewportId = `${id}-viewport`;
    this.root = document.createElement('div');
    this.root.className = 'medrega-viewer';
    this.root.tabIndex = 0;
    this.toolbar = new Toolbar(Object.keys(TOOLS), {
      plane: (plane) => void this.setPlane(plane),
      tool: (name) => this.setTool(name),
      reset: () => this.reset(),
      cine: () => this.toggleCine(),
    }, () => { this.refresh(); this.root.focus({ preventScroll: true }); });
    this.element = document.createElement('div');
    this.element.className = 'medrega-viewport';
    this.element.addEventListener('contextmenu', (event) => event.preventDefault());
    this.stage = document.createElement('div');
    this.stage.className = 'medrega-stage empty';
    this.hint = document.createElement('div');
    this.hint.className = 'medrega-empty';
    this.stage.append(this.element, this.hint);
    this.overlay = new Overlay(this.stage);
    this.stage.append(this.toolbar.help);
    this.root.append(this.toolbar.element, this.stage);
    host.append(this.root);

    this.engine = new RenderingEngine(`${id}-engine`);
    this.engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] as Types.Point3 },
    });
    this.stack = new Stack(() => this.viewport, () => this.refresh());
    this.boxes = new Boxes({
      element: this.element,
      stage: this.stage,
      root: this.root,
      viewport: () => this.viewport,
      scan: () => this.stack.scan,
      value: () => this.value,
      boxTools: () => this.tools,
      selectRegion: (region) => this.bridge.selectRegion(region),
      propose: (x, y) => this.propose(x, y),
      changed: () => this.changed(),
    });
    this.tools = createToolGroup(`${id}-tools`, this.viewportId, this.engine.id, this.boxes);
    this.listen();
    bindKeys(this.root, this.element, {
      scrollBy: (delta) => this.scrollBy(delta),
      scrollTo: (index) => this.scrollTo(index),
      count: () => this.stack.count(),
      toggleCine: () => this.toggleCine(),
      reset: () => this.reset(),
      deleteSelected: () => this.boxes.deleteSelected(),
      closeHelp: () => { this.toolbar.closeHelp(); this.refresh(); },
      preset: (number) => this.stack.selectPreset(number),
    });
    new ResizeObserver(() => this.resize()).observe(this.element);
    window.addEventListener('resize', () => this.fitStage());
    // The panels above the viewer change height (a file list, a series line): follow them. The body's
    // size does not always change with them (the scan line appearing after the first picture did not),
    // so the blocks above the viewer in its column are watched too.
    const above = new ResizeObserver(() => this.fitStage());
    above.observe(document.body);
    const block = host.closest('.block');
    for (let sibling = block?.previousElementSibling; sibling; sibling = sibling.previousElementSibling) above.observe(sibling);
    this.fitStage();
  }

  private get viewport(): StackViewport {
    return this.engine.getViewport(this.viewportId) as StackViewport;
  }

  /**
   * With a scan, the picture's panel reaches down to the bottom of the window (picture, tools and
   * overlays in one screen); without one it keeps its least height, so what comes below (the
   * examples) is on screen too.
   */
  private fitStage(): void {
    const top = this.stage.getBoundingClientRect().top + window.scrollY;
    const height = this.stack.scan ? Math.max(STAGE_MIN_HEIGHT, window.innerHeight - top - STAGE_MARGIN) : STAGE_MIN_HEIGHT;
    this.stage.style.height = `${height}px`;
  }

  /** Tool bar, empty-viewer hint and overlays after any change. */
  private refresh(): void {
    const t = this.value.texts;
    const scan = this.stack.scan;
    this.toolbar.update({ texts: t, planes: scan ? Object.keys(scan.planes) : [], plane: this.stack.plane, tool: this.tool, cine: this.stack.playing });
    this.hint.textContent = t['empty.hint'] ?? '';
    this.stage.classList.toggle('empty', !scan);
    this.overlay.update(this.overlayFacts());
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
    useLanguage(value.texts.lang ?? 'en');
    const scan = value.scan;
    if (!scan) {
      this.closeScan();
    } else if (this.stack.scan?.key !== scan.key) {
      this.closeScan();
      this.stack.open(scan);
      this.viewSerial = this.boxesSerial = -1;
    } else {
      this.stack.renew(scan);
    }
    this.refresh();
    this.fitStage();
    if (!scan) return;
    if (value.view && value.view.serial !== this.viewSerial) {
      this.viewSerial = value.view.serial;
      this.engine.resize(true, false); // the panel may have been resized while it was empty
      await this.stack.show(value.view.plane, value.view.slice, value.view.frame, value.view.window);
    }
    if (value.userBoxes && value.userBoxes.serial !== this.boxesSerial) {
      this.boxesSerial = value.userBoxes.serial;
      this.boxes.replaceUserBoxes(value.userBoxes.boxes);
    }
    // The answer's boxes are what the user waits for: bring the picture back if Ask scrolled it away.
    if (this.boxes.showModelBoxes()) this.root.scrollIntoView({ block: 'nearest' });
    this.refresh();
  }

  private closeScan(): void {
    if (this.stack.scan) this.boxes.forget();
    this.stack.close();
  }

  // ---- what scripts and the tool bar call ----

  scrollBy(delta: number): void {
    this.stack.scrollBy(delta);
  }

  scrollTo(index: number): void {
    this.stack.scrollTo(index);
  }

  /** Show another plane of a volume at its middle slice, keeping the window. */
  setPlane(plane: string): Promise<void> {
    const scan = this.stack.scan;
    // A plane cut across the slices needs all of them: say why its picture takes a moment.
    if (scan?.loading && plane !== Object.keys(scan.planes)[0]) this.overlay.message(this.value.texts['plane.wait'] ?? '');
    this.pending = this.pending.then(async () => {
      await this.stack.setPlane(plane);
      this.refresh();
    });
    return this.pending;
  }

  toggleCine(): void {
    this.stack.toggleCine();
    this.refresh();
  }

  actualSize(): void {
    this.stack.actualSize(this.element);
  }

  reset(): void {
    this.stack.reset();
  }

  setTool(name: string): void {
    selectTool(this.tools.group, name);
    this.tool = name;
    this.refresh();
  }

  /** The server's proposal for a click at picture point (x, y), or null (its message is shown). */
  private async propose(x: number, y: number): Promise<Box | null> {
    const state = this.state();
    const answer = await this.bridge.proposeBox({
      key: state.scanKey!, x, y, plane: state.plane, slice: state.slice, frame: state.frame, window: state.window,
      lang: this.value.texts.lang ?? 'en',
    });
    if (answer.error || !answer.box) {
      this.overlay.message(answer.error ?? '');
      return null;
    }
    return answer.box;
  }

  // ---- events ----

  private listen(): void {
    const element = this.element;
    element.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => {
      this.stack.keepWindowOnNewPicture();
      this.refresh();
      this.changed();
    });
    element.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
      this.stack.lastRendered = this.stack.currentImageId() ?? null;
      this.overlay.update(this.overlayFacts());
    });
    // The progress mark follows the pictures arriving or refused (at most once a frame).
    let progressQueued = false;
    const progress = () => {
      if (progressQueued) return;
      progressQueued = true;
      requestAnimationFrame(() => { progressQueued = false; this.overlay.update(this.overlayFacts()); });
    };
    const ours = (imageId: unknown) => Boolean(this.stack.scan) && String(imageId ?? '').includes(`:${this.stack.scan!.key}/`);
    // Any load of a picture (prefetch included) that failed: a refused one is settled for the progress mark.
    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_FAILED, (event: Event) => {
      const { imageId, error } = (event as CustomEvent).detail ?? {};
      if (!ours(imageId)) return;
      if (error instanceof PictureRefused) this.stack.refuse(imageId);
      progress();
    });
    // The picture to show failed: not the previous one in its place, and why over it.
    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, (event: Event) => {
      const { imageId, error } = (event as CustomEvent).detail ?? {};
      if (!ours(imageId)) return;
      if (imageId === this.stack.currentImageId()) this.stack.blank();
      this.overlay.message(error instanceof PictureRefused ? error.message : this.value.texts['error.load'] ?? '');
    });
    eventTarget.addEventListener(Enums.Events.IMAGE_LOADED, progress);
    const toolOf = (event: Event) =>
      ((event as CustomEvent).detail?.annotation as Annotation | undefined)?.metadata?.toolName ?? '';
    const measured = [TOOLS.length, TOOLS.probe];
    for (const name of [ToolEnums.Events.ANNOTATION_MODIFIED, ToolEnums.Events.ANNOTATION_REMOVED]) {
      eventTarget.addEventListener(name, (event: Event) => {
        if (toolOf(event) === UserBoxTool.toolName || measured.includes(toolOf(event))) this.changed();
      });
    }
    eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, (event: Event) => {
      if (toolOf(event) === UserBoxTool.toolName) this.boxes.drawn((event as CustomEvent).detail.annotation);
      else if (measured.includes(toolOf(event))) this.changed();
    });
    element.addEventListener('mousedown', (event) => {
      if (event.button !== 0 || this.tool === 'pan') this.stack.fitted = false; // pan or zoom
    });
  }

  /** Tell Python (debounced) what is shown and which boxes are on it. */
  private changed(): void {
    this.bridge.reportChange(() => (this.stack.scan ? this.state() : null));
  }

  /** A new panel size refits a fitted picture; a picture the user zoomed or panned keeps its camera. */
  private resize(): void {
    if (!this.stack.scan) return; // an empty viewer draws nothing (its last picture stays cleared)
    this.engine.resize(true, !this.stack.fitted);
    if (this.stack.fitted && this.stack.count()) this.viewport.resetCamera();
    this.viewport.render();
    this.overlay.update(this.overlayFacts());
  }

  // ---- state ----

  state(): ViewerState {
    const stack = this.stack;
    const scan = stack.scan;
    const index = stack.currentIndex();
    const frames = scan?.kind === 'frames';
    const size = scan ? scan.planes[stack.plane] : { width: 0, height: 0, slices: 0 };
    const { boxes, selected } = this.boxes.userBoxes();
    const drawn = stack.drawnImageId();
    return {
      plane: stack.plane,
      slice: frames ? 0 : index,
      numSlices: scan ? (frames ? 1 : size.slices) : 0,
      frame: frames ? index : stack.step,
      numFrames: scan?.steps ?? 0,
      window: stack.currentWindow(),
      zoom: stack.zoom(this.element),
      tool: this.tool,
      boxes,
      selectedBox: selected,
      measurements: this.boxes.measurements(),
      modelBoxes: this.value.modelBoxes,
      selectedRegion: this.value.selectedRegion,
      picture: { width: size.width, height: size.height },
      imageRect: stack.imageRect(this.element),
      scanKey: scan?.key ?? null,
      cine: stack.playing,
      cineFps: stack.cineFps(),
      renderPath: this.renderPath,
      loaded: stack.loaded(),
      rendered: Boolean(drawn) && stack.lastRendered === drawn,
    };
  }

  private overlayFacts(): OverlayFacts | null {
    const scan = this.stack.scan;
    if (!scan || !this.stack.drawnImageId()) return null;
    const state = this.state();
    const info = scan.planes[this.stack.plane];
    const t = this.value.texts;
    const lines: string[] = [];
    if (scan.kind === 'frames') lines.push(`${t['overlay.frame'] ?? 'Frame'} ${state.frame + 1}/${scan.steps}`);
    else if (info.slices > 1) lines.push(`${t['overlay.slice'] ?? 'Slice'} ${state.slice + 1}/${info.slices}`);
    if (scan.kind === 'volume' && scan.steps > 1) lines.push(`${t['overlay.time'] ?? 'Time'} ${state.frame + 1}/${scan.steps}`);
    const count = this.stack.count();
    if (state.loaded < count) lines.push(`${t['overlay.loading'] ?? 'Loading'} ${state.loaded}/${count}`);
    const window = state.window;
    const rect = this.element.getBoundingClientRect();
    // Canvas pixels per world unit (mm when calibrated) along the picture's rows.
    const origin = this.viewport.worldToCanvas([0, 0, state.slice] as Types.Point3);
    const step = this.viewport.worldToCanvas([10, 0, state.slice] as Types.Point3);
    return {
      corner: lines,
      window: window ? `${t['overlay.window'] ?? 'W/L'} ${Math.round(window.width)}/${Math.round(window.center)}` : '',
      title: [scan.modality, info.label].filter(Boolean).join(' · '),
      zoom: `${t['overlay.zoom'] ?? 'Zoom'} ${state.zoom.toFixed(2)}×`,
      orientation: info.orientation,
      pixelsPerMm: info.spacing ? Math.hypot(step[0] - origin[0], step[1] - origin[1]) / 10 : null,
      width: rect.width,
    };
  }
}

/** Entry point for gr.HTML's `js_on_load`: one viewer in ``host``. */
export function mountViewer(host: HTMLElement, bridge: GradioBridge): Viewer {
  return new Viewer(host, bridge);
}
