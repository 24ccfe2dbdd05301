"""Writes the thin notebooks in notebooks/ (run once after changing a parameter list; commit the output).

Each notebook: one cell tagged `parameters` of plain, commented assignments, then a few calls into nststudy.
"""
import nbformat as nbf
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "notebooks"

CONFIG_PARAMS = '''\
content = "tubingen"  # content image: a path, or a bundled sample: tubingen, astronaut, chelsea, coffee, rocket
style = "starry_night"  # style image: a path or a bundled sample (starry_night, the_scream, shipwreck, great_wave, udnie; textures hubble_deep_field, brick, gravel, grass); a list blends several
output_dir = "runs/notebook"  # run folder to write: image.png, config.json, history.csv, loss.png, env.json
model = "vgg19"  # feature network: "vgg19" | "vgg16"
weights = "imagenet"  # "imagenet" (resolved from $NSTSTUDY_WEIGHTS_DIR or the Keras cache) | "random" (labelled) | path to .h5
pooling = "max"  # "max" (as Keras ships VGG) | "avg" (Gatys et al.)
content_layers = ["conv4_2"]  # content layers, paper (conv4_2) or Keras (block4_conv2) names
style_layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]  # style layers (Gatys et al.)
style_layer_weights = [0.2, 0.2, 0.2, 0.2, 0.2]  # omega_l, one weight per style layer
style_normalization = "none"  # "none" (E_l of Gatys et al.) | "target" (each E_l divided by its value for a black feature map, so layers weigh alike)
content_weight = 1.0  # alpha, weight of the content loss
style_weight = 1.0  # beta, weight of the style loss (alpha/beta sets the trade-off)
tv_weight = 0.0  # weight of the total-variation smoothness term (0 turns it off, as Gatys et al.)
optimizer = "adam"  # "adam" | "sgd" (plain gradient descent) | "lbfgs" (SciPy L-BFGS-B)
learning_rate = None  # initial step for adam/sgd in pixel units (ExponentialDecay); None: the optimiser's default (adam 5, sgd 1e-5); unused by lbfgs
decay_steps = 100  # the learning rate is multiplied by decay_rate every decay_steps steps (smoothly)
decay_rate = 0.96  # ExponentialDecay factor
epochs = 10  # epochs x steps_per_epoch is the number of steps (seed 004: 10 x 100)
steps_per_epoch = 100  # steps (or L-BFGS iterations) per epoch
image_size = 256  # longest side of the result in pixels; the style image is resized to the content's size
color_preservation = "none"  # "none" | "luminance" (keep the content's colours) | "histogram" (style takes the content's colours)
style_scale = 1.0  # the style image is resized by this factor, relative to the content, before its Grams are taken
style_blend_weights = []  # with several style images (style given as a list): one weight each (empty for equal)
scales = []  # multiscale: smaller sizes to run first, coarse to fine, e.g. [128] (empty for one scale)
init = "content"  # start image: "content" | "noise" (Gatys et al.) | "style"
seed = 0  # seeds noise, random weights and TensorFlow
snapshot_every = 0  # every this many steps save the image and optimiser state in the run folder (0 never)'''


def typed(text):
    """Put each parameter's type at the start of its comment: papermill infers no type from a plain
    assignment, and annotations are what it cannot always parse, so the type is stated in words."""
    import ast

    out = []
    for line in text.splitlines():
        code, _, comment = line.partition("  # ")
        value = ast.literal_eval(code.split(" = ", 1)[1])
        kind = {str: "str", float: "float", int: "int", bool: "bool", list: "list",
                type(None): "float or None"}[type(value)]
        if isinstance(value, list) and value:
            kind = f"list of {type(value[0]).__name__}"
        out.append(f"{code}  # ({kind}) {comment}")
    return "\n".join(out)


def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for kind, src, *tags in cells:
        if tags and "parameters" in tags[0]:
            src = typed(src)
        cell = nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = tags[0]
        cell.id = f"cell-{len(nb.cells)}"  # stable ids: regenerating leaves git diffs clean
        nb.cells.append(cell)
    return nb


def params_with(text, replace):
    lines = text.splitlines()
    for old, new in replace.items():
        lines = [new if l.startswith(old + " =") else l for l in lines]
    return "\n".join(lines)


stylize = notebook([
    ("md", "# One style-transfer trial\n\nThe trial notebook of every sweep: run it with papermill, e.g.\n"
           "`papermill notebooks/stylize.ipynb out.ipynb -p style_weight 1e2 -p content_layers '[\"conv4_2\"]'`.\n"
           "`papermill --help-notebook notebooks/stylize.ipynb` lists the parameters."),
    ("code", CONFIG_PARAMS + "\nshow = True  # display the image and the loss plot at the end", ["parameters"]),
    ("code", "import nststudy\nfrom nststudy.notebook import config_from_parameters\n\n"
             "config = config_from_parameters(globals())  # strict: a misspelt or bad parameter stops here\nconfig"),
    ("code", "result = nststudy.stylize(content, style, config)\nrun = nststudy.save_run(result, output_dir)\n"
             "print(run, result.stopped, result.final)"),
    ("code", "if show:\n    from IPython.display import Image, display\n\n"
             "    display(Image(filename=str(run / 'image.png')), Image(filename=str(run / 'loss.png')))"),
])

