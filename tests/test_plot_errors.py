"""Error messages of the figure built-ins, of the data sets made from tensors, and of `train` given a data set
that does not suit the model or the loss (the style of
test_errors.py: each case's WHOLE rendered message, location, caret, expectation and hint included)."""
from __future__ import annotations

import pytest

from test_errors import assert_error

CASES = [
    ('plot_x_rank', '''\
X = ones((3, 4))
plot(X, X[0])
''', '''\
ch.md:5:6: error: `plot`'s x must have rank 1, got float32[3, 4] (rank 2)
    plot(X, X[0])
         ^
  expected: x: a 1-D tensor [n]
  hint: reshape it, or index the part to draw
'''),
    ('plot_curve_length', '''\
x = arange(5.0)
plot(x, [x, arange(4.0)])
''', '''\
ch.md:5:13: error: this curve has 4 values but x has 5
    plot(x, [x, arange(4.0)])
                ^^^^^^
  expected: a curve of shape [5]
  hint: every curve needs one value per x
'''),
    ('plot_legend_count', '''\
x = arange(5.0)
plot(x, [x, x * 2], legend=["x"])
''', '''\
ch.md:5:28: error: `legend` names 1 curve, but `plot` draws 2
    plot(x, [x, x * 2], legend=["x"])
                               ^^^^^
  expected: 2 names
  hint: give one name per curve, in the order of ys
'''),
    ('plot_bad_scale', '''\
x = arange(5.0)
plot(x, x, yscale="logarithmic")
''', '''\
ch.md:5:19: error: `plot`'s `yscale` must be "linear" or "log", got "logarithmic"
    plot(x, x, yscale="logarithmic")
                      ^^^^^^^^^^^^^
  expected: "linear" or "log"
  hint: matplotlib's axis scales: "linear" (the default) or "log"
'''),
    ('plot_unknown_keyword', '''\
x = arange(5.0)
plot(x, x, label="x")
''', '''\
ch.md:5:12: error: `plot` has no parameter `label`
    plot(x, x, label="x")
               ^^^^^
  expected: one of: x, ys, legend, xlabel, ylabel, xlim, ylim, xscale, yscale, figsize
  hint: did you mean `ylabel`?
'''),
    ('plot_xlim_type', '''\
x = arange(5.0)
plot(x, x, xlim=3)
''', '''\
ch.md:5:17: error: `plot`'s `xlim` must be a pair of numbers (a, b), got an int
    plot(x, x, xlim=3)
                    ^
  expected: a pair of numbers (a, b)
  hint: write two numbers in parentheses, e.g. xlim=(0, 1)
'''),
    ('plot_ys_scalar', '''\
x = arange(5.0)
plot(x, 3)
''', '''\
ch.md:5:9: error: `plot`'s ys must be a 1-D tensor or a list of them, got an int
    plot(x, 3)
            ^
  expected: ys: a tensor [n], or [y1, y2, ...] of tensors [n]
  hint: pass the curves as a list: plot(x, [y1, y2])
'''),
    ('plot_in_function', '''\
def f(x: f32[n]):
    plot(x, x)
    return x
''', '''\
ch.md:5:5: error: `plot` draws a figure at the top level of a chapter, not inside a function
        plot(x, x)
        ^^^^
  expected: plot(...) outside `def` and `model` blocks
  hint: return the values and draw them at the top level of the chapter
'''),
    ('plot_figsize', '''\
x = arange(5.0)
plot(x, x, figsize=(0, 2))
''', '''\
ch.md:5:20: error: `figsize` must be positive, got (0, 2)
    plot(x, x, figsize=(0, 2))
                       ^^^^^^
  expected: (width, height) in inches, both > 0
  hint: e.g. figsize=(3.5, 2.5)
'''),
    ('heatmap_rank', '''\
heatmap(ones((2, 3, 4)))
''', '''\
ch.md:4:9: error: `heatmap`'s matrix must have rank 2 or 4, got float32[2, 3, 4] (rank 3)
    heatmap(ones((2, 3, 4)))
            ^^^^
  expected: M: [rows, cols], or a grid [grid_rows, grid_cols, rows, cols]
  hint: reshape it, or index the part to draw
'''),
    ('heatmap_bool', '''\
heatmap(ones((2, 3)) > 0)
''', '''\
ch.md:4:22: error: `heatmap`'s matrix must hold numbers, got a bool tensor
    heatmap(ones((2, 3)) > 0)
                         ^
  expected: an int or float tensor
  hint: convert it first, e.g. `.astype(float32)`
'''),
    ('images_channels', '''\
show_images(ones((4, 2, 8, 8)), 2, 2)
''', '''\
ch.md:4:13: error: `show_images` draws images with 1 or 3 channels, got 2 (float32[4, 2, 8, 8])
    show_images(ones((4, 2, 8, 8)), 2, 2)
                ^^^^
  expected: imgs: [n, 1, height, width] (grey) or [n, 3, height, width] (colour)
  hint: the DSL's images are [n, channels, height, width]; select the channels to show
'''),
    ('images_grid', '''\
show_images(ones((5, 8, 8)), 2, 2)
''', '''\
ch.md:4:13: error: 5 images do not fit a grid of 2 x 2
    show_images(ones((5, 8, 8)), 2, 2)
                ^^^^
  expected: at most 4 images
  hint: show fewer, e.g. imgs[:4], or make the grid larger
'''),
    ('images_titles', '''\
show_images(ones((4, 8, 8)), 2, 2, titles=["a", "b"])
''', '''\
ch.md:4:43: error: `titles` has 2 entries for 4 images
    show_images(ones((4, 8, 8)), 2, 2, titles=["a", "b"])
                                              ^^^^^^^^^^
  expected: 4 titles, one per image
  hint: give one title per image, in order
'''),
    ('load_lengths', '''\
data = load_array(ones((10, 2)), zeros((8,)), 4)
''', '''\
ch.md:4:34: error: X has 10 examples but y has 8
    data = load_array(ones((10, 2)), zeros((8,)), 4)
                                     ^^^^^
  expected: y with 10 rows, one per example
  hint: X and y must have the same first dimension
'''),
    ('load_num_val', '''\
data = load_array(ones((10, 2)), zeros((10,)), 4, num_val=10)
''', '''\
ch.md:4:59: error: `num_val` must be at least 0 and less than the 10 examples, got 10
    data = load_array(ones((10, 2)), zeros((10,)), 4, num_val=10)
                                                              ^^
  expected: 0 (validate on the training examples) or the number of examples held out at the end
  hint: the last num_val examples validate; the others train
'''),
    ('load_shuffle', '''\
data = load_array(ones((10, 2)), zeros((10,)), 4, shuffle=1)
''', '''\
ch.md:4:59: error: `load_array`'s `shuffle` must be True or False, got an int
    data = load_array(ones((10, 2)), zeros((10,)), 4, shuffle=1)
                                                              ^
  expected: True or False
'''),
    ('resize_type', '''\
data = fashion_mnist(batch_size=32, resize=2.5)
''', '''\
ch.md:4:44: error: `resize` must be a size or (height, width), got a float
    data = fashion_mnist(batch_size=32, resize=2.5)
                                               ^^^
  expected: an int or a pair of ints
  hint: e.g. resize=224 or resize=(224, 224)
'''),
    ('resize_positive', '''\
data = fashion_mnist(batch_size=32, resize=(0, 224))
''', '''\
ch.md:4:44: error: `resize` must be positive, got (0, 224)
    data = fashion_mnist(batch_size=32, resize=(0, 224))
                                               ^^^^^^^^
  expected: image sizes of at least one pixel
'''),
    ('model_named', '''\
model heatmap():
    def forward(X):
        return X
''', '''\
ch.md:4:7: error: a model cannot be named `heatmap`, the DSL's built-in figure
    model heatmap():
          ^^^^^^^
  expected: a name that is not a built-in
  hint: call it `Myheatmap` or another name of its own
'''),
    ('plot_in_model', '''\
model M():
    def forward(X: f32[n, 2]):
        plot(X[:, 0], X[:, 1])
        return X
''', '''\
ch.md:6:9: error: `plot` draws a figure at the top level of a chapter, not inside a model
            plot(X[:, 0], X[:, 1])
            ^^^^
  expected: plot(...) outside `def` and `model` blocks
  hint: return the values and draw them at the top level of the chapter
'''),
    # train checks a data set whose batches' types are known against the model's input and the loss
    ('train_resize_mismatch', '''\
model Net(k: int = 10):
    net = Sequential(Flatten(), Linear(k))
    def forward(X: f32[b, 1, 28, 28]):
        return net(X)
net = Net()
train(net, fashion_mnist(batch_size=32, resize=64), loss=cross_entropy, optimizer=SGD(lr=0.1))
''', '''\
ch.md:9:12: error: this data set's examples are float32[?, 1, 64, 64], but `Net`'s forward takes X: float32[b, 1, 28, 28]
    train(net, fashion_mnist(batch_size=32, resize=64), loss=cross_entropy, optimizer=SGD(lr=0.1))
               ^^^^^^^^^^^^^
  expected: examples float32[b, 1, 28, 28] (any batch size)
  hint: make the examples match forward's annotation (load_array's X, fashion_mnist's resize=), or change the annotation
'''),
    ('train_float_labels', '''\
model Reg(k: int = 1):
    layer = Linear(k)
    def forward(X: f32[n, 2]):
        return layer(X)
net = Reg()
X = ones((8, 2))
data = load_array(X, X.sum(axis=1), 4)
train(net, data, loss=cross_entropy, optimizer=SGD(lr=0.1))
''', '''\
ch.md:11:12: error: `cross_entropy` needs integer class labels, but this data set's labels are float32[?]
    train(net, data, loss=cross_entropy, optimizer=SGD(lr=0.1))
               ^^^^
  expected: int64 labels [n]
  hint: cast the labels with `.astype(int64)`, or use `loss=squared_loss` for real-valued targets
'''),
    ('train_int_targets', '''\
model Reg(k: int = 1):
    layer = Linear(k)
    def forward(X: f32[n, 2]):
        return layer(X)
net = Reg()
X = ones((8, 2))
train(net, load_array(X, arange(8), 4), loss=squared_loss, optimizer=SGD(lr=0.1))
''', '''\
ch.md:10:12: error: `squared_loss` needs real-valued targets, but this data set's labels are int64[?]
    train(net, load_array(X, arange(8), 4), loss=squared_loss, optimizer=SGD(lr=0.1))
               ^^^^^^^^^^
  expected: float32 targets [n, k]
  hint: cast the targets with `.astype(float32)`, or use `loss=cross_entropy` for class labels
'''),
    ('train_features', '''\
model Reg(k: int = 1):
    layer = Linear(k)
    def forward(X: f32[n, 2]):
        return layer(X)
net = Reg()
X = ones((8, 3))
train(net, load_array(X, X[:, :1], 4), loss=squared_loss, optimizer=SGD(lr=0.1))
''', '''\
ch.md:10:12: error: this data set's examples are float32[?, 3], but `Reg`'s forward takes X: float32[n, 2]
    train(net, load_array(X, X[:, :1], 4), loss=squared_loss, optimizer=SGD(lr=0.1))
               ^^^^^^^^^^
  expected: examples float32[n, 2] (any batch size)
  hint: make the examples match forward's annotation (load_array's X, fashion_mnist's resize=), or change the annotation
'''),

]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_message(src, expected):
    assert_error(src, expected)
