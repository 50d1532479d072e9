/** OHIF's keys on the viewer, and the viewer takes the keyboard as soon as the user works in the picture. */

export interface KeyActions {
  scrollBy(delta: number): void;
  scrollTo(index: number): void;
  /** Pictures in the stack shown (0 when none). */
  count(): number;
  toggleCine(): void;
  reset(): void;
  deleteSelected(): void;
  closeHelp(): void;
  preset(number: number): void;
}

function keyMap(actions: KeyActions): Record<string, () => void> {
  const count = actions.count();
  const page = Math.max(1, Math.round(count / 10));
  return {
    ArrowUp: () => actions.scrollBy(-1),
    ArrowLeft: () => actions.scrollBy(-1),
    ArrowDown: () => actions.scrollBy(1),
    ArrowRight: () => actions.scrollBy(1),
    PageUp: () => actions.scrollBy(-page),
    PageDown: () => actions.scrollBy(page),
    Home: () => actions.scrollTo(0),
    End: () => actions.scrollTo(count - 1),
    ' ': () => actions.toggleCine(),
    r: () => actions.reset(),
    Delete: () => actions.deleteSelected(),
    Backspace: () => actions.deleteSelected(),
    Escape: () => actions.closeHelp(),
  };
}

/**
 * Keys pressed while ``root`` has the focus. A wheel or a press on ``picture`` gives it the focus, so
 * the arrow keys move slices after wheel-scrolling instead of scrolling the page.
 */
export function bindKeys(root: HTMLElement, picture: HTMLElement, actions: KeyActions): void {
  const focus = () => {
    if (document.activeElement !== root) root.focus({ preventScroll: true });
  };
  picture.addEventListener('wheel', focus, { passive: true });
  picture.addEventListener('mousedown', focus);
  root.addEventListener('keydown', (event) => {
    if (!actions.count()) return;
    const action = keyMap(actions)[event.key] ?? (/^[1-5]$/.test(event.key) ? () => actions.preset(Number(event.key)) : undefined);
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    action();
  });
}
