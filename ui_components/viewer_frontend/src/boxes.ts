/**
 * The boxes on the picture: the user's (drawn, proposed, named, removed) and the model's (from the
 * latest answer), as Cornerstone annotations in picture pixels. What a click on the picture means
 * is decided here: a model box selects its region, a user box is selected, and with the Box tool a
 * click elsewhere asks the server for a proposal.
 */
import { utilities, type StackViewport, type Types } from '@cornerstonejs/core';
import { annotation as annotationApi, type Types as ToolTypes } from '@cornerstonejs/tools';

import type { BoxHooks, LabelledBoxData } from './boxTools';
import { ModelBoxTool, UserBoxTool } from './boxTools';
import type { Box, Measurement, ModelBox, ScanDescriptor, ViewerValue } from './contract';
import { frameOfReferenceFor, imageIdFor, parseImageId } from './loader';
import { pictureOf, worldOf } from './picture';
import { TOOLS } from './tools';

type Annotation = ToolTypes.Annotation;

/** What the boxes need to know of the rest of the viewer. */
export interface BoxContext {
  element: HTMLDivElement;
  viewport(): StackViewport;
  scan(): ScanDescriptor | null;
  value(): ViewerValue;
  boxTools(): { user: UserBoxTool; model: ModelBoxTool };
  selectRegion(region: number): void;
  /** The server's proposal for a click at picture point (x, y) of the view shown, or null. */
  propose(x: number, y: number): Promise<Box | null>;
  /** The user's boxes changed: tell Python. */
  changed(): void;
  /** Where the rename input goes, and the focus after it. */
  stage: HTMLElement;
  root: HTMLElement;
}

export class Boxes implements BoxHooks {
  private selected: string | null = null;
  /** The model's boxes drawn (as JSON) and the region drawn selected. */
  private modelShown = '[]';
  private regionShown: number | null = null;

  constructor(private readonly ctx: BoxContext) {}

  private currentImageId(): string | undefined {
    const viewport = this.ctx.viewport();
    return viewport.getImageIds().length ? viewport.getCurrentImageId() : undefined;
  }

  private annotationsOf(toolName: string, imageId?: string): Annotation[] {
    const all = annotationApi.state.getAllAnnotations() as Annotation[];
    return all.filter((a) => a.metadata?.toolName === toolName && (!imageId || a.metadata?.referencedImageId === imageId));
  }

  /** A box annotation in picture pixels, in the frame of reference of its picture. */
  private add(toolName: string, imageId: string, box: Box, data: LabelledBoxData, locked = false): Annotation {
    const scan = this.ctx.scan()!;
    const { plane, step } = parseImageId(imageId);
    const world = (x: number, y: number) => worldOf(scan, imageId, x, y);
    const annotation = {
      annotationUID: utilities.uuidv4(),
      highlighted: false,
      invalidated: true,
      isLocked: locked,
      isVisible: true,
      metadata: {
        toolName,
        referencedImageId: imageId,
        FrameOfReferenceUID: frameOfReferenceFor(scan.key, plane, step),
        viewPlaneNormal: [0, 0, -1] as Types.Point3,
        viewUp: [0, -1, 0] as Types.Point3,
      },
      data: {
        handles: { points: [world(box.xmin, box.ymin), world(box.xmax, box.ymin), world(box.xmin, box.ymax), world(box.xmax, box.ymax)], activeHandleIndex: null },
        cachedStats: {},
        ...data,
      },
    } as unknown as Annotation;
    annotationApi.state.addAnnotation(annotation, this.ctx.element);
    return annotation;
  }

  private boxOf(a: Annotation): Box {
    const scan = this.ctx.scan()!;
    const imageId = a.metadata!.referencedImageId!;
    const corners = (a.data.handles!.points as Types.Point3[]).map((p) => pictureOf(scan, imageId, p));
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    return { id: a.annotationUID!, label: (a.data as LabelledBoxData).label ?? '', xmin: Math.min(...xs), ymin: Math.min(...ys), xmax: Math.max(...xs), ymax: Math.max(...ys) };
  }

  /** The user's boxes on the picture shown, and the one a question is about. */
  userBoxes(): { boxes: Box[]; selected: string | null } {
    const imageId = this.currentImageId();
    const boxes = imageId ? this.annotationsOf(UserBoxTool.toolName, imageId).map((a) => this.boxOf(a)) : [];
    const selected = boxes.some((b) => b.id === this.selected) ? this.selected : boxes[boxes.length - 1]?.id ?? null;
    return { boxes, selected };
  }

  /** The length and probe marks on the picture shown, in picture pixels (Python measures them again). */
  measurements(): Measurement[] {
    const imageId = this.currentImageId();
    if (!imageId) return [];
    const scan = this.ctx.scan()!;
    return (['length', 'probe'] as const).flatMap((kind) => this.annotationsOf(TOOLS[kind], imageId).map((a) => ({
      kind, points: (a.data.handles!.points as Types.Point3[]).map((p) => pictureOf(scan, imageId, p)) })));
  }

  /** A box the user finished drawing becomes the selected one. */
  drawn(a: Annotation): void {
    this.selected = a.annotationUID!;
    this.ctx.changed();
  }

