"""The README's network-vs-engine and flicker paragraph is generated from the committed JSON, not typed."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("feedforward_summary", ROOT / "tools" / "feedforward_summary.py")
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def test_committed_block_is_the_generators_output():
    assert summary.main(["--check"]) == 0


def test_compare_sentence_from_hand_values():
    c = {"size": 64, "weights": "w", "break_even": {"network_seconds_per_image": 0.05, "network_precision": "float32",
                                                   "engine_seconds_per_image": 180.0, "training_seconds": 2880.0,
                                                   "images": 17},
         "photos": [{"photo": "p", "network": {"metric_style_distance": 1.234, "metric_ssim_content": 0.5},
                     "engine": [{"label": "x1", "style_weight": 30.0, "metric_style_distance": 2.0,
                                 "metric_ssim_content": 0.456}]}]}
    text = summary.compare_text(c)
    assert "p: network 1.23 / 0.50; engine β 30 (x1): 2.00 / 0.46" in text
    assert "network 50 ms (float32) and the engine 180 s; with the 48 minutes" in text and "from image 17 on" in text
