import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "upstream_tiny")


@pytest.fixture(scope="session")
def upstream_tokenizer_dir():
    return os.path.join(FIXTURES, "tokenizer")


@pytest.fixture(scope="session")
def upstream_lm_dir():
    return os.path.join(FIXTURES, "lm")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread while a module uses the tiny model set (its matrices are a few dozen wide: extra threads
    only add synchronisation); restored afterwards. Use with `pytestmark = pytest.mark.usefixtures(...)`."""
    from modeling_mimo_audio.demo import single_thread_for_tiny_model

    with single_thread_for_tiny_model(True):
        yield


@pytest.fixture(scope="module")
def model_and_processor(tmp_path_factory):
    """The tiny random model set (seed 0), built once per module."""
    from modeling_mimo_audio.tiny import build_tiny_model_set

    return build_tiny_model_set(cache_dir=str(tmp_path_factory.mktemp("tiny")), seed=0)
