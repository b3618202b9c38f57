import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "upstream_tiny")


@pytest.fixture(scope="session")
def upstream_tokenizer_dir():
    return os.path.join(FIXTURES, "tokenizer")


@pytest.fixture(scope="session")
def upstream_lm_dir():
    return os.path.join(FIXTURES, "lm")
