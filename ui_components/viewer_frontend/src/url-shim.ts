/** The one use of Node's `url` that vtk.js's bundle reaches; the browser has the real URL classes. */
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export default { URL, URLSearchParams };
