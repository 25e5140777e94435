"""The benchmark's arithmetic (FLOPs per image, accuracy over time), and that its step-alone
timer runs on a saved tutorial model. Its speed figures are measured by running it, never
by a test."""

import os
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import benchmark  # noqa: E402


def test_flops_per_image_follow_the_layer_shapes(tutorial_run):
    import keras

    model = keras.models.load_model(os.path.join(tutorial_run[1], "cifar10_cnn.keras"))
    # 2 FLOPs per multiply-add: output height x width x kernel area x inputs x filters.
    convolutions = [
        2 * 32 * 32 * 9 * 3 * 32,
        2 * 30 * 30 * 9 * 32 * 32,
        2 * 15 * 15 * 9 * 32 * 64,
        2 * 13 * 13 * 9 * 64 * 64,
    ]
    dense = [2 * 2304 * 512, 2 * 512 * 10]
    forward = sum(convolutions) + sum(dense)
    assert benchmark.training_flops_per_image(model) == (forward, 3 * forward - convolutions[0])
    assert round(forward / 1e6, 1) == 41.5


def test_accuracy_over_time_finds_when_each_target_was_first_reached():
    history = [
        {"epoch": "1", "epoch_seconds": "60", "val_accuracy": "0.65"},
        {"epoch": "2", "epoch_seconds": "60", "val_accuracy": "0.76"},
        {"epoch": "3", "epoch_seconds": "30", "val_accuracy": "0.74"},
        {"epoch": "4", "epoch_seconds": "30", "val_accuracy": "0.80"},
    ]
    rows, reached = benchmark.accuracy_over_time(history)
    assert [elapsed for _, elapsed, _ in rows] == [60, 120, 150, 180]
    assert reached == {0.70: (2, 120), 0.75: (2, 120), 0.80: (4, 180)}


def test_step_alone_timer_runs_on_a_saved_tutorial_model(tutorial_run):
    speed = benchmark.bare_step_speed(
        os.path.join(tutorial_run[1], "cifar10_cnn.keras"), batch_size=16, train_images=64
    )
    assert 0 < speed < 1e7
