"""keras_mixkd: knowledge distillation with mixup for Keras 3."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
version = {}
exec((HERE / "keras_mixkd" / "version.py").read_text(), version)

setup(
    name="keras_mixkd",
    version=version["__version__"],
    description=("Knowledge distillation with mixup (MIX-KD, WACV 2023) for "
                 "Keras 3: partial mixup, adaptive-temperature KD, the "
                 "RepDistiller CIFAR model zoo."),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_mixkd", "keras_mixkd.*"]),
    install_requires=[
        # The range the whole test suite passes on (scripts/test_versions.sh
        # runs it on the oldest pair, Colab's and the newest; README,
        # "Versions"): Keras 3.13 to 3.15 with TensorFlow 2.19 to 2.21.
        # keras_mixkd/_keras_compat.py holds the Keras internals relied on.
        "keras>=3.13,<3.16",
        "tensorflow>=2.19,<2.22",
        "tensorflow-datasets>=4.9",
        # tensorflow-metadata 1.21 is generated with protobuf 6.31 but
        # declares protobuf>=4.25.2, so beside TensorFlow 2.19 (protobuf 5)
        # tensorflow-datasets fails to import; 1.17 (generated with 4.25)
        # imports with protobuf 5 to 7.
        "tensorflow-metadata<1.18",
        # tensorflow-datasets needs it to download and prepare a dataset but
        # does not declare it.
        "importlib_resources>=5",
        "absl-py>=1.0",
        # The run folders' TensorBoard logs.
        "tensorboard>=2.15",
        "numpy>=1.24",
        # The bundled digits data of the offline quick start.
        "scikit-learn>=1.3",
        # Temperature scaling (keras_mixkd.analysis.fit_temperature) and the
        # Student-t intervals of keras_mixkd.experiments.statistics (compare, study).
        "scipy>=1.10",
        # Figures of keras_mixkd.analysis and the study.
        "matplotlib>=3.7",
    ],
    extras_require={
        # pytest-xdist: pytest.ini runs the suite in two worker processes.
        "test": ["pytest>=7", "pytest-timeout>=2", "pytest-xdist>=3",
                 "nbclient>=0.7",
                 "nbformat>=5", "ipykernel>=6"],
        "kerascv": ["keras-cv>=0.9"],
        # The PyTorch reference of benchmarks/torch_reference.py (the speed
        # comparison with the official code); nothing in keras_mixkd uses it.
        "bench": ["torch>=2.1"],
    },
    entry_points={"console_scripts": ["mixkd=keras_mixkd.cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
