/**
 * The viewer's side of the contract with Python (schema/contract.schema.json): the events it sends
 * through gr.HTML's `trigger` and the server function it calls. Nothing else talks to Gradio.
 */
import type { ProposeAnswer, ProposeRequest, RegionSelection, ViewerState } from './contract';

/** What Gradio's gr.HTML gives `js_on_load`. */
export interface GradioBridge {
  trigger: (event: string, data?: unknown) => void;
  server: Record<string, (...args: unknown[]) => Promise<unknown>>;
}

/** Python hears about view and box changes this long after the last one. */
const CHANGE_DEBOUNCE_MS = 250;

export class PythonBridge {
  private changeTimer: number | null = null;

  constructor(private readonly gradio: GradioBridge) {}

  /** Report what is shown once changes pause (Cornerstone reports box edits on every mouse move). */
  reportChange(state: () => ViewerState | null): void {
    if (this.changeTimer !== null) window.clearTimeout(this.changeTimer);
    this.changeTimer = window.setTimeout(() => {
      this.changeTimer = null;
      const current = state();
      if (current) this.gradio.trigger('viewer_change', current);
    }, CHANGE_DEBOUNCE_MS);
  }

  selectRegion(region: number): void {
    const selection: RegionSelection = { region };
    this.gradio.trigger('select_region', selection);
  }

  /** A box around a clicked pixel, proposed by the server on the windowed picture the model gets. */
  async proposeBox(request: ProposeRequest): Promise<ProposeAnswer> {
    return await this.gradio.server.propose_box(request) as ProposeAnswer;
  }
}
