/** Text and marks drawn over the viewport: slice and window, orientation letters, a scale bar in mm. */

export interface OverlayFacts {
  corner: string[];
  window: string;
  title: string;
  zoom: string;
  orientation: Partial<Record<'left' | 'right' | 'top' | 'bottom', string>>;
  /** Canvas pixels per mm, or null for an uncalibrated picture (no scale bar). */
  pixelsPerMm: number | null;
  width: number;
}

const EDGES = ['left', 'right', 'top', 'bottom'] as const;
/** Scale bar lengths to choose from, in mm. */
const NICE_MM = [1, 2, 5, 10, 20, 50, 100, 200, 500];

function div(className: string, parent: HTMLElement): HTMLDivElement {
  const element = document.createElement('div');
  element.className = className;
  parent.append(element);
  return element;
}

export class Overlay {
  private readonly layer: HTMLDivElement;
  private readonly topLeft: HTMLDivElement;
  private readonly bottomLeft: HTMLDivElement;
  private readonly bottomRight: HTMLDivElement;
  private readonly edges: Record<(typeof EDGES)[number], HTMLDivElement>;
  private readonly scale: HTMLDivElement;
  private readonly scaleLabel: HTMLDivElement;
  private readonly notice: HTMLDivElement;
  private noticeTimer: number | null = null;

  constructor(stage: HTMLElement) {
    this.layer = div('medrega-overlay', stage);
    this.topLeft = div('medrega-corner top-left', this.layer);
    this.bottomLeft = div('medrega-corner bottom-left', this.layer);
    this.bottomRight = div('medrega-corner bottom-right', this.layer);
    this.edges = Object.fromEntries(EDGES.map((edge) => [edge, div(`medrega-edge ${edge}`, this.layer)])) as Overlay['edges'];
    this.scale = div('medrega-scale', this.layer);
    this.scaleLabel = div('medrega-scale-label', this.layer);
    this.notice = div('medrega-notice', this.layer);
    this.notice.hidden = true;
  }

  update(facts: OverlayFacts | null): void {
    this.layer.classList.toggle('empty', facts === null);
    if (!facts) return;
    this.topLeft.textContent = facts.title;
    this.bottomLeft.textContent = facts.corner.join('\n');
    this.bottomRight.textContent = [facts.window, facts.zoom].filter(Boolean).join('\n');
    for (const edge of EDGES) this.edges[edge].textContent = facts.orientation[edge] ?? '';
    const bar = this.scaleBar(facts);
    this.scale.hidden = this.scaleLabel.hidden = bar === null;
    if (bar) {
      this.scale.style.width = `${bar.pixels}px`;
      this.scaleLabel.textContent = bar.mm >= 10 ? `${bar.mm / 10} cm` : `${bar.mm} mm`;
    }
  }

  /** The longest nice length that takes at most a fifth of the viewport's width. */
  private scaleBar(facts: OverlayFacts): { mm: number; pixels: number } | null {
    if (!facts.pixelsPerMm) return null;
    const fitting = NICE_MM.filter((mm) => mm * facts.pixelsPerMm! <= facts.width / 5);
    if (!fitting.length) return null;
    const mm = fitting[fitting.length - 1];
    return { mm, pixels: mm * facts.pixelsPerMm };
  }

  /** A short message over the picture (a slice that failed to load, a refused proposal). */
  message(text: string): void {
    if (!text) return;
    this.notice.textContent = text;
    this.notice.hidden = false;
    if (this.noticeTimer !== null) window.clearTimeout(this.noticeTimer);
    this.noticeTimer = window.setTimeout(() => { this.notice.hidden = true; }, 4000);
  }
}
