"""The MedRegA engine: load once, answer with streaming, cancellation and a per-image feature cache."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from medrega_core.engine.base import PromptFormat, RunFacts, StreamingEngine
from medrega_core.engine.cache import FeatureCache
from medrega_core.engine.checkpoint import CheckpointFiles, locate_checkpoint, num_image_tokens, weight_files
from medrega_core.engine.conversation import IMAGE_CONTEXT, IMAGE_END, IMAGE_START, TURN_END
from medrega_core.engine.errors import N_, EngineError, UnsupportedCheckpointError
from medrega_core.engine.load_progress import LoadReport, ProgressCallback, WeightsMeter, checkpoint_size
from medrega_core.engine.modeling import (
    MedRegAForConditionalGeneration,
    native_config_from_original,
    quantization_config,
)
from medrega_core.engine.preprocess import as_rgb_image, image_key, pixel_values
from medrega_core.engine.results import DROPPED_TURNS_NOTE, GenerationResult  # noqa: F401  (re-exported)
from medrega_core.engine.settings import EngineSettings, GenerationOptions, SettingsError
from medrega_core.engine.static_decode import StaticGreedyDecoder
from medrega_core.engine.tokenizer import MedRegATokenizer

#: Next-token candidates recorded after the prompt, as (token id, logit).
TOP_CANDIDATES = 5
_END_OF_STREAM = object()


class GenerationFailedError(EngineError):
    """The model raised while producing an answer."""


class _TokenQueue(BaseStreamer):
    """Receives generated ids from ``generate`` (worker thread) for the consuming thread."""

    def __init__(self) -> None:
        self.tokens: queue.Queue[object] = queue.Queue()
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self.tokens.put(int(token_id))

    def end(self) -> None:
        self.tokens.put(_END_OF_STREAM)


class _StopWhenSet(StoppingCriteria):
    """Stops generation after the current token once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _FirstStepTop(LogitsProcessor):
    """Records the best next-token candidates of the first decoding step."""

    def __init__(self) -> None:
        self.top: list[tuple[int, float]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.top:
            values, ids = scores[0].float().topk(TOP_CANDIDATES)
            self.top = list(zip(ids.tolist(), values.tolist()))
        return scores


class _BackgroundGeneration:
    """Generation on a worker thread; the caller reads token ids as they are produced.

    Parameters
    ----------
    model:
        The loaded model.
    embeddings:
        ``(1, prompt_length, hidden)`` prompt embeddings with the image features scattered in.
    config:
        Decoding settings.
    decoder:
        For greedy decoding through a static KV cache (and CUDA graph); None runs ``model.generate``.
    """

    def __init__(self, model: MedRegAForConditionalGeneration, embeddings: torch.Tensor,
                 config: GenerationConfig, decoder: StaticGreedyDecoder | None = None) -> None:
        self.stop = threading.Event()
        self.first_step = _FirstStepTop()
        self.failure: Exception | None = None
        self._streamer = _TokenQueue()
        self._arguments = dict(
            inputs_embeds=embeddings,
            attention_mask=torch.ones(embeddings.shape[:2], dtype=torch.long, device=embeddings.device),
            generation_config=config,
            streamer=self._streamer,
            stopping_criteria=StoppingCriteriaList([_StopWhenSet(self.stop)]),
            logits_processor=LogitsProcessorList([self.first_step]),
        )
        self._model = model
        self._decoder = decoder
        self._thread = threading.Thread(target=self._work, name="medrega-generate", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            with torch.inference_mode():
                if self._decoder is None:
                    self._model.generate(**self._arguments)
                else:
                    self._decode_greedy(self._decoder)
        except Exception as error:  # handed to the consuming thread, which raises it
            self.failure = error
            self._streamer.end()
        finally:
            self._decoder = None  # its cache and graph memory go as soon as the answer is done

    def _decode_greedy(self, decoder: StaticGreedyDecoder) -> None:
        """What ``generate`` does for greedy decoding: same stops, first-step candidates and stream."""
        config: GenerationConfig = self._arguments["generation_config"]
        embeddings: torch.Tensor = self._arguments["inputs_embeds"]
        logits = decoder.prefill(embeddings).float()
        self.first_step(torch.empty((1, 0), dtype=torch.long), logits)
        token = logits.argmax(-1)
        for produced in range(1, config.max_new_tokens + 1):
            token_id = int(token.item())
            self._streamer.tokens.put(token_id)
            if token_id in config.eos_token_id or produced == config.max_new_tokens or self.stop.is_set():
                break
            token = decoder.step(token)
        self._streamer.end()

    def token_ids(self, cancel: threading.Event | None) -> Iterator[int]:
        """Generated ids in order until generation ends; ``cancel`` being set stops it after one token."""
        while True:
            if cancel is not None and cancel.is_set():
                self.stop.set()
            try:
                item = self._streamer.tokens.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is _END_OF_STREAM:
                return
            yield int(item)

    def finish(self) -> None:
        """Stop generating (if still running) and wait for the worker."""
        self.stop.set()
        self._thread.join()


class _DropInt8CastNotice(logging.Filter):
    """bitsandbytes logs the bf16 -> fp16 cast of LLM.int8 on every matmul; it is expected, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("MatMul8bitLt: inputs will be cast")


_INT8_NOTICE_FILTER = _DropInt8CastNotice()


def _report(progress: ProgressCallback | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(LoadReport(fraction, message))


#: The share of the overall progress before and during the weights step.
_WEIGHTS_START, _WEIGHTS_END = 0.2, 0.99


def _weights_meter(files: CheckpointFiles, progress: ProgressCallback | None) -> WeightsMeter:
    size = checkpoint_size(weight_files(files.folder))

    def report(loaded: int, seconds_left: float | None) -> None:
        if progress is not None:
            share = loaded / size.tensor_bytes if size.tensor_bytes else 1.0
            progress(LoadReport(_WEIGHTS_START + (_WEIGHTS_END - _WEIGHTS_START) * share,
                                N_("Loading the model weights"), loaded, size.tensor_bytes, seconds_left))

    return WeightsMeter(size, report)


def _resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise SettingsError(N_("The device {device} was requested but no CUDA GPU is available."), device=requested)
    return torch.device(requested)


def _required_token(tokenizer: MedRegATokenizer, token: str) -> int:
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise UnsupportedCheckpointError(N_("The checkpoint's tokenizer has no {token} token."), token=token)
    return token_id


def _load_model(
    files: CheckpointFiles, config: Any, quant: str, dtype: torch.dtype, device: torch.device
) -> MedRegAForConditionalGeneration:
    try:
        model, info = MedRegAForConditionalGeneration.from_pretrained(
            files.folder,
            config=config,
            dtype=dtype,
            quantization_config=quantization_config(quant, dtype),
            device_map={"": device},
            use_safetensors=True,
            attn_implementation="sdpa",
            output_loading_info=True,
        )
    except torch.cuda.OutOfMemoryError as error:
        raise EngineError(
            N_("Not enough GPU memory to load the model with quantization {quant}; try nf4 or nf4-all."), quant=quant
        ) from error
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise EngineError(N_("The model weights could not be loaded: {reason}"), reason=str(error)) from error
    mismatched = sorted(info["missing_keys"]) + sorted(info["unexpected_keys"])
    mismatched += sorted(str(k) for k in info["mismatched_keys"])
    if mismatched:
        raise UnsupportedCheckpointError(
            N_("The checkpoint's weights do not match the MedRegA layout ({count} keys differ, e.g. {examples})."),
            count=len(mismatched),
            examples=", ".join(mismatched[:3]),
        )
    return model.eval()


class MedRegAEngine(StreamingEngine):
    """A loaded MedRegA model. Create with :meth:`load`.

    One answer is generated at a time (a lock serialises requests); sessions share the feature cache.
    Streaming, Stop, history fitting and the answer text are :class:`StreamingEngine`'s.
    """

    def __init__(
        self,
        model: MedRegAForConditionalGeneration,
        tokenizer: MedRegATokenizer,
        files: CheckpointFiles,
        settings: EngineSettings,
        quant: str,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.files = files
        self.settings = settings
        self.quant = quant
        self.device = model.lm_head.weight.device
        self.num_image_tokens = num_image_tokens(files.config)
        self.image_size = int(files.config["vision_config"]["image_size"])
        self.image_token_id = model.config.image_token_id
        self.turn_end_id = _required_token(tokenizer, TURN_END)
        self.max_positions = min(model.config.text_config.max_position_embeddings,
                                 settings.context_tokens or model.config.text_config.max_position_embeddings)
        self.features: FeatureCache[torch.Tensor] = FeatureCache(settings.feature_cache_size)
        self._format = PromptFormat(tokenizer, self.num_image_tokens, self.turn_end_id,
                                    frozenset(tokenizer.answer_skip_ids() | {self.turn_end_id}))
        self._model_lock = threading.Lock()

    @classmethod
    def load(cls, settings: EngineSettings, progress: ProgressCallback | None = None) -> "MedRegAEngine":
        """Load the checkpoint named by ``settings`` (original layout, on the fly, no conversion).

        Parameters
        ----------
        settings:
            Checkpoint, device, quantization and defaults.
        progress:
            Called with a :class:`LoadReport` as loading advances; while the weights load, about every
            1 % of their bytes, with the bytes loaded, the total over all shards and the time left.

        Raises
        ------
        EngineError
            With a specific message for a missing folder or file, an unsupported checkpoint or
            setting, or weights that cannot be loaded.
        """
        _report(progress, 0.0, N_("Reading the checkpoint"))
        device = _resolve_device(settings.device)
        on_cuda = device.type == "cuda"
        files = locate_checkpoint(settings.checkpoint)
        _report(progress, 0.1, N_("Loading the tokenizer"))
        tokenizer = MedRegATokenizer.from_folder(files.folder)
        for token in (IMAGE_START, IMAGE_END):
            _required_token(tokenizer, token)
        config = native_config_from_original(files.config, image_token_id=_required_token(tokenizer, IMAGE_CONTEXT))
        quant = settings.resolved_quant(on_cuda)
        settings.check_decode(on_cuda, quant)  # before the slow part: loading the weights
        dtype = getattr(torch, settings.resolved_dtype(on_cuda))
        with _weights_meter(files, progress).counting():
            model = _load_model(files, config, quant, dtype, device)
        if quant == "int8":
            logging.getLogger("bitsandbytes.autograd._functions").addFilter(_INT8_NOTICE_FILTER)
        _report(progress, 1.0, N_("Model ready"))
        return cls(model, tokenizer, files, settings, quant)

    def describe(self) -> dict[str, Any]:
        """Facts for the status panel: checkpoint, quantization, device, dtype, memory."""
        info: dict[str, Any] = {
            "checkpoint": self.files.source,
            "quantization": self.quant,
            "decode": self.settings.resolved_decode(self.device.type == "cuda", self.quant),
            "device": str(self.device),
            "dtype": str(self.model.dtype).removeprefix("torch."),
            "image_tokens": self.num_image_tokens,
            "cached_images": len(self.features),
        }
        if self.device.type == "cuda":
            properties = torch.cuda.get_device_properties(self.device)
            info.update(
                gpu=properties.name,
                gpu_memory_total_gib=round(properties.total_memory / 2**30, 2),
                gpu_memory_allocated_gib=round(torch.cuda.memory_allocated(self.device) / 2**30, 2),
                gpu_memory_reserved_gib=round(torch.cuda.memory_reserved(self.device) / 2**30, 2),
            )
        return info

    def prompt_format(self) -> PromptFormat:
        return self._format

    def context_tokens(self) -> int:
        return self.max_positions

    def image_features(self, image: Image.Image | np.ndarray) -> tuple[torch.Tensor, bool]:
        """Projected vision features of one image, from the cache when this content was seen before.

        Returns
        -------
        features, cached:
            ``(1, num_image_tokens, text_hidden)`` in the model's dtype on its device; whether the
            cache supplied them.
        """
        rgb = as_rgb_image(image)
        key = image_key(rgb)
        cached = self.features.get(key)
        if cached is not None:
            return cached, True
        pixels = pixel_values(rgb, self.image_size).to(self.device)
        with torch.inference_mode():
            output = self.model.model.get_image_features(
                pixel_values=pixels, vision_feature_layer=-1, vision_feature_select_strategy="default", return_dict=True
            )
        features = output.pooler_output
        self.features.put(key, features)
        return features, False

    def _prompt_embeddings(self, input_ids: list[int], features: torch.Tensor) -> torch.Tensor:
        ids = torch.tensor([input_ids], device=self.device)
        with torch.inference_mode():
            embeddings = self.model.get_input_embeddings()(ids)
            mask = (ids == self.image_token_id).unsqueeze(-1)
            return embeddings.masked_scatter(mask, features.to(embeddings.dtype))

    def _generation_config(self, options: GenerationOptions) -> GenerationConfig:
        sampling = options.temperature > 0
        return GenerationConfig(
            max_new_tokens=options.max_new_tokens,
            do_sample=sampling,
            temperature=options.temperature if sampling else None,
            top_p=options.top_p if sampling else None,
            top_k=None,
            eos_token_id=[self.turn_end_id],
            pad_token_id=self.turn_end_id,
            bos_token_id=self.tokenizer.bos_id,
            use_cache=True,
        )

    def _static_decoder(self, prompt_length: int, options: GenerationOptions) -> StaticGreedyDecoder | None:
        """The static-cache decoder for this answer, or None when ``generate`` decodes (eager or sampling)."""
        decode = self.settings.resolved_decode(self.device.type == "cuda", self.quant)
        if decode == "eager" or options.temperature > 0:
            return None
        return StaticGreedyDecoder(self.model, prompt_length + options.max_new_tokens, use_graph=decode == "cuda-graph")

    def _token_ids(self, image: Image.Image | np.ndarray, user_text: str, history: Sequence[tuple[str, str]],
                   input_ids: list[int], cancel: threading.Event | None, options: GenerationOptions,
                   facts: RunFacts) -> Iterator[list[int]]:
        with self._model_lock:
            features, facts.vision_cached = self.image_features(image)
            run = _BackgroundGeneration(
                self.model,
                self._prompt_embeddings(input_ids, features),
                self._generation_config(options),
                self._static_decoder(len(input_ids), options),
            )
            try:
                for token_id in run.token_ids(cancel):
                    yield [token_id]
            finally:
                run.finish()
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        if run.failure is not None:
            raise GenerationFailedError(
                N_("The model failed while generating the answer: {reason}"), reason=str(run.failure)
            ) from run.failure
        facts.first_step_top = run.first_step.top
