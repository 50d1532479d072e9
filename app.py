"""MedRegA Workbench: the Gradio app (placeholder until the UI lands)."""

import gradio as gr

from medrega_core.i18n import translator

_ = translator("en")

with gr.Blocks(title="MedRegA Workbench") as demo:
    gr.Markdown(_("No model loaded."))

if __name__ == "__main__":
    demo.launch()
