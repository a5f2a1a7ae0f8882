import gzip

import numpy as np
import pytest

from compgraph.data import (
    IDX_FILES,
    DataError,
    Standardizer,
    class_balance,
    load_digits_split,
    load_idx_dir,
    load_image,
    read_idx,
    write_idx,
)


def small_mnist(rng, n_train=12, n_test=5, shape=(4, 3)):
    return {
        "train_images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_folder(folder, arrays, gz):
    for key, array in arrays.items():
        write_idx(folder / (IDX_FILES[key] + (".gz" if gz else "")), array)


# -- the bundled digits --------------------------------------------------------


def test_digits_split_is_80_20_stratified_and_fixed():
    data = load_digits_split()
    again = load_digits_split()

    assert data.x_train.shape == (1437, 8, 8) and data.x_test.shape == (360, 8, 8)
    assert data.x_train.dtype == np.float64 and data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_test, again.y_test)
    np.testing.assert_array_equal(data.x_train, again.x_train)
    share_train = class_balance(data.y_train, 10) / len(data.y_train)
    share_test = class_balance(data.y_test, 10) / len(data.y_test)
    assert np.abs(share_train - share_test).max() < 0.01


def test_digits_split_changes_with_its_seed():
    assert not np.array_equal(load_digits_split(0).y_test, load_digits_split(1).y_test)


def test_standardizer_uses_training_statistics_only():
    data = load_digits_split()
    s = Standardizer.fit(data.x_train)
    train = s(data.x_train)

    assert abs(train.mean()) < 1e-12 and abs(train.std() - 1) < 1e-12
    assert s.mean == data.x_train.mean() and s.mean != data.x_test.mean()
    np.testing.assert_allclose(s(data.x_test), (data.x_test - s.mean) / s.std)


def test_standardizer_of_constant_images_only_centers():
    s = Standardizer.fit(np.full((3, 2, 2), 5.0))

    assert s.std == 1.0
    np.testing.assert_array_equal(s(np.full((2, 2), 7.0)), 2.0)


# -- IDX files ---------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_idx_folder_round_trips(tmp_path, gz):
    arrays = small_mnist(np.random.default_rng(0))
    write_folder(tmp_path, arrays, gz)

    data = load_idx_dir(tmp_path)

    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    assert data.image_shape == (4, 3)
    assert data.pixel_max == 255.0
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]])
    assert data.n_classes == labels.max() + 1


@pytest.mark.parametrize(
    "dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"], ids=lambda d: d.strip(">")
)
def test_idx_round_trips_every_type(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "u1":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)

    write_idx(tmp_path / "a.idx", array)

    back = read_idx(tmp_path / "a.idx", ndim=3)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "labels"
    with gzip.open(path, "wb") as file:
        file.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))

    np.testing.assert_array_equal(read_idx(path), [7, 9])


def test_missing_idx_file_is_named(tmp_path):
    arrays = small_mnist(np.random.default_rng(1))
    del arrays["test_labels"]
    write_folder(tmp_path, arrays, gz=False)

    with pytest.raises(DataError, match="no t10k-labels-idx1-ubyte"):
        load_idx_dir(tmp_path)


def test_missing_data_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_idx_dir(tmp_path / "nowhere")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_idx_file_is_refused(tmp_path, gz):
    path = tmp_path / ("x.gz" if gz else "x")
    write_idx(path, np.zeros((3, 4, 4), dtype=np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 5])

    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


def test_idx_file_with_a_short_header_is_refused(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))

    with pytest.raises(DataError, match="truncated inside its header"):
        read_idx(path)


