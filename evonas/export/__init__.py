"""Export: the best genomes of a run as self-contained PyTorch bundles (model.py + weights)."""

from evonas.export.bundle import Bundle, export_run, read_bundle, write_bundle
from evonas.export.codegen import model_source

__all__ = ["Bundle", "export_run", "model_source", "read_bundle", "write_bundle"]
