"""Error messages for layer lists in model bodies and recurrent layer options (docs/dsl.md, "Layer lists and loops"):
what stays rejected, each message compared whole (location, caret, expected, hint), as in tests/test_errors.py."""
from __future__ import annotations

import pytest

from test_errors import assert_error

# (id, source of the cell, the full rendered message); the cell's first line is line 4
CASES = [
    ('append_to_non_list', '''\
model M():
    net = Linear(3)
    net.append(ReLU())
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:9: error: `net` is not a layer list of this model
        net.append(ReLU())
            ^^^^^^
  expected: blocks = [] before blocks.append(...)
  hint: start the list with `name = []` in the model body
'''),
    ('loop_over_non_range', '''\
model M(sizes: int = 3):
    layers = []
    for i in sizes:
        layers.append(Linear(3))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:14: error: a loop in a model body runs over `range(...)` or a tuple hyperparameter; the hyperparameter `sizes` is an int
        for i in sizes:
                 ^^^^^
  expected: for i in range(num_layers): or for num_convs, channels in arch:
  hint: count with `for i in range(sizes):`
'''),
    ('loop_bound_not_hyperparameter', '''\
k = 3
model M():
    layers = []
    for i in range(k):
        layers.append(Linear(3))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:7:20: error: a model body's loop bounds are ints from hyperparameters, loop variables and numbers
        for i in range(k):
                       ^
  expected: an int hyperparameter, e.g. range(num_convs)
  hint: add the count to the model's hyperparameters
'''),
    ('assignment_in_model_loop', '''\
model M(n: int = 2, c: int = 8):
    layers = []
    for i in range(n):
        layers.append(Conv2d(c, kernel=3, padding=1))
        c = c * 2
    net = Sequential(*layers)
    def forward(X: f32[b, 3, 8, 8]):
        return net(X)
''', '''\
ch.md:8:9: error: a loop in a model body appends layers to lists
            c = c * 2
            ^^^^^^^^^
  expected: name.append(Layer(...)) or a nested `for i in range(n):`
  hint: compute a size inside the layer's arguments from the loop variable, e.g. Linear(num_hiddens * (i + 1))
'''),
    ('recurrent_in_list', '''\
model M():
    layers = [GRU(4, 8), Linear(3)]
    net = Sequential(*layers)
    def forward(X: f32[b, t, 4]):
        return net(X)
''', '''\
ch.md:5:15: error: a layer list cannot hold the recurrent layer `GRU`
        layers = [GRU(4, 8), Linear(3)]
                  ^^^
  expected: layers that return one tensor, or model instances
  hint: recurrent layers return their states too: make it a member of its own, or wrap it in a model
'''),
    ('append_after_use', '''\
model M():
    layers = [Linear(8)]
    net = Sequential(*layers)
    layers.append(ReLU())
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:7:12: error: `layers` is appended to after its use (line 6)
        layers.append(ReLU())
               ^^^^^^
  expected: every `layers.append(...)` before the member or `def forward` that reads `layers`
  hint: move the appends up: a layer list is complete once a member or forward reads it
'''),
    ('list_applied', '''\
model M():
    blocks = [Linear(8), ReLU()]
    def forward(X: f32[b, 4]):
        return blocks(X)
''', '''\
ch.md:7:16: error: `blocks` is a list of layers; it cannot be applied
            return blocks(X)
                   ^^^^^^
  expected: Sequential(*blocks) as a member, or `for blk in blocks: X = blk(X)` in forward
  hint: a list holds layers; Sequential applies them one after another
'''),
    ('star_of_a_layer', '''\
model M():
    conv = Linear(8)
    net = Sequential(*conv)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:22: error: `*` unpacks a layer list, got layer Linear
        net = Sequential(*conv)
                         ^^^^^
  expected: Sequential(*blocks) with blocks = [] in the model body
  hint: pass single layers without `*`
'''),
    ('shape_error_in_a_later_pass', '''\
model M():
    layers = []
    for i in range(3):
        layers.append(MaxPool2d(2))
    net = Sequential(*layers)
    def forward(X: f32[b, 1, 4, 4]):
        return net(X)
''', '''\
ch.md:7:23: error: `MaxPool2d`: a window of 2 with padding 0 does not fit a size of 1
            layers.append(MaxPool2d(2))
                          ^^^^^^^^^
  expected: a kernel no larger than the padded input
'''),
    ('shared_member_appended', '''\
model M():
    lin = Linear(8)
    layers = [lin, ReLU()]
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:15: error: a layer list holds new layers and model instances, got a layer Linear
        layers = [lin, ReLU()]
                  ^^^
  expected: blocks.append(Conv2d(...)) or blocks.append(MyBlock(...))
  hint: append a new layer; a member appended again would share its parameters
'''),
    ('two_loop_variables', '''\
model M():
    layers = []
    for i, j in range(3):
        layers.append(Linear(3))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:5: error: a loop over `range(...)` in a model body takes one loop variable
        for i, j in range(3):
        ^
  expected: for i in range(n):
  hint: unpack the items of a tuple hyperparameter: `for num_convs, channels in arch:`
'''),
    ('tuple_loop_items_of_two_lengths', '''\
model M(arch: tuple = ((1, 4), (2, 6, 1))):
    layers = []
    for n, c in arch:
        layers.append(Linear(c))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:17: error: `arch` is tuple[tuple[int, int], tuple[int, int, int]], not a tuple of 2-int tuples that `for _, _ in arch:` unpacks
        for n, c in arch:
                    ^^^^
  expected: a non-empty tuple of 2-int tuples, e.g. ((1, 64), (2, 128))
  hint: a layer loop's values size layers: give every item the same number of int values as the loop has names
'''),
    ('tuple_loop_checked_pass_by_pass', '''\
model M(arch: tuple = ((1, 2), (1, 2), (1, 2), (1, 2))):
    layers = []
    for n, c in arch:
        layers.append(Conv2d(c, kernel=3, padding=1))
        layers.append(MaxPool2d(2, stride=2))
    net = Sequential(*layers)
    def forward(X: f32[b, 1, 8, 8]):
        return net(X)
''', '''\
ch.md:8:23: error: `MaxPool2d`: a window of 2 with padding 0 does not fit a size of 1
            layers.append(MaxPool2d(2, stride=2))
                          ^^^^^^^^^
  expected: a kernel no larger than the padded input
'''),
    ('tuple_hyperparameter_of_another_length', '''\
model M(arch: tuple = ((1, 4), (2, 6))):
    layers = []
    for n, c in arch:
        for i in range(n):
            layers.append(Linear(c))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
m = M(((1, 8),))
''', '''\
ch.md:12:7: error: `arch` of `M` is tuple[tuple[int, int], tuple[int, int]], got tuple[tuple[int, int]]
    m = M(((1, 8),))
          ^^^^^^^^^
  expected: a value of type tuple[tuple[int, int], tuple[int, int]], like its default
  hint: a tuple hyperparameter keeps its default's structure (the number of items and their kinds); change the values, or the default
'''),
    ('loop_appends_nothing', '''\
model M():
    for i in range(3):
        pass
    net = Linear(3)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:5:5: error: this loop appends no layers
        for i in range(3):
        ^
  expected: name.append(Layer(...)) or a nested `for i in range(n):`
  hint: a model body's loops build layer lists: start one with `blocks = []`
'''),
    ('empty_sequential', '''\
model M():
    layers = []
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:11: error: `Sequential` needs at least one layer
        net = Sequential(*layers)
              ^^^^^^^^^^
  expected: Sequential(Linear(10), ReLU()) or Sequential(*blocks) with blocks appended to
  hint: flax and Keras have no empty Sequential; leave the member out
'''),
    ('loop_variable_hides_hyperparameter', '''\
model M(n: int = 2):
    layers = []
    for n in range(3):
        layers.append(Linear(3))
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X)
''', '''\
ch.md:6:9: error: the loop variable `n` hides the model's own `n`
        for n in range(3):
            ^
  expected: a name of its own, e.g. `i`
  hint: a hyperparameter or member keeps its name in the whole model
'''),
    ('list_held_twice', '''\
model M():
    layers = [Linear(3)]
    net = Sequential(*layers)
    other = Sequential(layers)
    def forward(X: f32[b, 4]):
        return net(X) + other(X)
''', '''\
ch.md:7:24: error: the layer list `layers` is already held by `net`
        other = Sequential(layers)
                           ^^^^^^
  expected: one member holding `layers`
  hint: build a second list for the second use: its layers would be shared
'''),
    ('held_list_iterated', '''\
model M():
    blocks = [Linear(4), ReLU()]
    net = Sequential(*blocks)
    def forward(X: f32[b, 4]):
        for blk in blocks:
            X = blk(X)
        return net(X)
''', '''\
ch.md:8:20: error: the layer list `blocks` is held by `net`
            for blk in blocks:
                       ^^^^^^
  expected: `for blk in blocks:` over a list no member holds
  hint: apply `net` instead, or build a second list: its layers would be shared
'''),
    ('model_block_with_a_fixed_size', '''\
model Block(c: int = 8):
    conv = Conv2d(c, kernel=3, padding=1)
    def forward(X: f32[b, 3, h, w]):
        return conv(X)

model M():
    blocks = []
    for i in range(2):
        blocks.append(Block(8))
    net = Sequential(*blocks)
    def forward(X: f32[b, 3, 8, 8]):
        return net(X)
''', '''\
ch.md:12:23: error: `Block`'s forward takes float32[b, 3, h, w], here it gets float32[b, ?, 8, 8]
            blocks.append(Block(8))
                          ^^^^^
  expected: float32[b, 3, h, w]
  hint: a size written as a number in `Block`'s forward is the only size it takes; name the axis (X: f32[b, c, h, w]) to take any
'''),
    ('bidirectional_not_written_out', '''\
model M(bi: bool = True):
    rnn = GRU(4, 8, bidirectional=bi)
    def forward(X: f32[b, t, 4]):
        return rnn(X)
''', '''\
ch.md:5:35: error: `bidirectional=` of `GRU` must be True or False
        rnn = GRU(4, 8, bidirectional=bi)
                                      ^^
  expected: True or False written out
  hint: the layer's parameters and output size depend on it; write it in the model body
'''),
    ('zero_layers', '''\
model M():
    rnn = LSTM(4, 8, num_layers=0)
    def forward(X: f32[b, t, 4]):
        return rnn(X)
''', '''\
ch.md:5:33: error: `num_layers=` of `LSTM` must be an int of at least 1
        rnn = LSTM(4, 8, num_layers=0)
                                    ^
  expected: num_layers=2, or an int hyperparameter
  hint: layers are stacked: each reads every step's state of the one below
'''),
    ('chain_in_forward_checked', '''\
model M():
    blocks = [Linear(3), ReLU()]
    for i in range(2):
        blocks.append(BatchNorm2d())
    def forward(X: f32[b, 4]):
        for blk in blocks:
            X = blk(X)
        return X
''', '''\
ch.md:7:23: error: `BatchNorm2d`: BatchNorm2d needs rank-4 inputs, got [b, 3]
            blocks.append(BatchNorm2d())
                          ^^^^^^^^^^^
  expected: [batch, channels, height, width]
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_list_error(src, expected):
    assert_error(src, expected)
