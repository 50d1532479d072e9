"""MedRegA Workbench core: scan intake, tasks and regions, the inference engine and overlays.

Layers import one way: ``intake`` -> ``tasks`` -> ``engine`` -> ``render``. Only ``engine``
imports torch, and nothing here imports gradio.
"""

__version__ = "0.1.0"
