"""sasview-automodel: instant model suggestion for small-angle scattering curves, inside SasView."""
from setuptools import find_packages, setup

setup(
    name="sasview-automodel",
    version="0.1.0",
    description="Suggests sasmodels form factors (with calibrated probabilities and an outlier "
                "warning) for 1D SAS curves; CLI, Python API and a SasView plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    packages=find_packages(include=["sasview_automodel", "sasview_automodel.*"]),
    package_data={"sasview_automodel": ["models/*.onnx", "models/*.json"]},
    install_requires=["numpy>=1.24", "onnxruntime>=1.17", "sasdata>=0.9", "sasmodels>=1.0.7"],
    extras_require={
        "train": ["torch==2.13.0", "h5py>=3.8", "pyyaml>=6", "tqdm>=4.60", "onnx>=1.15", "scipy>=1.10", "matplotlib>=3.7",
                  "scikit-learn>=1.3"],
        "gui": ["sasview>=6.1", "setuptools<81"],  # SasView 6.1 imports pkg_resources
        "gui-test": ["sasview==6.1.3", "setuptools<81", "wheel", "pytest-qt>=4.4", "pytest-xvfb>=3"],
        "dask": ["dask[distributed]>=2024.1"],  # batch/simulate --scheduler on a dask.distributed cluster
        "dev": ["pytest>=8", "hypothesis>=6.100", "h5py>=3.8", "pyyaml>=6", "tqdm>=4.60", "dask[distributed]>=2024.1"],
    },
    entry_points={"console_scripts": ["sasview-automodel=sasview_automodel.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Physics",
    ],
)
