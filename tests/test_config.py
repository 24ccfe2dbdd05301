"""StyleConfig: defaults, immutability, JSON round trip, validation messages, layer-name handling."""

import dataclasses
import json

import pytest

from nststudy.config import (FIELD_NAMES, StyleConfig, keras_layer_name, layer_depth, model_layers,
                             paper_name, parse_value)

GATYS_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


# ------------------------------------------------------------------------------------------ defaults

def test_defaults():
    cfg = StyleConfig()
    assert cfg.model == "vgg19"
    assert cfg.weights == "imagenet"
    assert cfg.content_layers == ("block4_conv2",)
    assert cfg.style_layers == GATYS_STYLE
    assert cfg.style_layer_weights == (0.2, 0.2, 0.2, 0.2, 0.2)
    assert cfg.optimizer == "adam"
    assert cfg.epochs == 5  # 500 steps met issue 18's bar (experiments/defaults)
    assert cfg.steps_per_epoch == 100
    assert cfg.total_steps == 500
    assert cfg.init == "content"
    assert cfg.pooling == "max"
    assert cfg.style_normalization == "target"  # every layer on one scale (experiments/defaults)
    assert cfg.style_weight == 4e12  # experiments/defaults: style / colour ratio 0.11 / 0.24, SSIM 0.37
    assert cfg.learning_rate is None  # the optimiser's own default (DEFAULT_LEARNING_RATES)


def test_unset_learning_rate_is_the_optimisers_default():
    # Adam: seed 002's 5 px; plain gradient descent: 3e-7, measured for the default objective (config.py's
    # comment on SGD_RATE).
    assert StyleConfig().step_size == 5.0
    assert StyleConfig(optimizer="sgd").step_size == 3e-7
    assert StyleConfig(optimizer="lbfgs").step_size == 5.0  # ignored by L-BFGS; Adam's, so a value is defined
    assert StyleConfig(optimizer="sgd", learning_rate=0.5).step_size == 0.5  # a value set is used as is
    # None survives the JSON round trip, so a replayed config.json means "the default" again.
    assert StyleConfig.from_json(StyleConfig(optimizer="sgd").to_json()).learning_rate is None
    assert StyleConfig().replace(optimizer="sgd").step_size == 3e-7


def test_total_steps_follows_fields():
    assert StyleConfig(epochs=3, steps_per_epoch=7).total_steps == 21


def test_frozen():
    cfg = StyleConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.style_weight = 2.0
    assert cfg.epochs == 5
    hash(cfg)  # frozen + tuples: usable as a dict key


def test_field_names_cover_the_dataclass():
    assert FIELD_NAMES == tuple(f.name for f in dataclasses.fields(StyleConfig))
    assert "style_weight" in FIELD_NAMES and "content_layers" in FIELD_NAMES


# ---------------------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("cfg", [
    StyleConfig(),
    StyleConfig(model="vgg16", weights="random", pooling="avg", content_layers=["conv3_3"],
                style_layers=["conv1_1", "relu2_2", "pool3"], style_layer_weights=[1, 0.5, 0],
                content_weight=2.5, style_weight=1e4, tv_weight=0.1, optimizer="lbfgs",
                learning_rate=1.0, decay_steps=50, decay_rate=0.5, epochs=2, steps_per_epoch=3,
                image_size=64, init="noise", seed=7),
], ids=["defaults", "everything-changed"])
def test_json_round_trip(cfg):
    data = cfg.to_dict()
    assert all(not isinstance(v, tuple) for v in data.values())  # JSON-ready: lists, not tuples
    back = StyleConfig.from_dict(json.loads(json.dumps(data)))
    assert back == cfg
    assert StyleConfig.from_json(cfg.to_json()) == cfg
    assert set(data) == set(FIELD_NAMES)


