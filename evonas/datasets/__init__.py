"""Datasets: image sets loaded as float32 arrays (N, C, H, W) in [0, 1] and their fixed splits."""

from evonas.datasets.loaders import DATASETS, ImageData, load_dataset
from evonas.datasets.splits import SearchSplits, search_splits

__all__ = ["DATASETS", "ImageData", "SearchSplits", "load_dataset", "search_splits"]