def test_idx_file_longer_than_its_header_is_refused(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")

    with pytest.raises(DataError, match="longer than its header says"):
        read_idx(path)


@pytest.mark.parametrize(
    "magic", [b"\x01\x00\x08\x03", b"PK\x03\x04", b"\x00\x00\x07\x03"]
)
def test_wrong_magic_number_is_refused(tmp_path, magic):
    path = tmp_path / "x"
    path.write_bytes(magic + bytes(12))

    with pytest.raises(DataError, match=f"magic number 0x{magic.hex()}"):
        read_idx(path)


def test_labels_file_in_place_of_images_is_refused(tmp_path):
    arrays = small_mnist(np.random.default_rng(2))
    arrays["train_images"] = arrays["train_labels"]
    write_folder(tmp_path, arrays, gz=True)

    with pytest.raises(DataError, match=r"1 dimension\(s\).*expected 3"):
        load_idx_dir(tmp_path)


def test_image_and_label_counts_must_match(tmp_path):
    arrays = small_mnist(np.random.default_rng(3))
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_folder(tmp_path, arrays, gz=False)

    with pytest.raises(DataError, match="holds 12 images but .* holds 11 labels"):
        load_idx_dir(tmp_path)


# -- images for prediction ------------------------------------------------------


def test_npy_image_is_taken_in_dataset_units(tmp_path):
    image = np.arange(64, dtype=np.float64).reshape(8, 8) / 4
    np.save(tmp_path / "a.npy", image)
    np.save(tmp_path / "flat.npy", image.ravel())

    np.testing.assert_array_equal(load_image(tmp_path / "a.npy", (8, 8), 16), image)
    np.testing.assert_array_equal(load_image(tmp_path / "flat.npy", (8, 8), 16), image)


def test_png_dark_ink_on_white_is_inverted_and_scaled(tmp_path):
    import matplotlib.image

    ink = np.zeros((8, 8))
    ink[2:6, 3:5] = 1.0
    rgb = np.repeat((1.0 - ink)[..., None], 3, axis=2)  # black ink, white paper
    matplotlib.image.imsave(tmp_path / "d.png", rgb)

    image = load_image(tmp_path / "d.png", (8, 8), 16.0)

    np.testing.assert_allclose(image, 16.0 * ink, atol=1e-6)


def test_png_light_ink_on_black_is_kept(tmp_path):
    import matplotlib.image

    ink = np.zeros((8, 8))
    ink[1:7, 4] = 0.5
    matplotlib.image.imsave(tmp_path / "d.png", np.repeat(ink[..., None], 3, axis=2))

    image = load_image(tmp_path / "d.png", (8, 8), 16.0)

    np.testing.assert_allclose(image, 16.0 * ink, atol=1 / 255 * 16)


def test_image_of_the_wrong_size_is_refused(tmp_path):
    import matplotlib.image

    matplotlib.image.imsave(tmp_path / "big.png", np.zeros((28, 28, 3)))
    np.save(tmp_path / "big.npy", np.zeros((28, 28)))

    for name in ("big.png", "big.npy"):
        with pytest.raises(DataError, match=r"shape \(28, 28\).*reads 8x8 images"):
            load_image(tmp_path / name, (8, 8), 16.0)


def test_an_image_with_nan_or_infinite_pixels_is_refused(tmp_path):
    image = np.zeros((8, 8))
    image[0, :2] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", image)

    with pytest.raises(DataError, match=r"nan.npy holds 2 NaN or infinite pixel"):
        load_image(tmp_path / "nan.npy", (8, 8), 16.0)


def test_missing_and_unreadable_images_are_refused(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not a png")

    with pytest.raises(DataError, match="does not exist"):
        load_image(tmp_path / "none.png", (8, 8), 16.0)
    with pytest.raises(DataError, match="not a readable image"):
        load_image(tmp_path / "junk.png", (8, 8), 16.0)


def test_a_label_file_with_a_class_no_image_has_is_refused(tmp_path):
    arrays = small_mnist(np.random.default_rng(2))
    arrays["train_labels"][0] = 200  # a corrupt byte, not a 201-class problem
    write_folder(tmp_path, arrays, gz=False)

    with pytest.raises(DataError, match="go up to 200, but 19. of those 201 classes"):
        load_idx_dir(tmp_path)
