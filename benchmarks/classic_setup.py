"""The classic Keras CIFAR-10 example's training setup, for comparison with the tutorial.

Same network, but as the classic example (keras/examples/cifar10_cnn.py) fed it: the
whole training set as float32 NumPy arrays divided by 255, batch 32, RMSprop 1e-4,
`model.fit`, float32 arithmetic, and no augmentation pipeline. Prints training images per
second over whole epochs, the first one left out (it includes tracing), and the same
without the wait for each epoch's first batch. Run by benchmark.py, or alone:

    python benchmarks/classic_setup.py [--images 8000] [--epochs 3]
"""

import argparse
import time

import keras
import numpy as np
from keras import layers

parser = argparse.ArgumentParser()
parser.add_argument("--images", type=int, default=8000)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, size=(args.images, 32, 32, 3), dtype=np.uint8)
x_train = x_train.astype("float32") / 255
y_train = keras.utils.to_categorical(rng.integers(0, 10, size=args.images), 10)

model = keras.Sequential(
    [
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-4),
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)


class EpochClock(keras.callbacks.Callback):
    """Seconds per epoch, and how much of it went to waiting for the first batch: `fit`
    starts a new shuffled stream over the arrays every epoch, and on a 2-core machine its
    first batch has taken from 0.1 s to 25 s to arrive."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.first_wait = getattr(self, "first_wait", []) + [time.perf_counter() - self.start]

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.start]


clock = EpochClock()
model.fit(
    x_train, y_train, batch_size=32, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[clock]
)
steady, waits = clock.seconds[1:], clock.first_wait[1:]
print(f"images_per_second {args.images * len(steady) / sum(steady):.1f}")
print(
    f"images_per_second_batches_only {args.images * len(steady) / (sum(steady) - sum(waits)):.1f}"
)