  replaceUserBoxes(boxes: Box[]): void {
    const imageId = this.currentImageId();
    if (!imageId) return;
    for (const a of this.annotationsOf(UserBoxTool.toolName, imageId)) annotationApi.state.removeAnnotation(a.annotationUID!);
    for (const box of boxes) this.add(UserBoxTool.toolName, imageId, box, { label: box.label });
    this.ctx.viewport().render();
  }

  private modelImageId(box: ModelBox): string {
    const scan = this.ctx.scan()!;
    return scan.kind === 'frames' ? imageIdFor(scan.key, box.plane, box.frame, 0) : imageIdFor(scan.key, box.plane, box.frame, box.slice);
  }

  /**
   * The latest answer's boxes, the selected region's drawn thicker and starred. True when boxes of
   * a new answer were drawn.
   */
  showModelBoxes(): boolean {
    if (!this.ctx.scan()) return false;
    const { modelBoxes, selectedRegion } = this.ctx.value();
    const shown = JSON.stringify(modelBoxes);
    if (shown === this.modelShown && selectedRegion === this.regionShown) return false;
    const newAnswer = shown !== this.modelShown;
    this.modelShown = shown;
    this.regionShown = selectedRegion;
    for (const a of this.annotationsOf(ModelBoxTool.toolName)) annotationApi.state.removeAnnotation(a.annotationUID!);
    for (const box of modelBoxes) {
      const selected = box.region === selectedRegion;
      const label = `[${selected ? `${box.tag}*` : box.tag}] ${box.label}`.trim();
      const annotation = this.add(ModelBoxTool.toolName, this.modelImageId(box), box, { label, region: box.region }, true);
      annotationApi.config.style.setAnnotationStyles(annotation.annotationUID!, {
        color: box.color, colorHighlighted: box.color, colorSelected: box.color, colorLocked: box.color, textBoxColor: box.color,
        lineWidth: selected ? '3' : '2',
      } as never);
    }
    this.ctx.viewport().render();
    return newAnswer && modelBoxes.length > 0;
  }

  /** A new scan: nothing of the last one's boxes is kept. */
  forget(): void {
    annotationApi.state.removeAllAnnotations();
    this.selected = null;
    this.modelShown = '[]';
    this.regionShown = null;
  }

  onClick(canvas: Types.Point2, drawing: boolean): void {
    const element = this.ctx.element;
    const tools = this.ctx.boxTools();
    const model = tools.model.boxAt(element, canvas);
    if (model) {
      this.ctx.selectRegion((model.data as LabelledBoxData).region!);
      return;
    }
    const box = tools.user.boxAt(element, canvas);
    if (box) {
      annotationApi.selection.setAnnotationSelected(box.annotationUID!, true, false);
      this.selected = box.annotationUID!;
      this.ctx.viewport().render();
      this.ctx.changed();
      return;
    }
    if (drawing) void this.propose(canvas);
  }

  private async propose(canvas: Types.Point2): Promise<void> {
    const imageId = this.currentImageId();
    const scan = this.ctx.scan();
    if (!imageId || !scan) return;
    const [x, y] = pictureOf(scan, imageId, this.ctx.viewport().canvasToWorld(canvas));
    const size = scan.planes[parseImageId(imageId).plane];
    if (x < 0 || y < 0 || x > size.width || y > size.height) return;
    const box = await this.ctx.propose(x, y);
    if (!box || this.currentImageId() !== imageId) return; // refused, or the user moved on meanwhile
    this.selected = this.add(UserBoxTool.toolName, imageId, box, { label: box.label }).annotationUID!;
    this.ctx.viewport().render();
    this.ctx.changed();
  }

  deleteSelected(): void {
    let removed = false;
    for (const uid of annotationApi.selection.getAnnotationsSelected() ?? []) {
      if (annotationApi.state.getAnnotation(uid)?.metadata?.toolName === UserBoxTool.toolName) {
        annotationApi.state.removeAnnotation(uid);
        removed = true;
      }
    }
    if (removed) {
      this.ctx.viewport().render();
      this.ctx.changed();
    }
  }

  /** Type the box's name in place: Enter (or leaving the field) keeps it, Escape drops it. */
  onRename(box: Annotation, event: MouseEvent): void {
    const input = document.createElement('input');
    input.className = 'medrega-rename';
    input.value = (box.data as LabelledBoxData).label ?? '';
    input.placeholder = this.ctx.value().texts['box.name'] ?? '';
    const stage = this.ctx.stage.getBoundingClientRect();
    input.style.left = `${event.clientX - stage.left}px`;
    input.style.top = `${event.clientY - stage.top}px`;
    const finish = (save: boolean) => {
      if (!input.isConnected) return;
      if (save) {
        (box.data as LabelledBoxData).label = input.value.trim();
        this.selected = box.annotationUID!;
        this.ctx.viewport().render();
        this.ctx.changed();
      }
      input.remove();
      this.ctx.root.focus({ preventScroll: true });
    };
    input.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    this.ctx.stage.append(input);
    input.focus();
    input.select();
  }
}
