"""MedRegA for vLLM: a plugin (entry point ``vllm.general_plugins``) and the shared slow tokenizer.

Importing this package imports nothing: :mod:`medrega_vllm.tokenization` needs sentencepiece only
(the engine uses it too); the other modules run inside vLLM's environment and import vLLM's own
dependencies lazily. Install into vLLM's environment with ``pip install --no-deps medrega_vllm/``.
"""

#: The ``--tokenizer-mode`` this plugin registers.
TOKENIZER_MODE = "medrega"
#: The chat template shipped beside this file (Hermes-2, system ``Answer the questions.``).
CHAT_TEMPLATE_FILE = "hermes2_medrega.jinja"