def test_round_trip_keeps_keras_names_and_float_weights():
    cfg = StyleConfig(model="vgg16", content_layers=["conv3_3"], style_layers=["conv1_1"],
                      style_layer_weights=[1])
    data = cfg.to_dict()
    assert data["content_layers"] == ["block3_conv3"]
    assert data["style_layers"] == ["block1_conv1"]
    assert data["style_layer_weights"] == [1.0] and isinstance(data["style_layer_weights"][0], float)


# ---------------------------------------------------------------------------------------- bad keys

def test_unknown_key_names_it_and_suggests_close_match():
    with pytest.raises(ValueError) as e:
        StyleConfig.from_dict({"style_wieght": 10.0})
    msg = str(e.value)
    assert "'style_wieght'" in msg
    assert "did you mean 'style_weight'" in msg


def test_unknown_key_without_close_match_lists_accepted_keys():
    with pytest.raises(ValueError) as e:
        StyleConfig.from_dict({"zzzzzz": 1})
    assert "'zzzzzz'" in str(e.value)
    assert "did you mean" not in str(e.value)
    assert "content_weight" in str(e.value)


def test_from_dict_rejects_non_dict():
    with pytest.raises(ValueError, match="dict"):
        StyleConfig.from_dict(["epochs", 3])


# -------------------------------------------------------------------------------------- bad values

@pytest.mark.parametrize("key, value", [
    ("content_weight", -1.0),
    ("style_weight", -0.5),
    ("tv_weight", -1e-3),
    ("style_layer_weights", (0.2, 0.2, -0.2, 0.2, 0.2)),
    ("epochs", 0),
    ("steps_per_epoch", 0),
    ("decay_steps", 0),
    ("epochs", 2.5),
    ("epochs", "10"),
    ("epochs", True),
    ("learning_rate", 0.0),
    ("decay_rate", -0.1),
    ("image_size", 8),
    ("seed", -1),
    ("optimizer", "rmsprop"),
    ("model", "vgg11"),
    ("init", "zeros"),
    ("pooling", "min"),
    ("style_normalization", "initial"),
    ("learning_rate", "5"),
    ("content_weight", "1.0"),  # a string where a float is expected
    ("style_weight", None),
    ("tv_weight", True),
    ("style_weight", float("nan")),
    ("learning_rate", float("inf")),
    ("weights", ""),
])
def test_bad_value_raises_naming_the_key(key, value):
    with pytest.raises(ValueError) as e:
        StyleConfig(**{key: value})
    assert key in str(e.value)


def test_mismatched_style_layer_weights_length():
    with pytest.raises(ValueError) as e:
        StyleConfig(style_layer_weights=(0.5, 0.5))
    msg = str(e.value)
    assert "style_layer_weights" in msg
    assert "2 values" in msg and "5 layers" in msg


def test_empty_style_layer_weights_mean_equal_weights():
    cfg = StyleConfig(style_layers=["conv1_1", "conv2_1", "conv3_1"], style_layer_weights=[])
    assert cfg.style_layer_weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert StyleConfig(style_layers=[], style_layer_weights=[]).style_layer_weights == ()
    assert StyleConfig.from_dict(cfg.to_dict()) == cfg  # the record holds the weights, not the empty list


def test_string_in_style_layer_weights_is_rejected():
    with pytest.raises(ValueError, match="style_layer_weights"):
        StyleConfig(style_layer_weights=(0.2, 0.2, "x", 0.2, 0.2))


def test_choices_are_normalised():
    cfg = StyleConfig(model=" VGG16 ", optimizer="SGD", init="Noise", pooling="AVG")
    assert (cfg.model, cfg.optimizer, cfg.init, cfg.pooling) == ("vgg16", "sgd", "noise", "avg")


def test_whole_floats_become_ints_and_ints_become_floats():
    cfg = StyleConfig(epochs=2.0, content_weight=3)
    assert cfg.epochs == 2 and isinstance(cfg.epochs, int)
    assert cfg.content_weight == 3.0 and isinstance(cfg.content_weight, float)


def test_empty_content_and_style_layers_rejected():
    with pytest.raises(ValueError, match="both empty"):
        StyleConfig(content_layers=(), style_layers=(), style_layer_weights=())


