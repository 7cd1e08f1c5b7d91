def hist(xs, bins=10, legend=None, xlabel=None, ylabel=None, xlim=None, figsize=(3.5, 2.5)):
    """Draw a histogram of each data set of xs, their bars side by side in shared bins."""
    plt.figure(figsize=figsize)
    plt.hist(xs, bins=bins)
    if xlabel is not None:
        plt.xlabel(xlabel)
    if ylabel is not None:
        plt.ylabel(ylabel)
    if xlim is not None:
        plt.xlim(xlim)
    if legend is not None:
        plt.legend(legend)
    plt.show()
