"""evonas: evolve convolutional-autoencoder architectures with a genetic algorithm.

Packages: ``genomes`` (encoding, variation, model building), ``workers`` (fitness and its
dispatch to Ray), ``storage`` (runs in a database), ``datasets`` (image loaders and
splits) and ``nas`` (configuration, the evolution loop and the ``nas`` command).
"""

__version__ = "0.3.0.dev0"
