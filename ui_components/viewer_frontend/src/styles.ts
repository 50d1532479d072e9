/**
 * The viewer's look, added to the page once. The help panel and the overlay state their colours with
 * !important on every element: the Gradio theme colours list items and strong text (dark grey on the
 * panel otherwise). Gradio's red "Error" badge over a component whose event failed is not shown on
 * the viewer: it would cover the tool bar, the toast says what failed and the viewer shows no scan.
 */
const CSS = `
.medrega-viewer {display: flex; flex-direction: column; gap: 4px; outline: none}
.medrega-toolbar {display: flex; flex-wrap: wrap; gap: 4px}
.medrega-toolbar button {padding: 2px 10px; border: 1px solid var(--border-color-primary); border-radius: 4px;
  background: var(--button-secondary-background-fill); color: var(--body-text-color); cursor: pointer; font-size: 13px}
.medrega-toolbar button.active, .medrega-toolbar button.pressed {background: var(--color-accent); color: white}
.medrega-stage {position: relative; height: 480px; background: black; border-radius: 4px; overflow: hidden}
.medrega-viewport {position: absolute; inset: 0}
.medrega-stage.empty .medrega-viewport {visibility: hidden}
.medrega-empty {position: absolute; inset: 0; display: none; align-items: center; justify-content: center;
  padding: 24px; text-align: center; color: #d8d8d8 !important; font-size: 15px; line-height: 1.5}
.medrega-stage.empty .medrega-empty {display: flex}
.medrega-overlay {position: absolute; inset: 0; pointer-events: none; color: #e8e8e8 !important; font: 13px/1.35 monospace;
  text-shadow: 0 0 3px black, 0 0 2px black}
.medrega-overlay.empty > :not(.medrega-notice) {display: none}
.medrega-corner, .medrega-scale-label {color: #e8e8e8 !important}
.medrega-corner {position: absolute; white-space: pre}
.medrega-corner.top-left {top: 6px; left: 8px}
.medrega-corner.bottom-left {bottom: 6px; left: 8px}
.medrega-corner.bottom-right {bottom: 6px; right: 8px; text-align: right}
.medrega-edge {position: absolute; font-weight: bold; font-size: 15px; color: #ffd166}
.medrega-edge.left {left: 8px; top: 50%; transform: translateY(-50%)}
.medrega-edge.right {right: 8px; top: 50%; transform: translateY(-50%)}
.medrega-edge.top {top: 6px; left: 50%; transform: translateX(-50%)}
.medrega-edge.bottom {bottom: 26px; left: 50%; transform: translateX(-50%)}
.medrega-scale {position: absolute; bottom: 8px; left: 50%; transform: translateX(-50%); height: 4px;
  border: 1px solid white; border-top: none}
.medrega-scale-label {position: absolute; bottom: 12px; left: calc(50% + 4px)}
.medrega-notice {position: absolute; top: 30px; left: 50%; transform: translateX(-50%); background: #d55e00;
  color: white; padding: 2px 8px; border-radius: 3px}
.medrega-help {position: absolute; top: 8px; right: 8px; max-width: 70%; background: rgba(20, 20, 20, 0.94);
  padding: 8px 12px; border-radius: 4px; font-size: 13px; z-index: 3}
.medrega-help, .medrega-help * {color: #f0f0f0 !important}
.medrega-help ul {margin: 4px 0 0 16px; padding: 0}
.medrega-rename {position: absolute; z-index: 4; font-size: 13px; padding: 1px 4px}
.block:has(.medrega-viewer) > .wrap:has(> .error) {display: none !important}
`;

let added = false;

export function addStyles(): void {
  if (added) return;
  const style = document.createElement('style');
  style.id = 'medrega-viewer-styles';
  style.textContent = CSS;
  document.head.append(style);
  added = true;
}
