/**
 * Which of Cornerstone's two drawing paths this machine gets. WebGL on a GPU draws a window change
 * fastest; where WebGL is a software rasterizer (SwiftShader, llvmpipe: headless Chromium, machines
 * without a GPU driver) Cornerstone's CPU path draws the same picture many times faster.
 * `?medrega-render=cpu` or `=gpu` in the page's address forces one (benchmarks, comparisons).
 */
import { setUseCPURendering } from '@cornerstonejs/core';

export type RenderPath = 'cpu' | 'gpu';

const SOFTWARE_RENDERERS = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i;

function webglRenderer(): string | null {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return null;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext(); // one context fewer for the viewer's own
  return name;
}

export function chooseRenderPath(): RenderPath {
  const forced = new URLSearchParams(window.location.search).get('medrega-render');
  if (forced === 'cpu' || forced === 'gpu') return forced;
  const renderer = webglRenderer();
  return renderer === null || SOFTWARE_RENDERERS.test(renderer) ? 'cpu' : 'gpu';
}

/** Set before the first viewport is made. */
export function useRenderPath(path: RenderPath): void {
  setUseCPURendering(path === 'cpu');
}
