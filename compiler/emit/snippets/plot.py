def plot(x, ys, legend=None, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear", yscale="linear",
         figsize=(3.5, 2.5)):
    """Draw each curve of ys against x, on axes labelled, limited and scaled as asked."""
    plt.figure(figsize=figsize)
    for y in ys:
        plt.plot(x, y)
    plt.xscale(xscale)
    plt.yscale(yscale)
    if xlabel is not None:
        plt.xlabel(xlabel)
    if ylabel is not None:
        plt.ylabel(ylabel)
    if xlim is not None:
        plt.xlim(xlim)
    if ylim is not None:
        plt.ylim(ylim)
    if legend is not None:
        plt.legend(legend)
    plt.grid(True)
    plt.show()
