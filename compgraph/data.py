"""Datasets for training: the bundled digits and MNIST-format IDX files.

Two sources give the same :class:`Dataset`: :func:`load_digits_split`, the
1,797 8x8 handwritten digits that ship with scikit-learn (no download), cut
into a fixed, stratified 80/20 split; and :func:`load_idx_dir`, a folder of
the four standard MNIST files (``train-images-idx3-ubyte`` and friends,
gzipped or not), so MNIST and Fashion-MNIST train with the same code.

Images stay in their raw pixel units (0 to 16 for the digits, 0 to 255 for
IDX files); :class:`Standardizer` maps them to zero mean and unit variance
with the statistics of the training images only.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compgraph.errors import CompGraphError

__all__ = [
    "DataError",
    "Dataset",
    "Standardizer",
    "load_digits_split",
    "load_idx_dir",
    "read_idx",
    "write_idx",
    "class_balance",
    "load_image",
    "IDX_FILES",
]

#: The four standard MNIST file names, without the optional ``.gz``.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype.newbyteorder(">"): code for code, dtype in _IDX_DTYPES.items()}


class DataError(CompGraphError, ValueError):
    """A dataset file or image that cannot be read as what it claims to be."""


@dataclass(frozen=True, repr=False)
class Dataset:
    """Training and test images with their integer labels.

    Attributes
    ----------
    name : str
        Where the data came from (``"digits"`` or the IDX folder).
    x_train, x_test : ndarray of shape (N, H, W)
        Images in raw pixel units, float64.
    y_train, y_test : ndarray of shape (N,)
        Class labels, int64, from 0 to ``n_classes - 1``.
    n_classes : int
        Number of classes.
    pixel_max : float
        The largest pixel value of the format (16 for the digits, 255 for
        8-bit IDX files); images read from PNG files are scaled to it.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    pixel_max: float

    @property
    def image_shape(self) -> tuple:
        """``(H, W)`` of one image."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self):
        h, w = self.image_shape
        return (
            f"<Dataset {self.name!r}: {len(self.y_train)} train, "
            f"{len(self.y_test)} test, {h}x{w} images, {self.n_classes} classes>"
        )


class Standardizer:
    """``(x - mean) / std`` with the mean and spread of all training pixels.

    One mean and one standard deviation for the whole image, not one per
    pixel: a convolution applies the same kernel everywhere, so every
    position should be on one scale; and a pixel that is almost always
    blank (the digits' border) is not blown up by a tiny spread of its
    own. On the digits this is also the better choice for the linear
    models and the MLP.

    Examples
    --------
    >>> x = np.array([[[0.0, 2.0]], [[4.0, 2.0]]])
    >>> s = Standardizer.fit(x)
    >>> float(s.mean), round(float(s.std), 4)
    (2.0, 1.4142)
    >>> s(x)[:, 0, :].round(4)
    array([[-1.4142,  0.    ],
           [ 1.4142,  0.    ]])
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        """Take the mean and standard deviation of every pixel of ``x`` together."""
        std = x.std()
        return cls(x.mean(), std if std > 0 else 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardize ``x``, shaped ``(N, H, W)`` or ``(H, W)``."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def __repr__(self):
        return f"Standardizer(mean={float(self.mean):.4g}, std={float(self.std):.4g})"


def load_digits_split(seed: int = 0, test_size: float = 0.2) -> Dataset:
    """The scikit-learn digits, split into train and test sets by class.

    The split is stratified (each class keeps its share in both parts) and
    fixed by ``seed``, so every run with the same seed tests on the same
    images.

    Examples
    --------
    >>> data = load_digits_split()
    >>> data
    <Dataset 'digits': 1437 train, 360 test, 8x8 images, 10 classes>
    >>> class_balance(data.y_test, data.n_classes)
    array([36, 36, 35, 37, 36, 37, 36, 36, 35, 36])
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images.astype(np.float64),
        digits.target.astype(np.int64),
        test_size=test_size,
        stratify=digits.target,
        random_state=seed,
    )
    return Dataset("digits", x_train, y_train, x_test, y_test, 10, 16.0)


def load_idx_dir(folder) -> Dataset:
    """Read the four MNIST-format files in ``folder`` (each gzipped or not).

    Raises
    ------
    DataError
        If a file is missing, truncated or not an IDX file of the right
        kind, or if a file of images and its file of labels disagree on
        how many there are.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {str(folder)!r} does not exist")
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _find_idx_file(folder, stem)
        arrays[key] = read_idx(path, ndim=3 if "images" in key else 1)
        arrays[key + "_path"] = path
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(images) != len(labels):
            raise DataError(
                f"{arrays[f'{part}_images_path'].name} holds {len(images)} images "
                f"but {arrays[f'{part}_labels_path'].name} holds {len(labels)} "
                "labels; they must have one label per image"
            )
    y_train = arrays["train_labels"].astype(np.int64)
    y_test = arrays["test_labels"].astype(np.int64)
    if min(y_train.min(initial=0), y_test.min(initial=0)) < 0:
        raise DataError(f"labels in {str(folder)!r} must be non-negative integers")
    n_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=n_classes)
    absent = np.flatnonzero(counts == 0)
    if 2 * absent.size > n_classes:
        # Most classes empty: a stray large label, i.e. a corrupt label file.
        # (A small subset of a dataset may miss a few classes; that is fine.)
        raise DataError(
            f"the labels in {str(folder)!r} go up to {n_classes - 1}, but "
            f"{absent.size} of those {n_classes} classes have no image (e.g. "
            f"{_listed(absent)}); labels must run from 0 to the number of "
            "classes - 1"
        )
    images = arrays["train_images"]
    pixel_max = 255.0 if images.dtype == np.uint8 else float(images.max(initial=1))
    return Dataset(
        str(folder),
        images.astype(np.float64),
        y_train,
        arrays["test_images"].astype(np.float64),
        y_test,
        n_classes,
        pixel_max,
    )


def _listed(values, most: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def read_idx(path, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its own dtype.

    An IDX file is a magic number ``00 00 <type> <ndim>``, then ``ndim``
    big-endian 32-bit sizes, then the values in C order.

    Parameters
    ----------
    path : str or Path
        The file; gzip is recognised by its content, not by its name.
    ndim : int, optional
        Refuse files with another number of dimensions (3 for images, 1
        for labels).

    Raises
    ------
    DataError
        Missing file, wrong magic number, or a file shorter or longer than
        its header says.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path, ndim=1)
    array([3, 1, 4], dtype=uint8)
    """
    raw = _read_bytes(Path(path))
    name = Path(path).name
    if len(raw) < 4:
        raise DataError(f"{name} is truncated: {len(raw)} bytes, no IDX header")
    zero, code, dims = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in _IDX_DTYPES:
        raise DataError(
            f"{name} has magic number 0x{raw[:4].hex()}, not an IDX file: "
            "expected 0x0000 then a type code (08 for unsigned bytes) and a "
            "number of dimensions"
        )
    if ndim is not None and dims != ndim:
        raise DataError(
            f"{name} has {dims} dimension(s) (magic 0x{raw[:4].hex()}); "
            f"expected {ndim} (idx{ndim})"
        )
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{name} is truncated inside its header of {header} bytes")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)
    )
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{name} is {state}: its header announces shape {shape} "
            f"({expected} bytes in all) but the file has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file; a name ending in ``.gz`` is gzipped."""
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if dtype not in _IDX_CODES:
        raise DataError(f"IDX files cannot hold {array.dtype} values")
    header = bytes([0, 0, _IDX_CODES[dtype], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(dtype).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as file:
        file.write(payload)


def class_balance(y: np.ndarray, n_classes: int) -> np.ndarray:
    """How many examples each class has: ``counts[c]`` for ``c < n_classes``."""
    return np.bincount(np.asarray(y), minlength=n_classes)


def load_image(path, shape: tuple, pixel_max: float) -> np.ndarray:
    """Read one image for prediction, in the dataset's raw pixel units.

    A ``.npy`` file is taken as it is: an array of shape ``shape`` (or
    flat, with ``H * W`` values) already in the dataset's units, 0 to
    ``pixel_max``. A PNG is read with matplotlib (values 0 to 1), turned
    to gray by averaging its color channels (a transparent pixel counts as
    background), inverted when its border is mostly light, since the
    dataset has light ink on a dark background, and scaled to
    0..``pixel_max``. It must already have the dataset's size: no
    resampling, which would blur an 8x8 digit beyond recognition.

    Raises
    ------
    DataError
        An unreadable file, an image of the wrong size, or NaN or infinite
        pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {str(path)!r} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            image = np.load(path, allow_pickle=False).astype(np.float64)
        except (ValueError, OSError) as error:
            raise DataError(
                f"{path.name} is not a readable .npy array: {error}"
            ) from error
        if image.ndim == 1 and image.size == int(np.prod(shape)):
            image = image.reshape(shape)
    else:
        image = _read_png(path)
        if image.shape == tuple(shape):
            image = image * pixel_max
    if image.shape != tuple(shape):
        h, w = shape
        raise DataError(
            f"{path.name} has shape {image.shape}, but the model reads {h}x{w} "
            f"images (shape ({h}, {w})); resize it to {h}x{w} pixels first"
        )
    finite = np.isfinite(image)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise DataError(
            f"{path.name} holds {bad} NaN or infinite pixel(s); every pixel must "
            f"be a number from 0 to {pixel_max:g}"
        )
    return image


def _read_png(path: Path) -> np.ndarray:
    """A gray image in 0..1, light ink on dark background."""
    import matplotlib.image

    try:
        image = np.asarray(matplotlib.image.imread(path), dtype=np.float64)
    except (ValueError, OSError, SyntaxError) as error:
        raise DataError(f"{path.name} is not a readable image: {error}") from error
    if image.ndim == 3:
        alpha = image[..., 3] if image.shape[2] == 4 else 1.0
        gray = image[..., :3].mean(axis=2)
        # Transparent pixels become the image's background (white paper).
        image = gray * alpha + (1.0 - alpha)
    if image.ndim == 2 and image.size:
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        if border.mean() > 0.5:
            image = 1.0 - image
    return image


def _find_idx_file(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # another common spelling
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"{str(folder)!r} has no {stem} (or {stem}.gz); an IDX data folder "
        f"needs the four files {', '.join(IDX_FILES.values())}"
    )


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"IDX file {str(path)!r} does not exist")
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, gzip.BadGzipFile) as error:
            raise DataError(
                f"{path.name} is a truncated or damaged gzip file: {error}"
            ) from error
    return raw
