/**
 * Interaction as Cornerstone tools in one tool group with OHIF's mouse bindings: left = the chosen
 * tool (window/level first), middle = pan, right = zoom, wheel = slice.
 */
import {
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  ProbeTool,
  RectangleROITool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  type Types as ToolTypes,
} from '@cornerstonejs/tools';

const { MouseBindings } = ToolEnums;

/** The user's boxes: rectangles drawn outline-only, labelled with their name. */
export class UserBoxTool extends RectangleROITool {
  static toolName = 'MedRegAUserBox';
}

/** The model's boxes: locked rectangles in their phrase's colour, tagged with the region number. */
export class ModelBoxTool extends RectangleROITool {
  static toolName = 'MedRegAModelBox';
}

/** Toolbar names (the button ids are `tool-<name>`) -> the Cornerstone tool on the left button. */
export const TOOLS: Record<string, string> = {
  window: WindowLevelTool.toolName,
  box: UserBoxTool.toolName,
  length: LengthTool.toolName,
  probe: ProbeTool.toolName,
  pan: PanTool.toolName,
};

let added = false;

function addTools(): void {
  if (added) return;
  for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, UserBoxTool, ModelBoxTool, LengthTool, ProbeTool]) {
    addTool(tool);
  }
  added = true;
}

function labelLines(data: { label?: string }): string[] {
  return data.label ? [data.label] : [];
}

export function createToolGroup(id: string, viewportId: string, renderingEngineId: string): ToolTypes.IToolGroup {
  addTools();
  const group = ToolGroupManager.createToolGroup(id)!;
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.addTool(StackScrollTool.toolName);
  // No statistics on the boxes: a box names a region, it is not a measurement.
  const boxConfiguration = { calculateStats: false, getTextLines: labelLines, preventHandleOutsideImage: true };
  group.addTool(UserBoxTool.toolName, boxConfiguration);
  group.addTool(ModelBoxTool.toolName, boxConfiguration);
  group.addTool(LengthTool.toolName);
  group.addTool(ProbeTool.toolName);
  group.addViewport(viewportId, renderingEngineId);

  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  // Shown and selectable, never drawn by a drag: the model's boxes only come from answers.
  group.setToolEnabled(ModelBoxTool.toolName);
  selectTool(group, 'window');
  return group;
}

/** Put the named toolbar tool on the left button; the others stay visible and editable (passive). */
export function selectTool(group: ToolTypes.IToolGroup, name: string): void {
  const chosen = TOOLS[name];
  if (!chosen) throw new Error(`unknown tool ${name}`);
  for (const toolName of Object.values(TOOLS)) {
    if (toolName === chosen) continue;
    if (toolName === PanTool.toolName) {
      group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    } else if (toolName === WindowLevelTool.toolName) {
      group.setToolDisabled(toolName);
    } else {
      group.setToolPassive(toolName);
    }
  }
  const bindings = [{ mouseButton: MouseBindings.Primary }];
  if (chosen === PanTool.toolName) bindings.push({ mouseButton: MouseBindings.Auxiliary });
  group.setToolActive(chosen, { bindings });
}
