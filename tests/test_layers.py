"""The package's dependency rule, read from the import statements.

Bottom up: core (losses, mixing, models, data, recipe, and the Distiller's
parts feature_terms and teachers) <- distiller <-
analysis, training <- exporting <- experiments <- cli. Each module imports
only its own layer or those below it, with no cycle and no exception; the
top level holds the paper (distiller, mixing, recipe) and private helpers,
every other concept a package.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_mixkd"

#: Layer of each top-level part of the package (higher imports lower).
LAYERS = {"_keras_compat": 0, "_validation": 0, "_stderr": 0, "version": 0,
          "_metric_targets": 0, "settings": 0,
          "losses": 1, "mixing": 1, "models": 1, "data": 1, "recipe": 1,
          "feature_terms": 1, "teachers": 1,
          "distiller": 2,
          "analysis": 3, "training": 3,
          "exporting": 4,
          "experiments": 5,
          "cli": 6, "__main__": 6, "__init__": 6}

#: The public modules allowed at the top level: the paper (with the
#: Distiller's feature terms and several teachers), the settings and the
#: version (private helpers, ``_name.py``, may stay there too).
TOP_LEVEL_MODULES = {"distiller", "mixing", "recipe", "settings", "version",
                     "feature_terms", "teachers", "__init__", "__main__"}


def imports():
    """``{module: {imported keras_mixkd modules}}``, lazy imports included."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.startswith("keras_mixkd")}
    modules = set(graph)
    # "from keras_mixkd.x import y": y a name, not a module, unless it is one.
    return {name: {m for m in deps if m in modules} - {name}
            for name, deps in graph.items()}


def part(module):
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_no_module_imports_a_layer_above_its_own():
    for module, deps in imports().items():
        if module == "keras_mixkd":  # the public API re-exports the package
            continue
        for dep in deps:
            if part(dep) == "__init__":
                continue
            assert LAYERS[part(dep)] <= LAYERS[part(module)], (
                f"{module} imports {dep}")


def test_nothing_below_the_cli_imports_it():
    for module, deps in imports().items():
        if part(module) != "cli":
            assert not [d for d in deps if part(d) == "cli"], module


def test_no_import_cycles():
    graph = imports()
    state = {}

    def visit(module, path):
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if dep.startswith(f"{module}.") or (
                    module.startswith(f"{dep}.") and dep != "keras_mixkd"):
                continue  # a package and its own submodules
            if dep == "keras_mixkd":
                continue
            assert state.get(dep) != "open", " -> ".join([*path, dep])
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_top_level_holds_the_paper_and_packages():
    modules = {p.stem for p in PACKAGE.glob("*.py")
               if not (p.stem.startswith("_") and not p.stem.startswith("__"))}
    assert modules <= TOP_LEVEL_MODULES, modules - TOP_LEVEL_MODULES
    packages = {p.name for p in PACKAGE.iterdir()
                if (p / "__init__.py").is_file()}
    assert packages == {"data", "models", "losses", "analysis", "training",
                        "exporting", "experiments", "cli"}


def test_every_part_has_a_layer():
    parts = {part(m) for m in imports()}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_the_model_registry_imports_no_family():
    deps = imports()["keras_mixkd.models._registry"]
    families = {"resnet", "wide_resnet", "vgg", "mobilenet", "shufflenet"}
    assert not {d.rsplit(".", 1)[-1] for d in deps} & families, deps
