"""Safetensors by default: MiMo-Audio's models refuse pickle weights unless the caller opts in.

`pytorch_model.bin` files are unpickled by `torch.load`; a folder from an untrusted source should never get that far
by accident. Every MiMo-Audio model class loads with `use_safetensors=True` unless the caller passes
`use_safetensors=False` explicitly (transformers then reads `.bin` weights with `weights_only=True`).
"""

__all__ = ["SafetensorsOnlyMixin"]


class SafetensorsOnlyMixin:
    """Put before `PreTrainedModel` in the bases: `from_pretrained` defaults to `use_safetensors=True`."""

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        if kwargs.get("use_safetensors") is None:
            kwargs["use_safetensors"] = True
        return super().from_pretrained(*args, **kwargs)
