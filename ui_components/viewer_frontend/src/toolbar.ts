/** The tool bar above the picture (planes, tools, reset, cine, help) and the help panel. */

const PLANES = ['axial', 'coronal', 'sagittal'];

export interface ToolbarActions {
  plane(name: string): void;
  tool(name: string): void;
  reset(): void;
  cine(): void;
}

/** What the buttons show: the texts of the page's language and the viewer's state. */
export interface ToolbarFacts {
  texts: Record<string, string>;
  planes: string[];
  plane: string;
  tool: string;
  cine: boolean;
}

export class Toolbar {
  readonly element: HTMLElement;
  readonly help: HTMLElement;

  constructor(toolNames: string[], private readonly actions: ToolbarActions, private readonly afterClick: () => void) {
    this.element = document.createElement('div');
    this.element.className = 'medrega-toolbar';
    for (const plane of PLANES) this.element.append(this.button(`plane-${plane}`, { plane }, () => actions.plane(plane)));
    for (const name of [...toolNames, 'reset', 'cine', 'help']) {
      this.element.append(this.button(`tool-${name}`, { tool: name }, () => this.onTool(name)));
    }
    this.help = document.createElement('div');
    this.help.className = 'medrega-help';
    this.help.hidden = true;
  }

  private button(id: string, data: Record<string, string>, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = id;
    Object.assign(button.dataset, data);
    button.addEventListener('click', () => { onClick(); this.afterClick(); });
    return button;
  }

  private onTool(name: string): void {
    if (name === 'reset') this.actions.reset();
    else if (name === 'cine') this.actions.cine();
    else if (name === 'help') this.help.hidden = !this.help.hidden;
    else this.actions.tool(name);
  }

  closeHelp(): void {
    this.help.hidden = true;
  }

  update(facts: ToolbarFacts): void {
    const t = facts.texts;
    for (const button of Array.from(this.element.querySelectorAll<HTMLButtonElement>('button[data-plane]'))) {
      const plane = button.dataset.plane!;
      button.textContent = t[`plane.${plane}`] ?? plane;
      button.hidden = facts.planes.length < 2 || !facts.planes.includes(plane);
      button.classList.toggle('active', plane === facts.plane);
    }
    for (const button of Array.from(this.element.querySelectorAll<HTMLButtonElement>('button[data-tool]'))) {
      const name = button.dataset.tool!;
      button.textContent = t[`tool.${name}`] ?? name;
      button.title = t[`tool.${name}.hint`] ?? '';
      button.classList.toggle('active', name === facts.tool || (name === 'cine' && facts.cine));
      button.classList.toggle('pressed', name === 'help' && !this.help.hidden);
    }
    const title = document.createElement('strong');
    title.textContent = t['help.title'] ?? '';
    const list = document.createElement('ul');
    for (const key of Object.keys(t).filter((k) => k.startsWith('help.line.')).sort()) {
      const item = document.createElement('li');
      item.textContent = t[key];
      list.append(item);
    }
    this.help.replaceChildren(title, list);
  }
}
