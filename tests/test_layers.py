"""The package's dependency rule, read from the import statements.

Bottom up: core (losses, mixing, models, data, recipe) <- distiller <-
analysis, training <- study, report <- cli. Each module imports only its
own layer or those below it, with no cycle (the model registry importing
its families to register them aside).
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_mixkd"

#: Layer of each top-level part of the package (higher imports lower).
LAYERS = {"_keras_compat": 0, "_validation": 0, "version": 0,
          "losses": 1, "mixing": 1, "models": 1, "data": 1, "recipe": 1,
          "inference": 1,
          "distiller": 2, "exporting": 2, "keras_distillation": 2,
          "analysis": 3, "training": 3, "statistics": 3, "tables": 3,
          "study": 4, "study_grid": 4, "study_runner": 4, "compare": 4,
          "compare_results": 4,
          "report": 4, "cli": 5, "__init__": 5}


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
    registry = "keras_mixkd.models._registry"
    graph[registry] = {d for d in graph[registry]
                       if not d.startswith("keras_mixkd.models.")} | {
        d for d in graph[registry] if d.endswith("_blocks")}
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