explore = notebook([
    ("md", "# Explore\n\nPick a content and a style image (a path or a bundled sample), edit the settings, and watch "
           "the image and the loss curve update every `preview_every` steps. The last cell compares this run with "
           "an earlier one side by side."),
    ("code", params_with(CONFIG_PARAMS, {"output_dir": 'output_dir = "runs/explore"  # run folder to write',
                                          "epochs": "epochs = 2  # epochs x steps_per_epoch is the number of steps"})
             + "\npreview_every = 20  # redraw the image and loss curve every this many steps"
             + "\ncompare_with = \"\"  # an earlier run folder to show side by side with this one (empty for none)",
     ["parameters"]),
    ("code", "import nststudy\nfrom nststudy.notebook import LivePreview, compare_runs, config_from_parameters\n\n"
             "config = config_from_parameters(globals())\nconfig"),
    ("code", "result = nststudy.stylize(content, style, config, callback=LivePreview(preview_every))\n"
             "run = nststudy.save_run(result, output_dir)\nrun"),
    ("code", "if compare_with:\n    compare_runs(compare_with, run)"),
])

report = notebook([
    ("md", "# Study report\n\nBuilds a study's figures from its trial records: the contact sheet, the loss "
           "curves of all trials and the results table. Nothing is re-run."),
    ("code", 'sweep = "experiments/alpha_beta/sweep.yaml"  # the study\'s sweep file\n'
             'preset = ""  # the preset the sweep ran with (empty for the real runs, or "smoke")',
     ["parameters"]),
    ("code", "import csv\n\nfrom IPython.display import Image, Markdown, display\n\n"
             "from nststudy.report import build_report, markdown_table\n\n"
             "paths = build_report(sweep, preset or None)\npaths"),
    ("code", "display(Image(filename=paths['grid']), Image(filename=paths['losses']))\n"
             "with open(paths['results']) as f:\n    display(Markdown(markdown_table(list(csv.DictReader(f)))))"),
])

reconstruct = notebook([
    ("md", "# What a layer keeps\n\nContent and style reconstructions from noise (Gatys et al. Fig. 1), "
           "feature inversion (Mahendran & Vedaldi) and DeepDream, for one image and one layer (set). "
           "The trial notebook of the reconstruction studies in `experiments/`."),
    ("code", """task = "content"  # what to do: "content" (match one layer's features), "style" (match a layer set's Grams), "invert" (Mahendran-Vedaldi), "dream" (DeepDream)
image = "chelsea"  # the image whose features are reconstructed: a path or a bundled sample
layers = ["conv4_2"]  # one layer for content and invert, a set for style, one or more for dream (paper or Keras names)
output_dir = "runs/reconstruct"  # run folder to write
model = "vgg19"  # feature network: "vgg19" | "vgg16"
weights = "imagenet"  # "imagenet" | "random" (labelled) | path to .h5
pooling = "max"  # "max" | "avg"
optimizer = "lbfgs"  # "lbfgs" (as Gatys et al. for reconstructions) | "adam" | "sgd"; dream ignores it
learning_rate = None  # adam/sgd initial step in pixel units; None: the optimiser's default (adam 5, sgd 1e-5)
decay_steps = 100  # ExponentialDecay period in steps
decay_rate = 0.96  # ExponentialDecay factor
epochs = 1  # epochs x steps_per_epoch is the number of iterations (content, style, invert)
steps_per_epoch = 200  # iterations per epoch
image_size = 256  # longest side in pixels
seed = 0  # seeds the noise start, random weights and TensorFlow
lambda_tv = -1.0  # invert: TV weight; negative picks the depth schedule (0.005 conv1-2, 0.05 conv3-4, 0.5 conv5)
lambda_alpha = 1e-05  # invert: weight of the alpha-norm range prior
alpha = 6.0  # invert: exponent of the alpha-norm (Mahendran-Vedaldi use 6)
beta = 2.0  # invert: exponent of the TV term (2 is the squared form)
steps = 20  # dream: gradient-ascent steps per octave
step_size = 0.01  # dream: step as a fraction of 255, along the normalised gradient
octaves = 3  # dream: number of scales, coarse to fine
octave_scale = 1.4  # dream: size ratio between octaves
show = True  # display the result and the loss plot""", ["parameters"]),
    ("code", "import nststudy\nimport nststudy.notebook\nfrom nststudy.reconstruct import reconstruct\n\n"
             "config = nststudy.notebook.config_from_parameters(globals(), extra=nststudy.notebook.RECONSTRUCT_ONLY)\n"
             "options = dict(alpha=alpha, beta=beta, lambda_alpha=lambda_alpha, lambda_tv=None if lambda_tv < 0 else lambda_tv,\n"
             "               steps=steps, step_size=step_size, octaves=octaves, octave_scale=octave_scale)"),
    ("code", "result = reconstruct(task, image, layers, config, **options)\nrun = nststudy.save_run(result, output_dir)\n"
             "print(run, result.stopped, result.final, {k: v for k, v in result.info.items() if k.startswith('metric_')})"),
    ("code", "if show:\n    from IPython.display import Image, display\n\n"
             "    display(Image(filename=str(run / 'image.png')), Image(filename=str(run / 'loss.png')))"),
])

