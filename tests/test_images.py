"""Images in and out: VGG pre/deprocessing, every input conversion, clear errors, atomic saving.

Every file read here is written by the test itself into tmp_path with Pillow; nothing is downloaded.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from nststudy import ImageError, deprocess, load_image, preprocess, save_image
from nststudy.config import StyleConfig
from nststudy.images import MIN_SIZE, SAMPLES, resize_longest, to_rgb_array

# ImageNet means in BGR order, as published for the Keras "caffe" preprocessing.
MEAN_B, MEAN_G, MEAN_R = 103.939, 116.779, 123.68


# --------------------------------------------------------------------------------------- preprocess

def test_preprocess_single_pixel_exact():
    out = preprocess(np.array([[[10, 20, 30]]], dtype=np.uint8))
    assert out.dtype == np.float32 and out.shape == (1, 1, 3)
    # RGB (10, 20, 30) → BGR (30, 20, 10) → minus (B, G, R) means, each subtraction in float32.
    expected = np.array([np.float32(30) - np.float32(MEAN_B),
                         np.float32(20) - np.float32(MEAN_G),
                         np.float32(10) - np.float32(MEAN_R)], dtype=np.float32)
    np.testing.assert_array_equal(out[0, 0], expected)
    np.testing.assert_allclose(out[0, 0], [-73.939, -96.779, -113.68], rtol=0, atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 5, 3), (2, 4, 5, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_preprocess_shapes_and_dtypes(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=shape).astype(dtype)
    out = preprocess(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == shape
    xf = x.astype(np.float64)
    np.testing.assert_allclose(out[..., 0], xf[..., 2] - MEAN_B, atol=1e-4)
    np.testing.assert_allclose(out[..., 1], xf[..., 1] - MEAN_G, atol=1e-4)
    np.testing.assert_allclose(out[..., 2], xf[..., 0] - MEAN_R, atol=1e-4)


def test_preprocess_tensor_returns_tensor_and_is_differentiable():
    x = tf.Variable(np.full((1, 2, 2, 3), [10.0, 20.0, 30.0], np.float32))
    upstream = tf.constant([1.0, -1.0, -1.0])  # weights on the output's B, G, R channels
    with tf.GradientTape() as tape:
        out = preprocess(x)
        loss = tf.reduce_sum(out * upstream)
    assert isinstance(out, tf.Tensor) and out.dtype == tf.float32 and out.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(out.numpy()[0, 0, 0], [30 - MEAN_B, 20 - MEAN_G, 10 - MEAN_R], atol=1e-4)
    grad = tape.gradient(loss, x).numpy()
    # out_B = x_R − mean, out_G = x_G − mean, out_R = x_B − mean: the gradient wrt (R, G, B) is the
    # upstream pattern (1, −1, −1) reversed: (−1, −1, 1), at every pixel.
    np.testing.assert_array_equal(grad, np.broadcast_to([-1.0, -1.0, 1.0], (1, 2, 2, 3)))


def test_preprocess_uint8_tensor():
    out = preprocess(tf.constant([[[10, 20, 30]]], dtype=tf.uint8))
    assert isinstance(out, tf.Tensor) and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy()[0, 0], [30 - MEAN_B, 20 - MEAN_G, 10 - MEAN_R], atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (4, 4, 1), (1, 1, 4, 4, 3)])
def test_wrong_channel_count_raises(shape):
    with pytest.raises(ValueError, match="HxWx3"):
        preprocess(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match="HxWx3"):
        deprocess(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        preprocess(tf.zeros(shape))


# ---------------------------------------------------------------------------------------- deprocess

@pytest.mark.parametrize("shape", [(17, 9, 3), (3, 8, 8, 3)])
def test_deprocess_inverts_preprocess_exactly(shape):
    x = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    back = deprocess(preprocess(x))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, x)


def test_deprocess_of_tensor():
    x = np.random.default_rng(2).integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(deprocess(preprocess(tf.constant(x))), x)


def test_all_256_values_round_trip():
    x = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=-1)  # (256, 1, 3)
    np.testing.assert_array_equal(deprocess(preprocess(x)), x)


def test_deprocess_clips():
    # Far below −mean → 0, far above 255 − mean → 255, in every channel.
    x = np.array([[[-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 1000.0]]], np.float32)
    out = deprocess(x)
    np.testing.assert_array_equal(out, [[[0, 0, 0], [255, 255, 255]]])
    # Just out of range: RGB 255.4 rounds to 255; RGB −0.4 rounds to 0 (BGR order in, RGB out).
    y = np.array([[[255.4 - MEAN_B, -0.4 - MEAN_G, 300 - MEAN_R]]], np.float32)
    np.testing.assert_array_equal(deprocess(y), [[[255, 0, 255]]])


# ------------------------------------------------------------------------------------ file formats

def _save(im, path, **kw):
    im.save(path, **kw)
    return path


def test_gray_becomes_three_equal_channels(tmp_path):
    a = np.array([[0, 77, 255]], np.uint8)
    out = load_image(_save(Image.fromarray(a), tmp_path / "gray.png"))
    assert out.shape == (1, 3, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], a)


def test_rgba_composited_on_white(tmp_path):
    px = np.array([[[0, 0, 0, 0],  # fully transparent (black) → white
                    [255, 0, 0, 255],  # opaque red → red
                    [0, 0, 0, 128]]], np.uint8)  # half-alpha black → 255·(1 − 128/255) = 127
    out = load_image(_save(Image.fromarray(px, "RGBA"), tmp_path / "rgba.png"))
    assert out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])
    assert np.all(np.abs(out[0, 2].astype(int) - 128) <= 1)


def test_la_composited_on_white(tmp_path):
    im = Image.new("LA", (3, 1))
    im.putpixel((0, 0), (0, 0))  # transparent black → white
    im.putpixel((1, 0), (200, 255))  # opaque gray 200
    im.putpixel((2, 0), (0, 128))  # half-alpha black → ~128
    path = _save(im, tmp_path / "la.png")
    assert Image.open(path).mode == "LA"
    out = load_image(path)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [200, 200, 200])
    assert np.all(np.abs(out[0, 2].astype(int) - 128) <= 1)


def _palette_image():
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)  # index 0 red, index 1 blue
    im.putpixel((0, 0), 0)
    im.putpixel((1, 0), 1)
    return im


def test_palette_without_transparency(tmp_path):
    path = _save(_palette_image(), tmp_path / "p.png")
    assert Image.open(path).mode == "P"
    np.testing.assert_array_equal(load_image(path), [[[255, 0, 0], [0, 0, 255]]])


def test_palette_with_transparency(tmp_path):
    path = _save(_palette_image(), tmp_path / "pt.png", transparency=1)  # blue index transparent
    with Image.open(path) as im:
        assert im.mode == "P" and "transparency" in im.info
    np.testing.assert_array_equal(load_image(path), [[[255, 0, 0], [255, 255, 255]]])


def test_palette_gif_with_transparency(tmp_path):
    path = _save(_palette_image(), tmp_path / "pt.gif", transparency=0)  # red index transparent
    np.testing.assert_array_equal(load_image(path), [[[255, 255, 255], [0, 0, 255]]])


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    im = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # no cyan, full magenta + yellow = red
    im.paste((0, 0, 0, 0), (8, 0, 16, 8))  # right half: no ink = white
    path = _save(im, tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(path).mode == "CMYK"
    out = load_image(path)
    assert out.shape == (8, 16, 3) and out.dtype == np.uint8
    assert np.all(np.abs(out[4, 2].astype(int) - [255, 0, 0]) <= 8)
    assert np.all(np.abs(out[4, 13].astype(int) - [255, 255, 255]) <= 8)


def test_16_bit_png_scaled_to_8_bits(tmp_path):
    a = np.array([[65535, 257 * 100, 0, 257]], np.uint16)
    path = _save(Image.fromarray(a), tmp_path / "deep.png")
    assert Image.open(path).mode in ("I;16", "I")
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (1, 4, 3)
    # 65535/257 = 255, 25700/257 = 100, 0 → 0, 257/257 = 1.
    np.testing.assert_array_equal(out[0, :, 0], [255, 100, 0, 1])
    assert np.all(out[..., 0] == out[..., 1]) and np.all(out[..., 1] == out[..., 2])


def test_float_tiff_in_0_1_scaled(tmp_path):
    a = np.array([[0.0, 0.5, 1.0, 0.2]], np.float32)
    path = _save(Image.fromarray(a), tmp_path / "f.tif")
    assert Image.open(path).mode == "F"
    out = load_image(path)
    # ×255: 0, 127.5 (→ 128, round half to even), 255, 51.
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255, 51])
    assert out.shape == (1, 4, 3)


def test_float_tiff_above_1_taken_as_0_255_and_clipped(tmp_path):
    a = np.array([[0.0, 100.0, 300.0]], np.float32)
    out = load_image(_save(Image.fromarray(a), tmp_path / "f255.tif"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 255])


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_jpeg_is_shown_as_a_viewer_would(tmp_path, orientation):
    # Stored 40 wide x 20 high: left half red, right half blue.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(Image.fromarray(stored), tmp_path / f"rot{orientation}.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.shape == (40, 20, 3)  # transposed: 20 wide x 40 high as displayed
    top, bottom = out[5, 10].astype(int), out[34, 10].astype(int)
    red, blue = np.array([255, 0, 0]), np.array([0, 0, 255])
    if orientation == 6:  # rotate 90° clockwise to display: the stored left edge goes to the top
        assert np.abs(top - red).max() <= 20 and np.abs(bottom - blue).max() <= 20
    else:  # 8: rotate 90° counter-clockwise: the stored left edge goes to the bottom
        assert np.abs(top - blue).max() <= 20 and np.abs(bottom - red).max() <= 20


def test_rgb_png_loads_unchanged(tmp_path):
    x = np.random.default_rng(3).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(_save(Image.fromarray(x), tmp_path / "x.png")), x)
    np.testing.assert_array_equal(load_image(str(tmp_path / "x.png")), x)  # str path too


# ------------------------------------------------------------------------------ arrays / PIL inputs

def test_array_and_pil_inputs():
    gray = np.array([[1, 2], [3, 4]], np.uint8)
    out = load_image(gray)
    assert out.shape == (2, 2, 3) and np.all(out[..., 0] == gray)
    floats = np.array([[[-5.0, 100.4, 300.0]]])  # other dtypes: 0..255, clipped, rounded
    np.testing.assert_array_equal(load_image(floats), [[[0, 100, 255]]])
    pil = Image.fromarray(np.full((3, 2, 3), 9, np.uint8))
    np.testing.assert_array_equal(load_image(pil), np.full((3, 2, 3), 9, np.uint8))
    with pytest.raises(ImageError, match="shape"):
        to_rgb_array(np.zeros((3, 3, 2)))
    with pytest.raises(ImageError):
        load_image(12345)


# ------------------------------------------------------------------------------------------ max_size

def test_max_size_downscales_keeping_aspect_ratio():
    img = np.zeros((100, 200, 3), np.uint8)
    assert load_image(img, max_size=50).shape == (25, 50, 3)
    tall = np.zeros((300, 120, 3), np.uint8)
    assert load_image(tall, max_size=100).shape == (100, 40, 3)  # 120·100/300 = 40


def test_max_size_never_upscales():
    img = np.zeros((30, 40, 3), np.uint8)
    assert load_image(img, max_size=100).shape == (30, 40, 3)
    assert load_image(img, max_size=40).shape == (30, 40, 3)


def test_max_size_on_a_file(tmp_path):
    path = _save(Image.fromarray(np.zeros((64, 128, 3), np.uint8)), tmp_path / "wide.png")
    assert load_image(path, max_size=32).shape == (16, 32, 3)


def test_resize_longest_extreme_aspect_ratio_states_minimum():
    img = np.zeros((10, 2000, 3), np.uint8)  # 2000 wide x 10 high → 256 x 1 at longest side 256
    with pytest.raises(ImageError) as e:
        resize_longest(img, 256)
    msg = str(e.value)
    assert f"at least {MIN_SIZE} px" in msg
    assert "2000x10" in msg
    with pytest.raises(ImageError, match=f"at least {MIN_SIZE}"):
        load_image(img, max_size=256)


def test_resize_longest_normal():
    assert resize_longest(np.zeros((64, 32, 3), np.uint8), 32).shape == (32, 16, 3)


# ------------------------------------------------------------------------------------------ samples

@pytest.mark.parametrize("name, shape", [("chelsea", (300, 451, 3)),
                                         ("sample:hubble_deep_field", (872, 1000, 3)),
                                         ("brick", (512, 512, 3))])
def test_bundled_samples(name, shape):
    out = load_image(name)
    assert out.shape == shape and out.dtype == np.uint8


# The photo and paintings bundled in nststudy/samples/: sizes from ../shared/images/README.md, The Scream's
# 1200x1528 original downscaled to 1024 px on its long side (round(1200 * 1024 / 1528) = 804).
@pytest.mark.parametrize("name, shape", [("tubingen", (768, 1024, 3)), ("starry_night", (640, 1024, 3)),
                                         ("the_scream", (1024, 804, 3)), ("shipwreck", (662, 960, 3)),
                                         ("great_wave", (514, 928, 3)), ("sample:udnie", (512, 512, 3))])
def test_bundled_paintings(name, shape):
    out = load_image(name)
    assert out.shape == shape and out.dtype == np.uint8
    assert out.std() > 20  # a picture, not a blank or a single colour


def test_bundled_paintings_ship_with_the_package():
    # pyproject's package-data must list every bundled JPEG, or an installed (non-editable) copy lacks them.
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

    from nststudy.images import PAINTINGS, SAMPLE_DIR

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    assert "nststudy.samples" in setuptools["packages"]
    patterns = setuptools["package-data"]["nststudy.samples"]
    for name in ("tubingen", *PAINTINGS, "README"):
        file = next(SAMPLE_DIR.glob(f"{name}.*"))
        assert any(Path(file.name).match(p) for p in patterns), (file.name, patterns)


def test_grayscale_sample_has_equal_channels():
    out = load_image("sample:brick")
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_sample_with_max_size():
    assert load_image("chelsea", max_size=100).shape[1] == 100
    assert max(load_image("chelsea", max_size=100).shape[:2]) == 100


def test_unknown_sample_lists_the_samples():
    with pytest.raises(ImageError) as e:
        load_image("sample:no_such_picture")
    msg = str(e.value)
    assert "no_such_picture" in msg
    for name in SAMPLES:
        assert name in msg


def test_file_named_like_a_sample_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((2, 2, 3), 7, np.uint8)).save("brick", format="PNG")
    np.testing.assert_array_equal(load_image("brick"), np.full((2, 2, 3), 7, np.uint8))


# ------------------------------------------------------------------------------------------- errors

def _assert_image_error(path, *fragments):
    with pytest.raises(ImageError) as e:
        load_image(path)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert str(path) in msg
    for f in fragments:
        assert f in msg
    return msg


def test_missing_file(tmp_path):
    _assert_image_error(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path):
    _assert_image_error(tmp_path, "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    _assert_image_error(path, "empty")


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_truncated_file(tmp_path, ext):
    noise = np.random.default_rng(4).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    full = _save(Image.fromarray(noise), tmp_path / f"full.{ext}")
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    _assert_image_error(cut, "truncated")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    _assert_image_error(path, "not an image")


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# ---------------------------------------------------------------------------------------------- save

def test_save_image_round_trip_and_no_leftovers(tmp_path):
    x = np.random.default_rng(5).integers(0, 256, size=(9, 11, 3), dtype=np.uint8)
    out_dir = tmp_path / "out" / "deeper"  # parent folders are created
    path = save_image(x, out_dir / "result.png")
    assert path == out_dir / "result.png" and path.exists()
    assert [p.name for p in out_dir.iterdir()] == ["result.png"]  # no temporary file left behind
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
    np.testing.assert_array_equal(load_image(path), x)


def test_save_image_overwrites_and_uses_the_suffix_format(tmp_path):
    path = tmp_path / "r.jpg"
    save_image(np.zeros((8, 8, 3), np.uint8), path)
    save_image(np.full((8, 8, 3), 255, np.uint8), path)
    with Image.open(path) as im:
        assert im.format == "JPEG"
    assert load_image(path).min() >= 250
    assert [p.name for p in tmp_path.iterdir()] == ["r.jpg"]


def test_failed_save_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "keep.png"
    old = np.full((4, 4, 3), 42, np.uint8)
    save_image(old, path)
    with pytest.raises(ImageError):
        save_image(np.zeros((4, 4, 5), np.uint8), path)  # five channels: refused mid-write
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    np.testing.assert_array_equal(load_image(path), old)


def test_save_gray_and_float_arrays(tmp_path):
    save_image(np.array([[0, 255]], np.uint8), tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), [[[0, 0, 0], [255, 255, 255]]])
    save_image(np.array([[[-3.0, 12.6, 999.0]]]), tmp_path / "f.png")
    np.testing.assert_array_equal(load_image(tmp_path / "f.png"), [[[0, 13, 255]]])


def test_very_large_image_is_downscaled_with_a_message(tmp_path):
    from nststudy.stylize import DownscaleWarning, prepare_images

    big = tmp_path / "big.png"  # 10,000 x 8,000 px, written cheaply as a flat-colour PNG
    Image.new("RGB", (10_000, 8_000), (200, 100, 50)).save(big)
    config = StyleConfig(image_size=64)
    with pytest.warns(DownscaleWarning, match=r"content image of 10000x8000 px downscaled to 64x51 px"):
        content, style = prepare_images(big, np.zeros((40, 40, 3), np.uint8), config)
    assert content.shape == (51, 64, 3) and style.shape == (51, 64, 3)
    assert (content == (200, 100, 50)).all()


def test_ordinary_resizing_says_nothing(recwarn):
    from nststudy.stylize import prepare_images

    prepare_images(np.zeros((451, 300, 3), np.uint8), np.zeros((500, 500, 3), np.uint8),
                   StyleConfig(image_size=256))
    assert not [w for w in recwarn if "downscaled" in str(w.message)]
