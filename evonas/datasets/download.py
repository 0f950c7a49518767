"""`nas data download`: fetch a dataset's official files where the internet is reachable."""

from __future__ import annotations

import gzip
import logging
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from evonas.datasets.loaders import IDX_FILES, load_dataset
from evonas.errors import DatasetError

log = logging.getLogger(__name__)

SOURCES: dict[str, list[str]] = {
    "mnist": [f"https://ossci-datasets.s3.amazonaws.com/mnist/{stem}.gz" for stem in IDX_FILES.values()],
    "fashion-mnist": [
        f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{stem}.gz" for stem in IDX_FILES.values()
    ],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"],
}


def download(name: str, data_dir: Path, timeout: float = 60.0) -> Path:
    """Download ``name``'s official files into ``data_dir`` and check that they load."""
    if name not in SOURCES:
        raise DatasetError(
            f"The dataset of 'nas data download' must be one of {sorted(SOURCES)}. Got {name!r} instead."
        )
    if data_dir.exists() and not data_dir.is_dir():
        raise DatasetError(f"--data-dir {data_dir} is a file: name a folder to put the files in.")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"Cannot create the folder {data_dir}: {exc.strerror}.") from None
    for url in SOURCES[name]:
        target = data_dir / url.rsplit("/", 1)[1]
        if target.exists():
            log.info("%s is there already", target)
            continue
        log.info("downloading %s", url)
        partial = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise DatasetError(
                f"Cannot download {url} ({getattr(exc, 'reason', exc)}). Without internet access, copy the "
                f"official files into {data_dir} by hand and pass --data-dir {data_dir}."
            ) from None
        partial.rename(target)
        if target.suffixes[-2:] == [".tar", ".gz"]:
            with tarfile.open(target) as tar:
                tar.extractall(data_dir, filter="data")
        elif target.suffix == ".gz":
            with gzip.open(target) as fh:  # a corrupt download fails here, not later
                fh.read(16)
    load_dataset(name, data_dir)
    return data_dir
