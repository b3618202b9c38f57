"""The import graph of the project's packages: model files import nothing above them, data flows one way, no
cycles; and the lazy package entry point registers everything whichever module a user imports first."""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("modeling_mimo_audio", "processing", "training_recipes", "evaluation")
# Modules of `modeling_mimo_audio` that sit at the top of the graph: the entry point, the command line, the demo,
# the tiny builders and the upstream-checkpoint converter. Every other module of the package is a model file.
TOP_MODULES = {
    "modeling_mimo_audio",
    "modeling_mimo_audio.__main__",
    "modeling_mimo_audio.cli",
    "modeling_mimo_audio.cli_arguments",
    "modeling_mimo_audio.cli_codec",
    "modeling_mimo_audio.cli_tasks",
    "modeling_mimo_audio.convert_mimo_audio_checkpoint",
    "modeling_mimo_audio.demo",
    "modeling_mimo_audio.tiny",
}


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def _project_modules() -> dict:
    modules = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    modules[_module_name(path)] = path
    return modules


def _imports(module: str, path: str, known: set) -> set:
    """Project modules `module` imports anywhere in its file (inside functions too): `import a.b` and `from a
    import b` name the submodule when there is one, else the package."""
    is_package = path.endswith("__init__.py")
    base = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                prefix = node.module
            targets = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
            targets = [t for t in targets if t in known][:1] or [prefix]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = _project_modules()
    known = set(modules)
    return {module: _imports(module, path, known) for module, path in modules.items()}


def test_graph_reader_sees_the_known_edges(graph):
    # The reader itself: relative, absolute and in-function imports are all seen.
    assert "modeling_mimo_audio.configuration_mimo_audio" in graph["processing.auto_registration"]
    assert "modeling_mimo_audio.config_checks" in graph["modeling_mimo_audio.configuration_mimo_audio"]
    assert "evaluation.cli" in graph["modeling_mimo_audio.cli"]  # imported inside build_parser
    assert "processing" in graph["modeling_mimo_audio"]


def test_model_files_import_nothing_above_them(graph):
    offending = {}
    for module, targets in graph.items():
        if module.startswith("modeling_mimo_audio") and module not in TOP_MODULES:
            above = sorted(t for t in targets if not t.startswith("modeling_mimo_audio") or t in TOP_MODULES)
            if above:
                offending[module] = above
    assert offending == {}


def test_processing_imports_no_recipe_evaluation_or_command_line(graph):
    offending = {
        module: sorted(t for t in targets if t.split(".")[0] in ("training_recipes", "evaluation") or t in TOP_MODULES)
        for module, targets in graph.items() if module.startswith("processing")
    }
    assert {m: t for m, t in offending.items() if t} == {}


def test_evaluation_and_recipes_do_not_import_each_other(graph):
    for module, targets in graph.items():
        top = module.split(".")[0]
        if top in ("training_recipes", "evaluation"):
            other = "evaluation" if top == "training_recipes" else "training_recipes"
            assert not [t for t in targets if t.startswith(other)], module


def test_no_import_cycles(graph):
    # Depth-first search for a back edge; the cycle is reported as a path.
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(target):] + [target]))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("first_import", [
    # A fresh interpreter each (about 8 s): the package entry point, a processing module that imports a model file
    # while `processing` is half imported, a model file, and the command line of another package.
    "import modeling_mimo_audio",
    "import processing.feature_extraction_mimo_audio",
    "import modeling_mimo_audio.configuration_mimo_audio",
    "import evaluation.cli",
])
def test_every_entry_order_registers_everything(first_import):
    script = f"""
{first_import}
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForTextToWaveform, AutoProcessor
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.modeling_auto import MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
from transformers.pipelines import PIPELINE_REGISTRY
import modeling_mimo_audio as package
assert CONFIG_MAPPING["mimo_audio"] is package.MiMoAudioConfig
assert CONFIG_MAPPING["mimo_audio_tokenizer"] is package.MiMoAudioTokenizerConfig
assert PROCESSOR_MAPPING[package.MiMoAudioConfig] is package.MiMoAudioProcessor
assert MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING[package.MiMoAudioConfig] is package.MiMoAudioForTextToSpeech
assert PIPELINE_REGISTRY.supported_tasks["mimo-audio"]["impl"] is package.MiMoAudioPipeline
print("registered")
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "registered"


def test_lazy_exports_resolve_and_are_listed():
    import modeling_mimo_audio

    for name in modeling_mimo_audio.__all__:
        assert getattr(modeling_mimo_audio, name) is not None, name
    assert set(modeling_mimo_audio.__all__) <= set(dir(modeling_mimo_audio))
    with pytest.raises(AttributeError, match="no_such_name"):
        modeling_mimo_audio.no_such_name  # noqa: B018
