/**
 * Interaction as Cornerstone tools in one tool group with OHIF's mouse bindings: left = the chosen
 * tool (window/level first), middle = pan, right = zoom, wheel = slice. The user's box tool stays
 * active without a binding when another tool has the left button, so that clicks and double-clicks
 * on boxes reach it whatever tool is chosen.
 */
import {
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  ProbeTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  type Types as ToolTypes,
} from '@cornerstonejs/tools';
import type { Types } from '@cornerstonejs/core';

import { ModelBoxTool, UserBoxTool, type BoxHooks, type LabelledBoxData } from './boxTools';

const { MouseBindings } = ToolEnums;

/**
 * Window/level whose drag speed follows the picture's range of values, read from the range the loader
 * found once per picture. Cornerstone's tool finds that range again on every mouse move on the CPU
 * drawing path: a pass over all 7.5 M values of a radiograph per move (measured: 29% of a drag).
 */
export class WindowTool extends WindowLevelTool {
  static toolName = 'MedRegAWindow';

  _getImageDynamicRangeFromViewport(viewport: Types.IStackViewport): number {
    const image = viewport.getCornerstoneImage();
    return image.maxPixelValue - image.minPixelValue;
  }
}

/** Toolbar names (the button ids are `tool-<name>`) -> the Cornerstone tool on the left button. */
export const TOOLS: Record<string, string> = {
  window: WindowTool.toolName,
  box: UserBoxTool.toolName,
  length: LengthTool.toolName,
  probe: ProbeTool.toolName,
  pan: PanTool.toolName,
};

let added = false;

function addTools(): void {
  if (added) return;
  for (const tool of [WindowTool, PanTool, ZoomTool, StackScrollTool, UserBoxTool, ModelBoxTool, LengthTool, ProbeTool]) {
    addTool(tool);
  }
  added = true;
}

function labelLines(data: LabelledBoxData): string[] {
  return data.label ? [data.label] : [];
}

export interface ViewerTools {
  group: ToolTypes.IToolGroup;
  user: UserBoxTool;
  model: ModelBoxTool;
}

export function createToolGroup(id: string, viewportId: string, renderingEngineId: string, hooks: BoxHooks): ViewerTools {
  addTools();
  const group = ToolGroupManager.createToolGroup(id)!;
  group.addTool(WindowTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.addTool(StackScrollTool.toolName);
  // No statistics on the boxes: a box names a region, it is not a measurement.
  const boxConfiguration = { calculateStats: false, getTextLines: labelLines, preventHandleOutsideImage: true };
  group.addTool(UserBoxTool.toolName, { ...boxConfiguration, onClick: hooks.onClick.bind(hooks), onRename: hooks.onRename.bind(hooks) });
  group.addTool(ModelBoxTool.toolName, boxConfiguration);
  group.addTool(LengthTool.toolName);
  group.addTool(ProbeTool.toolName);
  group.addViewport(viewportId, renderingEngineId);

  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  // Shown, never drawn by a drag: the model's boxes only come from answers.
  group.setToolEnabled(ModelBoxTool.toolName);
  selectTool(group, 'window');
  return {
    group,
    user: group.getToolInstance(UserBoxTool.toolName) as UserBoxTool,
    model: group.getToolInstance(ModelBoxTool.toolName) as ModelBoxTool,
  };
}

/** Put the named toolbar tool on the left button; the others stay visible and editable. */
export function selectTool(group: ToolTypes.IToolGroup, name: string): void {
  const chosen = TOOLS[name];
  if (!chosen) throw new Error(`unknown tool ${name}`);
  for (const toolName of Object.values(TOOLS)) {
    if (toolName === chosen) continue;
    if (toolName === WindowTool.toolName) {
      group.setToolDisabled(toolName);
      continue;
    }
    group.setToolPassive(toolName, { removeAllBindings: true });
    if (toolName === PanTool.toolName) group.setToolActive(toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    if (toolName === UserBoxTool.toolName) group.setToolActive(toolName, { bindings: [] });
  }
  const bindings = [{ mouseButton: MouseBindings.Primary }];
  if (chosen === PanTool.toolName) bindings.push({ mouseButton: MouseBindings.Auxiliary });
  group.setToolActive(chosen, { bindings });
}
