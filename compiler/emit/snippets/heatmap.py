def heatmap(M, xlabel=None, ylabel=None, title=None, cmap="Reds", figsize=(2.5, 2.5)):
    """A matrix [rows, cols] in colours, or a grid [grid_rows, grid_cols, rows, cols] of them on one scale."""
    grid = M.reshape((1, 1) + M.shape) if M.ndim == 2 else M
    fig, axes = plt.subplots(grid.shape[0], grid.shape[1], figsize=figsize, sharex=True, sharey=True, squeeze=False)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            image = axes[i, j].imshow(grid[i, j], cmap=cmap, vmin=M.min(), vmax=M.max())
            if xlabel is not None and i == grid.shape[0] - 1:
                axes[i, j].set_xlabel(xlabel)
            if ylabel is not None and j == 0:
                axes[i, j].set_ylabel(ylabel)
    if title is not None:
        fig.suptitle(title)
    fig.colorbar(image, ax=axes, shrink=0.6)
    plt.show()
