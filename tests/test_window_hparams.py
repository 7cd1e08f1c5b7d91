"""A convolution or pooling whose stride, window or padding a hyperparameter sets (`stride=stride`) has unknown
height and width where the checker does not know that hyperparameter's value, as inside a model instance that a
Sequential or a layer list applies. The shape rules read a missing stride as 1; a given but unknown one must not be
read so, or a downsampling block whose branch gets `stride` and whose shortcut a literal 2 is rejected."""
from __future__ import annotations

from d2lc.build.checked import compile_chapter
from test_errors import chapter, rendered

TARGETS = {"pytorch"}

DOWN = """\
model Branch(c: int, stride: int = 1):
    net = Conv2d(c, kernel=3, stride=stride, padding=1)
    def forward(X: f32[n, c, h, w]):
        return net(X)

model Down(c: int):
    branch = Branch(c, 2)
    shortcut = Conv2d(c, kernel=1, stride=2)
    def forward(X: f32[n, c, h, w]):
        return branch(X) + shortcut(X)

model Stage(c: int):
    blocks = [Down(c)]
    net = Sequential(*blocks)
    def forward(X: f32[n, c, h, w]):
        return net(X)

stage = Stage(4)
print(stage(normal((2, 3, 8, 8))).shape)
"""


def test_a_stride_set_by_a_hyperparameter_is_not_read_as_one():
    compile_chapter(chapter(DOWN), "ch.md", TARGETS)  # raised "shapes [2, ?, 8, 8] and [2, ?, 4, 4] do not broadcast"


def test_known_windows_are_still_checked():
    bad = DOWN.replace("shortcut = Conv2d(c, kernel=1, stride=2)", "shortcut = Conv2d(c, kernel=1, stride=3)") \
        .replace("branch = Branch(c, 2)", "branch = MaxPool2d(2)")
    assert "do not broadcast" in rendered(chapter(bad))
