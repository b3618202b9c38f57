"""Construction-time checks of numeric config / constructor fields, shared by the MiMo-Audio configs and the
feature extractor, so that a bad value fails where it is given, naming the field and what was expected (and the
token-id check the processor's decoding and the streamer share)."""

import math
import numbers

import numpy as np
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None, optional: bool = False):
    """Raises unless `value` is an int (not a bool, not a float or string) in `[minimum, maximum]`; returns it as
    a plain int. `optional` lets `None` through."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "an int or None" if optional else "an int"
        raise TypeError(f"`{name}` must be {expected}, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}{' (non-negative)' if minimum == 0 else ''}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return value


def check_number(
    name: str,
    value,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    optional: bool = False,
):
    """Raises unless `value` is a finite real number (int or float, not a bool or string) within the bounds
    (`minimum` exclusive when `exclusive_minimum`); returns it unchanged."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        expected = "a number or None" if optional else "a number"
        raise TypeError(f"`{name}` must be {expected}, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValueError(f"`{name}` must be {'>' if exclusive_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}")
    return value


def check_int_list(name: str, values, minimum: int | None = None, length: int | None = None) -> list[int]:
    """Raises unless `values` is a list/tuple of ints (each checked as `check_int` with `name[i]`), of `length`
    entries when given."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"`{name}` must be a list of ints, got {type(values).__name__} {values!r}")
    if length is not None and len(values) != length:
        raise ValueError(f"`{name}` must have {length} entries, got {len(values)}: {list(values)}")
    return [check_int(f"{name}[{i}]", value, minimum) for i, value in enumerate(values)]


def check_mel_front_end(sampling_rate, nfft, hop_length, window_size, n_mels, fmin, fmax) -> None:
    """Checks the STFT + mel filterbank parameters shared by the tokenizer config and the feature extractor:
    positive sizes, `window_size <= nfft`, `hop_length <= nfft` and `0 <= fmin < fmax <= sampling_rate / 2`."""
    check_int("sampling_rate", sampling_rate, minimum=1)
    check_int("nfft", nfft, minimum=1)
    check_int("hop_length", hop_length, minimum=1)
    check_int("window_size", window_size, minimum=1)
    check_int("n_mels", n_mels, minimum=1)
    check_number("fmin", fmin, minimum=0)
    check_number("fmax", fmax, minimum=0, exclusive_minimum=True, optional=True)
    if window_size > nfft:
        raise ValueError(f"`window_size` ({window_size}) must not exceed `nfft` ({nfft})")
    if hop_length > nfft:
        raise ValueError(f"`hop_length` ({hop_length}) must not exceed `nfft` ({nfft})")
    nyquist = sampling_rate / 2
    top = nyquist if fmax is None else fmax
    if top > nyquist:
        raise ValueError(f"`fmax` ({fmax}) must not exceed sampling_rate / 2 ({nyquist})")
    if not fmin < top:
        raise ValueError(f"`fmin` ({fmin}) must be below `fmax` ({top})")


def check_sampling_rate(sampling_rate, name: str = "sampling_rate") -> int:
    """`sampling_rate` as an int, refusing what is not a positive whole number of Hz (22050.5 is not rounded)."""
    numeric = isinstance(sampling_rate, (int, float, np.integer, np.floating))
    if isinstance(sampling_rate, (bool, np.bool_)) or not numeric:
        raise TypeError(f"`{name}` must be a positive integer number of Hz, got {type(sampling_rate).__name__}")
    if not np.isfinite(sampling_rate) or sampling_rate != int(sampling_rate) or sampling_rate <= 0:
        raise ValueError(f"`{name}` must be a positive integer number of Hz, got {sampling_rate!r}")
    return int(sampling_rate)


def check_token_ids(ids, name: str):
    """Raises unless `ids` (a tensor) holds integers (not floats, complex or bools) that are all >= 0."""
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"`{name}` must hold integer token ids, got {ids.dtype}")
    if ids.numel() and int(ids.min()) < 0:
        raise ValueError(f"`{name}` holds negative token ids (min {int(ids.min())})")


OUTPUT_FLAGS = ("output_hidden_states", "output_attentions", "return_dict", "use_cache")


def check_output_flags(config) -> None:
    """The boolean switches every transformers config carries (`OUTPUT_FLAGS`) must be bools where set: transformers
    stores them unchecked, and a string such as "no" would read as true."""
    for name in OUTPUT_FLAGS:
        value = getattr(config, name, None)
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"`{name}` must be a bool, got {type(value).__name__} {value!r}")


class PlainFieldErrors:
    """
    Mixin for configs built on transformers' `@strict` dataclasses (put it first in the bases). Their inherited fields
    are type-checked on assignment by huggingface_hub, which raises `StrictDataclassFieldValidationError`, an error
    type callers do not catch as bad input; this re-raises it as the `TypeError` / `ValueError` that caused it, naming
    the field like every other config check ("`num_hidden_layers` expected int, got str (value: '2')").
    """

    def __setattr__(self, name, value):
        try:
            super().__setattr__(name, value)
        except StrictDataclassFieldValidationError as error:
            cause = error.__cause__ if isinstance(error.__cause__, (TypeError, ValueError)) else TypeError(str(error))
            detail = str(cause).removeprefix(f"Field '{name}' ")
            raise type(cause)(f"`{name}` {detail}") from error
