"""Run at start-up by every Python process of a server launched by ``medrega_vllm.serve``, which puts
this folder on ``PYTHONPATH``: vLLM starts fresh interpreters (model inspection, engine core) that
import torchvision before any plugin runs, so the missing operator schemas are declared here first."""

from medrega_vllm.torchvision_ops import declare_missing_torchvision_ops

declare_missing_torchvision_ops()
