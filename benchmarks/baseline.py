"""The baseline: neural style transfer as the TensorFlow tutorial teaches it
(https://www.tensorflow.org/tutorials/generative/style_transfer), kept as close to its text as Keras 3 allows.

A multi-output model over keras.applications VGG19, content block5_conv2, style block1_conv1 … block5_conv1,
Gram matrices averaged over locations, style_weight 1e-2 and content_weight 1e4, Adam(0.02, beta_1=0.99,
epsilon=0.1) on an image in [0, 1], one ``tf.function`` train step, clip to [0, 1].

Two departures, both in the baseline's favour or neutral: the VGG19 is the same object nststudy uses (same
weights, no second copy), and ``train_step`` returns the loss it computed anyway so the benchmark can plot it.

``tutorial_config`` states the same loss in nststudy's terms (content ½Σ(F−P)², style 1/(4N²M²)Σ(G−A)²):
per layer, the tutorial's mean((F−P)²) is 2/(N·M) of ours and its mean over N² of ((G−A)/M)² is 4× ours,
so α = 1e4 · 2/(N·M) for block5_conv2 and β = 1e-2 · 4/5 with ω_l = 1. ``run.py`` checks that both give
the same number on the same image before it times anything.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CONTENT_LAYERS = ["block5_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
STYLE_WEIGHT, CONTENT_WEIGHT = 1e-2, 1e4


def gram_matrix(input_tensor):
    result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
    input_shape = tf.shape(input_tensor)
    num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
    return result / num_locations


def vgg_layers(vgg, layer_names):
    """Creates a VGG model that returns a list of intermediate output values."""
    import keras

    vgg.trainable = False
    outputs = [vgg.get_layer(name).output for name in layer_names]
    return keras.Model([vgg.input], outputs)


class StyleContentModel:
    def __init__(self, vgg, style_layers, content_layers):
        self.vgg = vgg_layers(vgg, style_layers + content_layers)
        self.style_layers = style_layers
        self.content_layers = content_layers
        self.num_style_layers = len(style_layers)

    def __call__(self, inputs):
        """Expects float input in [0,1]."""
        import keras

        inputs = inputs * 255.0
        preprocessed_input = keras.applications.vgg19.preprocess_input(inputs)
        outputs = self.vgg(preprocessed_input)
        style_outputs, content_outputs = (outputs[:self.num_style_layers], outputs[self.num_style_layers:])
        style_outputs = [gram_matrix(style_output) for style_output in style_outputs]
        content_dict = {name: value for name, value in zip(self.content_layers, content_outputs)}
        style_dict = {name: value for name, value in zip(self.style_layers, style_outputs)}
        return {"content": content_dict, "style": style_dict}


class TutorialLoop:
    """The tutorial's optimisation of one image: ``step()`` runs one train step and returns its loss."""

    def __init__(self, vgg, content: np.ndarray, style: np.ndarray):
        import keras

        self.extractor = StyleContentModel(vgg, STYLE_LAYERS, CONTENT_LAYERS)
        content01 = tf.constant(content[None].astype(np.float32) / 255.0)
        style01 = tf.constant(style[None].astype(np.float32) / 255.0)
        self.style_targets = self.extractor(style01)["style"]
        self.content_targets = self.extractor(content01)["content"]
        self.image = tf.Variable(content01)
        self.opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
        self.train_step = tf.function(self._train_step)

    def style_content_loss(self, outputs):
        style_outputs, content_outputs = outputs["style"], outputs["content"]
        style_loss = tf.add_n([tf.reduce_mean((style_outputs[name] - self.style_targets[name]) ** 2)
                               for name in style_outputs.keys()])
        style_loss *= STYLE_WEIGHT / len(STYLE_LAYERS)
        content_loss = tf.add_n([tf.reduce_mean((content_outputs[name] - self.content_targets[name]) ** 2)
                                 for name in content_outputs.keys()])
        content_loss *= CONTENT_WEIGHT / len(CONTENT_LAYERS)
        return style_loss + content_loss

    def _train_step(self):
        with tf.GradientTape() as tape:
            outputs = self.extractor(self.image)
            loss = self.style_content_loss(outputs)
        grad = tape.gradient(loss, self.image)
        self.opt.apply_gradients([(grad, self.image)])
        self.image.assign(tf.clip_by_value(self.image, clip_value_min=0.0, clip_value_max=1.0))
        return loss

    def step(self) -> float:
        return float(self.train_step())

    def loss_of(self, image_0_255: np.ndarray) -> float:
        """The tutorial's loss of an RGB image in 0..255 (HxWx3), without changing the optimised image."""
        x = tf.constant(np.asarray(image_0_255, np.float32)[None] / 255.0)
        return float(self.style_content_loss(self.extractor(x)))


def tutorial_config(height: int, width: int, **changes):
    """The tutorial's loss as a StyleConfig: nststudy's ``total`` equals TutorialLoop's loss."""
    from nststudy import StyleConfig

    n, m = 512, (height // 16) * (width // 16)  # block5_conv2: 512 channels after four 2x2 poolings
    return StyleConfig(content_layers=tuple(CONTENT_LAYERS), style_layers=tuple(STYLE_LAYERS),
                       style_layer_weights=(1.0,) * len(STYLE_LAYERS), content_weight=CONTENT_WEIGHT * 2 / (n * m),
                       style_weight=STYLE_WEIGHT * 4 / len(STYLE_LAYERS), init="content",
                       style_normalization="none",  # Gatys's E_l, as the tutorial; nststudy's default is "target"
                       image_size=max(height, width), **changes)