def test_duplicate_layer_rejected_even_across_spellings():
    with pytest.raises(ValueError, match="twice"):
        StyleConfig(content_layers=("conv4_2", "block4_conv2"))


# ------------------------------------------------------------------------------------------- layers

def test_paper_and_keras_names_accepted_and_stored_as_keras():
    cfg = StyleConfig(content_layers=("conv4_2",),
                      style_layers=("relu1_1", "block2_conv1", "conv3_1", "pool4", "block5_pool"))
    assert cfg.content_layers == ("block4_conv2",)
    assert cfg.style_layers == ("block1_conv1", "block2_conv1", "block3_conv1", "block4_pool", "block5_pool")


def test_layers_given_as_a_comma_string():
    cfg = StyleConfig(content_layers="conv5_2", style_layers="conv1_1, conv2_1",
                      style_layer_weights=(0.5, 0.5))
    assert cfg.content_layers == ("block5_conv2",)
    assert cfg.style_layers == ("block1_conv1", "block2_conv1")


@pytest.mark.parametrize("name", ["conv3_4", "block3_conv4", "relu3_4"])
def test_vgg16_has_no_conv3_4_and_the_message_lists_valid_names(name):
    with pytest.raises(ValueError) as e:
        StyleConfig(model="vgg16", content_layers=(name,))
    msg = str(e.value)
    assert name in msg
    assert "vgg16" in msg
    assert "conv3_3" in msg and "block3_conv3" in msg
    assert "conv5_3" in msg and "pool5" in msg


def test_vgg19_has_conv3_4():
    assert StyleConfig(model="vgg19", content_layers=("conv3_4",)).content_layers == ("block3_conv4",)
    assert keras_layer_name("block3_conv4", "vgg19") == "block3_conv4"


def test_default_style_layers_are_valid_on_vgg16_but_vgg19_only_layers_are_not():
    assert StyleConfig(model="vgg16").style_layers == GATYS_STYLE
    with pytest.raises(ValueError, match="vgg16"):
        StyleConfig(model="vgg16", style_layers=("conv5_4",), style_layer_weights=(1.0,))


def test_model_layers_counts():
    for model, convs in (("vgg16", 13), ("vgg19", 16)):
        layers = model_layers(model)
        assert sum("_conv" in n for n in layers) == convs
        assert sum(n.endswith("_pool") for n in layers) == 5
        assert len(layers) == convs + 5
        assert layers[0] == "block1_conv1" and layers[-1] == "block5_pool"
    assert model_layers("vgg16")[:3] == ("block1_conv1", "block1_conv2", "block1_pool")


def test_model_layers_unknown_model():
    with pytest.raises(ValueError, match="vgg11"):
        model_layers("vgg11")


@pytest.mark.parametrize("model", ["vgg16", "vgg19"])
def test_paper_keras_round_trip_every_layer(model):
    for keras_name in model_layers(model):
        paper = paper_name(keras_name)
        assert paper != keras_name
        assert keras_layer_name(paper, model) == keras_name
        assert keras_layer_name(keras_name, model) == keras_name
        assert paper_name(keras_layer_name(paper, model)) == paper
        if "conv" in paper:
            assert keras_layer_name(paper.replace("conv", "relu"), model) == keras_name


def test_paper_name_examples():
    assert paper_name("block4_conv2") == "conv4_2"
    assert paper_name("block4_pool") == "pool4"
    assert paper_name("input_1") == "input_1"  # not a VGG feature layer: unchanged


def test_keras_layer_name_is_case_and_space_tolerant():
    assert keras_layer_name("  Conv4_2 ") == "block4_conv2"
    assert keras_layer_name("POOL2") == "block2_pool"


def test_layer_depth():
    assert layer_depth("conv1_1") == 0
    assert layer_depth("pool1") == 2
    assert layer_depth("conv4_2", "vgg19") == model_layers("vgg19").index("block4_conv2")


