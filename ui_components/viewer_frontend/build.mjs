// Bundle the viewer with esbuild into one IIFE script that the Gradio page loads (dist/ is committed).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  legalComments: 'linked',
  outfile: 'dist/medrega-viewer.js',
  alias: { url: './src/url-shim.ts' },
  // An IIFE has no import.meta.url; the tools' worker URL is built from it (segmentation only).
  banner: { js: 'var MEDREGA_SCRIPT_URL = (document.currentScript && document.currentScript.src) || location.href;' },
  define: { 'import.meta.url': 'MEDREGA_SCRIPT_URL' },
  logLevel: 'warning',
});
