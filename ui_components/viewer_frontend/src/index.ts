/** The bundle's one global: `MedRegAViewer.mount(host, {trigger, server})`, called from gr.HTML's js_on_load. */
import { mountViewer } from './viewer';

declare global {
  interface Window {
    MedRegAViewer: { mount: typeof mountViewer };
  }
}

window.MedRegAViewer = { mount: mountViewer };
