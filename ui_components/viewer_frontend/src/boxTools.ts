/**
 * The two box tools. Cornerstone calls them for every press, click, double-click and release on the
 * picture; what a click or a double-click means for the app (select, propose, name) is decided by
 * the hooks the viewer passes in their configuration (as ArrowAnnotateTool's changeTextCallback).
 */
import { getEnabledElement, type Types } from '@cornerstonejs/core';
import {
  RectangleROITool,
  annotation as annotationApi,
  cursors,
  utilities as toolUtilities,
  type Types as ToolTypes,
} from '@cornerstonejs/tools';

type Annotation = ToolTypes.Annotation;
type InteractionEvent = ToolTypes.EventTypes.InteractionEventType;
type MouseEventDetail = ToolTypes.EventTypes.MouseUpEventDetail;

/** A press that moves less than this (canvas px) is a click, not a drag. */
const CLICK_SLOP = 4;

export interface BoxHooks {
  /** A click on the picture at ``canvas``; ``drawing`` when the Box tool had begun a box there. */
  onClick(canvas: Types.Point2, drawing: boolean): void;
  /** A double-click inside the user's box ``box``. */
  onRename(box: Annotation, event: MouseEvent): void;
}

export interface LabelledBoxData {
  label?: string;
  /** The model's region number (model boxes only). */
  region?: number;
}

function canvasRect(viewport: { worldToCanvas(world: Types.Point3): Types.Point2 }, annotation: Annotation) {
  const corners = (annotation.data.handles!.points as Types.Point3[]).map((p) => viewport.worldToCanvas(p));
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
}

/** Rectangles with a name, hit-tested over their whole inside (a box names a region). */
abstract class LabelledBoxTool extends RectangleROITool {
  /** The smallest of this tool's boxes on the picture shown that holds canvas point ``canvas``. */
  boxAt(element: HTMLDivElement, canvas: Types.Point2): Annotation | null {
    const viewport = getEnabledElement(element)!.viewport;
    const imageId = viewport.getCurrentImageId();
    const inside = (annotationApi.state.getAnnotations(this.getToolName(), element) ?? [])
      .filter((a) => a.metadata?.referencedImageId === imageId)
      .map((a) => ({ a, rect: canvasRect(viewport, a) }))
      .filter(({ rect }) => canvas[0] >= rect.left && canvas[0] <= rect.right && canvas[1] >= rect.top && canvas[1] <= rect.bottom)
      .sort((p, q) => (p.rect.right - p.rect.left) * (p.rect.bottom - p.rect.top) - (q.rect.right - q.rect.left) * (q.rect.bottom - q.rect.top));
    return inside[0]?.a ?? null;
  }
}

/**
 * The user's boxes: drag to draw, drag an edge to move, a corner to resize. A press that does not
 * drag draws nothing: it is a click (Cornerstone would otherwise keep a zero-size box following the
 * pointer until a second click). Clicks and double-clicks reach the hooks whichever tool is chosen:
 * the tool stays active without a mouse binding when another one has the left button.
 */
export class UserBoxTool extends LabelledBoxTool {
  static toolName = 'MedRegAUserBox';

  constructor(toolProps?: ConstructorParameters<typeof RectangleROITool>[0], defaultToolProps?: ConstructorParameters<typeof RectangleROITool>[1]) {
    super(toolProps, defaultToolProps);
    const finishDrawing = this._endCallback;
    this._endCallback = (evt) => {
      if (this.editData?.newAnnotation && this.isClick(evt)) this.endClick(evt);
      else finishDrawing(evt);
    };
  }

  private get hooks(): BoxHooks {
    return this.configuration as unknown as BoxHooks;
  }

  private isClick(evt: InteractionEvent): boolean {
    const { startPoints, currentPoints } = evt.detail as MouseEventDetail;
    const [dx, dy] = [currentPoints.canvas[0] - startPoints.canvas[0], currentPoints.canvas[1] - startPoints.canvas[1]];
    return !this.editData!.hasMoved || Math.hypot(dx, dy) < CLICK_SLOP;
  }

  /** The box begun on the press is dropped; the click goes to the hooks. */
  private endClick(evt: InteractionEvent): void {
    const { element, currentPoints } = evt.detail as MouseEventDetail;
    const { annotation, viewportIdsToRender } = this.editData!;
    this._deactivateDraw(element);
    cursors.elementCursor.resetElementCursor(element);
    this.editData = null;
    this.isDrawing = false;
    annotationApi.state.removeAnnotation(annotation.annotationUID!);
    toolUtilities.triggerAnnotationRenderForViewportIds(viewportIdsToRender);
    this.hooks.onClick(currentPoints.canvas, true);
  }

  /** A click while another tool has the left button (a slow click arrives as a release). */
  mouseClickCallback = (evt: InteractionEvent): void => {
    this.hooks.onClick((evt.detail as MouseEventDetail).currentPoints.canvas, false);
  };

  mouseUpCallback = (evt: InteractionEvent): void => {
    const { startPoints, currentPoints } = evt.detail as MouseEventDetail;
    const moved = Math.hypot(currentPoints.canvas[0] - startPoints.canvas[0], currentPoints.canvas[1] - startPoints.canvas[1]);
    if (moved < CLICK_SLOP && (evt.detail as MouseEventDetail).mouseButton === 1) this.hooks.onClick(currentPoints.canvas, false);
  };

  doubleClickCallback = (evt: InteractionEvent): void => {
    const { element, currentPoints, event } = evt.detail as MouseEventDetail;
    const box = this.boxAt(element as HTMLDivElement, currentPoints.canvas);
    if (!box) return;
    this.hooks.onRename(box, event as MouseEvent);
    evt.preventDefault();
  };
}

/** Gap between a model box and its label, canvas px. */
const LABEL_GAP = 3;

/**
 * The model's boxes: locked, in their phrase's colour, labelled "[n] name" just above their own top
 * left corner (below the box when it touches the top), never beside the box where a neighbouring
 * box may lie (Cornerstone puts labels to the right, in the next organ on a chest film).
 */
export class ModelBoxTool extends LabelledBoxTool {
  static toolName = 'MedRegAModelBox';

  protected renderLinkedTextBoxAnnotation(options: Parameters<RectangleROITool['renderLinkedTextBoxAnnotation']>[0]): ReturnType<RectangleROITool['renderLinkedTextBoxAnnotation']> {
    const { enabledElement, annotation } = options;
    const viewport = enabledElement.viewport;
    const rect = canvasRect(viewport, annotation);
    const textBox = annotation.data.handles!.textBox!;
    textBox.hasMoved = true; // Cornerstone keeps a moved label where it is told
    // Drawn once at the corner to learn the label's size and padding, then moved to its place.
    textBox.worldPosition = viewport.canvasToWorld([rect.left, rect.top] as Types.Point2);
    super.renderLinkedTextBoxAnnotation(options);
    const drawn = canvasRect(viewport, { data: { handles: { points: [textBox.worldBoundingBox!.topLeft, textBox.worldBoundingBox!.bottomRight] } } } as unknown as Annotation);
    const height = drawn.bottom - drawn.top;
    const top = rect.top - LABEL_GAP - height >= 0 ? rect.top - LABEL_GAP - height : rect.bottom + LABEL_GAP;
    textBox.worldPosition = viewport.canvasToWorld([2 * rect.left - drawn.left, rect.top + top - drawn.top] as Types.Point2);
    return super.renderLinkedTextBoxAnnotation(options);
  }
}
