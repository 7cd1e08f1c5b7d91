def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """Images [n, height, width] or [n, height, width, channels] in a grid, with an optional title each."""
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        imgs = imgs[..., 0]  # one channel: a grey image
    _, axes = plt.subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(imgs):
            ax.imshow(imgs[i], cmap="gray" if imgs.ndim == 3 else None)
            if titles is not None:
                ax.set_title(titles[i])
        ax.axis("off")
    plt.show()