# -------------------------------------------------------------------------------------- parse_value

def test_parse_value_floats():
    assert parse_value("style_weight", "1e4") == 10000.0
    assert isinstance(parse_value("content_weight", "2"), float)
    assert parse_value("learning_rate", " 0.5 ") == 0.5
    assert parse_value("learning_rate", "1e-5") == 1e-5
    assert parse_value("learning_rate", "none") is None and parse_value("learning_rate", "") is None
    with pytest.raises(ValueError, match="learning_rate"):
        parse_value("learning_rate", "fast")
    with pytest.raises(ValueError, match="content_weight"):
        parse_value("content_weight", "lots")


def test_parse_value_ints():
    assert parse_value("epochs", "5") == 5 and isinstance(parse_value("epochs", "5"), int)
    assert parse_value("epochs", "5.0") == 5 and isinstance(parse_value("epochs", "5.0"), int)
    # A fractional value is passed through; StyleConfig then rejects it, naming the key.
    value = parse_value("epochs", "2.5")
    with pytest.raises(ValueError, match="epochs"):
        StyleConfig(epochs=value)
    with pytest.raises(ValueError, match="seed"):
        parse_value("seed", "abc")


def test_parse_value_lists():
    assert parse_value("style_layers", "conv1_1,conv2_1") == ["conv1_1", "conv2_1"]
    assert parse_value("style_layers", "conv1_1 conv2_1") == ["conv1_1", "conv2_1"]
    assert parse_value("content_layers", '["conv4_2"]') == ["conv4_2"]
    assert parse_value("style_layer_weights", "0.5,0.5") == [0.5, 0.5]
    assert parse_value("style_layer_weights", "[1, 2]") == [1, 2]


@pytest.mark.parametrize("key, text", [("style_layer_weights", "0.5,heavy"),
                                       ("content_layers", '["conv4_2"'),
                                       ("style_layer_weights", "[0.5, 0.5")])
def test_parse_value_bad_list_names_the_key(key, text):
    # Fixed in config.py: these used to surface as bare float()/json errors without the key.
    with pytest.raises(ValueError) as e:
        parse_value(key, text)
    assert key in str(e.value)


def test_parse_value_strings():
    assert parse_value("model", "vgg16") == "vgg16"
    assert parse_value("weights", " random ") == "random"


def test_parse_value_unknown_key():
    with pytest.raises(ValueError) as e:
        parse_value("style_wieght", "1")
    assert "'style_wieght'" in str(e.value) and "'style_weight'" in str(e.value)


def test_parsed_values_build_a_valid_config():
    changes = {k: parse_value(k, v) for k, v in [("style_layers", "conv1_1,conv2_1"),
                                                  ("style_layer_weights", "0.5,0.5"),
                                                  ("epochs", "3"), ("style_weight", "1e3")]}
    cfg = StyleConfig().replace(**changes)
    assert cfg.style_layers == ("block1_conv1", "block2_conv1")
    assert cfg.style_layer_weights == (0.5, 0.5)
    assert cfg.total_steps == 300 and cfg.style_weight == 1000.0


# ------------------------------------------------------------------------------------------ replace

def test_replace_validates_and_converts():
    cfg = StyleConfig()
    new = cfg.replace(content_layers=["conv5_1"], epochs=2)
    assert new.content_layers == ("block5_conv1",) and new.epochs == 2
    assert cfg.epochs == 5  # the original is untouched
    with pytest.raises(ValueError, match="epochs"):
        cfg.replace(epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        cfg.replace(optimizer="rmsprop")
    with pytest.raises(ValueError, match="did you mean 'style_weight'"):
        cfg.replace(style_wieght=2.0)
    with pytest.raises(ValueError, match="style_layer_weights"):
        cfg.replace(style_layers=["conv1_1"])  # five weights left for one layer
    with pytest.raises(ValueError, match="conv3_3"):
        cfg.replace(model="vgg16", content_layers=["conv3_4"])
