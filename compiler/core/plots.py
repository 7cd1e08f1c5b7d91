"""The figures a chapter draws: each plotting built-in's parameters, in the order its call takes them.

A figure is a statement at the top level of a chapter (`plot(x, [y1, y2], legend=[...])`); every target
draws it with plain matplotlib after turning its tensors into NumPy arrays (front/lower_plots.py checks
the arguments, emit/plots.py writes the call and its helper).
"""
from __future__ import annotations

from d2lc.core.ops.spec import REQUIRED, P

PLOTS: dict[str, tuple[P, ...]] = {
    # curves ys (one 1-D tensor or a list of them) against the 1-D tensor x
    "plot": (P("x", "tensor"), P("ys", "tensors"), P("legend", "strs", None), P("xlabel", "str", None), P("ylabel", "str", None),
             P("xlim", "pair", None), P("ylim", "pair", None), P("xscale", "scale", "linear"), P("yscale", "scale", "linear"),
             P("figsize", "pair", (3.5, 2.5))),
    # histograms of the values of one 1-D tensor or of a list of them (each its own length), side by side
    "hist": (P("xs", "tensors"), P("bins", "int", 10), P("legend", "strs", None), P("xlabel", "str", None),
             P("ylabel", "str", None), P("xlim", "pair", None), P("figsize", "pair", (3.5, 2.5))),
    # a matrix [rows, cols] (attention weights), or a grid of them [grid_rows, grid_cols, rows, cols]
    "heatmap": (P("M", "tensor"), P("xlabel", "str", None), P("ylabel", "str", None), P("title", "str", None),
                P("cmap", "str", "Reds"), P("figsize", "pair", (2.5, 2.5))),
    # images [n, channels, height, width] (1 or 3 channels) or [n, height, width], in a num_rows x num_cols grid
    "show_images": (P("imgs", "tensor"), P("num_rows", "int"), P("num_cols", "int"), P("titles", "strs", None),
                    P("scale", "number", 1.5)),
}

SCALES = ("linear", "log")  # matplotlib's axis scales a plot may ask for

__all__ = ["PLOTS", "SCALES", "REQUIRED"]