# Real time (issue 20): train a feed-forward transform network; the trial notebook of experiments/feedforward.
TRAIN_PARAMS = '''\
content = ""  # training photos (a sweep's content side): a folder, or a comma-separated list of images; empty for the bundled samples
style = "hubble_deep_field"  # style image: a path or a bundled sample
output_dir = "runs/train"  # run folder to write: model.keras, previews/, loss.png, history.csv, config.json
width = 0.5  # channel multiplier of the network: 1 (Johnson et al.: 32/64/128), 0.5, 0.25
residual_blocks = 5  # residual blocks at 1/4 resolution (Johnson et al.: 5)
padding = "zero"  # "zero" (the conv's own padding, fast) | "reflect" (mirror the border first, slower)
held_out = 1  # photos kept out of training and stylised as previews
crop_size = 256  # side of the square random training crops in pixels (128-256)
scale_jitter = 0.5  # crops take crop_size * 2**u source pixels, u uniform in [-scale_jitter, scale_jitter]
flip = True  # mirror half the crops left-right
model = "vgg19"  # loss network: "vgg19" | "vgg16"
weights = "imagenet"  # "imagenet" | "random" (labelled) | path to .h5
pooling = "max"  # "max" | "avg"
content_layers = ["conv3_3"]  # content layer(s), paper or Keras names (relu3_3 as in the issue)
style_layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]  # style layers (Gatys et al.)
style_layer_weights = [0.2, 0.2, 0.2, 0.2, 0.2]  # omega_l, one per style layer
style_size = 0  # longest side of the style image when its Grams are taken (0: crop_size)
content_weight = 1.0  # alpha
style_weight = 10.0  # beta
tv_weight = 0.0  # weight of the squared total variation of the output
noise_std = 0.0  # std in pixels of the input noise of the stability term (Gupta et al. 2017); 0 off
stability_weight = 0.0  # lambda on mean (f(x) - f(x + noise))^2; set with noise_std
batch_size = 4  # crops per step
steps = 2000  # stop after this many steps
minutes = 0.0  # or after this many minutes of training (0: no limit)
learning_rate = 0.001  # Adam step size (Johnson et al.: 1e-3)
checkpoint_every = 100  # save the resume point every N steps
preview_every = 100  # stylise the held-out photos every N steps (0: only at the end)
preview_size = 256  # longest side of the previews
seed = 0  # seeds the weights, the crops and the noise
image_size = 0  # size in a sweep preset (smoke: 32); when > 0 it sets crop_size and preview_size
epochs = 0  # length in a sweep preset (smoke: 1 x 3); when both are > 0, steps is epochs times steps_per_epoch
steps_per_epoch = 0  # see epochs'''

train = notebook([
    ("md", "# Train a real-time style network\n\nTrains Johnson et al.'s transform network for one style with the "
           "package's Gatys losses (README \"Real time\"). Runs until `steps` or `minutes`; `nststudy train --resume "
           "DIR` continues a killed run. `papermill --help-notebook notebooks/train.ipynb` lists the parameters."),
    ("code", TRAIN_PARAMS + "\nshow = True  # display the previews and the loss plot at the end", ["parameters"]),
    ("code", "from nststudy.train import train\nfrom nststudy.trainconfig import config_from_namespace\n\n"
             "preset = {'crop_size': image_size, 'preview_size': image_size} if image_size else {}\n"
             "if epochs and steps_per_epoch:\n    preset['steps'] = epochs * steps_per_epoch\n"
             "config = config_from_namespace({**globals(), 'photos': content, **preset},\n"
             "                               extra=('content', 'style', 'output_dir', 'show', 'image_size', 'epochs', 'steps_per_epoch'))\n"
             "config"),
    ("code", "run = train(style, config, output_dir)\nrun"),
    ("code", "if show:\n    from IPython.display import Image, display\n\n"
             "    display(Image(filename=str(run / 'image.png')), Image(filename=str(run / 'loss.png')))"),
])

for name, nb in (("stylize", stylize), ("explore", explore), ("report", report), ("reconstruct", reconstruct),
                 ("train", train)):
    nbf.write(nb, OUT / f"{name}.ipynb")
    print("wrote", OUT / f"{name}.ipynb")
